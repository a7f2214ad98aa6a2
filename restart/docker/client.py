"""Docker CLI calls, as argv tuples handed to the one runner.

Read-only questions (which containers, which state, which compose) and the few changing calls
(``compose restart``, ``exec``, ``restart``) live here so that the rest of the code speaks of
containers and stacks, not of command lines.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Sequence

from restart.docker.compose import V1, V2
from restart.docker.compose import is_v1 as _is_v1
from restart.docker.runner import Result, Runner
from restart.errors import CommandFailed, ConfigError, RestartError, last_line
from restart.planning.engine import LOCAL, Engine


@dataclass(frozen=True)
class ContainerState:
    """A compose service container as the readiness check needs it."""

    name: str
    service: str
    state: str                 # running, exited, restarting, created, paused, dead
    health: str = ""           # healthy, unhealthy, starting, "" (no healthcheck)
    exit_code: int | None = None
    id: str = ""
    probe: tuple[str, ...] = ()   # the container's own healthcheck command, as docker exec runs it
    probe_timeout: float = 30.0

    @property
    def ready(self) -> bool:
        return self.state == "running" and self.health in ("", "healthy")


def engine_error(e: CommandFailed, engine: Engine = LOCAL) -> ConfigError | None:
    """Turn "no docker / no daemon / no permission" into one sentence; None if it is another fault.

    A remote engine (a context, DOCKER_HOST) is named in the sentence: in a fleet the operator
    must know which host could not be reached.
    """
    text = e.stderr.lower()
    if engine.remote and e.code != 127:
        known = _remote_error(text, last_line(e.stderr), engine)
        if known is not None:
            return known
    if e.code == 127 and "executable file not found" not in text:   # that 127 is `docker exec`'s
        return ConfigError(f"the {e.argv[0] if e.argv else 'docker'} command is not installed or not on PATH.")
    if "permission denied" in text and "docker.sock" in text:
        return ConfigError("permission denied on the Docker socket: run as root or join the docker group.")
    if ("cannot connect to the docker daemon" in text or "is the docker daemon running" in text
            or "failed to connect to the docker api" in text):   # the last: wording of newer docker CLIs
        return ConfigError("the Docker daemon is not running (docker cannot connect to it).")
    return None


def _remote_error(text: str, last: str, engine: Engine) -> ConfigError | None:
    """Only the docker CLI's own connection wording: a failing ``docker exec`` may print
    "connection refused" or "certificate" about something else entirely (pip, the app)."""
    if "unable to resolve docker endpoint" in text or "context not found" in text:
        return ConfigError(f"docker {engine.label} does not exist (`docker context ls` lists the contexts).")
    connecting = ("error during connect" in text or "cannot connect to the docker daemon" in text
                  or "is the docker daemon running" in text or "failed to connect to the docker api" in text
                  or "could not read ca certificate" in text)
    if not connecting:
        return None
    if "x509" in text or "tls:" in text or "certificate" in text:
        return ConfigError(f"TLS with the Docker engine of {engine.label} failed: {last}")
    if "dial-stdio" in text or "ssh:" in text:
        ssh = last.split("stderr=", 1)[-1].strip() or last
        return ConfigError(f"SSH to the Docker engine of {engine.label} failed: {ssh}")
    return ConfigError(f"the Docker engine of {engine.label} cannot be reached: {last}")


class Docker:
    """The Docker CLI as restart uses it; ``compose`` is the one compose v1/v2 setting.

    ``engine`` reaches every call: ``docker --context NAME …`` (compose v2 is ``docker compose``,
    so it follows), and for compose v1, which knows no contexts, DOCKER_HOST set to the
    context's endpoint.
    """

    def __init__(self, runner: Runner, compose: Sequence[str] | None = None, engine: Engine = LOCAL) -> None:
        self.runner = runner
        self.compose = tuple(compose) if compose else None
        self.engine = engine
        self._compose_checked = False
        self.compose_version: str | None = None   # `<compose> version` output once detected (composecheck's key)
        self._v1_host: str | None = None

    # -- plumbing -------------------------------------------------------------------------
    def run(self, argv: Sequence[str], **kw) -> Result:
        if self.engine.context and argv and argv[0] == "docker-compose":
            kw["env"] = {**(kw.get("env") or {}), "DOCKER_HOST": self.v1_host()}
        try:
            return self.runner.run(self.engine.argv(argv), **kw)
        except CommandFailed as e:
            known = engine_error(e, self.engine) if argv and argv[0] in ("docker", "docker-compose") else None
            if known is not None:
                raise known from None
            raise

    def v1_host(self) -> str:
        """The context's endpoint for compose v1 (``docker-compose`` reads DOCKER_HOST, not contexts)."""
        if self._v1_host is None:
            out = self.run(("docker", "context", "inspect", self.engine.context), timeout=20).stdout
            info = (json.loads(out or "[]") or [{}])[0]
            endpoint = (info.get("Endpoints") or {}).get("docker") or {}
            if info.get("TLSMaterial") or not endpoint.get("Host"):
                raise ConfigError(f"compose v1 (docker-compose) cannot use the TLS settings of {self.engine.label}; "
                                  'use compose v2 (--compose-cmd "docker compose").')
            self._v1_host = endpoint["Host"]
        return self._v1_host

    def check_engine(self) -> str:
        """The server version; a clear ConfigError when the CLI, daemon or socket is missing."""
        return self.run(("docker", "version", "--format", "{{.Server.Version}}"), timeout=20).stdout.strip()

    def detect_compose(self) -> tuple[str, ...]:
        """``docker compose`` (v2) if it works, else ``docker-compose`` (v1); kept for the run.

        A command named with --compose-cmd is checked the same way (``<cmd> version``, read-only).
        """
        if self.compose and self._compose_checked:
            return self.compose
        for candidate in (self.compose,) if self.compose else (V2, V1):
            try:
                version = self.runner.run(self.engine.argv((*candidate, "version")), timeout=20).stdout
            except CommandFailed as e:
                if self.compose:
                    shown = " ".join(self.compose)
                    raise ConfigError(f'the compose command "{shown}" (--compose-cmd) does not work: '
                                      f"`{shown} version` failed ({last_line(e.stderr) or e.code}).") from None
                continue
            self.compose, self._compose_checked, self.compose_version = candidate, True, version.strip()
            return candidate
        raise ConfigError("neither `docker compose` (v2) nor `docker-compose` (v1) is installed; "
                          "install one or name it with --compose-cmd.")

    def known_compose(self, command: Sequence[str], version: str) -> None:
        """Use a compose command detected before (restart/docker/composememo.py) without asking it."""
        if not isinstance(version, str) or not command or (self.compose and tuple(command) != self.compose):
            raise ValueError("a compose memo that does not fit these settings")
        self.compose, self._compose_checked, self.compose_version = tuple(command), True, version

    @property
    def is_v1(self) -> bool:
        return _is_v1(self.compose or ())

    # -- containers -----------------------------------------------------------------------
    def project_containers(self, project: str, *, all_states: bool = False) -> list[str]:
        argv = ["docker", "ps", "-q", "--no-trunc", "--filter", f"label=com.docker.compose.project={project}"]
        if all_states:
            argv.insert(2, "-a")
        return self.run(argv, timeout=30).stdout.split()

    def inspect(self, ids: Sequence[str], *, missing_ok: bool = False) -> list[dict]:
        """``docker inspect``; with missing_ok, containers removed meanwhile are left out."""
        if not ids:
            return []
        out = self.run(("docker", "inspect", *ids), timeout=30, ok=(0, 1) if missing_ok else (0,)).stdout
        return json.loads(out or "[]")

    def exec(self, container: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
             detach: bool = False, workdir: str | None = None, timeout: float | None = None,
             stdin: str | None = None) -> Result:
        """``docker exec``; env values ride in the client's environment, argv only says ``-e NAME``;
        ``stdin`` (text) goes to the command's standard input (``-i``)."""
        cmd = exec_argv(container, argv, env=tuple(env or ()), detach=detach, workdir=workdir,
                        interactive=stdin is not None)
        return self.run(cmd, env=env, timeout=timeout, stdin=stdin)

    # -- compose stacks -------------------------------------------------------------------
    def stack_states(self, prefix: Sequence[str], cwd) -> list[ContainerState]:
        """Containers of a compose project; ``prefix`` is compose + ``-p P --env-file E -f F``."""
        if self.is_v1:
            ids = self.run((*prefix, "ps", "-q"), cwd=cwd, timeout=60).stdout.split()
            return [state_from_inspect(c) for c in self.inspect(ids, missing_ok=True)]
        out = self.run((*prefix, "ps", "-a", "--format", "json"), cwd=cwd, timeout=60).stdout
        return parse_compose_ps(out)

    def probe(self, state: ContainerState) -> bool:
        """Run the container's own healthcheck command now: True when it passes (exit 0)."""
        try:
            self.run(("docker", "exec", state.id, *state.probe), timeout=state.probe_timeout + 5)
        except CommandFailed as e:
            if e.code is None or engine_error(e) is not None:
                raise
            return False
        return True

    def states(self, ids: Sequence[str]) -> list[ContainerState]:
        """Re-read known containers: one cheap ``docker inspect`` instead of a compose run."""
        return [state_from_inspect(c) for c in self.inspect(ids, missing_ok=True)]


def exec_argv(container: str, argv: Sequence[str], *, env: Sequence[str] = (), detach: bool = False,
              workdir: str | None = None, interactive: bool = False) -> tuple[str, ...]:
    """``docker exec [-d] [-i] [-w DIR] [-e NAME]… CONTAINER ARGV``: names only, values never."""
    cmd = ["docker", "exec"]
    if detach:
        cmd.append("-d")
    if interactive:
        cmd.append("-i")
    if workdir:
        cmd += ["-w", workdir]
    for name in env:
        cmd += ["-e", name]
    return (*cmd, container, *argv)


def parse_compose_ps(text: str) -> list[ContainerState]:
    """``compose ps --format json``: a JSON array (compose < 2.21) or one object per line."""
    text = text.strip()
    if not text:
        return []
    try:
        rows = json.loads(text) if text.startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
    except json.JSONDecodeError as e:
        raise RestartError(f"could not read `compose ps` output: {e.msg}.") from None
    return [ContainerState(r.get("Name", ""), r.get("Service", ""), (r.get("State") or "").lower(),
                           (r.get("Health") or "").lower(), r.get("ExitCode"), r.get("ID", "")) for r in rows]


def state_from_inspect(info: dict) -> ContainerState:
    state = info.get("State", {})
    config = info.get("Config") or {}
    labels = config.get("Labels") or {}
    status = "restarting" if state.get("Restarting") else (state.get("Status") or "").lower()
    check = config.get("Healthcheck") or {}
    return ContainerState(info.get("Name", "").lstrip("/"), labels.get("com.docker.compose.service", ""),
                          status, ((state.get("Health") or {}).get("Status") or "").lower(),
                          state.get("ExitCode"), info.get("Id", ""), probe_argv(check.get("Test") or ()),
                          (check.get("Timeout") or 30_000_000_000) / 1e9)


def probe_argv(test) -> tuple[str, ...]:
    """A healthcheck ``Test`` as ``docker exec`` argv: CMD-SHELL runs under ``/bin/sh -c``, as the
    engine runs it; NONE or an inherited/empty test gives ``()`` (nothing to run)."""
    kind, *rest = list(test) or [""]
    if kind == "CMD-SHELL" and rest:
        return ("/bin/sh", "-c", rest[0])
    if kind == "CMD" and rest:
        return tuple(rest)
    return ()
