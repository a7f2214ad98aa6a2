"""The folder layout is the layering: planning never talks to Docker or the command, docker
never reaches up into the command.  Read from the source (every import statement, also the
function-level ones), so a new upward import fails here, not in a review."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "restart"
LEAVES = {"restart.errors", "restart.outcome", "restart.progress", "restart.interrupt", "restart"}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("planning", "docker") else "command"


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("restart"):
            packages = ("restart", "restart.planning", "restart.docker")    # `from restart.docker import compose`
            found |= {f"{node.module}.{a.name}" for a in node.names} if node.module in packages else {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("restart")}
    return found - LEAVES


ALLOWED = {"planning": {"planning"}, "docker": {"docker", "planning"}, "command": {"command", "docker", "planning"}}


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_imports_only_go_down(path):
    module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    upward = [m for m in imports(path) if layer(m) not in ALLOWED[layer(module)]]
    assert upward == [], f"{module} ({layer(module)}) imports from a layer above it: {upward}"
