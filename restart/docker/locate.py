"""Find the product's web container and learn how its app runs (read-only Docker calls).

Never "the first container": the reference picked the database that way in prod.  Paths are
mapped into the container through its mounts, because the host (or SPLENT's CLI container)
and the web container see the workspace at different places.
"""
from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from restart.docker.client import Docker, exec_argv
from restart.errors import CommandFailed, ConfigError, RestartError

AGENT_SOURCE: str | None = None
EXEC_MANAGED, MAIN_PROCESS = "exec-managed", "main-process"
# Agent commands that only look: one killed by a signal (a start script's `pkill`, the OOM
# killer) is asked again, since its death says nothing about the app.
READ_ONLY_AGENT = frozenset({"status", "files", "tail", "wait", "envdiff", "inspect"})
SIGNAL_RETRIES = 2


def agent_source() -> str:
    """restart/docker/agent.py as text: sent on the agent's stdin, never on a command line."""
    global AGENT_SOURCE
    if AGENT_SOURCE is None:
        AGENT_SOURCE = (Path(__file__).with_name("agent.py")).read_text()
    return AGENT_SOURCE


def agent_argv(command: str, *args: object) -> tuple[str, ...]:
    """``python3 - COMMAND HEX``: the in-container helper's command line, its source on stdin.

    SPLENT's start scripts run ``pkill -f "flask run"`` and ``pkill -f "watchmedo.*auto-restart"``
    while restart's probe waits for the app.  ``pkill -f`` matches the whole command line, so
    neither the agent's source nor an argument such as a probe path or log file may appear
    there: the arguments travel as hex-encoded JSON, which no such pattern can match.
    """
    packed = json.dumps([str(a) for a in args]).encode().hex()
    return ("python3", "-", command, packed)


def conventional_path(host_path: Path, workspace: Path) -> str:
    """SPLENT's convention for a workspace path in the web container: ``/workspace/<rel>``."""
    rel = os.path.relpath(Path(os.path.normpath(host_path)), workspace)
    return posixpath.join("/workspace", rel.replace(os.sep, "/"))


@dataclass(frozen=True)
class Mount:
    source: str
    destination: str


@dataclass(frozen=True)
class WebContainer:
    """The container running the app, how it was found, and how to reach workspace paths in it."""

    name: str
    id: str
    service: str
    found_by: str
    mounts: tuple[Mount, ...]
    env: dict[str, str] = field(default_factory=dict)   # Config.Env, for the main-process diff
    command: tuple[str, ...] = ()

    def container_path(self, host_path: Path, workspace: Path, host_workspace: str | None = None) -> str:
        """Where ``host_path`` (inside the workspace) is in the container.

        Tries the workspace as this process sees it, then SPLENT_HOST_PROJECT_DIR (the host's
        view when restart runs inside SPLENT's CLI container); the longest matching mount
        source wins.  Without a matching mount SPLENT's convention applies: /workspace/<rel>.
        """
        best = self._mount_for(host_path, workspace, host_workspace)
        if best:
            src, dest, path = best
            return posixpath.normpath(posixpath.join(dest, os.path.relpath(path, src)))
        return conventional_path(host_path, workspace)

    def sees(self, host_path: Path, workspace: Path, host_workspace: str | None = None) -> bool:
        """True when one of the container's bind mounts holds ``host_path`` (a remote engine's
        container usually sees its own host's checkout, not this one)."""
        return self._mount_for(host_path, workspace, host_workspace) is not None

    def _mount_for(self, host_path: Path, workspace: Path, host_workspace: str | None):
        host_path = Path(os.path.normpath(host_path))
        rel = os.path.relpath(host_path, workspace)
        candidates = [str(host_path)]
        if host_workspace:
            candidates.append(os.path.normpath(os.path.join(host_workspace, rel)))
        best = None
        for path in candidates:
            for m in self.mounts:
                src = m.source.rstrip("/") or "/"
                if path == src or path.startswith(src + "/"):
                    if best is None or len(src) > len(best[0]):
                        best = (src, m.destination, path)
        return best


@dataclass(frozen=True)
class AppState:
    """What runs in the web container now: decides exec-managed vs main-process."""

    mode: str
    apps: tuple[dict, ...]
    masters: tuple[int, ...]
    workers: dict
    why: str
    zombies: tuple[int, ...] = ()         # zombies whose parent is a PID 1 that does not reap them
    orphans: tuple[int, ...] = ()         # app processes that will become such zombies when stopped
    pid1: tuple[str, ...] = ()


def find_web_container(docker: Docker, product: str, project: str, explicit: str | None) -> WebContainer:
    """--container, else the running container with a /workspace mount, else the SPLENT service names."""
    if explicit:
        infos = _inspect_or_none(docker, explicit)
        if not infos:
            raise ConfigError(f'container "{explicit}" (from --container) does not exist.')
        info = infos[0]
        if not info.get("State", {}).get("Running"):
            raise ConfigError(f'container "{explicit}" (from --container) is not running.')
        return _web(info, "--container")
    infos = docker.inspect(docker.project_containers(project))
    running = [i for i in infos if i.get("State", {}).get("Running")]
    with_ws = [i for i in running if any(m.get("Destination") == "/workspace" for m in i.get("Mounts") or ())]
    if len(with_ws) == 1:
        return _web(with_ws[0], "its /workspace mount")
    if len(with_ws) > 1:
        names = ", ".join(sorted(_name(i) for i in with_ws))
        raise ConfigError(f"two candidate web containers in project {project} ({names}) both mount "
                          "/workspace; name one with --container.")
    for service in (f"{product}_web", f"{product}_web_deploy"):
        for info in running:
            if _service(info) == service or _name(info) == service:
                return _web(info, f"service {service}")
    if running:
        services = ", ".join(sorted({_service(i) or _name(i) for i in running}))
        raise RestartError(f"no web container in project {project}: none mounts /workspace and no "
                           f"service is named {product}_web or {product}_web_deploy (running: {services}).")
    stopped = docker.project_containers(project, all_states=True)
    hint = " (its containers exist but are stopped)" if stopped else " (is the product up?)"
    raise RestartError(f"no running container in compose project {project}{hint}.")


def app_state(web: WebContainer, data: dict) -> AppState:
    """Decide from the agent's ``status`` answer how this run must restart the app."""
    apps = tuple(data["apps"])
    masters = tuple(data["masters"])
    cmd = " ".join(web.command)
    piles = {"zombies": tuple(data.get("zombies", ())), "orphans": tuple(data.get("orphans", ())),
             "pid1": tuple(data.get("pid1", ()))}
    if any(a.get("main") for a in apps):
        main = next(a for a in apps if a.get("main"))
        why = f"{main['role']} (pid {main['pid']}) descends from the container's main process"
        return AppState(MAIN_PROCESS, apps, masters, data["workers"], why, **piles)
    if "entrypoint." in cmd and "tail" not in cmd:
        return AppState(MAIN_PROCESS, apps, masters, data["workers"],
                        "the container's command runs the entrypoint", **piles)
    why = "the container's main process is not the app" + (f" ({cmd})" if cmd else "")
    return AppState(EXEC_MANAGED, apps, masters, data["workers"], why, **piles)


def agent_call(web: WebContainer, command: str, *args: object, env: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The whole ``docker exec -i [-e NAME]… <web> python3 - COMMAND HEX`` of one agent command."""
    return exec_argv(web.name, agent_argv(command, *args), env=env, interactive=True)


def run_agent(docker: Docker, web: WebContainer, command: str, *args: object, timeout: float = 60,
              env: dict[str, str] | None = None) -> dict:
    """Run one agent command in the web container and return its JSON answer."""
    return ask_agent(docker, web, agent_call(web, command, *args, env=tuple(env or ())), command,
                     timeout=timeout, env=env)


def ask_agent(docker: Docker, web: WebContainer, argv: tuple[str, ...], command: str, *, timeout: float = 60,
              env: dict[str, str] | None = None) -> dict:
    """Run an :func:`agent_call` argv (the agent's source on stdin) and return its JSON answer.

    A read-only ``command`` killed by a signal (exit 128+n) is run again, up to SIGNAL_RETRIES
    times: the probe's death is no evidence that the app is down.  ``env`` is passed by NAME
    (values in the docker CLI's environment, never on argv).
    """
    attempts = 1 + (SIGNAL_RETRIES if command in READ_ONLY_AGENT else 0)
    for attempt in range(attempts):
        try:
            result = docker.run(argv, env=env, stdin=agent_source(), timeout=timeout)
            break
        except CommandFailed as e:
            if e.code in (126, 127) and "python3" in e.stderr:
                raise RestartError(f"the web container {web.name} has no python3, which restart needs "
                                   "to manage the app's processes.") from None
            if killed_by_signal(e.code) and attempt + 1 < attempts:
                continue
            raise
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        raise RestartError(f"unexpected answer from the helper in {web.name}: "
                           f"{result.stdout[-200:]!r}") from None


def killed_by_signal(code: int | None) -> bool:
    """Exit 128+n (143 SIGTERM, 137 SIGKILL…): what ``docker exec`` reports for a signalled process."""
    return code is not None and 128 < code <= 128 + 64


def _inspect_or_none(docker: Docker, name: str) -> list[dict]:
    try:
        return docker.inspect([name])
    except CommandFailed as e:
        if "no such" in e.stderr.lower():
            return []
        raise


def _name(info: dict) -> str:
    return info.get("Name", "").lstrip("/")


def _service(info: dict) -> str:
    return ((info.get("Config") or {}).get("Labels") or {}).get("com.docker.compose.service", "")


def _web(info: dict, found_by: str) -> WebContainer:
    config = info.get("Config") or {}
    env = dict(item.split("=", 1) if "=" in item else (item, "") for item in config.get("Env") or ())
    mounts = tuple(Mount(m.get("Source", ""), m.get("Destination", "")) for m in info.get("Mounts") or ())
    command = tuple(config.get("Entrypoint") or ()) + tuple(config.get("Cmd") or ())
    return WebContainer(_name(info), info.get("Id", ""), _service(info), found_by, mounts, env, command)
