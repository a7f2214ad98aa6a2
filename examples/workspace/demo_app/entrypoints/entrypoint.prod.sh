#!/bin/bash
# demo_app prod entrypoint, shaped like SPLENT's: each step is a script under scripts/, output is
# appended to /var/log/splent/entrypoint.log (and still shown). This example has no database,
# so only the feature install and the start step remain.
# Prod: it is the web container's command; its last step execs gunicorn, so gunicorn
# replaces this shell as the container's main process.
set -Eeuo pipefail

SCRIPTS=/workspace/demo_app/scripts
LOG_DIR=/var/log/splent
mkdir -p "$LOG_DIR"
exec > >(tee -a "$LOG_DIR/entrypoint.log") 2>&1

echo "--------------------------------------------------"
echo "SPLENT PROD ENTRYPOINT START $(date -u +%FT%TZ) pid $$"
echo "--------------------------------------------------"

trap 'rc=$?; echo "❌ FAIL (rc=$rc) at ${BASH_SOURCE[0]}:${LINENO}: ${BASH_COMMAND}"; exit $rc' ERR

run_step () {
  echo ""
  echo "==> [$1] $2"
  bash "$2"
  echo "✅ Step ok: [$1]"
}

run_step "00_install_features" "$SCRIPTS/00_install_features.sh"
echo "==> [05_1_start_app_prod] $SCRIPTS/05_1_start_app_prod.sh (exec: gunicorn takes over this process)"
exec bash "$SCRIPTS/05_1_start_app_prod.sh"
