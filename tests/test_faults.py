"""Faults on the real engine (issue 7, item 2): each ends in one sentence, a documented exit code
and an honest account of what was and was not done, and nothing after the failure point is touched.

1. a stack container that exits during its restart     → the stack "failed" with its exit code
2. a healthcheck that never turns healthy               → "timeout" after --health-timeout, not 60 s
3. gunicorn (prod-exec) that cannot import the app      → reported in seconds, with the log tail
4. Ctrl-C while two stacks restart at once              → both finish, nothing new starts, exit 130
5. the daemon gone mid-run (a ``docker`` shim)          → during the stacks, and after the app stopped
(pip failing is tests/test_sync_docker.py's.)

The dev example is shared by the module (``example_dev_up``) and every test leaves it as it found
it; the prod-exec example is shared by the two tests that read one import-failure run.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.restart_helpers import ctrl_c, is_compose_restart, popen_restart, restart, shim_argvs, wait_for_call
from tests.rig import Workspace, docker

pytestmark = pytest.mark.docker
REDIS, QUEUE, NGINX = ("splent-io/splent_feature_redis@v1.0.0", "splent-io/splent_feature_queue",
                       "splent-io/splent_feature_nginx@v1.0.0")
NO_STACKS = ("--only", "notes")          # notes has no stack: the run goes straight to the app
DAEMON_DOWN = ("Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
               "Is the docker daemon running?")
DAEMON_SENTENCE = "the Docker daemon is not running"

# A docker that behaves like the real one, logging each argv (one JSON array a line, the format of
# restart_helpers.shim_argvs) under a lock (stacks run in threads), except:
# - from its Nth call on ($DOCKER_SHIM_DIE_AT) it answers exactly as the CLI does when the daemon
#   is stopped;
# - `compose -p $DOCKER_SHIM_PS_RACE ... ps` answers as compose does when a container exits between
#   compose's list call and its inspect call (seen on this engine: "State": "running", "Health": "",
#   the exit code set): it waits for the real exit, then reports the containers that way.
SHIM = """#!{python}
import fcntl, json, os, subprocess, sys, time
argv, real = sys.argv[1:], {real!r}
with open(os.environ["DOCKER_SHIM_LOG"], "a+") as log:
    fcntl.flock(log, fcntl.LOCK_EX)
    log.write(json.dumps(argv) + "\\n")
    log.flush()
    log.seek(0)
    calls = sum(1 for _ in log)
die_at = int(os.environ.get("DOCKER_SHIM_DIE_AT") or 0)
if die_at and calls >= die_at:
    sys.stderr.write({message!r} + "\\n")
    sys.exit(1)
race = os.environ.get("DOCKER_SHIM_PS_RACE")
if race and argv[:1] == ["compose"] and race in argv and "ps" in argv:
    deadline = time.monotonic() + 10
    while True:
        out = subprocess.run([real, *argv], capture_output=True, text=True).stdout.strip()
        rows = json.loads(out) if out.startswith("[") else [json.loads(x) for x in out.splitlines() if x.strip()]
        if all(r["State"] == "exited" for r in rows) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for r in rows:
        if r["State"] == "exited":
            r.update(State="running", Health="", Status="Up Less than a second")
    print("\\n".join(json.dumps(r) for r in rows))
    sys.exit(0)
os.execv(real, [real, *argv])
"""

# ---------------------------------------------------------------------------------------- helpers


def error_line(run) -> str:
    """The one ``error:`` line a failed run prints (and no traceback of restart's own: the app's log
    tail, which may hold the app's, is shown indented)."""
    lines = run.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr
    assert not any(line.startswith("Traceback") for line in lines), run.stderr
    return errors[0]


def stack_status(data) -> dict[str, str]:
    return {s["name"]: s["status"] for s in data["stacks"]}


def outcome(data, name: str) -> dict:
    return next(s for s in data["stacks"] + data["steps"] if s["name"] == name)


def snapshot(ws) -> dict[str, str]:
    """StartedAt of the web container and of each stack's container (changes on a restart)."""
    names = {"web": ws.web_container("dev"), **{f: ws.stack_containers(f, "dev")[0] for f in (REDIS, QUEUE, NGINX)}}
    return {key: ws.started_at(name) for key, name in names.items()}


def queue_variant(original: Path, restart_policy: str) -> str:
    """The queue feature's own compose file, but its worker (and healthcheck) first read
    /tmp/queue.env, a config file inside the container: a change there applies on the next start,
    the way a worker's config file does. ``restart_policy`` replaces its ``restart: always``."""
    text = original.read_text()
    edits = [("    restart: always\n", f"    restart: {restart_policy}\n"),
             ("      - |\n", "      - |\n        if [ -f /tmp/queue.env ]; then . /tmp/queue.env; fi\n"),
             ('test: ["CMD-SHELL", "redis-cli -h splent_feature_redis ping | grep -q PONG"]',
              'test: ["CMD-SHELL", "if [ -f /tmp/queue.env ]; then . /tmp/queue.env; fi; '
              'redis-cli -h \\"$${QUEUE_REDIS_HOST}\\" ping | grep -q PONG"]')]
    for old, new in edits:
        assert text.count(old) == 1, f"{original} changed: {old!r} is not there once"
        text = text.replace(old, new)
    return text


@pytest.fixture
def faulty_queue(ws):
    """``faulty_queue(policy, **config)``: bring the queue stack up from queue_variant (a file beside
    its own), healthy, then write config into its /tmp/queue.env for the next start; returns the
    container. Afterwards the stack is brought up again from its own compose file (recreated)."""
    original = ws.stack_file(QUEUE, "dev")
    variant = original.with_name("docker-compose.fault.yml")

    def make(restart_policy: str, **config: str) -> str:
        variant.write_text(queue_variant(original, restart_policy))
        ws.stack_compose(QUEUE, "dev", variant, "up", "-d", "--wait", "--wait-timeout", "60")
        container = ws.stack_containers(QUEUE, "dev")[0]
        lines = [f"{name}={value}" for name, value in config.items()]
        docker("exec", container, "sh", "-c", 'printf "%s\\n" "$@" > /tmp/queue.env', "sh", *lines)
        return container

    yield make
    ws.stack_compose(QUEUE, "dev", original, "up", "-d", "--wait", "--wait-timeout", "60")
    variant.unlink(missing_ok=True)


def make_shim(folder: Path) -> Path:
    real = subprocess.run(["sh", "-c", "command -v docker"], capture_output=True, text=True, check=True).stdout.strip()
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "docker"
    shim.write_text(SHIM.format(python=sys.executable, real=real, message=DAEMON_DOWN))
    shim.chmod(0o755)
    return folder


def run_until_daemon_dies(ws, folder: Path, *args: str, calls_after_inspection: int):
    """Run restart with the daemon "stopping" at call n + calls_after_inspection, where n is the
    number of (read-only) calls a --dry-run with the same arguments makes: the inspection prefix."""
    shim = make_shim(folder)
    dry = restart(ws, "--dry-run", *args, shim_dir=shim)
    assert dry.returncode == 0, dry.stderr
    # the compose detection is remembered per PATH: the dry run, the first with the shim's PATH,
    # asks `compose version` and stores the answer, so the run does not ask
    inspection = [argv for argv in shim_argvs(shim) if argv != ["compose", "version"]]
    (shim / "argv.log").unlink()
    die_at = len(inspection) + calls_after_inspection
    run = restart(ws, "--json", *args, shim_dir=shim, extra_env={"DOCKER_SHIM_DIE_AT": str(die_at)})
    argvs = shim_argvs(shim)
    # the same inspection as the dry run (compose files are checked in parallel: any order)
    assert sorted(argvs[:len(inspection)]) == sorted(inspection)
    return SimpleNamespace(run=run, data=json.loads(run.stdout), argvs=argvs, n=len(inspection), die_at=die_at)


# ------------------------------------------------------------- 1. a stack container that exits


def test_stack_container_that_exits_on_restart_fails_with_its_exit_code(ws, faulty_queue):
    # the worker's own lever: redis unreachable for QUEUE_REDIS_GRACE seconds → "giving up", exit 3
    # (3 s: it exits while restart waits for its health; an exit at once meets the race below)
    container = faulty_queue('"no"', QUEUE_REDIS_HOST="127.0.0.1", QUEUE_REDIS_GRACE="3")
    pid, before = ws.answer("dev")["pid"], snapshot(ws)
    run = restart(ws, "--json")
    assert run.returncode == 1, run.stderr
    data = json.loads(run.stdout)
    assert data["outcome"] == "failed" and data["exit_code"] == 1
    assert stack_status(data) == {"redis": "ok", "queue": "failed", "nginx": "skipped"}
    assert outcome(data, "queue")["detail"] == f"container {container} exited (exit code 3)"
    assert outcome(data, "nginx")["detail"] == "queue did not restart"
    assert data["steps"] == [] and data["app"]["pids_after"] == []
    error = error_line(run)
    assert "queue (failed), nginx (skipped)" in error and "the app was not touched" in error
    assert "✗ queue" in run.stderr and "– nginx" in run.stderr and "done:" not in run.stderr
    assert "giving up" in docker("logs", container).stdout
    after = snapshot(ws)
    assert after[REDIS] != before[REDIS] and after[QUEUE] != before[QUEUE]      # restarted
    assert after[NGINX] == before[NGINX] and after["web"] == before["web"]      # not touched
    assert ws.answer("dev")["pid"] == pid


def test_stack_container_that_exits_at_once_is_not_reported_ok(ws, faulty_queue, tmp_path):
    """compose ps can say "running", no health, for a container that exited between its list and
    inspect calls: readiness is decided on docker inspect, so the exit is still seen."""
    # the worker gives up at once (grace 1 s); the shim pins compose's answer to the racy one
    container = faulty_queue('"no"', QUEUE_REDIS_HOST="127.0.0.1", QUEUE_REDIS_GRACE="1")
    pid, before = ws.answer("dev")["pid"], snapshot(ws)
    shim = make_shim(tmp_path / "shim")
    run = restart(ws, "--json", shim_dir=shim, extra_env={"DOCKER_SHIM_PS_RACE": ws.feature_project(QUEUE, "dev")})
    assert docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", container).stdout.split() == ["exited", "3"]
    data = json.loads(run.stdout)
    assert stack_status(data) == {"redis": "ok", "queue": "failed", "nginx": "skipped"}, run.stderr
    assert outcome(data, "queue")["detail"] == f"container {container} exited (exit code 3)"
    assert run.returncode == 1 and data["steps"] == []
    assert snapshot(ws)[NGINX] == before[NGINX] and ws.answer("dev")["pid"] == pid


def test_crash_looping_stack_container_fails_fast_with_its_exit_code(ws, faulty_queue):
    """With the feature's own `restart: always`, the exiting container is "restarting": a crash,
    reported with its exit code at once, not a "timeout" after --health-timeout."""
    container = faulty_queue("always", QUEUE_REDIS_HOST="127.0.0.1", QUEUE_REDIS_GRACE="1")
    pid, before = ws.answer("dev")["pid"], snapshot(ws)
    run = restart(ws, "--json", "--health-timeout", "6")
    assert run.returncode == 1, run.stderr
    data = json.loads(run.stdout)
    assert stack_status(data) == {"redis": "ok", "queue": "failed", "nginx": "skipped"}, run.stderr
    queue = outcome(data, "queue")
    assert container in queue["detail"] and "exit code 3" in queue["detail"]
    assert queue["seconds"] < 5                                                 # not the health timeout
    assert data["steps"] == [] and "the app was not touched" in error_line(run)
    assert snapshot(ws)[NGINX] == before[NGINX] and ws.answer("dev")["pid"] == pid


def test_queue_worker_stops_at_once_while_its_ping_hangs(ws, faulty_queue):
    """The example's worker must not make a stack restart's length a matter of luck.

    A ping sent while redis restarts hangs (no host answers for its address yet); bash runs the
    TERM trap only after a foreground command ends, so a worker pinging in the foreground took up
    to its ping's 2 s to stop, and the restart that came right after redis's paid for it.
    """
    subnet = docker("network", "inspect", ws.network, "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}").stdout
    nobody = subnet.strip().split("/")[0].rsplit(".", 1)[0] + ".254"     # in the subnet, no container
    container = faulty_queue('"no"', QUEUE_REDIS_HOST=nobody, QUEUE_REDIS_GRACE="600")
    docker("restart", container)                          # its config applies on this start
    pinging = ('for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null; echo; done'
               ' | grep -q "^timeout 2 redis-cli"')
    deadline = time.monotonic() + 10
    while docker("exec", container, "sh", "-c", pinging, check=False).returncode != 0:
        assert time.monotonic() < deadline, "the worker never pinged"
        time.sleep(0.05)
    started = time.monotonic()
    docker("stop", "-t", "10", container)
    took = time.monotonic() - started
    assert took < 1.0, f"{took:.2f}s: the worker's SIGTERM waited for its ping"
    assert "SIGTERM, stopping" in docker("logs", container).stdout


# ------------------------------------------------------------- 2. a healthcheck never healthy


def test_healthcheck_that_never_turns_healthy_times_out_after_health_timeout(ws, faulty_queue):
    # the worker keeps running (grace 600 s) but its healthcheck pings an address with no redis
    container = faulty_queue('"no"', QUEUE_REDIS_HOST="127.0.0.1", QUEUE_REDIS_GRACE="600")
    pid, before = ws.answer("dev")["pid"], snapshot(ws)
    started = time.monotonic()
    run = restart(ws, "--json", "--health-timeout", "3")
    elapsed = time.monotonic() - started
    assert run.returncode == 1, run.stderr
    data = json.loads(run.stdout)
    assert stack_status(data) == {"redis": "ok", "queue": "timeout", "nginx": "skipped"}
    queue = outcome(data, "queue")
    assert queue["detail"].startswith("not ready after 3s: ") and container in queue["detail"]
    assert 3 <= queue["seconds"] < 8
    assert elapsed < 25, f"{elapsed:.1f}s: the default health timeout is 60s"   # ≈ inspect + redis + 3 s
    assert data["steps"] == []
    error = error_line(run)
    assert "queue (timeout), nginx (skipped)" in error and "the app was not touched" in error
    assert "done:" not in run.stderr
    assert docker("inspect", "-f", "{{.State.Status}}", container).stdout.strip() == "running"
    after = snapshot(ws)
    assert after[NGINX] == before[NGINX] and after["web"] == before["web"] and ws.answer("dev")["pid"] == pid


# ------------------------------------------------------------- 4. Ctrl-C, two stacks at once


def test_ctrl_c_with_two_stacks_running_lets_both_finish_and_starts_nothing(ws, tmp_path):
    uvl = ws.root / "splent_spl_demo" / "demo_spl.uvl"
    saved = uvl.read_text()
    pid, before = ws.answer("dev")["pid"], snapshot(ws)
    try:
        uvl.write_text(saved.replace("\tqueue => redis\n", ""))          # redis and queue: independent
        order = restart(ws, "--print-order")
        assert "1. redis, queue" in order.stdout, order.stdout + order.stderr
        shim = make_shim(tmp_path / "shim")
        proc = popen_restart(ws, "--parallel", "2", "--json", "--timeout", "3", shim_dir=shim)
        for feature in (REDIS, QUEUE):                  # both compose restarts have started
            wait_for_call(proc, shim, is_compose_restart(ws.feature_project(feature, "dev")))
        ctrl_c(proc)                                    # as a terminal does: the whole process group
        out, err = proc.communicate(timeout=120)
    finally:
        uvl.write_text(saved)
    assert proc.returncode == 130, err
    data = json.loads(out)
    assert data["outcome"] == "interrupted" and data["exit_code"] == 130
    assert stack_status(data) == {"redis": "ok", "queue": "ok", "nginx": "not started"}, err
    assert data["steps"] == []
    assert "interrupted: no new stack restarts" in err
    error = error_line(SimpleNamespace(stderr=err))
    summary = re.fullmatch(r"error: interrupted: done: (.*); not done: (.*); the app was not restarted\.", error)
    assert summary, error
    assert sorted(summary[1].split(", ")) == ["queue", "redis"] and summary[2] == "nginx (not started)"
    after = snapshot(ws)
    assert after[REDIS] != before[REDIS] and after[QUEUE] != before[QUEUE]    # both ran, at once
    assert after[NGINX] == before[NGINX] and ws.answer("dev")["pid"] == pid


# ------------------------------------------------------------- 5. the daemon stopped mid-run


@pytest.fixture(scope="module")
def daemon_lost_in_stacks(example_dev_up, tmp_path_factory):
    """One run whose daemon "stops" right after redis's `compose restart` went through."""
    ws = example_dev_up
    pid, before = ws.answer("dev")["pid"], snapshot(ws)
    fault = run_until_daemon_dies(ws, tmp_path_factory.mktemp("shim-stacks"), calls_after_inspection=2)
    restart_call = fault.argvs[fault.n]
    assert "restart" in restart_call and ws.feature_project(REDIS, "dev") in restart_call, restart_call
    return SimpleNamespace(**vars(fault), pid=pid, before=before, after=snapshot(ws), pid_after=ws.answer("dev")["pid"])


def test_daemon_lost_during_stack_restarts(daemon_lost_in_stacks):
    f = daemon_lost_in_stacks
    assert f.run.returncode == 1, f.run.stderr
    assert f.data["outcome"] == "failed" and f.data["exit_code"] == 1
    assert stack_status(f.data) == {"redis": "failed", "queue": "skipped", "nginx": "skipped"}
    assert DAEMON_SENTENCE in outcome(f.data, "redis")["detail"]
    assert "✗ redis" in f.run.stderr and DAEMON_SENTENCE in f.run.stderr
    assert "the app was not touched" in error_line(f.run) and "done:" not in f.run.stderr
    assert f.data["steps"] == []
    assert f.after[REDIS] != f.before[REDIS]                        # its restart did happen
    assert f.after[QUEUE] == f.before[QUEUE] and f.after[NGINX] == f.before[NGINX]
    assert f.after["web"] == f.before["web"] and f.pid_after == f.pid


def test_daemon_lost_during_stack_restarts_says_the_restart_was_done(daemon_lost_in_stacks):
    """redis's `compose restart` went through before the daemon went away: its line says so."""
    detail = outcome(daemon_lost_in_stacks.data, "redis")["detail"]
    assert DAEMON_SENTENCE in detail and "restarted" in detail


@pytest.fixture(scope="module")
def daemon_lost_after_stop(example_dev_up, tmp_path_factory):
    """One run (no stacks) whose daemon "stops" right after the app was stopped; then the app is
    started again with the real docker."""
    ws = example_dev_up
    pid = ws.answer("dev")["pid"]
    fault = run_until_daemon_dies(ws, tmp_path_factory.mktemp("shim-app"), *NO_STACKS, calls_after_inspection=2)
    assert "stop" in fault.argvs[fault.n] and fault.argvs[fault.n + 1][:2] == ["exec", "-d"], fault.argvs
    answers = ws.exec("python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:5000/', timeout=3)",
                      env="dev", check=False).returncode == 0
    restored = restart(ws, *NO_STACKS)
    return SimpleNamespace(**vars(fault), pid=pid, answered_after=answers, restored=restored,
                           pid_restored=ws.answer("dev")["pid"])


def test_daemon_lost_after_the_app_was_stopped(daemon_lost_after_stop):
    f = daemon_lost_after_stop
    assert f.run.returncode == 1 and f.data["exit_code"] == 1, f.run.stderr
    assert [(s["name"], s["status"]) for s in f.data["steps"]] == [("stop app", "ok"), ("start", "failed")]
    assert DAEMON_SENTENCE in error_line(f.run) and "done:" not in f.run.stderr
    assert f.data["app"]["pids_after"] == [] and f.data["outcome"] == "failed"
    assert len(f.argvs) == f.die_at                                  # nothing tried after the start failed
    assert not f.answered_after                                      # the app really is down now
    assert f.restored.returncode == 0, f.restored.stderr             # and comes back with the daemon
    assert f.pid_restored != f.pid


def test_daemon_lost_after_the_app_was_stopped_says_the_app_is_down(daemon_lost_after_stop):
    """Things were touched, so exit 1 (not 2, "nothing was touched"), and the sentence says the app
    is stopped."""
    f = daemon_lost_after_stop
    assert f.run.returncode == 1 and f.data["exit_code"] == 1
    error = error_line(f.run)
    assert DAEMON_SENTENCE in error and "app" in error and "was stopped" in error


# ------------------------------------------------------------- 3. prod-exec: gunicorn cannot import the app


@pytest.fixture(scope="module")
def import_failure(docker_engine, tmp_path_factory):
    """The prod-exec example, one restart while the product imports a module that is not installed
    (gunicorn: "Worker failed to boot"), then the file restored and the app restarted."""
    ws = Workspace.create(tmp_path_factory.mktemp("ws_prod_exec"), variant="prod-exec")
    try:
        ws.up("prod")
        init = ws.product_dir / "src" / ws.product / "__init__.py"
        saved = init.read_text()
        pid = ws.answer("prod")["pid"]
        try:
            init.write_text(saved + "\nimport splent_feature_missing_dependency  # noqa: F401 (not installed)\n")
            started = time.monotonic()
            run = restart(ws, "--prod", "--json", "--start-timeout", "30", *NO_STACKS)
            elapsed = time.monotonic() - started
        finally:
            init.write_text(saved)
        restored = restart(ws, "--prod", *NO_STACKS)
        yield SimpleNamespace(ws=ws, run=run, data=json.loads(run.stdout), elapsed=elapsed, pid=pid,
                              restored=restored, pid_restored=ws.answer("prod")["pid"])
    finally:
        ws.down()
        assert not ws.leftovers(), ws.leftovers()


def test_gunicorn_that_cannot_import_the_app_is_reported_quickly_with_its_log(import_failure):
    f = import_failure
    assert f.run.returncode == 1, f.run.stderr
    assert f.data["mode"] == "exec-managed" and f.data["outcome"] == "failed"
    assert [(s["name"], s["status"]) for s in f.data["steps"]] == [("stop app", "ok"), ("start", "ok"),
                                                                     ("verify", "failed")]
    error = error_line(f.run)
    assert f"the app did not come back in {f.ws.web_container('prod')}" in error
    assert "its process exited right after starting" in error
    # the agent saw gunicorn vanish: seconds, not the 30 s --start-timeout
    assert outcome(f.data, "verify")["seconds"] < 10 and f.elapsed < 20, f.elapsed
    assert "--- last lines of /tmp/splent-restart-app.log ---" in f.run.stderr
    assert "Worker failed to boot" in f.run.stderr and f.data["log_tail"]
    assert "done:" not in f.run.stderr
    assert f.restored.returncode == 0, f.restored.stderr
    assert f.pid_restored != f.pid


def test_gunicorn_import_failure_sentence_names_the_cause(import_failure):
    """The cause (ModuleNotFoundError) is in the sentence: gunicorn's HaltServer traceback often
    fills the end of its log, pushing the cause out of a short tail."""
    error = error_line(import_failure.run)
    assert "ModuleNotFoundError: No module named 'splent_feature_missing_dependency'" in error
