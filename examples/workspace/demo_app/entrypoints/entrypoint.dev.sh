#!/bin/bash
# demo_app dev entrypoint, shaped like SPLENT's: each step is a script under scripts/, output is
# appended to /var/log/splent/entrypoint.log (and still shown). This example has no database,
# so only the feature install and the start step remain.
# Dev: run with `docker exec -d demo_app_web bash /workspace/demo_app/entrypoints/entrypoint.dev.sh`;
# it returns once the app is started in the background.
set -Eeuo pipefail

SCRIPTS=/workspace/demo_app/scripts
LOG_DIR=/var/log/splent
mkdir -p "$LOG_DIR"
exec > >(tee -a "$LOG_DIR/entrypoint.log") 2>&1

echo "--------------------------------------------------"
echo "SPLENT DEV ENTRYPOINT START $(date -u +%FT%TZ) pid $$"
echo "--------------------------------------------------"

trap 'rc=$?; echo "❌ FAIL (rc=$rc) at ${BASH_SOURCE[0]}:${LINENO}: ${BASH_COMMAND}"; exit $rc' ERR

run_step () {
  echo ""
  echo "==> [$1] $2"
  bash "$2"
  echo "✅ Step ok: [$1]"
}

run_step "00_install_features" "$SCRIPTS/00_install_features.sh"
run_step "05_0_start_app_dev"  "$SCRIPTS/05_0_start_app_dev.sh"
echo "SPLENT DEV ENTRYPOINT FINISHED"
