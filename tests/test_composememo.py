"""The compose detection memo: an unchanged install is not asked ``compose version`` again.

Judged from the fake runner's calls, with a PATH and a docker config folder of the test's own, so
"installing", "upgrading" and "removing" compose is touching or deleting files there.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from restart.docker import composememo
from restart.docker.client import V1, V2, Docker
from restart.errors import CommandFailed, ConfigError
from tests.fakes import FakeRunner, ok
from tests.restart_helpers import make_shim, restart, shim_argvs

VERSION = "Docker Compose version v2.40.3"


@pytest.fixture
def install(tmp_path):
    """(workspace, env, plugin): a PATH with a ``docker`` program and a compose v2 CLI plugin."""
    bin_dir, config = tmp_path / "bin", tmp_path / "dot-docker"
    plugin = config / "cli-plugins" / "docker-compose"
    for exe in (bin_dir / "docker", plugin):
        exe.parent.mkdir(parents=True, exist_ok=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "DOCKER_CONFIG": str(config)}
    return tmp_path / "ws", env, plugin


def v2_runner(version: str = VERSION) -> FakeRunner:
    return FakeRunner([((*V2, "version"), ok(version))])


def versions_asked(runner: FakeRunner) -> int:
    return sum(1 for c in runner.calls if c[-1] == "version")


def detect(ws: Path, env: dict, runner: FakeRunner, compose=None) -> Docker:
    docker = Docker(runner, compose)
    composememo.detect_compose(docker, ws, env)
    return docker


def test_an_unchanged_install_is_not_asked_again(install):
    ws, env, _ = install
    first = detect(ws, env, runner := v2_runner())
    assert versions_asked(runner) == 1 and first.compose == V2 and first.compose_version == VERSION
    second = detect(ws, env, runner := v2_runner())
    assert versions_asked(runner) == 0
    assert (second.compose, second.compose_version) == (V2, VERSION)


@pytest.mark.parametrize("change", ["upgrade the plugin", "remove the plugin", "another PATH",
                                    "another docker", "docker's config.json"])
def test_a_changed_install_is_asked_again(install, change):
    ws, env, plugin = install
    detect(ws, env, v2_runner())
    if change == "upgrade the plugin":
        plugin.write_text("#!/bin/sh\n# v2.41\n")
    elif change == "remove the plugin":
        plugin.unlink()
    elif change == "another PATH":
        env = {**env, "PATH": env["PATH"] + os.pathsep + "/opt/bin"}
    elif change == "another docker":
        docker = Path(env["PATH"]) / "docker"
        st = docker.stat()
        os.utime(docker, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    else:
        (Path(env["DOCKER_CONFIG"]) / "config.json").write_text('{"cliPluginsExtraDirs": ["/opt/plugins"]}')
    detect(ws, env, runner := v2_runner("Docker Compose version v2.41.0"))
    assert versions_asked(runner) == 1


def test_a_failed_detection_is_never_stored(install):
    ws, env, _ = install
    missing = CommandFailed(("docker",), 1, "docker: 'compose' is not a docker command.")
    for _ in range(2):
        runner = FakeRunner([((*V2, "version"), missing), ((*V1, "version"), missing)])
        with pytest.raises(ConfigError, match="neither"):
            detect(ws, env, runner)
        assert versions_asked(runner) == 2
    assert not (ws / composememo.FOLDER).exists() or not list((ws / composememo.FOLDER).iterdir())


def test_a_damaged_memo_is_asked_again_and_rewritten(install):
    ws, env, _ = install
    detect(ws, env, v2_runner())
    (memo,) = (ws / composememo.FOLDER).iterdir()
    memo.write_text('{"command": ')
    detect(ws, env, runner := v2_runner())
    assert versions_asked(runner) == 1
    detect(ws, env, runner := v2_runner())
    assert versions_asked(runner) == 0


def test_a_named_compose_command_has_its_own_memo(install):
    """--compose-cmd docker-compose after a run that found v2: asked, never answered with v2."""
    ws, env, _ = install
    detect(ws, env, v2_runner())
    runner = FakeRunner([((*V1, "version"), ok("docker-compose version 1.29.2"))])
    docker = detect(ws, env, runner, compose=V1)
    assert versions_asked(runner) == 1 and docker.compose == V1


def test_an_unwritable_cache_only_means_asking(install):
    ws, env, _ = install
    ws.mkdir()
    (ws / ".splent_cache").write_text("not a folder")
    for _ in range(2):
        detect(ws, env, runner := v2_runner())
        assert versions_asked(runner) == 1


@pytest.mark.docker
def test_on_the_engine_the_second_run_asks_compose_nothing_and_still_restarts(example, tmp_path):
    """Judged from outside: the logging shim sees no ``compose version`` in the second run, whose
    stack restarts still happen (every stack container's start time moves)."""
    ws = example()
    ws.up("dev")
    shim = make_shim(tmp_path / "shim")
    asked = []
    for _ in range(2):
        before = {f: ws.started_at(ws.stack_containers(f, "dev")[0]) for f, _ in ws.stacks("dev")}
        run = restart(ws, "--dev", "-q", shim_dir=shim)
        assert run.returncode == 0, run.stderr
        assert all(ws.started_at(ws.stack_containers(f, "dev")[0]) != t for f, t in before.items())
        asked.append(sum(1 for argv in shim_argvs(shim) if argv[:1] == ["compose"] and argv[-1] == "version"))
        (shim / "argv.log").unlink()
    assert asked == [1, 0]
