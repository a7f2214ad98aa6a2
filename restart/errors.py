"""Every failure the user can see, and the exit code it maps to.

Only the CLI turns these into exit codes (see ``restart.cli.main``); everywhere else raises.
"""
from __future__ import annotations

OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130
BUSY = 75           # EX_TEMPFAIL: try again later


class RestartError(Exception):
    """A failure during the restart itself: something was (or may have been) touched.

    ``log`` carries the lines that explain it (pip's error tail, the app's log), keyed by
    where they come from; the CLI shows them under the sentence and --json reports them.
    """

    exit_code = FAILED

    def __init__(self, message: str = "", *, log: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.log: dict[str, list[str]] = dict(log or {})


class Interrupted(RestartError):
    """Ctrl-C that left something half done; the message says what (exit 130 like any Ctrl-C)."""

    exit_code = INTERRUPTED


class ConfigError(RestartError):
    """Bad input found while planning: nothing has been touched."""

    exit_code = USAGE


class LockBusy(RestartError):
    """Another run holds this product's lock and --no-wait said not to wait: nothing was touched."""

    exit_code = BUSY


class UVLSyntaxError(ConfigError):
    """A UVL file that cannot be read; carries where, so the message can point at it."""

    def __init__(self, path: str, line: int, column: int, message: str):
        self.path, self.line, self.column, self.reason = path, line, column, message
        super().__init__(f"{path}:{line}:{column}: {message}")


class CommandFailed(RestartError):
    """A Docker (or other) command that failed: keeps argv, exit code and stderr tail."""

    def __init__(self, argv, code: int | None, stderr: str = ""):
        self.argv = tuple(argv)
        self.code = code
        self.stderr = stderr
        tail = last_line(stderr)
        what = f"exit code {code}" if code is not None else "no exit code"
        shown = " ".join(self.argv[:4]) + (" …" if len(self.argv) > 4 else "")
        super().__init__(f"`{shown}` failed ({what})" + (f": {tail}" if tail else ""))


def last_line(text: str) -> str:
    """The last non-empty line: the one that usually says what went wrong."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""
