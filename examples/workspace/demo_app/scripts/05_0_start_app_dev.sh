#!/bin/bash
# Start the dev app in the background: flask run under watchmedo auto-restart, which restarts
# it when a .py file of the product changes. Output goes to /var/log/entrypoint.log.
# SPLENT's template shape, pkill lines included: they stop an app a previous run left behind.
# Their patterns match any process whose command line holds the words, so whatever runs
# beside this script (restart's probe, restart's start wrapper) must never hold them.
# This script's own command line (bash .../05_0_start_app_dev.sh) does not. Returns at once.
set -e

echo "🚀 [Start app in dev mode] starting..."
cd /workspace
export FLASK_APP="${FLASK_APP:-demo_app}"

# Kill any previous Flask/watchmedo processes to avoid port conflicts and stale code
pkill -f "watchmedo.*auto-restart" 2>/dev/null || true
pkill -f "flask run" 2>/dev/null || true
sleep 1

nohup watchmedo auto-restart \
    --directory=/workspace/demo_app/src/demo_app \
    --pattern='*.py' \
    --recursive \
    -- flask run --host=0.0.0.0 --port=5000 \
    >> /var/log/entrypoint.log 2>&1 < /dev/null &

echo "✅ [Start app in dev mode] watchmedo started (pid $!), log /var/log/entrypoint.log"
