"""Ctrl-C during a step that must not be cut in half: finish it, then stop.

A terminal sends SIGINT to the whole foreground process group.  restart's children run in
their own session (restart/docker/runner.py), so only this process hears it; here it decides what
a Ctrl-C means.  During the stacks, run_dag lets the running restarts finish.  Once the app
has been stopped, stopping there would leave it down, so the first Ctrl-C only asks to stop
after the app is started and verified again; a second one abandons that (and the caller says
plainly what is left down).  A running pip call is let finish the same way.

SIGTERM (``kill``, ``timeout``, a CI runner's cancel) means the same as Ctrl-C: the CLI makes
it raise KeyboardInterrupt (:func:`sigterm_as_ctrl_c`), and a deferred step defers it too.
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator


@dataclass
class CtrlC:
    """Whether a Ctrl-C arrived while deferred (the caller raises KeyboardInterrupt afterwards)."""

    requested: bool = False


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def sigterm_as_ctrl_c() -> None:
    """From now on SIGTERM interrupts like Ctrl-C (unless someone already handles SIGTERM)."""
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _sigterm)


# A signal's handler that deferred() may take over: Python's Ctrl-C, the CLI's SIGTERM.
DEFAULTS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: _sigterm}


@contextmanager
def deferred(note: str, *, quiet: bool = False) -> Iterator[CtrlC]:
    """While inside, the first Ctrl-C (or SIGTERM) sets ``requested`` and prints note; a second
    raises KeyboardInterrupt.

    Only the main thread can own signal handlers; elsewhere (tests calling from a thread)
    Ctrl-C keeps its default meaning.  Where a caller installed its own handler (``--watch``,
    which finishes the whole cycle on the first Ctrl-C), that handler stays in charge.
    """
    state = CtrlC()
    owned = [sig for sig, default in DEFAULTS.items() if signal.getsignal(sig) is default] \
        if threading.current_thread() is threading.main_thread() else []
    if not owned:
        # a caller that owns Ctrl-C already (the --watch loop lets the whole cycle finish) decides
        yield state
        return

    def handler(signum, frame):
        if state.requested:
            raise KeyboardInterrupt
        state.requested = True
        if not quiet:   # os.write: a buffered print here could re-enter a print the main thread is in
            os.write(2, f"interrupted: {note} (Ctrl-C again to abandon)\n".encode())

    previous = {sig: signal.signal(sig, handler) for sig in owned}
    try:
        yield state
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
