"""Ctrl-C the way a terminal sends it (SIGINT to the whole foreground process group), on the
real engine, judged from outside: container StartedAt, the app's own answer, pip in the container.

restart runs in its own process group (``start_new_session``), the test waits (by polling the
logging docker shim, no sleeps) until the call it wants to interrupt has started, then
``os.killpg(pgid, SIGINT)``.  What keeps the running ``compose restart`` alive is that restart's
children run in their own session (restart/docker/runner.py ``_new_session=True``).
"""
from __future__ import annotations

import json

import pytest

from tests.restart_helpers import (
    container_id,
    ctrl_c,
    is_agent,
    is_compose_restart,
    make_shim,
    popen_restart,
    shim_argvs,
    terminate,
    wait_for_call,
)

pytestmark = pytest.mark.docker
REDIS, QUEUE, NGINX = ("splent-io/splent_feature_redis@v1.0.0", "splent-io/splent_feature_queue",
                       "splent-io/splent_feature_nginx@v1.0.0")


def started(ws) -> dict[str, str]:
    return {f: ws.started_at(ws.stack_containers(f, "dev")[0]) for f in (REDIS, QUEUE, NGINX)}


def app_pids(ws) -> set[int]:
    """flask and watchmedo processes (not zombies) in the dev web container, read from /proc."""
    def is_app(argv):
        heads = [a.rsplit("/", 1)[-1] for a in argv[:2]]
        return "watchmedo" in heads or ("flask" in heads and "run" in argv)
    return {p["pid"] for p in ws.processes("dev") if p["state"] != "Z" and is_app(p["cmdline"])}


# SIGTERM means what Ctrl-C means (SPEC, "interrupts"): sent to restart alone, as kill and timeout do
INTERRUPTS = pytest.mark.parametrize("interrupt", [ctrl_c, terminate], ids=["ctrl-c", "sigterm"])


@INTERRUPTS
def test_ctrl_c_during_a_stack_restart_finishes_it_and_starts_nothing_new(ws, tmp_path, interrupt):
    """redis → queue → nginx: Ctrl-C while redis restarts; redis's restart completes, the rest never starts."""
    pid, before = ws.answer("dev")["pid"], started(ws)
    ids = {c: container_id(c) for f in (REDIS, QUEUE, NGINX) for c in ws.stack_containers(f, "dev")}
    shim = make_shim(tmp_path / "shim")
    proc = popen_restart(ws, "--json", "--timeout", "3", shim_dir=shim)
    wait_for_call(proc, shim, is_compose_restart(ws.feature_project(REDIS, "dev")))
    interrupt(proc)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    after = started(ws)
    assert after[REDIS] != before[REDIS], "the running redis restart was cut off by the Ctrl-C"
    assert after[QUEUE] == before[QUEUE] and after[NGINX] == before[NGINX], "a stack started after Ctrl-C"
    assert {c: container_id(c) for c in ids} == ids
    assert ws.answer("dev")["pid"] == pid                                   # the app was not touched
    restarts = [a for a in shim_argvs(shim) if a[:1] == ["compose"] and "restart" in a]
    assert len(restarts) == 1, restarts
    data = json.loads(out)
    assert data["outcome"] == "interrupted"
    assert {s["name"]: s["status"] for s in data["stacks"]} == {"redis": "ok", "queue": "not started",
                                                               "nginx": "not started"}, err


@INTERRUPTS
def test_ctrl_c_after_the_app_was_stopped_starts_and_verifies_it_then_exits_130(ws, tmp_path, interrupt):
    old = app_pids(ws)
    assert old
    shim = make_shim(tmp_path / "shim")
    proc = popen_restart(ws, "--only", "notes", "--json", shim_dir=shim)
    wait_for_call(proc, shim, is_agent("stop"))
    interrupt(proc)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "finishing the app restart" in err and err.strip().splitlines()[-1].endswith("the app was restarted.")
    now = app_pids(ws)
    assert now and not now & old                                            # the old app is gone, a new one runs
    assert ws.answer("dev")["pid"] in now                                   # and answers
    assert [s["name"] for s in json.loads(out)["steps"]][-3:] == ["stop app", "start", "verify"]
