"""Shared fixtures: the real Docker engine and the example SPLENT workspace on it.

Tests marked ``@pytest.mark.docker`` need the engine that ``scripts/provision`` starts. Without
one they FAIL (CI must not pass without an engine); set ``RESTART_SKIP_DOCKER=1`` to skip them
on purpose (e.g. without root).
"""
from __future__ import annotations

import os
import subprocess

import pytest

from tests.rig import Workspace

SKIP_VARIABLE = "RESTART_SKIP_DOCKER"


def pytest_configure(config):
    config.addinivalue_line("markers", "docker: needs the real Docker engine started by scripts/provision "
                                       f"(opt out with {SKIP_VARIABLE}=1)")


@pytest.fixture(scope="session")
def docker_engine():
    """The Docker engine answers ``docker info``; else fail (skip only with RESTART_SKIP_DOCKER=1)."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1: Docker tests skipped on request")
    try:
        proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"the docker command does not work ({e}); run `bash scripts/provision` as root, "
                    f"or set {SKIP_VARIABLE}=1 to skip the Docker tests", pytrace=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.fail(f"no Docker engine answers `docker info` ({last}); run `bash scripts/provision` as root, "
                    f"or set {SKIP_VARIABLE}=1 to skip the Docker tests", pytrace=False)
    return proc.stdout.strip()


@pytest.fixture(autouse=True)
def _docker_marker_needs_engine(request):
    """Every test marked docker goes through docker_engine (fail without an engine, or skip on opt-out)."""
    if request.node.get_closest_marker("docker"):
        request.getfixturevalue("docker_engine")


def _teardown(workspaces: list[Workspace]) -> None:
    """Down every workspace; then fail (as a teardown error) if anything of theirs is left."""
    left = {}
    for ws in workspaces:
        ws.down()
        if leftovers := ws.leftovers():
            left[ws.product] = leftovers
    assert not left, f"teardown left Docker objects behind: {left}"


@pytest.fixture
def example(docker_engine, tmp_path):
    """Factory: ``example(variant=None, product=None, web_image=None)`` → a fresh Workspace copy
    under tmp_path with a unique product. Every copy is torn down after the test, pass or fail."""
    made: list[Workspace] = []

    def make(variant: str | None = None, product: str | None = None, web_image: str | None = None) -> Workspace:
        ws = Workspace.create(tmp_path / f"ws{len(made)}", product=product, variant=variant, web_image=web_image)
        made.append(ws)
        return ws

    yield make
    _teardown(made)


@pytest.fixture(scope="module")
def example_dev_up(docker_engine, tmp_path_factory):
    """One example brought up in dev for a whole module (tests must leave it as they found it)."""
    ws = Workspace.create(tmp_path_factory.mktemp("ws_dev"))
    try:
        ws.up("dev")
        yield ws
    finally:
        _teardown([ws])


@pytest.fixture(name="ws")
def dev_example_restored(example_dev_up):
    """``ws`` in the dev restart and fault tests: the module's dev example, its env file restored
    after each test. (Modules with a ``ws`` fixture of their own keep theirs.)"""
    env_file = example_dev_up.env_file("dev")
    saved = env_file.read_text()
    yield example_dev_up
    env_file.write_text(saved)
