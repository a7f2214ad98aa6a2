#!/bin/bash
# Run the prod app: gunicorn in the foreground (exec), so in SPLENT's prod template, where the
# entrypoint is the web container's command, gunicorn becomes the container's main process.
# SIGHUP to the gunicorn master reloads the code with new workers; SIGTERM stops it.
set -e

echo "🚀 [Start app in prod mode] starting..."

WORKERS="${GUNICORN_WORKERS:-2}"
TIMEOUT="${GUNICORN_TIMEOUT:-120}"

exec gunicorn --bind 0.0.0.0:5000 \
    --workers "$WORKERS" \
    --timeout "$TIMEOUT" \
    --pythonpath /workspace/demo_app/src \
    --access-logfile - \
    --log-level info \
    'demo_app:create_app("production")'
