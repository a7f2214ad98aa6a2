"""Restart feature stacks as a DAG: each starts once every stack it needs is READY.

Modelled on compose 1.29's ``parallel.py``: a bounded pool runs the work, the main thread is
the only one that prints, and the dependents of a failure are skipped.  Unlike a
generation-by-generation run, a stack is submitted the moment its own last dependency is
ready, so the run follows the critical path.
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Sequence

from restart.docker import Docker
from restart.errors import CommandFailed, RestartError, last_line
from restart.plan import Stack
from restart.progress import Outcome, Progress

POLL = 0.2


def run_dag(stacks: Sequence[Stack], do: Callable[[Stack], Outcome], progress: Progress, *,
            workers: int = 4) -> list[Outcome]:
    """Run ``do`` over stacks in dependency order, at most ``workers`` at once.

    A stack whose dependency did not end "ok" is skipped, with the reason; stacks that do not
    depend on the failure still run (the caller then stops before the app unless
    ``keep_going``).  Ctrl-C stops new starts, lets running restarts finish (they run in
    their own session, so the signal does not reach them), records the rest as "not
    started" and re-raises KeyboardInterrupt; the outcomes are then in ``run_dag.last``.
    """
    names = {s.feature for s in stacks}
    pending = {s.feature: s for s in stacks}
    done: dict[str, Outcome] = {}
    outcomes: list[Outcome] = []
    running: dict[Future, Stack] = {}
    run_dag.last = outcomes

    def record(stack: Stack, out: Outcome) -> None:
        done[stack.feature] = out
        outcomes.append(out)
        progress.finish(out)

    def attempt(stack: Stack) -> Outcome:
        started = time.monotonic()
        try:
            out = do(stack)
        except RestartError as e:
            out = Outcome(stack.label, "failed", str(e), kind="stack")
        out.seconds = out.seconds or time.monotonic() - started
        return out

    interrupted = False
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while pending or running:
            for stack in list(pending.values()):
                needs = stack.needs & names
                bad = [n for n in needs if n in done and not done[n].ok]
                if bad:
                    del pending[stack.feature]
                    dep = pending_label(stacks, bad[0])
                    record(stack, Outcome(stack.label, "skipped", f"{dep} did not restart", kind="stack"))
                elif not interrupted and all(n in done for n in needs) and len(running) < max(1, workers):
                    del pending[stack.feature]
                    progress.start(stack.label)
                    running[pool.submit(attempt, stack)] = stack
            if not running:
                if pending and interrupted:
                    for stack in pending.values():
                        record(stack, Outcome(stack.label, "not started", "interrupted", kind="stack"))
                    pending.clear()
                if pending and not interrupted:  # nothing runnable: needs outside this run
                    raise RestartError("internal: stacks wait on each other: " + ", ".join(pending))
                continue
            try:
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                interrupted = True
                progress.line("interrupted: no new stack restarts; waiting for the running ones…",
                              status="interrupted")
                continue
            for fut in finished:
                record(running.pop(fut), fut.result())
    if interrupted:
        raise KeyboardInterrupt
    return outcomes


def pending_label(stacks: Sequence[Stack], feature: str) -> str:
    return next((s.label for s in stacks if s.feature == feature), feature)


class StackRestarter:
    """``do`` for run_dag: compose restart, then poll until running and (if declared) healthy."""

    def __init__(self, docker: Docker, *, health_timeout: float, timeout: float) -> None:
        self.docker, self.health_timeout, self.timeout = docker, health_timeout, timeout

    def __call__(self, stack: Stack) -> Outcome:
        started = time.monotonic()
        prefix = stack.argv[: stack.argv.index("restart")]
        try:
            self.docker.run(stack.argv, cwd=stack.cwd, timeout=self.timeout + 120)
        except CommandFailed as e:
            if "no containers to restart" in e.stderr.lower():  # compose v1 says so and exits 1
                return Outcome(stack.label, "not running", f"project {stack.project} has no containers",
                               time.monotonic() - started, kind="stack")
            return Outcome(stack.label, "failed", f"compose restart failed: {last_line(e.stderr) or e}",
                           time.monotonic() - started, kind="stack")
        deadline = time.monotonic() + self.health_timeout
        states = self.docker.stack_states(prefix, stack.cwd)  # compose knows the project's members
        while True:
            elapsed = time.monotonic() - started
            if not states:
                return Outcome(stack.label, "not running", f"project {stack.project} has no containers",
                               elapsed, kind="stack")
            dead = [s for s in states if s.state in ("exited", "dead")]
            if dead:
                c = dead[0]
                return Outcome(stack.label, "failed", f"container {c.name} {c.state} (exit code {c.exit_code})",
                               elapsed, kind="stack")
            if all(s.ready for s in states):
                health = " (healthy)" if any(s.health for s in states) else ""
                return Outcome(stack.label, "ok", health.strip(), elapsed, kind="stack")
            if time.monotonic() > deadline:
                waiting = ", ".join(f"{s.name} {s.health or s.state}" for s in states if not s.ready)
                return Outcome(stack.label, "timeout",
                               f"not ready after {self.health_timeout:g}s: {waiting}", elapsed, kind="stack")
            time.sleep(POLL)
            ids = [s.id for s in states if s.id]
            states = self.docker.states(ids) if len(ids) == len(states) else self.docker.stack_states(
                prefix, stack.cwd)
