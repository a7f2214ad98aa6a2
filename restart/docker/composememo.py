"""Remember which compose command works, so an unchanged install is not asked again on every run.

Every run must know which compose to call (``docker compose``, v2, else ``docker-compose``, v1,
or the ``--compose-cmd``) and its ``version`` output (compose verdicts are keyed on it).
Asking is a compose process: ~75 ms of CPU (compose v2 is a large Go binary), spent in the
busiest moment of a run, beside the agent's look into the web container, before the first
change.  Yet the answer only changes when docker or compose is installed, upgraded, moved or
removed, or when PATH changes.  So an answer is stored under a key made of:

- the ``version`` argv of every candidate (engine flags included), PATH and DOCKER_CONFIG;
- the identity (resolved path, device, inode, size, mtime) of every file that decides the
  answer: each candidate's program as PATH finds it, ``docker-compose`` in each folder the docker
  CLI loads plugins from, and the CLI's ``config.json`` (it can name more plugin folders).

A failed detection is never stored.  An answer gone stale in a way the key misses (a compose
that broke in place) only means compose's own error comes at its first call.  Memos live in
``<workspace>/.splent_cache/restart/compose-cmd/``, one small JSON file per key, written whole
(``settings.write_memo``, as the order memo is); an unwritable folder only means no memo.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Mapping

from restart.docker.client import Docker
from restart.docker.compose import V1, V2
from restart.planning.settings import CACHE_DIR, write_memo

FOLDER = CACHE_DIR / "compose-cmd"
KEEP = 20
FORMAT = "restart-composememo/1"
PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
               "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")


def memo_key(docker: Docker, env: Mapping[str, str]) -> str:
    """The sha256 of everything the compose detection's answer depends on (see the module doc)."""
    config = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME") or Path.home()) / ".docker")
    candidates = (docker.compose,) if docker.compose else (V2, V1)
    parts = [FORMAT, env.get("PATH", ""), str(config)]
    files = [config / "config.json", config / "cli-plugins" / "docker-compose",
             *(Path(d) / "docker-compose" for d in PLUGIN_DIRS)]
    for candidate in candidates:
        argv = docker.engine.argv((*candidate, "version"))
        parts.append(json.dumps(list(argv)))
        found = shutil.which(argv[0], path=env.get("PATH"))
        files.append(Path(found) if found else Path("/nonexistent") / argv[0])
    for file in files:
        try:
            st = file.stat()
            parts.append(f"{file} {os.path.realpath(file)} {st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns}")
        except OSError:
            parts.append(f"{file} -")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def detect_compose(docker: Docker, workspace: Path, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """``docker.detect_compose()``, answered from the memo when nothing it depends on changed."""
    env = os.environ if env is None else env
    key = memo_key(docker, env)
    memo = Path(workspace) / FOLDER / f"{key}.json"
    try:
        stored = json.loads(memo.read_text())
        docker.known_compose(tuple(stored["command"]), stored["version"])
        return docker.compose
    except (OSError, ValueError, KeyError, TypeError):
        pass                                # none yet, or damaged: ask compose
    command = docker.detect_compose()
    write_memo(memo, {"command": list(command), "version": docker.compose_version}, KEEP)
    return command
