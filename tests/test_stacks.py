"""run_dag with toy stacks: dependency order, parallelism bound, failures and skips."""
import threading
import time
from pathlib import Path

import pytest

from restart.docker.stacks import run_dag
from restart.docker.steps import STACK, StackStep
from restart.outcome import Outcome
from restart.progress import Progress


def stack(name, needs=()):
    return StackStep(STACK, name, name, ("true",), cwd=Path("/x"), feature=name, project=f"p_{name}",
                     needs=frozenset(needs))


class Recorder:
    def __init__(self, delays=None, fail=()):
        self.delays, self.fail = delays or {}, set(fail)
        self.log, self.lock, self.active, self.peak = [], threading.Lock(), 0, 0

    def __call__(self, st):
        with self.lock:
            self.log.append(("start", st.feature, time.monotonic()))
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.delays.get(st.feature, 0.05))
        with self.lock:
            self.active -= 1
            self.log.append(("end", st.feature, time.monotonic()))
        return Outcome(st.label, "failed" if st.feature in self.fail else "ok")

    def t(self, what, name):
        return next(t for w, n, t in self.log if w == what and n == name)


def quiet():
    return Progress(quiet=True)


def test_dependents_start_after_their_dependency_ends():
    rec = Recorder({"redis": 0.2})
    out = run_dag([stack("redis"), stack("queue", {"redis"}), stack("mail")], rec, quiet(), workers=4)
    assert {o.name: o.status for o in out} == {"redis": "ok", "queue": "ok", "mail": "ok"}
    assert rec.t("start", "queue") >= rec.t("end", "redis")
    assert rec.t("start", "mail") < rec.t("end", "redis")  # independent: ran alongside


def test_true_dag_not_generations():
    # a -> c (slow a), b -> d (fast b): d must not wait for the slow a
    rec = Recorder({"a": 0.5, "b": 0.05, "c": 0.05, "d": 0.05})
    run_dag([stack("a"), stack("b"), stack("c", {"a"}), stack("d", {"b"})], rec, quiet(), workers=4)
    assert rec.t("start", "d") < rec.t("end", "a")


def test_parallel_bound():
    rec = Recorder({n: 0.15 for n in "abcdef"})
    run_dag([stack(n) for n in "abcdef"], rec, quiet(), workers=2)
    assert rec.peak == 2


def test_failure_skips_dependents_but_not_independents():
    rec = Recorder(fail={"redis"})
    out = run_dag([stack("redis"), stack("queue", {"redis"}), stack("nginx", {"queue"}), stack("mail")],
                  rec, quiet(), workers=1)
    status = {o.name: o.status for o in out}
    assert status == {"redis": "failed", "queue": "skipped", "nginx": "skipped", "mail": "ok"}
    assert "redis did not restart" in next(o.detail for o in out if o.name == "queue")
    assert [n for w, n, _ in rec.log if w == "start"] == ["redis", "mail"]


def test_restart_error_becomes_failed_outcome():
    from restart.errors import RestartError

    def boom(st):
        raise RestartError("compose exploded")
    out = run_dag([stack("a")], boom, quiet())
    assert out[0].status == "failed" and "compose exploded" in out[0].detail


def test_interrupt_lets_running_finish_and_starts_nothing_new(monkeypatch):
    import restart.docker.stacks as mod

    real_wait, calls = mod.wait, {"n": 0}

    def wait_then_interrupt(fs, return_when):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return real_wait(fs, return_when=return_when)
    monkeypatch.setattr(mod, "wait", wait_then_interrupt)
    rec, recorded = Recorder({"a": 0.2}), []
    with pytest.raises(KeyboardInterrupt):
        run_dag([stack("a"), stack("b", {"a"})], rec, quiet(), workers=2, outcomes=recorded)
    status = {o.name: o.status for o in recorded}
    assert status == {"a": "ok", "b": "not started"}


def test_progress_lines_sequential_and_piped():
    import io

    buf = io.StringIO()
    run_dag([stack("redis"), stack("queue", {"redis"})], Recorder(), Progress(buf, tty=False), workers=1)
    lines = buf.getvalue().splitlines()
    assert [line.split()[:2] for line in lines] == [["✓", "redis"], ["✓", "queue"]]


def test_progress_on_tty_keeps_mark_on_the_start_line():
    import io

    buf = io.StringIO()
    run_dag([stack("redis")], Recorder(), Progress(buf, tty=True), workers=1)
    assert buf.getvalue().startswith("⏳ redis … ✓")


class FakeDocker:
    """Containers that become ready after a number of polls; counts docker inspect calls."""

    def __init__(self, ready_after):
        self.ready_after, self.calls = dict(ready_after), []

    def states(self, ids):
        from restart.docker.client import ContainerState

        self.calls.append(tuple(ids))
        n = len(self.calls)
        return [ContainerState(i, "svc", "running", "healthy" if n >= self.ready_after[i[:4]] else "starting",
                               id=i + "-full-id") for i in ids if self.ready_after.get(i[:4]) != -1]


def waiting(ids):
    from restart.docker.client import ContainerState

    return [ContainerState(i, "svc", "running", "starting", id=i) for i in ids]


def test_watcher_polls_once_per_tick_for_all_waiters():
    from concurrent.futures import ThreadPoolExecutor

    from restart.docker.stacks import ReadinessWatcher

    docker = FakeDocker({"aaaa": 2, "bbbb": 3, "cccc": 3})
    watcher = ReadinessWatcher(docker, interval=0.05)
    deadline = time.monotonic() + 5
    ready = lambda now: all(s.ready for s in now)  # noqa: E731
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda ids: watcher.wait(waiting(ids), ready, deadline),
                                [["aaaa"], ["bbbb"], ["cccc"]]))
    assert all(s.ready for r in results for s in r)
    assert any(len(call) == 3 for call in docker.calls)          # one inspect served all three
    assert len(docker.calls) <= 4


def test_watcher_reports_removed_containers_and_deadline():
    from restart.docker.stacks import ReadinessWatcher

    watcher = ReadinessWatcher(FakeDocker({"gone": -1, "slow": 99}), interval=0.05)
    [gone] = watcher.wait(waiting(["gone"]), lambda now: now[0].state == "removed", time.monotonic() + 5)
    assert gone.state == "removed"
    t = time.monotonic()
    [slow] = watcher.wait(waiting(["slow"]), lambda now: now[0].ready, time.monotonic() + 0.3)
    assert not slow.ready and 0.25 < time.monotonic() - t < 1.0


def test_probe_argv_runs_a_healthcheck_as_the_engine_does():
    from restart.docker.client import probe_argv

    assert probe_argv(["CMD-SHELL", "redis-cli ping | grep -q PONG"]) == ("/bin/sh", "-c",
                                                                          "redis-cli ping | grep -q PONG")
    assert probe_argv(["CMD", "true"]) == ("true",)
    assert probe_argv(["NONE"]) == () and probe_argv([]) == () and probe_argv(["CMD"]) == ()
