"""Running splent-restart as users do (a subprocess) against a rig workspace."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHIM = """#!/bin/sh
# logs every docker argv (one JSON array a line), then runs the real docker
python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@" >> "$DOCKER_SHIM_LOG"
exec {real} "$@"
"""


def restart(ws, *args: str, extra_env: dict | None = None, timeout: float = 300,
            shim_dir: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m restart --workspace <ws> ARGS`` with a clean SPLENT environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORKING_DIR", "SPLENT_APP", "SPLENT_ENV")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra_env or {})
    if shim_dir is not None:
        env["PATH"] = f"{shim_dir}{os.pathsep}{env['PATH']}"
        env["DOCKER_SHIM_LOG"] = str(shim_dir / "argv.log")
    return subprocess.run([sys.executable, "-m", "restart", "--workspace", str(ws.root), *args],
                          capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def make_shim(folder: Path) -> Path:
    """A logging ``docker`` first on PATH for a whole run (the real one keeps working)."""
    real = subprocess.run(["sh", "-c", "command -v docker"], capture_output=True, text=True, check=True).stdout.strip()
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "docker"
    shim.write_text(SHIM.format(real=real))
    shim.chmod(0o755)
    return folder


def shim_argvs(folder: Path) -> list[list[str]]:
    log = folder / "argv.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def set_env_value(path: Path, name: str, value: str) -> None:
    """Replace NAME=... in an env file with a double-quoted value (python-dotenv rules)."""
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = [line for line in path.read_text().splitlines() if not line.startswith(f"{name}=")]
    path.write_text("\n".join(lines + [f"{name}={quoted}"]) + "\n")


def container_id(name: str) -> str:
    return subprocess.run(["docker", "inspect", "-f", "{{.Id}}", name], capture_output=True, text=True,
                          check=True).stdout.strip()


def leaked_values(ws, env: str, argvs: list[list[str]]) -> list[tuple[str, list[str]]]:
    """Env-file values found on any logged argv: every NAME=value pair, and the distinctive values
    anywhere (the product name or "dev" legitimately appear in project names, so not those alone)."""
    from dotenv import dotenv_values

    values = dotenv_values(ws.env_file(env))
    pairs = [f"{k}={v}" for k, v in values.items()]
    distinctive = [values[k] for k in ("SECRET_TOKEN", "MOTTO", "GREETING")]
    return [(v, a) for a in argvs for arg in a for v in pairs + distinctive if v in arg]
