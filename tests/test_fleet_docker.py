"""Remote engines and fleets on real engines: the extra dockerd instances of ``scripts/engines``
(contexts restart-h1..h3) stand in for remote hosts.

One copy of the example is brought up on each of the three engines for the whole module (same
workspace folder: the engines run on this machine, so the bind mount finds it); the local engine
holds nothing of it.  Every test leaves the three apps running.  Order and "untouched" are judged
from outside: the app process's start time read from /proc in each web container, the stacks'
StartedAt, the apps' answers.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
from datetime import datetime

import pytest

from tests.conftest import SKIP_VARIABLE, _teardown
from tests.restart_helpers import restart, set_env_value
from tests.rig import Workspace

pytestmark = pytest.mark.docker
HOSTS = ("restart-h1", "restart-h2", "restart-h3")
REDIS = "splent-io/splent_feature_redis@v1.0.0"

# The wall-clock start time of a process: /proc/<pid>/stat field 22 (ticks since boot) + btime.
# Containers share the host's kernel, so times from different engines compare.
STARTED_PY = """\
import os, sys
ticks = int(open(f"/proc/{sys.argv[1]}/stat").read().rsplit(")", 1)[1].split()[19])
btime = next(int(l.split()[1]) for l in open("/proc/stat") if l.startswith("btime"))
print(btime + ticks / os.sysconf("SC_CLK_TCK"))
"""


@pytest.fixture(scope="module")
def engines(docker_engine):
    """The three extra engines answer; else fail (scripts/provision starts them)."""
    for host in HOSTS:
        proc = subprocess.run(["docker", "--context", host, "version", "--format", "{{.Server.Version}}"],
                              capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            pytest.fail(f"docker context {host} does not answer ({proc.stderr.strip()[-200:]}); run "
                        f"`bash scripts/provision` (it runs scripts/engines up), or set {SKIP_VARIABLE}=1",
                        pytrace=False)
    return HOSTS


@pytest.fixture(scope="module")
def fleet(engines, tmp_path_factory):
    """{context: Workspace}: one example copy, up in dev on each engine."""
    first = Workspace.create(tmp_path_factory.mktemp("ws_fleet"), context=HOSTS[0])
    copies = {HOSTS[0]: first, **{h: Workspace.open(first.root, context=h) for h in HOSTS[1:]}}
    try:
        first.up("dev")                          # writes the feature links once; the others find them
        errors = []

        def up(ws):
            try:
                ws.up("dev")
            except Exception as e:   # noqa: BLE001 - reported below, in the test's thread
                errors.append(e)
        threads = [threading.Thread(target=up, args=(copies[h],)) for h in HOSTS[1:]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        yield copies
    finally:
        _teardown(list(copies.values()))


@pytest.fixture
def env_file(fleet):
    path = fleet[HOSTS[0]].env_file("dev")
    saved = path.read_text()
    yield path
    path.write_text(saved)


def app_started(ws, pid: int) -> float:
    return float(ws.exec("python3", "-c", STARTED_PY, str(pid), env="dev").stdout)


def redis_started(ws) -> datetime:
    text = ws.started_at(ws.stack_containers(REDIS, "dev")[0])
    return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00" if "." in text else text.replace("Z", "+00:00"))


def snapshot(fleet, hosts=HOSTS) -> dict:
    """What "untouched" means for each host: its app's pid and its redis container's start."""
    return {h: (fleet[h].answer("dev")["pid"], fleet[h].started_at(fleet[h].stack_containers(REDIS, "dev")[0]))
            for h in hosts}


def local_objects(ws) -> list[str]:
    """Containers and networks of the product on the LOCAL engine (there should be none)."""
    ps = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True).stdout
    nets = subprocess.run(["docker", "network", "ls", "--format", "{{.Name}}"], capture_output=True,
                          text=True).stdout
    return [n for n in ps.split() + nets.split() if n.startswith(f"{ws.product}_")]


def test_one_remote_engine_through_context(fleet, env_file):
    ws, other = fleet[HOSTS[0]], fleet[HOSTS[1]]
    assert local_objects(ws) == []
    before, other_pid = ws.answer("dev"), other.answer("dev")["pid"]
    set_env_value(env_file, "GREETING", "hello from the remote restart")
    run = restart(ws, "--context", HOSTS[0])
    assert run.returncode == 0, run.stderr
    after = ws.answer("dev")
    assert after["env"]["GREETING"] == "hello from the remote restart" and after["pid"] != before["pid"]
    assert other.answer("dev")["pid"] == other_pid                 # only the named engine was touched
    assert local_objects(ws) == []                                 # the local engine still holds nothing
    assert run.stderr.strip().splitlines()[-1].startswith("done: ")


def test_fleet_of_three_restarts_one_after_another(fleet, env_file):
    before = snapshot(fleet)
    set_env_value(env_file, "GREETING", "rolled out to every host")
    run = restart(fleet[HOSTS[0]], *[a for h in HOSTS for a in ("--context", h)], "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert [(h["context"], h["status"]) for h in data["hosts"]] == [(h, "restarted") for h in HOSTS]
    answers = {h: ws.answer("dev") for h, ws in fleet.items()}
    for h in HOSTS:
        assert answers[h]["env"]["GREETING"] == "rolled out to every host", h
        assert answers[h]["pid"] != before[h][0], h
    # Each host's stacks restart only after the previous host's app was started (and verified):
    # app start (wall clock from /proc) of host k < redis StartedAt of host k+1.
    app = {h: app_started(fleet[h], answers[h]["pid"]) for h in HOSTS}
    redis = {h: redis_started(fleet[h]).timestamp() for h in HOSTS}
    assert redis["restart-h1"] < app["restart-h1"] < redis["restart-h2"] < app["restart-h2"] \
        < redis["restart-h3"] < app["restart-h3"], (redis, app)
    for h in HOSTS:
        assert f"[{h}] ✓ verify" in run.stderr


@pytest.fixture
def broken_h2(fleet):
    """Host 2's image loses the flask command: its app cannot start again (the others are fine)."""
    ws = fleet[HOSTS[1]]
    ws.exec("mv", "/usr/bin/flask", "/usr/bin/flask.off", env="dev")
    yield ws
    ws.exec("mv", "/usr/bin/flask.off", "/usr/bin/flask", env="dev")
    fixed = restart(ws, "--context", HOSTS[1])
    assert fixed.returncode == 0, fixed.stderr


def test_fleet_stops_at_host_2_and_leaves_host_3_untouched(fleet, broken_h2):
    before = snapshot(fleet)
    run = restart(fleet[HOSTS[0]], *[a for h in HOSTS for a in ("--context", h)], "--json",
                  "--start-timeout", "8")
    assert run.returncode == 1, run.stderr
    data = json.loads(run.stdout)
    assert [h["status"] for h in data["hosts"]] == ["restarted", "failed", "not touched"]
    assert data["summary"]["failed"] == ["restart-h2"] and "host restart-h2 failed" in data["error"]
    assert "fleet stopped: restarted: restart-h1; failed: restart-h2; not touched: restart-h3." in run.stderr
    after = snapshot(fleet, (HOSTS[0], HOSTS[2]))                    # host 2's app is down now
    assert after[HOSTS[0]][0] != before[HOSTS[0]][0]                 # host 1 restarted
    assert after[HOSTS[2]] == before[HOSTS[2]]                       # host 3: same app pid, same redis


@pytest.fixture
def gone_context():
    name = f"restart-gone-{os.getpid()}"
    subprocess.run(["docker", "context", "create", name, "--docker", f"host=unix:///run/{name}.sock"],
                   check=True, capture_output=True)
    yield name
    subprocess.run(["docker", "context", "rm", "-f", name], capture_output=True)


def test_unreachable_context_is_found_before_any_host_is_touched(fleet, gone_context):
    before = snapshot(fleet)
    run = restart(fleet[HOSTS[0]], "--context", HOSTS[0], "--context", HOSTS[1], "--context", gone_context)
    assert run.returncode == 2, run.stderr
    assert f'[{gone_context}] error: the Docker engine of context "{gone_context}" cannot be reached' in run.stderr
    assert snapshot(fleet) == before                                 # hosts 1 and 2: nothing changed


def test_unreachable_single_context_is_one_sentence(fleet, gone_context):
    run = restart(fleet[HOSTS[0]], "--context", gone_context)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f'error: the Docker engine of context "{gone_context}" cannot be reached: Cannot connect to the '
        f"Docker daemon at unix:///run/{gone_context}.sock. Is the docker daemon running?"]
