"""A fake Runner for unit tests: records every argv and answers from a script of replies."""
from __future__ import annotations

import json

from restart.docker.runner import Result
from restart.errors import CommandFailed

# argv prefixes of Docker calls that change state; everything else only reads.
CHANGING = (("docker", "compose"), ("docker-compose",), ("docker", "restart"), ("docker", "exec"),
            ("docker", "stop"), ("docker", "kill"), ("docker", "start"))
READ_ONLY_COMPOSE = ("ps", "version", "config")


class FakeRunner:
    def __init__(self, replies=()):
        self.calls: list[tuple[str, ...]] = []
        self.envs: list[dict] = []
        self.stdins: list[str | None] = []
        self.replies = list(replies)   # [(argv_prefix, Result | Exception | callable)]

    def run(self, argv, *, cwd=None, env=None, timeout=None, ok=(0,), stdin=None):
        argv = tuple(str(a) for a in argv)
        self.calls.append(argv)
        self.envs.append(dict(env or {}))
        self.stdins.append(stdin)
        for prefix, reply in self.replies:
            if argv[: len(prefix)] == tuple(prefix):
                if callable(reply) and not isinstance(reply, Result):
                    reply = reply(argv)
                if isinstance(reply, CommandFailed) and reply.code in ok:   # as sh does with _ok_code
                    return Result(argv, reply.code, "", reply.stderr)
                if isinstance(reply, Exception):
                    raise reply
                return reply
        return Result(argv, 0, "", "")

    def changing_calls(self) -> list[tuple[str, ...]]:
        """Calls that could change a container, stack or process (agent status/files/tail are reads)."""
        out = []
        for argv in self.calls:
            if not any(argv[: len(p)] == p for p in CHANGING):
                continue
            if any(word in argv for word in READ_ONLY_COMPOSE) and argv[:2] != ("docker", "exec"):
                continue
            agent = agent_command(argv)
            if agent and agent[0] in ("status", "files", "tail", "inspect", "envdiff"):
                continue
            if argv[:2] == ("docker", "exec") and argv[-3:] == ("pip", "list", "--format=json"):
                continue
            out.append(argv)
        return out


def agent_command(argv) -> tuple[str, list[str]] | None:
    """(command, arguments) of an agent call ``docker exec -i … python3 - CMD HEX``, else None."""
    argv = tuple(argv)
    if argv[:2] != ("docker", "exec") or "python3" not in argv:
        return None
    i = argv.index("python3")
    if argv[i + 1: i + 2] != ("-",) or len(argv) < i + 3:
        return None
    rest = json.loads(bytes.fromhex(argv[i + 3]).decode()) if len(argv) > i + 3 else []
    return argv[i + 2], rest


def ok(stdout: str = "", argv=("x",)) -> Result:
    return Result(tuple(argv), 0, stdout, "")
