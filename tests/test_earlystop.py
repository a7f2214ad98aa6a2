"""Dev: the app stop runs beside the last stack restart; a failed last stack gets the app started again.

Judged from the fake runner's calls, through main() on the example (redis → queue → nginx).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from restart.docker.earlystop import wanted
from restart.docker.locate import EXEC_MANAGED, MAIN_PROCESS
from restart.docker.stacks import run_dag
from restart.docker.steps import STACK, StackStep
from restart.outcome import Outcome
from restart.progress import Progress
from tests.fakes import FakeRunner, agent_command
from tests.test_catalogue import WEB, agent_reply, compose_reply, example_copy, fail, healthy_engine, ok

NGINX = ("docker", "compose", "-p", "demo_app_splent_io_splent_feature_nginx_dev")
QUEUE = ("docker", "compose", "-p", "demo_app_splent_io_splent_feature_queue_dev")


def run(ws, replies, *args):
    from restart.cli import main

    runner = FakeRunner([*replies, *healthy_engine(ws)])
    return main(["--workspace", str(ws), *args], runner=runner), runner


def agent_calls(runner: FakeRunner, command: str) -> list[int]:
    return [i for i, c in enumerate(runner.calls) if (agent_command(c) or ("",))[0] == command]


def restarts(runner: FakeRunner) -> list[int]:
    return [i for i, c in enumerate(runner.calls) if c[:2] == ("docker", "compose") and "restart" in c]


def test_the_app_is_stopped_while_the_last_stack_restarts(tmp_path, monkeypatch):
    """nginx's restart only returns once the app stop has begun: without the overlap it would wait
    for nothing and the stop would come after it."""
    ws = example_copy(tmp_path, monkeypatch)
    stopping = threading.Event()
    seen_during_nginx: list[bool] = []

    def nginx(argv):
        if "restart" in argv:
            seen_during_nginx.append(stopping.wait(timeout=5))
        return compose_reply(argv)

    def stop_marker(argv):
        if (agent_command(argv) or ("",))[0] == "stop":
            stopping.set()
        return None

    agent = agent_reply()
    code, runner = run(ws, [(NGINX, nginx),
                            (("docker", "exec", "-i", WEB, "python3", "-"), lambda a: stop_marker(a) or agent(a))])
    assert code == 0
    assert seen_during_nginx == [True]
    redis, queue, _ = restarts(runner)
    assert len(agent_calls(runner, "stop")) == 1 and agent_calls(runner, "stop")[0] > queue


def test_an_earlier_failure_still_leaves_the_app_untouched(tmp_path, monkeypatch, capsys):
    ws = example_copy(tmp_path, monkeypatch)
    code, runner = run(ws, [(QUEUE, lambda argv: fail(1, "boom")(argv) if "restart" in argv else compose_reply(argv))])
    assert code == 1
    assert agent_calls(runner, "stop") == [] and not [c for c in runner.calls if c[:3] == ("docker", "exec", "-d")]
    assert "the app was not touched" in capsys.readouterr().err


def test_a_failed_last_stack_gets_the_app_started_again_and_the_run_fails(tmp_path, monkeypatch, capsys):
    ws = example_copy(tmp_path, monkeypatch)
    code, runner = run(ws, [(NGINX, lambda argv: fail(1, "boom")(argv) if "restart" in argv else compose_reply(argv))])
    err = capsys.readouterr().err
    assert code == 1, err
    stop, = agent_calls(runner, "stop")
    start, = [i for i, c in enumerate(runner.calls) if c[:3] == ("docker", "exec", "-d")]
    verify, = agent_calls(runner, "wait")
    assert stop < start < verify
    assert ("1 feature stack(s) did not restart: nginx (failed); the app, stopped beside the last stack "
            "restart (dev), was started again.") in err


def test_keep_going_is_unchanged_by_the_overlap(tmp_path, monkeypatch):
    ws = example_copy(tmp_path, monkeypatch)
    code, runner = run(ws, [(NGINX, lambda argv: fail(1, "boom")(argv) if "restart" in argv else ok())],
                       "--keep-going")
    assert code == 1
    assert len(agent_calls(runner, "stop")) == 1 and len(agent_calls(runner, "wait")) == 1


def test_only_dev_and_only_an_app_restart_adds_a_stop_to():
    assert wanted("dev", EXEC_MANAGED)
    assert not wanted("prod", EXEC_MANAGED)          # prod serves traffic: stacks ready first
    assert not wanted("dev", MAIN_PROCESS)


def stack(name: str, needs=()) -> StackStep:
    return StackStep(STACK, name, name, ("true",), cwd=Path("/x"), feature=name, project=f"p_{name}",
                     needs=frozenset(needs))


def test_no_early_stop_once_a_stack_has_failed():
    """a fails at once while b is still restarting; c (needs b) is the last to start: by then a
    failure is known, so the app must stay untouched and the hook is never called."""
    calls = []

    def do(st: StackStep) -> Outcome:
        if st.feature == "b":
            time.sleep(0.2)
        return Outcome(st.label, "failed" if st.feature == "a" else "ok")

    run_dag([stack("a"), stack("b"), stack("c", {"b"})], do, Progress(quiet=True), workers=4,
            on_last_started=lambda: calls.append(1))
    assert calls == []
    run_dag([stack("b"), stack("c", {"b"})], do, Progress(quiet=True), workers=4,
            on_last_started=lambda: calls.append(1))
    assert calls == [1]


def test_ctrl_c_beside_the_last_stack_starts_the_app_again_then_exits_130(tmp_path, monkeypatch, capsys):
    """Ctrl-C while nginx restarts, after the early stop fired: nginx finishes, the app is started and
    verified, and the run ends interrupted (never an app left down)."""
    import restart.docker.stacks as mod

    ws = example_copy(tmp_path, monkeypatch)
    real_wait, seen = mod.wait, {"n": 0}

    def wait(fs, return_when):
        running = [f for f in fs if not f.done()]
        seen["n"] += 1
        if seen["n"] == 3:                       # redis, queue, then the wait on nginx (the last stack)
            raise KeyboardInterrupt
        return real_wait(running or fs, return_when=return_when)
    monkeypatch.setattr(mod, "wait", wait)
    code, runner = run(ws, [])
    err = capsys.readouterr().err
    assert code == 130, err
    assert len(agent_calls(runner, "stop")) == 1
    assert len([c for c in runner.calls if c[:3] == ("docker", "exec", "-d")]) == 1
    assert len(agent_calls(runner, "wait")) == 1


def test_dry_run_says_the_stop_runs_beside_the_last_stack(tmp_path, monkeypatch, capsys):
    from restart.cli import main

    ws = example_copy(tmp_path, monkeypatch)
    assert main(["--workspace", str(ws), "--dry-run"], runner=FakeRunner(healthy_engine(ws))) == 0
    assert "beside the last stack restart" in capsys.readouterr().out
