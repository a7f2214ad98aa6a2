"""Running splent-restart as users do (a subprocess) against a rig workspace."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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


def sigint_default() -> None:
    """``preexec_fn`` for a child that gets Ctrl-C: SIGINT back at its default disposition.

    A test runner started as a background job (``cmd &``) or by a tool such as mutmut has
    SIGINT ignored, and an ignored signal stays ignored across exec (``restore_signals`` does
    not cover SIGINT); Python then installs no KeyboardInterrupt handler and the child never
    hears the test's Ctrl-C.  A terminal's foreground job has it at the default, so reset it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_restart(ws, *args: str, shim_dir: Path, extra_env: dict | None = None) -> subprocess.Popen:
    """restart as a terminal's foreground job: its own process group, so ``os.killpg(proc.pid,
    SIGINT)`` is exactly what Ctrl-C does (the whole group, not just the Python process)."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORKING_DIR", "SPLENT_APP", "SPLENT_ENV")}
    env.update(PYTHONPATH=str(REPO), PATH=f"{shim_dir}{os.pathsep}{env['PATH']}",
               DOCKER_SHIM_LOG=str(shim_dir / "argv.log"), **(extra_env or {}))
    return subprocess.Popen([sys.executable, "-m", "restart", "--workspace", str(ws.root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=sigint_default)


def wait_for_call(proc: subprocess.Popen, shim_dir: Path, matches, timeout: float = 120) -> list[str]:
    """Poll the shim's log until a logged docker argv satisfies ``matches``; return it.

    The shim logs an argv just before it execs the real docker, so when this returns that call
    is starting. Fails if restart exits first or nothing matches within timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        log = shim_dir / "argv.log"
        for line in log.read_text().splitlines() if log.exists() else ():
            try:
                argv = json.loads(line)
            except ValueError:               # a line being written right now
                continue
            if matches(argv):
                return argv
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"restart exited ({proc.returncode}) before the awaited call:\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching docker call within {timeout:g}s")
        time.sleep(0.02)                     # a poll interval, not a synchronisation


def ctrl_c(proc: subprocess.Popen) -> None:
    """What a terminal does on Ctrl-C: SIGINT to the whole foreground process group."""
    os.killpg(proc.pid, signal.SIGINT)


def terminate(proc: subprocess.Popen) -> None:
    """What ``kill``, ``timeout`` or a CI runner's cancel does: SIGTERM to restart's process only."""
    os.kill(proc.pid, signal.SIGTERM)


def is_compose_restart(project: str):
    return lambda argv: argv[:1] == ["compose"] and "restart" in argv and project in argv


def is_agent(command: str):
    """The in-container agent's ``command`` (``exec -i <web> python3 - command HEX``, source on stdin)."""
    def match(argv):
        if argv[:1] != ["exec"] or "python3" not in argv:
            return False
        i = argv.index("python3")
        return argv[i + 1: i + 3] == ["-", command]
    return match


def make_shim(folder: Path) -> Path:
    """A logging ``docker`` first on PATH for a whole run (the real one keeps working)."""
    real = subprocess.run(["sh", "-c", "command -v docker"], capture_output=True, text=True, check=True).stdout.strip()
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "docker"
    shim.write_text(SHIM.format(real=real))
    shim.chmod(0o755)
    return folder


def shim_argvs(folder: Path) -> list[list[str]]:
    """Every logged argv, in order; two entries that concurrent docker calls wrote onto one line
    (``[…][…]``) are read as two."""
    log = folder / "argv.log"
    text = log.read_text() if log.exists() else ""
    decoder, argvs = json.JSONDecoder(), []
    for line in text.splitlines():
        i = 0
        while i < len(line):
            argv, i = decoder.raw_decode(line, i)
            argvs.append(argv)
    return argvs


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


def assert_names_only(ws, env: str, argvs: list[list[str]]) -> list[list[str]]:
    """The shim saw the app's start (``exec -d … -e NAME`` for every env-file name, no value), and no
    env value appears on any logged argv. Returns the start calls.

    Checked in this order so that an empty or partial shim log cannot pass as "nothing leaked".
    """
    assert argvs, "the docker shim logged nothing"
    names = sorted(ws.env_values(env))
    starts = [a for a in argvs if a[:2] == ["exec", "-d"]]
    assert starts, "the shim logged no `docker exec -d` start"
    for start in starts:
        flags = [start[i + 1] for i, a in enumerate(start[:-1]) if a == "-e"]
        assert sorted(flags) == names, (flags, names)
        assert not [f for f in flags if "=" in f], flags
    assert leaked_values(ws, env, argvs) == []
    return starts
