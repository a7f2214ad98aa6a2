"""splent-restart on the real engine, dev: the example brought up once for this module.

Every test leaves the example as it found it (running, env file restored), so the order of
the tests does not matter.
"""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.restart_helpers import assert_names_only, container_id, make_shim, restart, set_env_value, shim_argvs
from tests.rig import wait_until
from tests.test_ordering_docker import when

pytestmark = pytest.mark.docker
HOSTILE = "$(touch /tmp/pwned) a;b `id` & echo 'x' | cat > /tmp/pwned2"
REDIS, QUEUE, NGINX = ("splent-io/splent_feature_redis@v1.0.0", "splent-io/splent_feature_queue",
                       "splent-io/splent_feature_nginx@v1.0.0")


def web_id(ws):
    return container_id(ws.web_container("dev"))


def test_env_change_reaches_restarted_app_without_recreating_anything(ws):
    before = ws.answer("dev")
    ids = {c: container_id(c) for c in [ws.web_container("dev"), *ws.stack_containers(REDIS, "dev")]}
    set_env_value(ws.env_file("dev"), "GREETING", "Hola (changed) & $HOME")
    run = restart(ws, "--dev")
    assert run.returncode == 0, run.stderr
    after = ws.answer("dev")
    assert after["env"]["GREETING"] == "Hola (changed) & $HOME"
    assert after["pid"] != before["pid"]
    assert {c: container_id(c) for c in ids} == ids          # kept, not recreated
    assert run.stderr.strip().splitlines()[-1].startswith("done: ")
    assert "exec-managed" in run.stderr


def test_hostile_value_arrives_literally_and_runs_nothing(ws):
    set_env_value(ws.env_file("dev"), "MOTTO", HOSTILE)
    run = restart(ws)
    assert run.returncode == 0, run.stderr
    assert ws.answer("dev")["env"]["MOTTO"] == HOSTILE
    left = ws.exec("sh", "-c", "ls /tmp/pwned /tmp/pwned2 2>/dev/null; true", env="dev").stdout
    assert left == ""


def test_no_env_value_on_any_argv(ws, tmp_path):
    set_env_value(ws.env_file("dev"), "SECRET_TOKEN", "tok-9f8e7d-unique-secret")
    shim = make_shim(tmp_path / "shim")
    run = restart(ws, "-v", shim_dir=shim)
    assert run.returncode == 0, run.stderr
    argvs = shim_argvs(shim)
    assert any(a[:1] == ["compose"] and "restart" in a for a in argvs)
    assert_names_only(ws, "dev", argvs)
    assert "tok-9f8e7d-unique-secret" not in run.stderr + run.stdout       # -v shows commands, masked
    assert ws.answer("dev")["env"]["SECRET_TOKEN"] == "tok-9f8e7d-unique-secret"


def test_stacks_restart_in_uvl_order(ws):
    names = {f: ws.stack_containers(f, "dev")[0] for f in (REDIS, QUEUE, NGINX)}
    before = {f: ws.started_at(c) for f, c in names.items()}
    run = restart(ws, "--json")
    assert run.returncode == 0, run.stderr
    after = {f: ws.started_at(c) for f, c in names.items()}
    assert all(after[f] != before[f] for f in names)                     # each was restarted
    assert after[REDIS] < after[QUEUE] < after[NGINX]                    # queue => redis, nginx => queue
    data = json.loads(run.stdout)
    assert [s["name"] for s in data["stacks"]] == ["redis", "queue", "nginx"]
    assert data["outcome"] == "ok" and data["exit_code"] == 0 and data["mode"] == "exec-managed"
    assert data["app"]["pids_after"] and set(data["app"]["pids_after"]).isdisjoint(data["app"]["pids_before"])


def test_dry_run_changes_nothing_and_shows_names_only(ws):
    set_env_value(ws.env_file("dev"), "SECRET_TOKEN", "dry-run-secret-value")
    pid = ws.answer("dev")["pid"]
    started = ws.started_at(ws.stack_containers(REDIS, "dev")[0])
    run = restart(ws, "--dry-run")
    assert run.returncode == 0, run.stderr
    assert "SECRET_TOKEN" in run.stdout and "dry-run-secret-value" not in run.stdout
    assert f"web container: {ws.web_container('dev')}" in run.stdout and "exec-managed" in run.stdout
    assert ws.answer("dev")["pid"] == pid
    assert ws.started_at(ws.stack_containers(REDIS, "dev")[0]) == started


def test_stack_without_containers_is_not_running_and_app_untouched(ws):
    pid = ws.answer("dev")["pid"]
    path = ws.stack_file(QUEUE, "dev")
    ws.stack_compose(QUEUE, "dev", path, "down", "-t", "1")
    try:
        run = restart(ws, "--json")
        assert run.returncode == 1
        data = json.loads(run.stdout)
        status = {s["name"]: s["status"] for s in data["stacks"]}
        assert status["queue"] == "not running" and status["nginx"] == "skipped" and status["redis"] == "ok"
        assert "the app was not touched" in data["error"]
        assert ws.answer("dev")["pid"] == pid
        kept = restart(ws, "--keep-going", "--json")               # --keep-going: the app restarts anyway
        assert kept.returncode == 1
        assert json.loads(kept.stdout)["app"]["pids_after"] and ws.answer("dev")["pid"] != pid
    finally:
        ws.stack_compose(QUEUE, "dev", path, "up", "-d", "--wait")


def test_config_error_touches_nothing(ws):
    uvl = ws.root / "splent_spl_demo" / "demo_spl.uvl"
    saved = uvl.read_text()
    pid = ws.answer("dev")["pid"]
    started = ws.started_at(ws.stack_containers(REDIS, "dev")[0])
    try:
        uvl.write_text(saved + "\tredis => nginx\n")
        run = restart(ws)
        assert run.returncode == 2
        assert "dependency cycle" in run.stderr and "Traceback" not in run.stderr
        uvl.write_text(saved + "\tqueue => => redis\n")
        run = restart(ws)
        assert run.returncode == 2 and "demo_spl.uvl:" in run.stderr
        uvl.unlink()
        uvl.mkdir()                                   # a directory where the model belongs
        run = restart(ws)
        assert run.returncode == 2, run.stderr
        assert "the UVL model splent_spl_demo/demo_spl.uvl is a directory" in run.stderr
    finally:
        if uvl.is_dir():
            uvl.rmdir()
        uvl.write_text(saved)
    assert ws.answer("dev")["pid"] == pid
    assert ws.started_at(ws.stack_containers(REDIS, "dev")[0]) == started


def test_app_that_dies_on_start_fails_with_its_log(ws):
    init = ws.product_dir / "src" / ws.product / "__init__.py"
    saved = init.read_text()
    try:
        init.write_text(saved + "\nraise RuntimeError('boom from the demo app')\n")
        run = restart(ws, "--no-features", "--only", "redis", "--start-timeout", "8")
        assert run.returncode == 1
        assert "the app did not come back" in run.stderr
        assert "boom from the demo app" in run.stderr                 # the log tail is shown
        assert "done:" not in run.stderr
    finally:
        init.write_text(saved)
    assert restart(ws, "--only", "redis").returncode == 0


def entrypoint_starts(ws) -> int:
    log = ws.exec("sh", "-c", "cat /var/log/splent/entrypoint.log 2>/dev/null; true", env="dev").stdout
    return log.count("SPLENT DEV ENTRYPOINT START")


def test_full_runs_the_entrypoint_with_env_names_only(ws, tmp_path):
    """exec-managed --full: the entrypoint itself runs again (its own log says so), started with
    ``docker exec -d -e NAME`` only; the new value is served."""
    set_env_value(ws.env_file("dev"), "SECRET_TOKEN", "full-run-secret-5e6f")
    before = entrypoint_starts(ws)
    shim = make_shim(tmp_path / "shim")
    run = restart(ws, "--full", "--only", "redis", "--json", "-v", shim_dir=shim)
    assert run.returncode == 0, run.stderr
    [start] = assert_names_only(ws, "dev", shim_argvs(shim))
    assert start[-1].endswith("entrypoints/entrypoint.dev.sh")
    assert "full-run-secret-5e6f" not in run.stdout + run.stderr
    assert entrypoint_starts(ws) == before + 1
    data = json.loads(run.stdout)
    answer = ws.answer("dev")
    assert answer["pid"] in data["app"]["pids_after"] and answer["env"]["SECRET_TOKEN"] == "full-run-secret-5e6f"


def test_stacks_follow_the_uvl_model_not_the_declaration(ws):
    """The product declares nginx, queue, notes, redis: the reverse of what the UVL model asks."""
    pyproject = ws.product_dir / "pyproject.toml"
    saved = pyproject.read_text()
    names = {f: ws.stack_containers(f, "dev")[0] for f in (REDIS, QUEUE, NGINX)}
    before = {f: when(ws.started_at(c)) for f, c in names.items()}
    try:
        declared = f'[\n    "{NGINX}",\n    "{QUEUE}",\n    "splent-io/splent_feature_notes",\n    "{REDIS}",\n]'
        text, n = re.subn(r"^features = \[.*?\]", f"features = {declared}", saved, count=1, flags=re.S | re.M)
        assert n == 1
        pyproject.write_text(text)
        assert [f for f in ws.features("dev") if f in names] == [NGINX, QUEUE, REDIS]
        run = restart(ws, "--json", "--no-features")
        assert run.returncode == 0, run.stderr
    finally:
        pyproject.write_text(saved)
    after = {f: when(ws.started_at(c)) for f, c in names.items()}
    assert all(after[f] > before[f] for f in names)
    assert after[REDIS] < after[QUEUE] < after[NGINX], after
    assert [s["name"] for s in json.loads(run.stdout)["stacks"]] == ["redis", "queue", "nginx"]


def test_exit_codes(ws):
    assert restart(ws, "--dev", "--prod").returncode == 2
    assert restart(ws, "--only", "nosuchfeature").returncode == 2
    assert restart(ws, "--container", "no_such_container_xyz").returncode == 2
    assert restart(ws, "--only", "redis", "--no-features").returncode == 0


# Ctrl-C as a terminal sends it: tests/test_ctrl_c_docker.py
def test_full_runs_the_entrypoint(ws):
    """The entrypoint's install step, then SPLENT's start script with its pkill lines, while
    restart's probe already waits: the probe must survive them and see the new app."""
    assert 'pkill -f "flask run"' in (ws.product_dir / "scripts" / "05_0_start_app_dev.sh").read_text()
    before = ws.answer("dev")["pid"]
    run = restart(ws, "--dev", "--full", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    start = next(s for s in data["steps"] if s["name"] == "start")
    assert start["detail"].endswith("entrypoints/entrypoint.dev.sh")
    now = ws.answer("dev")["pid"]
    assert now != before and now in data["app"]["pids_after"]
    assert run.stderr.strip().splitlines()[-1].startswith("done: ")


PKILL_PATTERNS = ("flask run", "watchmedo", "auto-restart", "watchmedo.*auto-restart", "gunicorn")


def test_no_restart_process_matches_what_splent_scripts_pkill(ws):
    """A probe whose every argument holds the words (probe path, log files) is still invisible to
    ``pgrep -f`` (pkill's matcher) for each pattern SPLENT's scripts kill by."""
    from restart.docker.client import Docker
    from restart.docker.locate import find_web_container, run_agent
    from restart.docker.runner import ShRunner

    docker = Docker(ShRunner())
    web = find_web_container(docker, ws.product, f"{ws.product}_dev", None)
    old = [p["pid"] for p in ws.processes("dev")]            # the probe waits for a NEW app: none comes
    hostile = "/flask%20run/watchmedo/auto-restart/gunicorn"
    with ThreadPoolExecutor(1) as pool:
        probe = pool.submit(run_agent, docker, web, "wait", 5000, hostile, 6, *old, timeout=60)

        def agent():
            return [p for p in ws.processes("dev") if p["cmdline"][:1] == ["python3"] and "wait" in p["cmdline"][1:4]]
        found = wait_until(agent, 20, interval=0.1)
        matched = {pattern: ws.exec("pgrep", "-f", pattern, env="dev", check=False).stdout.split()
                   for pattern in PKILL_PATTERNS}
        agent_pids = {str(p["pid"]) for p in found}
        assert agent_pids and all(not agent_pids & set(pids) for pids in matched.values()), (found, matched)
        assert "seconds" in probe.result()
    assert run_agent(docker, web, "tail", 5, "/var/log/gunicorn/flask run.log") == {}   # arguments arrive intact


def test_a_stack_file_compose_rejects_stops_the_run_before_anything_changes(ws):
    """nginx's file is broken; redis and queue come first in the order. Today's restart would
    restart them (and apply links) before compose refused nginx's file; now: exit 2, nothing."""
    path = ws.stack_file(NGINX, "dev")
    saved = path.read_text()
    link = ws.product_dir / "features" / "splent_io" / "splent_feature_queue"
    target = __import__("os").readlink(link)
    pid = ws.answer("dev")["pid"]
    started = {f: ws.started_at(ws.stack_containers(f, "dev")[0]) for f in (REDIS, QUEUE, NGINX)}
    try:
        path.write_text(saved.replace("image:", "imagee:", 1))
        link.unlink()                                  # a link restart would re-create first
        run = restart(ws, "--dev")
        assert run.returncode == 2, run.stderr
        assert "compose rejects the nginx stack's file" in run.stderr and "imagee" in run.stderr
        assert not link.is_symlink()
        assert {f: ws.started_at(ws.stack_containers(f, "dev")[0]) for f in started} == started
        assert ws.answer("dev")["pid"] == pid
    finally:
        path.write_text(saved)
        if not link.is_symlink():
            link.symlink_to(target)


def test_product_compose_file_compose_rejects_is_one_warning(ws):
    path = ws.compose_file("dev")
    saved = path.read_text()
    try:
        path.write_text(saved.replace("services:", "services:\n  broken: [", 1))
        run = restart(ws, "--dev", "--no-features", "--only", "redis")
        assert run.returncode == 0, run.stderr
        warnings = [line for line in run.stderr.splitlines() if "compose rejects" in line]
        assert len(warnings) == 1 and f"{ws.product}/docker/docker-compose.dev.yml" in warnings[0], run.stderr
    finally:
        path.write_text(saved)
    clean = restart(ws, "--dev", "--no-features", "--only", "redis")      # no warning for a good file
    assert clean.returncode == 0 and "compose rejects" not in clean.stderr, clean.stderr


def test_bare_env_name_comes_from_restarts_environment_or_is_left_out(ws):
    """``NAME`` alone on a line: docker run --env-file takes it from the environment; so does restart.
    Unset there, the app must not see it at all (today it got an empty value)."""
    with open(ws.env_file("dev"), "a") as f:
        f.write("BARE_FROM_ENV\nBARE_NOT_SET\n")
    run = restart(ws, "--dev", "--no-features", "--only", "redis", extra_env={"BARE_FROM_ENV": "from restart's env"})
    assert run.returncode == 0, run.stderr
    pid = ws.answer("dev")["pid"]                            # the app's own environment, from /proc
    raw = ws.exec("cat", f"/proc/{pid}/environ", env="dev").stdout
    env = dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)
    assert env["BARE_FROM_ENV"] == "from restart's env"
    assert "BARE_NOT_SET" not in env
    assert "BARE_NOT_SET has no value" in run.stderr
