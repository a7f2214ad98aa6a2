"""Dev only: stop the app while the last stack restarts, instead of after every stack is ready.

In dev the app serves no one but the developer, and it cannot serve anyway while the stacks it
uses are down.  Stopping it (SIGTERM, wait, SIGKILL, nothing left: ~0.5 s) beside the final
stack restarts takes that wait off the critical path of the everyday restart.  It starts only
when the last stack restart has been started and no stack has failed so far, so a failure in
an earlier generation still leaves the app untouched.  In prod, where the app serves traffic,
the order stays: stacks ready first, then the app.

The promise for a stack of the final generation that fails: the app, stopped beside it, is
started again and verified (never left down), and the run still fails with exit 1 and says so.
The same holds for Ctrl-C in that window: the app is started again before exit 130.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from restart.docker.locate import EXEC_MANAGED
from restart.errors import RestartError
from restart.outcome import Outcome


class EarlyStop:
    """The app stop, run in its own thread once ``fire`` is called (by run_dag, main thread).

    Nothing is printed from the thread: the main thread reports the outcome when it joins.
    """

    def __init__(self, stop: Callable[[], Outcome]) -> None:
        self._stop = stop
        self._thread: threading.Thread | None = None
        self._outcome: Outcome | None = None
        self._error: RestartError | None = None
        self._started = 0.0

    @property
    def fired(self) -> bool:
        return self._thread is not None

    def fire(self) -> None:
        if self._thread is not None:
            return
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="early-stop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome = self._stop()
        except RestartError as e:
            self._error = e

    def outcome(self) -> Outcome:
        """Wait for the stop; its Outcome (named "stop app"), or the RestartError it raised."""
        assert self._thread is not None, "outcome() of an early stop that never fired"
        while self._thread.is_alive():
            self._thread.join(timeout=0.1)      # a plain join would not let a Ctrl-C through
        if self._error is not None:
            raise self._error
        out = self._outcome or Outcome("stop app", "ok")
        out.name = "stop app"
        out.detail = f"{out.detail} (beside the last stack restart, dev)".strip()
        out.seconds = out.seconds or time.monotonic() - self._started
        return out


def wanted(env: str, mode: str) -> bool:
    """Dev, and an app restart adds a stop of its own (exec-managed): main-process reloads keep serving."""
    return env == "dev" and mode == EXEC_MANAGED
