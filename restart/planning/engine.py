"""Which Docker engine a run talks to: the environment's, or a named docker context.

restart invents no transport: a context (``--context NAME`` or ``DOCKER_CONTEXT``) or
``DOCKER_HOST`` says where the engine is, and the docker CLI does the rest (unix, tcp+TLS,
ssh).  A context is put on every ``docker`` argv as ``--context NAME`` (it wins over
``DOCKER_HOST`` in the environment), so one setting reaches every call, compose v2 included.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from restart.errors import ConfigError


@dataclass(frozen=True)
class Engine:
    """The engine of one run (or of one host of a fleet)."""

    context: str | None = None      # passed as `docker --context NAME`
    host: str | None = None         # DOCKER_HOST from the environment, when no context is named
    source: str = ""                # where it came from: --context, DOCKER_CONTEXT, DOCKER_HOST

    @property
    def remote(self) -> bool:
        """Not the engine a plain ``docker`` on this machine reaches: the workspace may be elsewhere."""
        return bool(self.host) or self.context not in (None, "default")

    @property
    def label(self) -> str:
        """How messages name the engine."""
        if self.context:
            return f'context "{self.context}"'
        if self.host:
            return f"DOCKER_HOST {self.host}"
        return "the local Docker engine"

    @property
    def short(self) -> str:
        """What fleet progress puts in front of a line: ``[h2]``."""
        return self.context or self.host or "local"

    def argv(self, argv: Sequence[str]) -> tuple[str, ...]:
        """``docker …`` → ``docker --context NAME …``; other commands unchanged."""
        argv = tuple(argv)
        if self.context and argv and argv[0] == "docker":
            return ("docker", "--context", self.context, *argv[1:])
        return argv


LOCAL = Engine()


def resolve_engine(contexts: Sequence[str] | None, environ: Mapping[str, str]) -> Engine:
    """One --context, else DOCKER_CONTEXT, else DOCKER_HOST, else the CLI's own default."""
    if contexts and len(contexts) > 1:
        raise ConfigError("several --context values name a fleet; this run takes one engine.")
    for name in contexts or ():
        _check_name(name, "--context")
        return Engine(context=name, source="--context")
    if environ.get("DOCKER_CONTEXT"):
        return Engine(context=environ["DOCKER_CONTEXT"], source="DOCKER_CONTEXT")
    if environ.get("DOCKER_HOST"):
        return Engine(host=environ["DOCKER_HOST"], source="DOCKER_HOST")
    return LOCAL


def read_fleet(path: str) -> list[str]:
    """A fleet file: one context name a line; blank lines and ``#`` comments are ignored."""
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        raise ConfigError(f"fleet file {path} cannot be read: {e.strerror}.") from None
    names = []
    for number, line in enumerate(text.splitlines(), 1):
        name = line.split("#", 1)[0].strip()
        if name:
            _check_name(name, f"{path}:{number}")
            names.append(name)
    if not names:
        raise ConfigError(f"fleet file {path} names no docker context.")
    return names


def _check_name(name: str, where: str) -> None:
    if not name or any(c.isspace() for c in name) or name.startswith("-"):
        raise ConfigError(f'"{name}" ({where}) is not a docker context name.')
