"""Restart feature stacks as a DAG: each starts once every stack it needs is READY.

Modelled on compose 1.29's ``parallel.py``: a bounded pool runs the work, the main thread is
the only one that prints, and the dependents of a failure are skipped.  Unlike a
generation-by-generation run, a stack is submitted the moment its own last dependency is
ready, so the run follows the critical path.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Sequence

from restart.docker.client import ContainerState, Docker
from restart.docker.stackids import current_states
from restart.docker.steps import StackStep
from restart.errors import CommandFailed, RestartError, last_line
from restart.outcome import Outcome
from restart.progress import Progress

POLL = 0.2
PROBE_EVERY = 0.25   # how often a stack's own healthcheck is re-run while it is not passing yet


def run_dag(stacks: Sequence[StackStep], do: Callable[[StackStep], Outcome], progress: Progress, *,
            workers: int = 4, outcomes: list[Outcome] | None = None,
            on_last_started: Callable[[], None] | None = None) -> list[Outcome]:
    """Run ``do`` over stacks in dependency order, at most ``workers`` at once.

    A stack whose dependency did not end "ok" is skipped, with the reason; stacks that do not
    depend on the failure still run (the caller then stops before the app unless
    ``keep_going``).  Ctrl-C stops new starts, lets running restarts finish (they run in
    their own session, so the signal does not reach them), records the rest as "not
    started" and re-raises KeyboardInterrupt; pass ``outcomes`` (a list, filled as stacks end)
    to keep what was recorded by then.  ``on_last_started`` is called once (main thread) when the
    last stack restart has been started and none has failed so far (restart/docker/earlystop.py).
    """
    names = {s.feature for s in stacks}
    pending = {s.feature: s for s in stacks}
    done: dict[str, Outcome] = {}
    outcomes = [] if outcomes is None else outcomes
    running: dict[Future, StackStep] = {}

    def record(stack: StackStep, out: Outcome) -> None:
        done[stack.feature] = out
        outcomes.append(out)
        progress.finish(out)

    def attempt(stack: StackStep) -> Outcome:
        started = time.monotonic()
        try:
            out = do(stack)
        except RestartError as e:
            out = Outcome(stack.label, "failed", str(e))
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
                    dep = label_of(stacks, bad[0])
                    record(stack, Outcome(stack.label, "skipped", f"{dep} did not restart"))
                elif not interrupted and all(n in done for n in needs) and len(running) < max(1, workers):
                    del pending[stack.feature]
                    progress.start(stack.label)
                    running[pool.submit(attempt, stack)] = stack
            if on_last_started and not pending and running and not interrupted and all(o.ok for o in done.values()):
                on_last_started()
                on_last_started = None
            if not running:
                if pending and interrupted:
                    for stack in pending.values():
                        record(stack, Outcome(stack.label, "not started", "interrupted"))
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


def label_of(stacks: Sequence[StackStep], feature: str) -> str:
    return next((s.label for s in stacks if s.feature == feature), feature)


class ReadinessWatcher:
    """One poller for every stack that is waiting: one ``docker inspect`` a tick for all of them.

    Eight stacks polling on their own cost forty docker CLI runs a second, which on a small
    machine slows down the very restarts being waited for.
    """

    def __init__(self, docker: Docker, interval: float = POLL) -> None:
        self.docker, self.interval = docker, interval
        self.cond = threading.Condition()
        self.states: dict[str, ContainerState] = {}
        self.wanted: dict[str, int] = {}          # container id -> how many waiters
        self.error: Exception | None = None
        self.thread: threading.Thread | None = None

    def wait(self, states: list[ContainerState], done: Callable[[list[ContainerState]], bool],
             deadline: float) -> list[ContainerState]:
        """Latest states of these containers once ``done(states)`` or the deadline (monotonic)."""
        ids = [s.id for s in states]
        with self.cond:
            for s in states:
                self.states.setdefault(s.id, s)
                self.wanted[s.id] = self.wanted.get(s.id, 0) + 1
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._poll, name="readiness", daemon=True)
                self.thread.start()
            try:
                while True:
                    now = [self.states[i] for i in ids]
                    if done(now) or time.monotonic() >= deadline:
                        return now
                    if self.error is not None:
                        raise self.error
                    self.cond.wait(timeout=max(0.0, min(self.interval * 2, deadline - time.monotonic())))
            finally:
                for i in ids:
                    self.wanted[i] -= 1
                    if not self.wanted[i]:
                        del self.wanted[i]
                        self.states.pop(i, None)

    def _poll(self) -> None:
        while True:
            time.sleep(self.interval)
            with self.cond:
                ids = list(self.wanted)
            if not ids:
                return
            try:
                found = self.docker.states(ids)
                # compose ps gives short ids, docker inspect full ones: match on the prefix
                fresh = {i: s for i in ids for s in found if s.id.startswith(i) or i.startswith(s.id)}
                error = None
            except RestartError as e:   # the daemon went away: every waiter hears it
                fresh, error = {}, e
            with self.cond:
                for i, state in fresh.items():
                    if i in self.wanted:
                        self.states[i] = state
                for i in ids:              # gone from docker inspect: removed meanwhile
                    if i in self.wanted and i not in fresh and error is None:
                        self.states[i] = ContainerState(self.states[i].name, self.states[i].service, "removed",
                                                        id=i)
                self.error = error
                self.cond.notify_all()


class StackRestarter:
    """``do`` for run_dag: compose restart, then wait until running and (if declared) healthy."""

    def __init__(self, docker: Docker, *, health_timeout: float) -> None:
        self.docker, self.health_timeout = docker, health_timeout
        self.watcher = ReadinessWatcher(docker)

    def __call__(self, stack: StackStep) -> Outcome:
        started = time.monotonic()
        try:
            self.docker.run(stack.argv, cwd=stack.cwd, timeout=stack.timeout)
        except CommandFailed as e:
            if "no containers to restart" in e.stderr.lower():  # compose v1 says so and exits 1
                return Outcome(stack.label, "not running", f"project {stack.project} has no containers",
                               time.monotonic() - started)
            return Outcome(stack.label, "failed", f"compose restart failed: {last_line(e.stderr) or e}",
                           time.monotonic() - started)
        deadline = time.monotonic() + self.health_timeout
        try:
            # healthchecks read while inspecting run at once, beside the read of the states
            at_once = [ContainerState("", "", "running", id=i, probe=argv, probe_timeout=t)
                       for i, argv, t in stack.probes]
            with ThreadPoolExecutor(max_workers=max(1, len(at_once)), thread_name_prefix="probe") as pool:
                probing = {s.id: pool.submit(self._probe, s) for s in at_once}
                states = current_states(self.docker, stack.containers, stack.base, stack.cwd)
            passed = {i for i, f in probing.items() if f.result()}
            if not states:
                return Outcome(stack.label, "not running", f"project {stack.project} has no containers",
                               time.monotonic() - started)
            if all(s.id for s in states):
                states, passed = self._until_ready(states, deadline, passed, tried=set(probing))
        except RestartError as e:
            return Outcome(stack.label, "failed", f"restarted, but its state could not be read: {e}",
                           time.monotonic() - started)
        elapsed = time.monotonic() - started
        dead = _dead(states)
        if dead:
            c = dead[0]
            what = "keeps crashing: its restart policy restarts it" if c.state == "restarting" else c.state
            return Outcome(stack.label, "failed", f"container {c.name} {what} (exit code {c.exit_code})",
                           elapsed)
        if all(s.ready or s.id in passed for s in states):
            health = " (healthy)" if any(s.health for s in states) else ""
            return Outcome(stack.label, "ok", health.strip(), elapsed)
        waiting = ", ".join(f"{s.name} {s.health or s.state}" for s in states if not (s.ready or s.id in passed))
        return Outcome(stack.label, "timeout", f"not ready after {self.health_timeout:g}s: {waiting}", elapsed)

    def _probe(self, state: ContainerState) -> bool:
        """The healthcheck run at once after the restart: a failure of any kind is "not yet"."""
        try:
            return self.docker.probe(state)
        except RestartError:        # the engine's own trouble shows in the state read beside it
            return False

    def _until_ready(self, states: list[ContainerState], deadline: float, passed: set[str] | None = None,
                     tried: set[str] = frozenset()) -> tuple[list[ContainerState], set[str]]:
        """Wait until every container runs and, where it declares a healthcheck, passes it.

        The engine runs a healthcheck only every ``interval`` (1 s to 30 s, and the first run
        one interval after the start), so its "healthy" comes late.  A running container that
        is not healthy yet gets its own healthcheck command run by us, at once and then every
        PROBE_EVERY: one pass is what turns the engine's status healthy too, so it is the same
        gate, reached without waiting for the next tick.  ``passed`` and ``tried``: ids whose
        healthcheck already passed, or already ran, right after the restart (not run again before
        the first wait).  Returns the latest states and the ids whose healthcheck passed.
        """
        passed = set(passed or ())

        def settled(now: list[ContainerState]) -> bool:
            return all(s.ready or s.id in passed for s in now) or bool(_dead(now))

        while not settled(states) and time.monotonic() < deadline:
            for s in states:
                if s.id not in passed and s.id not in tried and s.state == "running" \
                        and s.health not in ("", "healthy") and s.probe:
                    if self.docker.probe(s):
                        passed.add(s.id)
            tried = frozenset()
            if settled(states):
                break
            states = self.watcher.wait(states, settled, min(deadline, time.monotonic() + PROBE_EVERY))
        return states, passed


def _dead(states: list[ContainerState]) -> list[ContainerState]:
    """Containers that will not become ready: stopped, gone, or crash-looping.

    ``restarting`` is only ever the restart policy at work (``compose restart`` is over by
    now), so the container's process has exited at least once since our restart.
    """
    return [s for s in states if s.state in ("exited", "dead", "removed", "restarting")]
