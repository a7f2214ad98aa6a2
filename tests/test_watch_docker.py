"""--watch and --apply-env on the real engine, judged from outside.

Scope is judged from each stack container's StartedAt and the app's PID and answer; the watch
process runs in its own session (as a terminal would run it) and the test synchronises on its
JSON lines (stdout) and progress lines (stderr), never on sleeps.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading

import pytest

from tests.restart_helpers import (
    REPO,
    container_id,
    leaked_values,
    make_shim,
    restart,
    set_env_value,
    shim_argvs,
    sigint_default,
)

pytestmark = pytest.mark.docker

STACKS = ("splent_feature_redis", "splent_feature_queue", "splent_feature_nginx")
WAIT = 180


class Watch:
    """``splent-restart --watch --json`` as a subprocess in its own session; lines read by threads."""

    def __init__(self, ws, *args: str, shim_dir=None):
        env = {k: v for k, v in os.environ.items() if k not in ("WORKING_DIR", "SPLENT_APP", "SPLENT_ENV")}
        env["PYTHONPATH"] = str(REPO)
        if shim_dir is not None:
            env["PATH"] = f"{shim_dir}{os.pathsep}{env['PATH']}"
            env["DOCKER_SHIM_LOG"] = str(shim_dir / "argv.log")
        self.proc = subprocess.Popen([sys.executable, "-m", "restart", "--workspace", str(ws.root), "--json",
                                      *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env, stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=sigint_default)
        self.events: queue.Queue = queue.Queue()
        self.lines: queue.Queue = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._read, args=(self.proc.stdout, self.events, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, self.lines, False), daemon=True).start()

    def _read(self, stream, into: queue.Queue, parse: bool) -> None:
        for line in stream:
            if not parse:
                self.err.append(line)
            into.put(json.loads(line) if parse else line)
        into.put(None)

    def event(self) -> dict:
        try:
            data = self.events.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no JSON line within {WAIT}s:\n{''.join(self.err)}") from None
        assert data is not None, f"watch ended (exit {self.proc.wait()}):\n{''.join(self.err)}"
        return data

    def cycle(self) -> dict:
        data = self.event()
        assert data["event"] == "cycle", data
        return data

    def stderr_until(self, text: str) -> str:
        while True:
            line = self.lines.get(timeout=WAIT)
            assert line is not None, "".join(self.err)
            if text in line:
                return line

    def interrupt(self) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)      # Ctrl-C reaches the whole foreground group
        return self.proc.wait(timeout=WAIT)

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def started(ws) -> dict[str, str]:
    """StartedAt of each stack's container and of the web container (changes on a restart)."""
    names = {f: ws.stack_containers(f, "dev")[0] for f in STACKS}
    return {**{f: ws.started_at(n) for f, n in names.items()}, "web": ws.started_at(ws.web_container("dev"))}


def touch_compose(ws, feature: str) -> None:
    path = next(p for entry, p in ws.stacks("dev") if feature in entry)
    path.write_text(path.read_text() + "# edited while watching\n")


def test_watch_dev_scopes_errors_sync_and_ctrl_c(example):
    ws = example()
    ws.up("dev")
    w = Watch(ws, "--dev", "--watch")
    try:
        first = w.cycle()
        assert first["outcome"] == "ok" and first["trigger"] == ["start"], first
        assert sorted(first["scope"]["stacks"]) == sorted(STACKS) and first["scope"]["sync"]
        assert w.event()["event"] == "watching"

        # env file → the app only: no stack restarted, a new app process serves the new value
        before, pid = started(ws), ws.answer("dev")["pid"]
        set_env_value(ws.env_file("dev"), "GREETING", "watch one")
        env = w.cycle()
        assert env["outcome"] == "ok" and env["scope"] == {"stacks": [], "sync": False, "app": True,
                                                           "order": None}, env
        assert env["trigger"] == [f"{ws.product}/docker/.env"] and env["why"].endswith("→ the app only")
        assert env["stacks"] == [] and started(ws) == before
        answer = ws.answer("dev")
        assert answer["env"]["GREETING"] == "watch one" and answer["pid"] != pid

        # queue's compose file → queue, then nginx (needs queue), then the app; redis untouched
        before, pid = started(ws), answer["pid"]
        touch_compose(ws, "queue")
        stack = w.cycle()
        assert stack["outcome"] == "ok" and stack["scope"]["stacks"] == ["splent_feature_nginx",
                                                                         "splent_feature_queue"], stack
        assert [s["name"] for s in stack["stacks"]] == ["queue", "nginx"]
        after = started(ws)
        assert after["splent_feature_redis"] == before["splent_feature_redis"]
        assert after["splent_feature_queue"] != before["splent_feature_queue"]
        assert after["splent_feature_nginx"] != before["splent_feature_nginx"]
        assert ws.answer("dev")["pid"] != pid

        # a broken env line: one sentence, nothing touched, still watching; the fix resumes
        before, pid = started(ws), ws.answer("dev")["pid"]
        env_file = ws.env_file("dev")
        good = env_file.read_text()
        env_file.write_text(good + "this is not an assignment\n")
        broken = w.cycle()
        assert broken["outcome"] == "error" and broken["exit_code"] == 2, broken
        assert "cannot parse" in broken["error"] and ".env:" in broken["error"]
        w.stderr_until("cannot parse")
        assert started(ws) == before and ws.answer("dev")["pid"] == pid
        env_file.write_text(good)
        set_env_value(env_file, "GREETING", "watch two")
        fixed = w.cycle()
        assert fixed["outcome"] == "ok" and fixed["scope"]["stacks"] == [], fixed
        assert ws.answer("dev")["env"]["GREETING"] == "watch two" and started(ws) == before

        # pyproject: a version bump → sync (pip re-install), then redis and its dependents, then the app
        before = started(ws)
        pyproject = ws.product_dir / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace("splent_feature_redis@v1.0.0",
                                                           "splent_feature_redis@v1.1.0"))
        bump = w.cycle()
        assert bump["outcome"] == "ok" and bump["scope"]["sync"], bump
        assert [(c["kind"], c["package"]) for c in bump["features"]] == [("bump", "splent_feature_redis")]
        assert sorted(bump["scope"]["stacks"]) == sorted(STACKS)
        assert all(started(ws)[f] != before[f] for f in STACKS)
        assert started(ws)["web"] == before["web"]
        assert ws.answer("dev")["features"]["splent_feature_redis"] == "1.1.0"

        # Ctrl-C while idle: exit 130, the app still running
        pid = ws.answer("dev")["pid"]
        assert w.interrupt() == 130
        assert ws.answer("dev")["pid"] == pid
    finally:
        w.close()


def test_ctrl_c_mid_cycle_finishes_starting_the_app(example):
    ws = example()
    ws.up("dev")
    w = Watch(ws, "--dev", "--watch-only")
    try:
        assert w.event()["event"] == "watching"
        pid = ws.answer("dev")["pid"]
        set_env_value(ws.env_file("dev"), "GREETING", "interrupted cycle")
        w.stderr_until("stop app")            # the app is stopped now: Ctrl-C must not leave it so
        os.killpg(w.proc.pid, signal.SIGINT)
        cycle = w.cycle()
        assert cycle["outcome"] == "ok", cycle
        assert [s["name"] for s in cycle["steps"]][-3:] == ["stop app", "start", "verify"]
        assert w.event() == {"event": "stopped", "exit_code": 130, "last_cycle_ok": True}
        assert w.proc.wait(timeout=WAIT) == 130
        answer = ws.answer("dev")
        assert answer["pid"] != pid and answer["env"]["GREETING"] == "interrupted cycle"
        assert "finishing this cycle" in "".join(w.err)
    finally:
        w.close()


def test_apply_env_recreates_only_the_web_container_and_only_with_the_flag(example, tmp_path):
    ws = example()
    ws.up("prod")
    web = ws.web_container("prod")
    cid = container_id(web)
    set_env_value(ws.env_file("prod"), "GREETING", "applied $(id) ; x")

    plain = restart(ws, "--prod", "--json")
    assert plain.returncode == 0, plain.stderr
    data = json.loads(plain.stdout)
    assert container_id(web) == cid and data["app"]["env_not_applied"] == ["GREETING"]
    assert data["app"]["apply_command"].startswith(f"docker compose -p {ws.project('prod')} -f ")
    assert data["app"]["apply_command"].endswith(f"up -d --no-deps --force-recreate {web}")
    assert ws.answer("prod")["env"]["GREETING"] != "applied $(id) ; x"

    shim = make_shim(tmp_path / "shim")
    run = restart(ws, "--prod", "--apply-env", "--json", shim_dir=shim)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert [s["name"] for s in data["steps"]] == ["recreate web container", "verify", "verify env"]
    assert data["app"]["env_applied"] == ["GREETING"] and data["app"]["env_not_applied"] == []
    assert "recreating the web container" in run.stderr and "GREETING" in run.stderr
    new_cid = container_id(web)
    assert new_cid != cid                                                 # recreated
    answer = ws.answer("prod")
    assert answer["env"]["GREETING"] == "applied $(id) ; x" and answer["server"] == "gunicorn"
    recreate = [a for a in shim_argvs(shim) if "--force-recreate" in a]
    assert recreate and recreate[0][-1] == web and "--no-deps" in recreate[0]
    assert leaked_values(ws, "prod", shim_argvs(shim)) == []

    # nothing differs any more: --apply-env reloads as usual and recreates nothing
    again = restart(ws, "--prod", "--apply-env", "--json")
    assert again.returncode == 0, again.stderr
    assert [s["name"] for s in json.loads(again.stdout)["steps"]] == ["reload gunicorn"]
    assert container_id(web) == new_cid


def test_watch_prod_with_apply_env_recreates_the_web_container_on_an_env_edit(example):
    ws = example()
    ws.up("prod")
    web = ws.web_container("prod")
    w = Watch(ws, "--prod", "--watch-only", "--apply-env")
    try:
        assert w.event()["event"] == "watching"
        cid = container_id(web)
        set_env_value(ws.env_file("prod"), "GREETING", "watched prod")
        cycle = w.cycle()
        assert cycle["outcome"] == "ok" and cycle["scope"]["stacks"] == [], cycle
        assert [s["name"] for s in cycle["steps"]] == ["recreate web container", "verify", "verify env"]
        assert cycle["app"]["env_applied"] == ["GREETING"]
        assert container_id(web) != cid and ws.answer("prod")["env"]["GREETING"] == "watched prod"
        assert w.interrupt() == 130
    finally:
        w.close()
