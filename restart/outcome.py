"""How one step or stack ended: the one value progress, the summary and --json all read.

Its own module because it is a result, not a way of showing one: the app controller, the stack
scheduler and the executor produce outcomes without needing the progress printer, and progress,
the summary and --json read the same value.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    """How one step or stack ended, for progress, the summary and --json."""

    name: str
    status: str                # ok, failed, not running, timeout, skipped, not started, interrupted
    detail: str = ""
    seconds: float = 0.0
    data: dict = field(default_factory=dict)   # facts for --json (pids, workers…)

    @property
    def ok(self) -> bool:
        return self.status == "ok"
