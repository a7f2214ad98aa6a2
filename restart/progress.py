"""Human progress on stderr: ``⏳ redis … ✓ 1.3s``; one thread writes, lines only append.

On a TTY a running step shows ``⏳`` and gets its mark on the same line; piped, each step is
one finished line.  ``-q`` shows only errors; ``--json`` keeps stdout for the JSON object.
"""
from __future__ import annotations

import sys
from typing import TextIO

import colorama
from colorama import Fore, Style

from restart.outcome import Outcome

MARKS = {"ok": "✓", "failed": "✗", "not running": "✗", "timeout": "✗", "skipped": "–",
         "interrupted": "–", "not started": "–", "warning": "!"}


class Progress:
    def __init__(self, stream: TextIO | None = None, *, color: bool = False, quiet: bool = False,
                 verbose: bool = False, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.quiet, self.verbose = quiet, verbose
        self.open: str | None = None
        self.use_color(color)

    def use_color(self, on: bool) -> None:
        """Colours on a TTY only; the caller decides (Settings.color: --no-color, NO_COLOR, --json)."""
        self.color = on and self.tty
        if self.color:
            colorama.just_fix_windows_console()

    def _paint(self, text: str, status: str) -> str:
        if not self.color:
            return text
        colour = {"ok": Fore.GREEN, "warning": Fore.YELLOW, "skipped": Style.DIM,
                  "not started": Style.DIM, "interrupted": Fore.YELLOW}.get(status, Fore.RED)
        return f"{colour}{text}{Style.RESET_ALL}"

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def _close(self) -> None:
        if self.open is not None:
            self._write("\n")
            self.open = None

    def start(self, name: str) -> None:
        if self.quiet or not self.tty:
            return
        self._close()
        self._write(f"⏳ {name} …")
        self.open = name

    def finish(self, out: Outcome) -> None:
        if self.quiet and out.status in ("ok", "skipped", "not started"):
            return
        mark = self._paint(MARKS.get(out.status, "✗"), out.status)
        timing = f" {out.seconds:.1f}s" if out.seconds >= 0.05 else ""
        detail = f"  {out.detail}" if out.detail else ""
        if self.open == out.name:
            self._write(f" {mark}{timing}{detail}\n")
            self.open = None
        else:
            self._close()
            self._write(f"{mark} {out.name}{timing}{detail}\n")

    def line(self, text: str, *, status: str = "ok") -> None:
        if self.quiet:
            return
        self._close()
        self._write(self._paint(text, status) + "\n" if status != "ok" else text + "\n")

    def error(self, text: str) -> None:
        self._close()
        self._write(self._paint(f"error: {text}", "failed") + "\n")

    def command(self, text: str) -> None:
        if self.verbose:
            self._close()
            self._write(f"  $ {text}\n")
