"""--watch without an engine: what each change restarts (decide), the watched paths, the why line,
Plan.restricted, and the loop's error / keep-watching / Ctrl-C behaviour on planning alone."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from restart.planning.plan import build_plan
from restart.planning.settings import Settings
from restart.watch import Scope, Snapshot, decide, describe, input_files, read_files, relevant, watched_dirs
from tests.restart_helpers import REPO, set_env_value, sigint_default
from tests.rig import Workspace

REDIS, QUEUE, NGINX = "splent_feature_redis", "splent_feature_queue", "splent_feature_nginx"


@pytest.fixture
def ws(tmp_path) -> Workspace:
    w = Workspace.create(tmp_path / "ws", product="demo_w")
    w.resolve_links("dev")
    return w


def snap(ws: Workspace, env: str = "dev") -> Snapshot:
    settings = Settings(workspace=ws.root, product=ws.product, env=env)
    plan = build_plan(settings)
    return Snapshot(plan, read_files(input_files(settings, plan)))


def compose_of(ws: Workspace, feature: str) -> Path:
    return next(path for entry, path in ws.stacks("dev") if feature in entry)


def test_env_value_change_restarts_the_app_only(ws):
    old = snap(ws)
    set_env_value(ws.env_file("dev"), "GREETING", "new")
    scope = decide(old, snap(ws))
    assert scope.app and not scope.stacks and not scope.sync
    assert "GREETING changed" in scope.why and "new" not in scope.why      # names, never values
    assert describe(scope, snap(ws).plan).endswith("→ the app only")


def test_env_comment_only_restarts_nothing(ws):
    old = snap(ws)
    with open(ws.env_file("dev"), "a") as f:
        f.write("# a comment\n")
    scope = decide(old, snap(ws))
    assert not scope.app and "no value did" in scope.why


def test_feature_compose_file_restarts_that_stack_and_its_dependents(ws):
    old = snap(ws)
    path = compose_of(ws, "queue")
    path.write_text(path.read_text() + "# edited\n")
    new = snap(ws)
    scope = decide(old, new)
    assert scope.stacks == {QUEUE, NGINX} and scope.app and not scope.sync
    line = describe(scope, new.plan)
    assert "queue's compose file" in line and line.endswith("restart queue, nginx (needs queue), then the app")
    # redis is needed by everything: all three
    path = compose_of(ws, "redis")
    path.write_text(path.read_text() + "# edited\n")
    assert decide(new, snap(ws)).stacks == {REDIS, QUEUE, NGINX}


def test_leaf_compose_file_restarts_only_itself(ws):
    old = snap(ws)
    path = compose_of(ws, "nginx")
    path.write_text(path.read_text() + "# edited\n")
    assert decide(old, snap(ws)).stacks == {NGINX}


def test_uvl_change_shows_the_new_order_and_restarts_nothing(ws):
    old = snap(ws)
    uvl = old.plan.uvl
    uvl.write_text(uvl.read_text().replace("\tqueue => redis\n", ""))
    new = snap(ws)
    scope = decide(old, new)
    assert not scope.app and not scope.stacks and scope.order
    assert "new order" in scope.why and describe(scope, new.plan).endswith("→ nothing to restart")


def test_uvl_and_a_stack_together_follow_the_new_edges(ws):
    old = snap(ws)
    uvl = old.plan.uvl
    uvl.write_text(uvl.read_text().replace("\tqueue => redis\n", ""))   # queue no longer needs redis
    path = compose_of(ws, "redis")
    path.write_text(path.read_text() + "# edited\n")
    # redis -> notes (via cache) -> nginx still holds; queue is no longer a dependent
    assert decide(old, snap(ws)).stacks == {REDIS, NGINX}


def test_pyproject_feature_bump_syncs_and_restarts_the_stack_and_dependents(ws):
    old = snap(ws)
    pyproject = ws.product_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("splent_feature_redis@v1.0.0", "splent_feature_redis@v1.1.0"))
    new = snap(ws)
    scope = decide(old, new)
    assert scope.sync and scope.app and scope.stacks == {REDIS, QUEUE, NGINX}
    assert "redis splent-io/splent_feature_redis@v1.0.0 → splent-io/splent_feature_redis@v1.1.0" in scope.why
    assert "compose file" not in scope.why            # the bump moved it; the line says the bump once
    assert describe(scope, new.plan).startswith(scope.why + " → sync features, restart redis")


def test_pyproject_without_feature_changes_restarts_nothing(ws):
    old = snap(ws)
    pyproject = ws.product_dir / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "1.0.0"', 'version = "1.0.1"'))
    assert not decide(old, snap(ws)).app


def test_first_cycle_and_pending_scopes(ws):
    new = snap(ws)
    full = decide(None, new)
    assert full.app and full.sync and full.stacks == {REDIS, QUEUE, NGINX}
    both = Scope("env", app=True) | Scope("queue", frozenset({QUEUE}), app=True)
    assert both.stacks == {QUEUE} and both.app and "still pending: env" in both.why


def test_restricted_plan_keeps_only_the_named_stacks(ws):
    plan = snap(ws).plan
    only = plan.restricted({QUEUE, NGINX}, sync=False)
    assert [s.label for s in only.stacks] == ["queue", "nginx"]
    assert not only.sync and only.links == () and only.settings == plan.settings   # settings stay as resolved
    assert plan.restricted(set(), sync=True).sync is True


def test_watched_paths_are_parent_folders_and_a_missing_feature_is_seen_appearing(ws):
    s = snap(ws)
    files = input_files(s.plan.settings, s.plan)
    assert ws.env_file("dev") in files and s.plan.uvl in files and compose_of(ws, "queue") in files
    dirs = watched_dirs(ws.root, files)
    assert ws.docker_dir in dirs and ws.product_dir in dirs and compose_of(ws, "queue").parent in dirs
    assert all(d.is_dir() for d in dirs)
    # an editable feature whose checkout does not exist yet: its parent (the workspace) is watched
    gone = ws.root / "splent_feature_queue"
    os.rename(gone, ws.root / "elsewhere")
    dirs = watched_dirs(ws.root, files)
    assert ws.root in dirs and gone not in dirs
    wanted = relevant(files, ws.root)
    assert wanted(gone) and wanted(ws.env_file("dev")) and not wanted(ws.docker_dir / ".env.swp")


def run_watch(ws: Workspace, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("WORKING_DIR", "SPLENT_APP", "SPLENT_ENV")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen([sys.executable, "-m", "restart", "--workspace", str(ws.root), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=sigint_default)


def next_event(proc: subprocess.Popen) -> dict:
    line = proc.stdout.readline()
    assert line, f"watch ended: {proc.stderr.read()}"
    return json.loads(line)


def test_loop_reports_a_broken_input_keeps_watching_and_ends_130(ws):
    """No engine needed: planning errors and order-only changes never reach Docker."""
    proc = run_watch(ws, "--dev", "--watch-only", "--json")
    try:
        assert next_event(proc)["event"] == "watching"
        uvl = snap(ws).plan.uvl
        good = uvl.read_text()
        uvl.write_text(good.replace("queue => redis", "queue => => redis"))
        event = next_event(proc)
        assert event["outcome"] == "error" and event["exit_code"] == 2
        assert "demo_spl.uvl" in event["error"] and event["trigger"] == ["splent_spl_demo/demo_spl.uvl"]
        uvl.write_text(good.replace("\tqueue => redis\n", ""))       # fixed, with a new order
        event = next_event(proc)
        assert event["outcome"] == "nothing" and event["scope"]["order"] and "new order" in event["why"]
        os.killpg(proc.pid, signal.SIGINT)
        assert next_event(proc) == {"event": "stopped", "exit_code": 130, "last_cycle_ok": True}
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_watch_with_dry_run_is_a_usage_error(ws):
    proc = run_watch(ws, "--watch", "--dry-run")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--watch runs restarts" in err
