"""A long dev session on the real engine (issue 17): one run at a time, and nothing piles up.

Judged from outside: container StartedAt, /proc in the web container (processes, zombies,
open files), log sizes, the lock file in the workspace and the host's temporary folder.
Runs are synchronised on the lock holder record, never on sleeps.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime

import pytest

from tests.restart_helpers import REPO, restart
from tests.rig import docker, wait_until

pytestmark = pytest.mark.docker
REDIS, QUEUE, NGINX = ("splent-io/splent_feature_redis@v1.0.0", "splent-io/splent_feature_queue",
                       "splent-io/splent_feature_nginx@v1.0.0")
QUICK = ("--only", "debug", "--no-features", "--timeout", "2", "--start-timeout", "20")   # app only, ~1-2 s
LOGS = ("/tmp/splent-restart-app.log", "/var/log/entrypoint.log", "/var/log/splent/entrypoint.log")

# What the web container holds, read from /proc: every process with its state and open files,
# the sizes of the app's logs and what /tmp holds. Itself (and the docker exec running it) excluded.
SNAPSHOT_PY = """\
import json, os, sys
me, procs = os.getpid(), []
for name in os.listdir("/proc"):
    if not name.isdigit() or int(name) == me:
        continue
    try:
        stat = open(f"/proc/{name}/stat").read()
        argv = [a.decode(errors="replace") for a in open(f"/proc/{name}/cmdline", "rb").read().split(b"\\0") if a]
        fds = len(os.listdir(f"/proc/{name}/fd"))
    except OSError:
        continue
    rest = stat[stat.rindex(")") + 2:].split()
    procs.append({"pid": int(name), "ppid": int(rest[1]), "state": rest[0],
                  "comm": stat[stat.index("(") + 1: stat.rindex(")")], "argv": argv, "fds": fds})
sizes = {p: os.path.getsize(p) if os.path.exists(p) else None for p in sys.argv[1:]}
print(json.dumps({"procs": procs, "logs": sizes, "tmp": sorted(os.listdir("/tmp"))}))
"""


def snapshot(ws) -> dict:
    return json.loads(ws.exec("python3", "-c", SNAPSHOT_PY, *LOGS, env="dev").stdout)


def kind(proc: dict) -> str:
    """A process without its pid: what it runs ('watchmedo', 'flask', 'restart reaper', 'tail' …)."""
    argv = " ".join(proc["argv"])
    for word in ("watchmedo", "flask", "gunicorn", "splent-restart-reaper"):
        if word in argv:
            return word
    return proc["comm"]


def table(snap: dict) -> Counter:
    """The process table as a multiset of (what, state, open files)."""
    return Counter((kind(p), p["state"], p["fds"]) for p in snap["procs"])


def zombies(snap: dict) -> list[dict]:
    return [p for p in snap["procs"] if p["state"] == "Z"]


def apps(snap: dict, what: str) -> list[dict]:
    return [p for p in snap["procs"] if kind(p) == what and p["state"] != "Z"]


def spawn(ws, *args: str) -> subprocess.Popen:
    """splent-restart started in the background, as a second terminal would."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORKING_DIR", "SPLENT_APP", "SPLENT_ENV")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen([sys.executable, "-m", "restart", "--workspace", str(ws.root), *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)


def lock_file(ws):
    return ws.root / ".splent_cache" / "restart" / f"{ws.project('dev')}.lock"


def holder_pid(ws) -> int | None:
    try:
        text = lock_file(ws).read_text()
        return json.loads(text)["pid"] if text else None
    except (OSError, ValueError):
        return None


def wait_for_holder(ws, proc: subprocess.Popen) -> None:
    """Until proc's holder record is in the lock file: proc holds the lock from then on."""
    wait_until(lambda: holder_pid(ws) == proc.pid or proc.poll() is not None, 30, interval=0.01)
    assert proc.poll() is None and holder_pid(ws) == proc.pid


def epoch(docker_time: str) -> float:
    """Docker's StartedAt (RFC 3339, nanoseconds, UTC) as seconds since the epoch."""
    head, _, frac = docker_time.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float(f"0.{frac or 0}")


# --- one at a time ------------------------------------------------------------------------------

def starts(containers, since: float, until: float) -> dict[str, list[float]]:
    """Every start of these containers between since and until, from the engine's event log."""
    out = docker("events", "--since", f"{since:.3f}", "--until", f"{until:.3f}", "--filter", "type=container",
                 "--filter", "event=start", "--format", "{{.Actor.Attributes.name}} {{.TimeNano}}").stdout
    found = {c: [] for c in containers}
    for line in out.splitlines():
        name, _, nanos = line.partition(" ")
        if name in found:
            found[name].append(int(nanos) / 1e9)
    return found


def test_two_runs_started_together_run_one_after_the_other(ws):
    stacks = [ws.stack_containers(f, "dev")[0] for f in (REDIS, QUEUE, NGINX)]
    since = time.time()
    first = spawn(ws, "--dev")
    wait_for_holder(ws, first)
    second = spawn(ws, "--dev", "--json")
    out1, err1 = first.communicate(timeout=120)
    first_done = time.time()                        # no later than the first run's exit, give or take ms
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    # each stack started twice: once in the first run, then again after the first run had finished
    started = starts(stacks, since, time.time() + 1)
    assert all(len(t) == 2 and t[0] < first_done < t[1] for t in started.values()), (started, first_done)
    assert all(epoch(ws.started_at(c)) > first_done for c in stacks)
    # it said whom it waited for, and reports it
    assert f"waiting for another restart of {ws.project('dev')} to finish: pid {first.pid} " in err2
    lock = json.loads(out2)["lock"]
    assert lock["holder"]["pid"] == first.pid and lock["waited"] > 0 and lock["took_over"] is None
    # exactly one app runs, and it answers
    snap = snapshot(ws)
    assert len(apps(snap, "watchmedo")) == 1 and len(apps(snap, "flask")) == 1, snap["procs"]
    assert ws.answer("dev")["pid"] == apps(snap, "flask")[0]["pid"]
    assert holder_pid(ws) is None                   # both cleared their record on the way out


def test_no_wait_exits_at_once_with_its_own_code(ws):
    first = spawn(ws, "--dev")
    try:
        wait_for_holder(ws, first)
        started = time.monotonic()
        second = restart(ws, "--dev", "--no-wait", "--json")
        seconds = time.monotonic() - started
        assert first.poll() is None                 # refused while the first run still held the lock
    finally:
        out1, err1 = first.communicate(timeout=120)
    assert second.returncode == 75, second.stderr
    assert seconds < 3.0
    (line,) = second.stderr.strip().splitlines()
    assert line.startswith(f"error: another restart of {ws.project('dev')} is running (pid {first.pid} on host ")
    assert line.endswith("not waiting (--no-wait).")
    data = json.loads(second.stdout)
    assert data["outcome"] == "busy" and data["exit_code"] == 75 and data["lock"]["holder"]["pid"] == first.pid
    assert data["steps"] == [] and data["stacks"] == []
    assert first.returncode == 0, err1


def test_lock_of_a_sigkilled_run_is_taken_over(ws):
    first = spawn(ws, "--dev", *QUICK)
    wait_for_holder(ws, first)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    assert holder_pid(ws) == first.pid              # its record stayed behind
    started = time.monotonic()
    second = restart(ws, "--dev", *QUICK)
    assert second.returncode == 0, second.stderr
    assert f"note: took over the lock left by pid {first.pid} (not running)" in second.stderr
    assert "waiting" not in second.stderr and time.monotonic() - started < 30
    assert holder_pid(ws) is None
    snap = snapshot(ws)
    assert len(apps(snap, "watchmedo")) == 1 and ws.answer("dev")["pid"] == apps(snap, "flask")[0]["pid"]


# --- nothing piles up ---------------------------------------------------------------------------

def test_a_restart_adds_no_zombie_and_no_orphan(ws):
    assert restart(ws, "--dev", *QUICK).returncode == 0     # the app now runs as restart starts it
    before = snapshot(ws)
    run = restart(ws, "--dev", *QUICK, "--json")
    assert run.returncode == 0, run.stderr
    after = snapshot(ws)
    assert len(zombies(after)) == len(zombies(before)), after["procs"]
    # the app's tree hangs under restart's reaper, never under PID 1
    reapers = apps(after, "splent-restart-reaper")
    assert len(reapers) == 1
    assert [p["ppid"] for p in apps(after, "watchmedo")] == [reapers[0]["pid"]]
    assert not [p for p in after["procs"] if p["ppid"] == 1 and p["state"] != "Z"]
    # restart's report agrees with what /proc shows
    data = json.loads(run.stdout)["zombies"]
    assert data["before"] == data["after"] == len([p for p in after["procs"] if p["state"] == "Z" and p["ppid"] == 1])


def test_dry_run_counts_the_zombies_it_cannot_reap(ws):
    snap = snapshot(ws)
    stuck = [p for p in snap["procs"] if p["state"] == "Z" and p["ppid"] == 1]
    run = restart(ws, "--dev", "--dry-run", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)["zombies"]
    assert data["before"] == len(stuck) and data["pid1"] == "tail -f /dev/null"
    assert stuck        # the rig started the first app itself: what it left are PID 1's zombies
    fix = f"add `init: true` to service {ws.web_container('dev')} in {ws.product}/docker/docker-compose.dev.yml"
    assert data["fix"] == fix
    plan = json.loads(run.stdout)["plan"]
    assert any(line.strip().startswith(f"zombies: {len(stuck)} in ") and fix in line for line in plan), plan


def test_twenty_restarts_leave_the_container_and_host_as_one_does(ws, tmp_path):
    host_tmp = tmp_path / "tmp"
    host_tmp.mkdir()
    env = {"TMPDIR": str(host_tmp)}
    assert restart(ws, "--dev", *QUICK, extra_env=env).returncode == 0
    first = snapshot(ws)
    files = sorted(str(p.relative_to(ws.root)) for p in ws.root.rglob("*"))
    started = time.monotonic()
    for i in range(20):
        run = restart(ws, "--dev", *QUICK, extra_env=env)
        assert run.returncode == 0, (i, run.stderr)
    seconds = time.monotonic() - started
    last = snapshot(ws)
    # the process table: the same processes in the same states with the same number of open files
    assert table(last) == table(first), (first["procs"], last["procs"])
    assert len(zombies(last)) == len(zombies(first))
    # logs: restart's own start log holds one start; the product's log grows by its start banner only
    own = "/tmp/splent-restart-app.log"
    assert abs(last["logs"][own] - first["logs"][own]) <= 64, (first["logs"], last["logs"])
    grown = last["logs"]["/var/log/entrypoint.log"] - first["logs"]["/var/log/entrypoint.log"]
    assert 0 <= grown <= 20 * 2048, grown
    assert last["logs"]["/var/log/splent/entrypoint.log"] == first["logs"]["/var/log/splent/entrypoint.log"]
    assert last["tmp"] == first["tmp"]
    # the host: no temporary file left, the workspace holds the same files, the lock is free
    assert list(host_tmp.iterdir()) == []
    assert sorted(str(p.relative_to(ws.root)) for p in ws.root.rglob("*")) == files
    assert holder_pid(ws) is None
    assert seconds < 20 * 6, seconds
