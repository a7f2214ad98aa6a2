"""The one place where restart starts a subprocess.

Everything else builds argument tuples and hands them to :class:`ShRunner.run`; tests hand the
same tuples to a fake.  Values meant for the child's environment travel in ``env`` and never in
``argv``, so ``ps``, shell history and ``-v`` output cannot show them.
"""
from __future__ import annotations

import os
import shlex
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Collection, Iterator, Mapping, Protocol, Sequence

from restart.errors import CommandFailed

Argv = Sequence[str]


@dataclass(frozen=True)
class Result:
    """What a finished command left behind."""

    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str


class Runner(Protocol):
    """Anything that runs argv tuples the way :class:`ShRunner` does (the fake in tests)."""

    def run(self, argv: Argv, *, cwd: str | os.PathLike | None = None,
            env: Mapping[str, str] | None = None, timeout: float | None = None,
            ok: Collection[int] = (0,), stdin: str | None = None) -> Result: ...


SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS", "KEY", "CREDENTIAL", "AUTH", "PRIVATE")


def secrets_of(values: Mapping[str, str]) -> list[str]:
    """The env-file values of secret-looking names, hidden wherever ``-v`` would show them.

    Values never reach argv (they travel in the child's environment), so this is defence in
    depth; hiding every value would also hide the product name inside container and project
    names (SPLENT puts it in half the variables) and make ``-v`` useless.
    """
    return [v for name, v in values.items() if v and any(word in name.upper() for word in SECRET_WORDS)]


def mask(argv: Argv, secrets: Collection[str]) -> str:
    """Quote argv for humans, hiding any element that carries a secret value."""
    shown = []
    for arg in argv:
        if any(s and s in arg for s in secrets):
            arg = "***"
        elif "\n" in arg:  # a script text on argv: say what it is, not all of it
            arg = f"<{arg.count(chr(10)) + 1}-line script>"
        shown.append(arg)
    return shlex.join(shown)


def _text(data: bytes | str | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


@contextmanager
def _deadline(pid: int, timeout: float | None) -> Iterator[threading.Event]:
    """Kill the child's process group (its own session) once ``timeout`` seconds have passed.

    The event is set when the timer fired, so the caller can tell a timeout from a failure.
    """
    expired = threading.Event()
    if timeout is None:
        yield expired
        return

    def kill() -> None:
        expired.set()
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:   # it ended just now
            pass

    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    timer.start()
    try:
        yield expired
    finally:
        timer.cancel()


class ShRunner:
    """Runs commands through ``sh``, folding its three failure shapes into CommandFailed.

    Parameters
    ----------
    echo : callable, optional
        Called with each command line (secrets masked) before it runs; ``-v`` prints them.
    secrets : collection of str
        Values that must never be echoed (the env file's values).
    """

    def __init__(self, *, echo: Callable[[str], None] | None = None,
                 secrets: Collection[str] = ()) -> None:
        self.echo = echo
        self.secrets = tuple(s for s in secrets if s)
        self._running: set[int] = set()        # process groups (pids) of the commands running now
        self._lock = threading.Lock()

    def hide(self, secrets: Collection[str]) -> None:
        """Mask these values too from now on (a run learns them from the env file after its
        first, read-only, calls have started: those carry names and paths only)."""
        self.secrets += tuple(s for s in secrets if s and s not in self.secrets)

    def kill_running(self) -> None:
        """SIGKILL every command running now, with its children: their answers will not be read
        (a run that ends on a plan error must not wait for a hung engine to answer a look-ahead)."""
        with self._lock:
            running = list(self._running)
        for pid in running:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def run(self, argv: Argv, *, cwd: str | os.PathLike | None = None,
            env: Mapping[str, str] | None = None, timeout: float | None = None,
            ok: Collection[int] = (0,), stdin: str | None = None) -> Result:
        """Run argv; ``stdin`` (text) is fed to the child, which otherwise gets no input at all."""
        # Lazy on purpose (~50 ms): --print-order imports this module (report → app → docker) but
        # never runs a command; only a run or --dry-run pays for sh.
        import sh

        argv = tuple(str(a) for a in argv)
        if self.echo:
            self.echo(mask(argv, self.secrets))
        child_env = {**os.environ, **(env or {})}  # sh's _env replaces the environment
        try:
            # _new_session: a terminal's Ctrl-C hits the whole foreground process group; children in
            # their own session finish what they started (a compose restart, pip, the agent's stop)
            # and restart decides what the interrupt means (tests/test_ctrl_c_docker.py).
            # _bg + our own timer instead of sh's _timeout: sh's timeout thread looks at the clock
            # every 0.1 s and every call then waits for it, ~0.1 s added to each command
            # (scripts/bench-restart measures both).
            proc = sh.Command(argv[0])(
                *argv[1:], _cwd=str(cwd) if cwd else None, _env=child_env, _ok_code=list(ok),
                _tty_out=False, _return_cmd=True, _new_session=True, _in=stdin,
                _bg=True, _bg_exc=False,
            )
            with self._lock:
                self._running.add(proc.pid)
            try:
                with _deadline(proc.pid, timeout) as expired:
                    try:
                        proc.wait()
                    except sh.ErrorReturnCode:
                        if expired.is_set():
                            raise CommandFailed(argv, None, f"timed out after {timeout:g}s") from None
                        raise
            finally:
                with self._lock:
                    self._running.discard(proc.pid)
        except sh.ErrorReturnCode as e:
            raise CommandFailed(argv, e.exit_code, _text(e.stderr) or _text(e.stdout)) from None
        except sh.CommandNotFound:
            raise CommandFailed(argv, 127, f"{argv[0]} not found on PATH") from None
        except PermissionError as e:
            raise CommandFailed(argv, 126, f"{argv[0]}: {e.strerror}") from None
        return Result(argv, proc.exit_code, _text(proc.stdout), _text(proc.stderr))
