#!/bin/bash
# Install, editable and offline, every feature linked under /workspace/demo_app/features/<ns>/
# (product:resolve makes those links: <name> for editable checkouts, <name>@<version> for
# pinned ones in .splent_cache), then the product itself. A package already installed editable
# from the same (resolved) location is skipped, so a second run takes about a second.
set -euo pipefail
shopt -s nullglob

PRODUCT_DIR=/workspace/demo_app
PIP=(python3 -m pip --disable-pip-version-check)

echo "🚀 [Install features] starting..."

# Resolved editable locations pip already knows about, one per line.
installed=$("${PIP[@]}" list --format=json 2>/dev/null | python3 -c '
import json, os, sys
for dist in json.load(sys.stdin):
    location = dist.get("editable_project_location")
    if location:
        print(os.path.realpath(location))
' || true)

todo=()
consider() {  # consider DIR LABEL: queue DIR for installing unless pip has it from there already
    local dir=$1 label=$2 real
    real=$(readlink -f "$dir")
    if [ ! -f "$real/pyproject.toml" ] && [ ! -f "$real/setup.py" ]; then
        echo "❌ $label: $dir has no pyproject.toml (broken link?)" >&2
        return 1
    fi
    if grep -qxF "$real" <<<"$installed"; then
        echo "✔ $label already installed from $real"
    else
        echo "📦 $label from $real"
        todo+=(-e "$real")
    fi
}

for link in "$PRODUCT_DIR"/features/*/*; do
    consider "$link" "$(basename "$link")"
done
consider "$PRODUCT_DIR" "demo_app"

# One pip run for all of them (pip starts slowly); offline: no index, no deps, no isolation.
if [ ${#todo[@]} -gt 0 ]; then
    "${PIP[@]}" install -q --no-index --no-deps --no-build-isolation --root-user-action=ignore "${todo[@]}"
fi

echo "✅ [Install features] done."
