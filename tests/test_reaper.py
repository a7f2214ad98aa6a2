"""The start parent (restart/docker/app.py REAPER), run here on the host: no engine needed."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from restart.docker import agent
from restart.docker.app import REAPER, START_LOG
from restart.docker.steps import start_command
from tests.rig import wait_until

# What SPLENT's start scripts kill with `pkill -f` (and what restart's agent stops).
PKILL_PATTERNS = ("flask run", "watchmedo.*auto-restart", "watchmedo", "gunicorn", "auto-restart")


def start_argv() -> tuple[str, ...]:
    return start_command("/workspace/demo_app/scripts/05_0_start_app_dev.sh")


def test_start_parent_is_safe_from_splent_pkill_and_not_an_app():
    argv = start_argv()
    assert argv[:2] == ("python3", "-c") and argv[3:] == ("splent-restart-reaper", START_LOG, "bash",
                                                         "/workspace/demo_app/scripts/05_0_start_app_dev.sh")
    cmdline = " ".join(argv)
    assert [p for p in PKILL_PATTERNS if re.search(p, cmdline)] == []
    assert agent.role(list(argv)) is None and agent.is_reaper(list(argv))


def ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_reaper_adopts_what_the_script_leaves_reaps_it_and_exits_with_it(tmp_path):
    """The script backgrounds a child and exits (as SPLENT's 05_0 does with watchmedo): the child
    is re-parented to the reaper, not to PID 1; once it is killed the reaper reaps it and exits."""
    log, pidfile = tmp_path / "app.log", tmp_path / "child.pid"
    script = f'sleep 300 & echo $! > {pidfile}; echo started'
    reaper = subprocess.Popen([sys.executable, "-c", REAPER, "splent-restart-reaper", str(log), "bash", "-c", script],
                              stdin=subprocess.DEVNULL)
    try:
        child = wait_until(lambda: pidfile.read_text().strip() if pidfile.exists() else None, 10, interval=0.01)
        child = int(child)
        wait_until(lambda: ppid(child) == reaper.pid, 10, interval=0.01)    # the script has exited
        assert reaper.poll() is None                                        # it stays while the child runs
        os.kill(child, signal.SIGTERM)
        assert reaper.wait(10) == 0
        assert not os.path.exists(f"/proc/{child}")                         # reaped: no zombie left
        assert log.read_text() == "started\n"
    finally:
        if reaper.poll() is None:
            reaper.kill()
            reaper.wait()
