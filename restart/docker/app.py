"""Stop, start and verify the Flask app inside the web container, in either way it runs.

exec-managed (dev, and prod set up as the product:restart docs describe): stop every flask /
watchmedo / gunicorn process, start the start script with ``docker exec -d`` and the env
file's values passed by NAME, then wait until it answers.

main-process (SPLENT's prod template: gunicorn is the container's main process chain):
killing gunicorn would stop the container, so reload it with SIGHUP (or, with --full,
``docker restart`` the container, which keeps it) and say which env-file values the running
container cannot see.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from restart.docker.client import Docker
from restart.docker.locate import AppState, WebContainer, ask_agent, run_agent
from restart.errors import RestartError
from restart.outcome import Outcome

START_LOG = "/tmp/splent-restart-app.log"
DEFAULT_LOGS = (START_LOG, "/var/log/entrypoint.log", "/var/log/splent/entrypoint.log")
REAPER_MARK = "splent-restart-reaper"      # restart/docker/agent.py knows it by this argument
# The parent the start script runs under (``python3 -c REAPER splent-restart-reaper LOG bash SCRIPT``).
# In dev the container's PID 1 is ``tail -f /dev/null``, which never reaps: an app that the start
# script leaves in the background would be re-parented to it and turn into a zombie when stopped,
# one per restart.  This parent marks itself child subreaper, so such orphans come to it instead,
# reaps every child, and exits after the last one: it lives exactly as long as the app.
# Static text (log path and script arrive as arguments), and on purpose free of the words
# SPLENT's start scripts ``pkill -f`` for, so that they never kill it.
REAPER = """\
import ctypes, os, signal, sys
log, argv = sys.argv[2], sys.argv[3:]
try:
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
except Exception:
    pass
out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
if os.fork() == 0:
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):                # ignored by python, not by the app
        signal.signal(sig, signal.SIG_DFL)
    os.dup2(out, 1)
    os.dup2(out, 2)
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
os.close(out)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
"""


@dataclass
class AppResult:
    env_not_applied: list[str] = field(default_factory=list)
    apply_command: str = ""
    env_applied: list[str] = field(default_factory=list)    # --apply-env: names now in the app's env
    pids_before: list[int] = field(default_factory=list)
    pids_after: list[int] = field(default_factory=list)


class AppController:
    """Runs the app's steps (restart/docker/steps.py) and reads their answers; failures carry the log tail."""

    def __init__(self, docker: Docker, web: WebContainer, *, port: int, probe_path: str | None,
                 start_timeout: float, log_files=()) -> None:
        self.docker, self.web = docker, web
        self.port, self.path = (port, probe_path) if probe_path else (0, "/")
        self.start_timeout = start_timeout
        self.log_files = tuple(log_files) + DEFAULT_LOGS

    def _ask(self, step, env: dict[str, str] | None = None) -> dict:
        return ask_agent(self.docker, self.web, step.argv, step.agent, timeout=step.timeout or 60, env=env)

    # -- exec-managed ---------------------------------------------------------------------
    def stop(self, step) -> Outcome:
        started = time.monotonic()
        res = self._ask(step)
        if res["left"]:
            raise RestartError(f"app processes {res['left']} in {self.web.name} survived SIGKILL.")
        detail = f"{len(res['stopped'])} process(es)" + (f", {len(res['killed'])} needed SIGKILL"
                                                         if res["killed"] else "")
        return Outcome(step.name, "ok", detail if res["stopped"] else "none was running",
                       time.monotonic() - started)

    def start(self, step, env: dict[str, str]) -> Outcome:
        """``docker exec -d``: the start script under the reaper, the env file's values by NAME."""
        started = time.monotonic()
        self.docker.run(step.argv, env=env, timeout=step.timeout)
        return Outcome(step.name, "ok", step.target, time.monotonic() - started)

    def verify(self, step) -> Outcome:
        res = self._ask(step)
        if not res["ok"]:
            why = ("its process exited right after starting" if res.get("exited") else
                   "no app process is running" if not res["pids"] else
                   f"it does not answer on port {self.port}" + (f" (HTTP {res['status']})" if res["status"] else ""))
            log = self.log_tail()
            when = (f"after {res['seconds']:.1f}s" if res.get("exited") else f"within {self.start_timeout:g}s")
            raise RestartError(f"the app did not come back in {self.web.name} {when}: {why}{last_error(log)}.",
                               log=log)
        probe = f"answers on :{self.port}{self.path}" if self.port else "process running"
        return Outcome(step.name, "ok", f"{probe}, pid {', '.join(map(str, res['pids'][:3]))}", res["seconds"],
                       data={"pids": res["pids"], **({"zombies": res["zombies"]} if "zombies" in res else {})})

    def log_tail(self, lines: int = 40) -> dict[str, list[str]]:
        try:
            return run_agent(self.docker, self.web, "tail", lines, *self.log_files)
        except RestartError:
            return {}

    # -- main-process ---------------------------------------------------------------------
    def reload(self, step) -> Outcome:
        res = self._ask(step)
        if not res["ok"]:
            raise RestartError(f"gunicorn (pid {step.master}) in {self.web.name} did not reload within "
                               f"{self.start_timeout:g}s (workers {res['before']} → {res['after']}).",
                               log=self.log_tail())
        return Outcome(step.name, "ok",
                       f"SIGHUP pid {step.master}, workers {res['before']} → {res['after']}", res["seconds"],
                       data={"master": step.master, "workers_before": res["before"], "workers_after": res["after"]})

    def restart_container(self, step) -> Outcome:
        started = time.monotonic()
        self.docker.run(step.argv, timeout=step.timeout)
        return Outcome(step.name, "ok", step.target, time.monotonic() - started)

    def recreate(self, step) -> Outcome:
        """``compose up -d --no-deps --force-recreate <web>``: a new container, the same name;
        compose reads SPLENT_HOST_PROJECT_DIR (a path, not a secret) from its environment."""
        started = time.monotonic()
        self.docker.run(step.argv, env={"SPLENT_HOST_PROJECT_DIR": step.host_dir}, cwd=step.cwd,
                        timeout=step.timeout)
        return Outcome(step.name, "ok", f"{step.target} recreated", time.monotonic() - started)

    def verify_env(self, step, values: dict[str, str]) -> Outcome:
        """The app's own processes hold the env file's values for the step's names (compared in the
        container: the values travel by NAME in the exec's environment, only names come back)."""
        started = time.monotonic()
        res = self._ask(step, env={n: values[n] for n in step.names})
        if not res["pids"]:
            raise RestartError(f"no app process in {self.web.name} to check the env of after recreating it.",
                               log=self.log_tail())
        if res["differ"]:
            raise RestartError(f"the recreated {self.web.name} still runs the app with old values of "
                               f"{', '.join(res['differ'])}.", log=self.log_tail())
        names = list(step.names)
        return Outcome(step.name, "ok", f"{len(names)} value(s) applied: {', '.join(names)}",
                       time.monotonic() - started, data={"applied": names, "pids": res["pids"]})

    def container_logs(self, lines: int = 20) -> dict[str, list[str]]:
        try:
            res = self.docker.run(("docker", "logs", "--tail", str(lines), self.web.name), timeout=30)
        except RestartError:
            return {}
        return {f"docker logs {self.web.name}": (res.stdout + res.stderr).splitlines()[-lines:]}


def preloaded(state: AppState, container_env: dict[str, str]) -> str:
    """Why SIGHUP would keep serving the old code ('' when it would not).

    With ``--preload`` the master imports the app once and forks every new worker from that
    import, so a SIGHUP reload brings new workers running the OLD code.  Seen on the master's
    argv or in GUNICORN_CMD_ARGS (the container's env, which the master inherits).
    """
    argv = next((a["argv"] for a in state.apps if state.masters and a["pid"] == state.masters[0]), [])
    if "--preload" in argv:
        return "the gunicorn master runs with --preload"
    if "--preload" in container_env.get("GUNICORN_CMD_ARGS", "").split():
        return "GUNICORN_CMD_ARGS has --preload"
    return ""


ERROR_LINE = re.compile(r"^\s*(?:[\w.]+\.)?\w*(?:Error|Exception)\b(?::.*)?$")


def last_error(log: dict[str, list[str]]) -> str:
    """' (log: ModuleNotFoundError: …)' — the last exception line of the logs, so the sentence names
    the cause even when a long traceback pushes it out of the tail shown below it."""
    found = [line.strip() for lines in log.values() for line in lines if ERROR_LINE.match(line)]
    return f" (log: {found[-1][:160]})" if found else ""


def env_differences(wanted: dict[str, str], container_env: dict[str, str]) -> list[str]:
    """Names whose env-file value differs from what the container was created with."""
    return [name for name, value in wanted.items() if container_env.get(name) != value]
