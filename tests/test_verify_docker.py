"""Verify and stop on the real engine, dev example: what restart says when the app runs but does
not answer as asked, the probe options, and an app process that ignores SIGTERM.

Judged from outside: wall-clock time, the app's own answer and /proc in the web container.
"""
from __future__ import annotations

import json
import time

import pytest

from tests.restart_helpers import restart

pytestmark = pytest.mark.docker
NO_STACKS = ("--only", "notes", "--no-features")      # notes has no stack: straight to the app
# A process the agent takes for `flask run` (argv[0] "flask", "run" among its arguments) that
# ignores SIGTERM, as a hung app does; started with docker exec -d, like the app itself.
STUBBORN = ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "while True:\n    time.sleep(1)\n")


def live(ws) -> list[dict]:
    return [p for p in ws.processes("dev") if p["state"] != "Z"]


def test_app_that_answers_503_fails_after_start_timeout_and_no_probe_accepts_it(ws):
    started = time.monotonic()
    run = restart(ws, *NO_STACKS, "--probe-path", "/unavailable", "--start-timeout", "3")
    elapsed = time.monotonic() - started
    assert run.returncode == 1, run.stderr
    last = run.stderr.strip().splitlines()
    error = next(line for line in last if line.startswith("error: "))
    assert "the app did not come back" in error and "within 3s" in error
    assert "it does not answer on port 5000 (HTTP 503)" in error
    assert "done:" not in run.stderr
    assert elapsed < 3 + 12, elapsed                        # not the default 30 s
    assert ws.answer("dev")["pid"]                          # it does run: only the probe failed
    ok = restart(ws, *NO_STACKS, "--probe-path", "/unavailable", "--no-probe", "--start-timeout", "3", "--json")
    assert ok.returncode == 0, ok.stderr
    verify = next(s for s in json.loads(ok.stdout)["steps"] if s["name"] == "verify")
    assert verify["detail"].startswith("process running")


def test_probe_goes_to_the_port_given(ws):
    """The app listens on 5000 only: --port 5001 must fail (and name 5001), the default succeed."""
    run = restart(ws, *NO_STACKS, "--port", "5001", "--start-timeout", "3")
    assert run.returncode == 1, run.stderr
    assert "it does not answer on port 5001" in run.stderr
    ok = restart(ws, *NO_STACKS, "--port", "5000", "--probe-path", "/health", "--json")
    assert ok.returncode == 0, ok.stderr
    verify = next(s for s in json.loads(ok.stdout)["steps"] if s["name"] == "verify")
    assert verify["detail"].startswith("answers on :5000/health")


def test_app_process_that_ignores_sigterm_is_killed_after_the_timeout(ws):
    ws.exec("bash", "-c", 'exec -a flask python3 -c "$1" run', "stubborn", STUBBORN, env="dev", detach=True)
    stubborn = [p["pid"] for p in live(ws) if p["cmdline"][:1] == ["flask"] and "-c" in p["cmdline"]]
    assert len(stubborn) == 1, live(ws)
    run = restart(ws, *NO_STACKS, "--timeout", "2", "--json")
    assert run.returncode == 0, run.stderr
    stop = next(s for s in json.loads(run.stdout)["steps"] if s["name"] == "stop app")
    assert "1 needed SIGKILL" in stop["detail"], stop
    assert "needed SIGKILL" in run.stderr
    assert 2 <= stop["seconds"] < 2 + 5, stop               # --timeout is the SIGTERM grace, not 10 s
    assert stubborn[0] not in {p["pid"] for p in live(ws)}  # gone (at most a zombie of PID 1)
    assert ws.answer("dev")["pid"]
