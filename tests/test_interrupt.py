"""Ctrl-C in the middle of a run, without an engine: the FakeRunner sends the SIGINT itself.

A terminal's Ctrl-C reaches this process (its children run in their own session, see
tests/test_ctrl_c_docker.py for that half); what restart then does is decided here:
once the app was stopped, the first Ctrl-C must not leave it down (start, verify, exit 130),
a second one abandons and says the app is down; a running pip call is let finish.
"""
from __future__ import annotations

import json
import os
import signal

import pytest

from restart.cli import main
from tests.fakes import FakeRunner, agent_command
from tests.test_catalogue import WEB, agent_reply, example_copy, healthy_engine, ok

NO_STACKS = ("--only", "notes", "--no-color")


@pytest.fixture(autouse=True)
def ctrl_c_reaches_python():
    """SIGINT handled as in a terminal's foreground Python (KeyboardInterrupt), whatever the runner
    inherited: started as a background job or by mutmut, SIGINT is ignored (SIG_IGN), Python
    installs no handler, and restart's deferral (which takes over only from the default
    handler) would never see the test's Ctrl-C."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def ws(tmp_path, monkeypatch):
    return example_copy(tmp_path, monkeypatch)


def ctrl_c_on(*commands: str):
    """An agent reply that presses Ctrl-C (SIGINT to this process) while running these commands."""
    healthy = agent_reply()

    def reply(argv):
        if agent_command(argv)[0] in commands:
            os.kill(os.getpid(), signal.SIGINT)
        return healthy(argv)
    return reply


def agent(runner: FakeRunner, command: str) -> list[tuple[str, ...]]:
    return [c for c in runner.calls if (agent_command(c) or ("",))[0] == command]


def starts(runner: FakeRunner) -> list[tuple[str, ...]]:
    return [c for c in runner.calls if c[:3] == ("docker", "exec", "-d")]


def test_ctrl_c_while_the_app_stops_still_starts_and_verifies_it_then_exits_130(ws, capfd):
    runner = FakeRunner([(("docker", "exec", "-i", WEB, "python3", "-"), ctrl_c_on("stop")), *healthy_engine(ws)])
    code = main([*NO_STACKS, "--json", "--workspace", str(ws)], runner=runner)
    out, err = capfd.readouterr()
    assert code == 130, err
    assert len(agent(runner, "stop")) == 1 and len(starts(runner)) == 1 and len(agent(runner, "wait")) == 1
    data = json.loads(out)
    assert data["outcome"] == "interrupted" and data["exit_code"] == 130
    assert [s["name"] for s in data["steps"]] == ["stop app", "start", "verify"]
    assert "finishing the app restart" in err
    assert err.strip().splitlines()[-1].endswith("the app was restarted.")


def test_second_ctrl_c_abandons_and_says_the_app_is_down(ws, capfd):
    runner = FakeRunner([(("docker", "exec", "-d"), lambda argv: (os.kill(os.getpid(), signal.SIGINT), ok())[1]),
                         (("docker", "exec", "-i", WEB, "python3", "-"), ctrl_c_on("stop")), *healthy_engine(ws)])
    code = main([*NO_STACKS, "--workspace", str(ws)], runner=runner)
    err = capfd.readouterr().err
    assert code == 130, err
    assert agent(runner, "wait") == []                      # abandoned: nothing after the second Ctrl-C
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: interrupted twice: the app restart was abandoned;"), last
    assert "the app was stopped and is DOWN now" in last


def test_second_ctrl_c_during_the_stop_says_down(ws, capfd):
    def twice(argv):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)
        return ok(json.dumps({"stopped": [101], "killed": [], "left": []}))
    runner = FakeRunner([(("docker", "exec", "-i", WEB, "python3", "-"), lambda argv: twice(argv)
                          if agent_command(argv)[0] == "stop" else agent_reply()(argv)), *healthy_engine(ws)])
    code = main([*NO_STACKS, "--workspace", str(ws)], runner=runner)
    err = capfd.readouterr().err
    assert code == 130, err
    assert starts(runner) == [] and agent(runner, "wait") == []
    assert "the app may be down" in err.strip().splitlines()[-1]


def test_ctrl_c_during_pip_lets_it_finish_and_starts_nothing_else(ws, capfd):
    pyproject = ws / "demo_app" / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('features_dev = ["splent_feature_debug"]', "features_dev = []"))

    def pip(argv):
        if "uninstall" in argv:
            os.kill(os.getpid(), signal.SIGINT)
        return ok()
    runner = FakeRunner([(("docker", "exec", WEB, "python3", "-m", "pip", "uninstall"), pip), *healthy_engine(ws)])
    code = main(["--no-color", "--json", "--workspace", str(ws)], runner=runner)
    out, err = capfd.readouterr()
    assert code == 130, err
    data = json.loads(out)
    assert [(s["name"], s["status"]) for s in data["steps"]][-1] == ("pip uninstall", "ok")   # it finished
    assert not [c for c in runner.calls if "restart" in c] and agent(runner, "stop") == []       # nothing new
    assert "letting the running pip call finish" in err


def test_sigterm_is_ctrl_c_and_deferred_like_it():
    """kill/timeout send SIGTERM to restart alone: it interrupts like Ctrl-C, and a deferred step
    (the app is down, pip runs) lets it finish first, exactly as for Ctrl-C."""
    import os
    import signal

    from restart.interrupt import deferred, sigterm_as_ctrl_c

    saved = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        sigterm_as_ctrl_c()
        with deferred("finishing", quiet=True) as state:
            os.kill(os.getpid(), signal.SIGTERM)
            assert state.requested                     # deferred: no KeyboardInterrupt in here
        try:
            os.kill(os.getpid(), signal.SIGTERM)
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("SIGTERM outside a deferred step did not interrupt")
    finally:
        signal.signal(signal.SIGTERM, saved)
