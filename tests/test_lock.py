"""restart/lock.py without an engine: flock semantics, the holder record, waiting, take-over."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from restart.errors import BUSY, LockBusy
from restart.lock import RunLock, engine_key, lock_path
from tests.restart_helpers import REPO

# A run holding the lock in another process until a line arrives on its stdin.
HOLDER = """\
import sys
from restart.lock import RunLock
with RunLock(sys.argv[1], "demo_app_dev", "default", argv=["splent-restart", "--dev"]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def holder(path) -> subprocess.Popen:
    """Start a holder and return once it holds the lock (it says so on stdout)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline() == "held\n"
    return proc


def record(path) -> dict | None:
    text = path.read_text()
    return json.loads(text) if text else None


@pytest.mark.parametrize("environ, key", [
    ({}, "default"),
    ({"DOCKER_HOST": "unix:///var/run/docker.sock"}, "default"),       # the CLI container's mounted socket
    ({"DOCKER_HOST": "tcp://10.0.0.5:2376"}, "tcp://10.0.0.5:2376"),
    ({"DOCKER_CONTEXT": "default"}, "default"),
    ({"DOCKER_CONTEXT": "remote"}, "remote"),
])
def test_engine_key(environ, key, tmp_path):
    assert engine_key({"HOME": str(tmp_path), **environ}) == key


def test_engine_key_reads_the_current_docker_context(tmp_path):
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text('{"currentContext": "colima"}')
    assert engine_key({"HOME": str(tmp_path)}) == "colima"


def test_lock_path_is_in_the_workspace_and_per_engine(tmp_path):
    assert lock_path(tmp_path, "demo_app_dev", "default") == tmp_path / ".splent_cache/restart/demo_app_dev.lock"
    other = lock_path(tmp_path, "demo_app_dev", "tcp://10.0.0.5:2376")
    assert other.parent == tmp_path / ".splent_cache/restart" and other.name.startswith("demo_app_dev@")


def test_holder_record_written_then_cleared(tmp_path):
    path = lock_path(tmp_path, "demo_app_dev", "default")
    with RunLock(path, "demo_app_dev", "default", argv=["splent-restart", "--dev"]) as lock:
        held = record(path)
        assert held["pid"] == os.getpid() and held["argv"] == ["splent-restart", "--dev"]
        assert held["host"] and held["started"] and held["project"] == "demo_app_dev"
        assert not os.get_inheritable(lock.fd)          # children (docker …) never keep the lock
    assert path.read_text() == "" and lock.fd is None
    assert lock.info["holder"] is None and lock.info["took_over"] is None


def test_no_wait_refuses_at_once_naming_the_holder(tmp_path):
    path = lock_path(tmp_path, "demo_app_dev", "default")
    other = holder(path)
    try:
        started = time.monotonic()
        lock = RunLock(path, "demo_app_dev", "default", no_wait=True)
        with pytest.raises(LockBusy) as caught:
            lock.__enter__()
        assert time.monotonic() - started < 0.5
        assert caught.value.exit_code == BUSY == 75
        message = str(caught.value)
        assert message.startswith(f"another restart of demo_app_dev is running (pid {other.pid} on host ")
        assert message.endswith(", `splent-restart --dev`); not waiting (--no-wait).")
        assert lock.info["holder"]["pid"] == other.pid and lock.fd is None
    finally:
        other.communicate("\n")


def test_waits_until_the_holder_leaves_and_says_for_whom(tmp_path):
    path = lock_path(tmp_path, "demo_app_dev", "default")
    other = holder(path)
    said = []

    def say(text):                   # the holder leaves only once the waiter has said it waits
        said.append(text)
        if len(said) == 1:
            other.stdin.write("\n")
            other.stdin.flush()

    with RunLock(path, "demo_app_dev", "default", say=say) as lock:
        assert other.wait(10) == 0
        assert record(path)["pid"] == os.getpid()
    assert said[0].startswith(f"waiting for another restart of demo_app_dev to finish: pid {other.pid} on host ")
    assert said[-1].startswith("lock taken after waiting ")
    assert lock.waited and lock.info["holder"]["pid"] == other.pid and lock.info["waited"] > 0
    assert lock.info["took_over"] is None               # the holder cleared its record on its way out


def test_lock_of_a_killed_run_is_taken_over_with_a_note(tmp_path):
    path = lock_path(tmp_path, "demo_app_dev", "default")
    other = holder(path)
    other.send_signal(signal.SIGKILL)
    other.wait(10)
    assert record(path)["pid"] == other.pid             # left behind: SIGKILL runs no cleanup
    notes = []
    started = time.monotonic()
    with RunLock(path, "demo_app_dev", "default", warn=notes.append) as lock:
        assert record(path)["pid"] == os.getpid()
    assert time.monotonic() - started < 0.5             # the kernel dropped the flock: no waiting
    assert lock.info["took_over"]["pid"] == other.pid and not lock.waited
    (note,) = notes
    assert note.startswith(f"note: took over the lock left by pid {other.pid} (not running)")


def test_unusable_lock_place_is_an_error_not_ignored(tmp_path):
    (tmp_path / ".splent_cache").mkdir()
    (tmp_path / ".splent_cache" / "restart").write_text("a file where the lock folder belongs")
    path = lock_path(tmp_path, "demo_app_dev", "default")
    with pytest.raises(Exception) as caught:
        RunLock(path, "demo_app_dev", "default").__enter__()
    assert caught.value.exit_code == 2 and "cannot create the run lock" in str(caught.value)
