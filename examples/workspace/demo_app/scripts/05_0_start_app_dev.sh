#!/bin/bash
# Start the dev app in the background: flask run under watchmedo auto-restart, which restarts
# it when a .py file of the product changes. Output goes to /var/log/entrypoint.log.
# Unlike SPLENT's template this script kills nothing: stopping the previous app processes is
# the restart tool's job (pkill -f "flask run" from a shell whose own command line holds
# "flask run" is exactly how splent product:restart kills itself). Returns at once.
set -e

echo "🚀 [Start app in dev mode] starting..."
cd /workspace

nohup watchmedo auto-restart \
    --directory=/workspace/demo_app/src/demo_app \
    --pattern='*.py' \
    --recursive \
    -- flask --app demo_app run --host=0.0.0.0 --port=5000 \
    >> /var/log/entrypoint.log 2>&1 < /dev/null &

echo "✅ [Start app in dev mode] watchmedo started (pid $!), log /var/log/entrypoint.log"
