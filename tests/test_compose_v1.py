"""The compose v1 path on the real engine: detected when only `docker-compose` works, or named
with --compose-cmd; stack restarts and readiness (v1's `ps` has no JSON: docker inspect)."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.restart_helpers import container_id, restart, shim_argvs

pytestmark = pytest.mark.docker
V1 = "/usr/bin/docker-compose"
REDIS, QUEUE = "splent-io/splent_feature_redis@v1.0.0", "splent-io/splent_feature_queue"

ONLY_V1_DOCKER = """#!/bin/sh
# a docker CLI without the compose v2 plugin; logs argv like the other shims
python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@" >> "$DOCKER_SHIM_LOG"
if [ "$1" = compose ]; then echo "docker: 'compose' is not a docker command." >&2; exit 1; fi
exec {real} "$@"
"""
V1_SHIM = """#!/bin/sh
python3 -c 'import json,sys; print(json.dumps(["docker-compose"] + sys.argv[1:]))' "$@" >> "$DOCKER_SHIM_LOG"
exec {v1} "$@"
"""


@pytest.fixture(scope="module")
def v1_available():
    if not os.access(V1, os.X_OK):
        pytest.fail(f"{V1} (compose v1) is missing: run `bash scripts/provision`", pytrace=False)


def only_v1_path(folder):
    folder.mkdir()
    (folder / "docker").write_text(ONLY_V1_DOCKER.format(real=shutil.which("docker")))
    (folder / "docker-compose").write_text(V1_SHIM.format(v1=V1))
    for f in ("docker", "docker-compose"):
        (folder / f).chmod(0o755)
    return folder


def test_v1_is_detected_and_used_for_stacks(v1_available, example_dev_up, tmp_path):
    ws = example_dev_up
    shim = only_v1_path(tmp_path / "bin")
    containers = {f: ws.stack_containers(f, "dev")[0] for f in (REDIS, QUEUE)}
    before = {f: ws.started_at(c) for f, c in containers.items()}
    run = restart(ws, "--json", shim_dir=shim)
    assert run.returncode == 0, run.stderr
    argvs = shim_argvs(shim)
    restarts = [a for a in argvs if a[0] == "docker-compose" and "restart" in a]
    assert len(restarts) == 3 and all(a[1] == "-p" for a in restarts)
    # readiness: the containers listed while inspecting are inspected directly, v1 as v2 (no compose ps);
    # compose ps -q (v1's form) stays the fallback, unit-tested in tests/test_stackids.py
    assert not [a for a in argvs if a[0] == "docker-compose" and "ps" in a]
    redis_id = container_id(containers[REDIS])
    assert any(a[:1] == ["inspect"] and redis_id in a for a in argvs), argvs
    after = {f: ws.started_at(c) for f, c in containers.items()}
    assert all(after[f] != before[f] for f in containers) and after[REDIS] < after[QUEUE]
    data = json.loads(run.stdout)
    assert [s["status"] for s in data["stacks"]] == ["ok", "ok", "ok"]
    assert data["stacks"][0]["detail"] == "(healthy)"               # health read from docker inspect


def test_v1_named_with_compose_cmd_reports_a_stack_without_containers(v1_available, example_dev_up):
    ws = example_dev_up
    path = ws.stack_file(QUEUE, "dev")
    pid = ws.answer("dev")["pid"]
    ws.stack_compose(QUEUE, "dev", path, "down", "-t", "1")
    try:
        run = restart(ws, "--compose-cmd", V1, "--json")
        assert run.returncode == 1
        status = {s["name"]: s["status"] for s in json.loads(run.stdout)["stacks"]}
        assert status == {"redis": "ok", "queue": "not running", "nginx": "skipped"}
        assert ws.answer("dev")["pid"] == pid
    finally:
        ws.stack_compose(QUEUE, "dev", path, "up", "-d", "--wait")


def test_neither_compose_is_a_config_error(example_dev_up, tmp_path):
    ws = example_dev_up
    shim = only_v1_path(tmp_path / "bin")
    (shim / "docker-compose").write_text("#!/bin/sh\necho 'docker-compose: not installed' >&2\nexit 127\n")
    pid = ws.answer("dev")["pid"]
    run = restart(ws, shim_dir=shim)
    assert run.returncode == 2
    assert "neither `docker compose` (v2) nor `docker-compose` (v1) is installed" in run.stderr
    assert ws.answer("dev")["pid"] == pid
