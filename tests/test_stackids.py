"""Stack containers listed while inspecting stand in for ``compose ps`` after each restart.

Judged from the fake runner's calls: which docker commands a stack restart made.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from restart.docker.client import V2, Docker
from restart.docker.stackids import stack_containers
from restart.docker.stacks import StackRestarter
from restart.docker.steps import STACK, StackStep
from restart.errors import CommandFailed
from tests.fakes import FakeRunner, ok

PREFIX = (*V2, "-p", "p_redis", "--env-file", "/ws/.env", "-f", "/ws/redis/docker-compose.yml")
REDIS = StackStep(STACK, "redis", "redis", (*PREFIX, "restart"), cwd=Path("/ws/redis"), timeout=130,
                  feature="splent_feature_redis", project="p_redis", base=PREFIX)


def inspect_of(*ids: str):
    def reply(argv):
        wanted = [a for a in argv[2:] if a in ids]
        return ok(json.dumps([{"Id": i, "Name": f"/{i}-name", "State": {"Status": "running"},
                               "Config": {"Labels": {"com.docker.compose.service": "svc"}}} for i in wanted]))
    return reply


def compose_ps(argv):
    return ok(json.dumps({"ID": "new1", "Name": "p_redis-svc-1", "Service": "svc", "State": "running"}))


def compose_calls(runner: FakeRunner, verb: str) -> list:
    return [c for c in runner.calls if c[:2] == V2 and verb in c]


def test_one_docker_ps_lists_every_stack():
    runner = FakeRunner([(("docker", "ps"), ok("aaa\tp_redis\nbbb\tp_queue\nccc\tp_redis\nddd\tother\n"))])
    assert stack_containers(Docker(runner, V2), {"p_redis", "p_queue"}) == {"p_redis": ("aaa", "ccc"),
                                                                              "p_queue": ("bbb",)}
    assert len(runner.calls) == 1 and "label=com.docker.compose.oneoff=False" in runner.calls[0]


def test_a_failing_listing_only_means_no_shortcut():
    runner = FakeRunner([(("docker", "ps"), CommandFailed(("docker",), 1, "boom"))])
    assert stack_containers(Docker(runner, V2), {"p_redis"}) == {}


def test_known_containers_are_inspected_without_compose_ps():
    runner = FakeRunner([(("docker", "inspect"), inspect_of("aaa")), (V2, compose_ps)])
    out = StackRestarter(Docker(runner, V2), health_timeout=5)(replace(REDIS, containers=("aaa",)))
    assert out.status == "ok", out.detail
    assert compose_calls(runner, "ps") == [] and len(compose_calls(runner, "restart")) == 1
    assert ("docker", "inspect", "aaa") in runner.calls


def test_a_known_container_that_is_gone_falls_back_to_compose_ps():
    runner = FakeRunner([(("docker", "inspect"), inspect_of("new1")), (V2, compose_ps)])
    out = StackRestarter(Docker(runner, V2), health_timeout=5)(replace(REDIS, containers=("old1",)))
    assert out.status == "ok", out.detail
    assert len(compose_calls(runner, "ps")) == 1
    assert ("docker", "inspect", "new1") in runner.calls


def test_unknown_stacks_ask_compose_as_before():
    runner = FakeRunner([(("docker", "inspect"), inspect_of("new1")), (V2, compose_ps)])
    out = StackRestarter(Docker(runner, V2), health_timeout=5)(REDIS)
    assert out.status == "ok" and len(compose_calls(runner, "ps")) == 1


def test_the_listing_reaches_the_stack_steps():
    """Inspection's listing becomes each stack step's containers; a stack without one has none."""
    from types import SimpleNamespace

    from restart.docker.steps import stack_steps

    st = SimpleNamespace(project="p_redis", file=Path("/ws/redis/docker-compose.yml"), cwd=Path("/ws/redis"),
                         label="redis", feature="splent_feature_redis", needs=frozenset(), reasons=())
    other = SimpleNamespace(**{**vars(st), "project": "p_queue", "label": "queue"})
    plan = SimpleNamespace(stacks=(st, other), env_file=SimpleNamespace(path=Path("/ws/.env")),
                           settings=SimpleNamespace(timeout=10, workspace=Path("/ws"),
                                                    engine=SimpleNamespace(argv=lambda a: a)))
    steps = stack_steps(plan, V2, {"p_redis": ("aaa", "ccc")})
    assert [s.containers for s in steps] == [("aaa", "ccc"), ()]


def test_the_healthchecks_are_read_with_one_inspect_of_the_listed_containers():
    from restart.docker.stackids import stack_probes

    def reply(argv):
        return ok(json.dumps([
            {"Id": "aaa", "State": {"Status": "running"},
             "Config": {"Healthcheck": {"Test": ["CMD-SHELL", "redis-cli ping"], "Timeout": 3_000_000_000}}},
            {"Id": "bbb", "State": {"Status": "running"}, "Config": {}}]))
    runner = FakeRunner([(("docker", "inspect"), reply)])
    assert stack_probes(Docker(runner, V2), ["aaa", "bbb"]) == {"aaa": (("/bin/sh", "-c", "redis-cli ping"), 3.0)}
    assert runner.calls == [("docker", "inspect", "aaa", "bbb")]
    assert stack_probes(Docker(runner, V2), []) == {} and len(runner.calls) == 1


def test_a_known_healthcheck_runs_at_once_beside_the_state_read():
    """Right after the restart the gate probes while it reads the state (not after): the state
    read here waits (up to 2 s) for the probe to have started, and the probe is not run twice."""
    import threading

    probed = threading.Event()

    def probe(argv):
        probed.set()
        return ok("PONG")

    def inspect(argv):
        waited = probed.wait(2)
        reply = json.dumps([{"Id": "aaa", "Name": "/redis-1", "State": {"Status": "running",
                                                                        "Health": {"Status": "starting"}},
                             "Config": {"Labels": {"com.docker.compose.service": "svc"},
                                        "Healthcheck": {"Test": ["CMD", "redis-cli", "ping"]}}}])
        return ok(reply) if waited else CommandFailed(argv, 1, "the probe had not started")

    runner = FakeRunner([(("docker", "inspect"), inspect), (("docker", "exec"), probe), (V2, compose_ps)])
    step = replace(REDIS, containers=("aaa",), probes=(("aaa", ("redis-cli", "ping"), 3.0),))
    out = StackRestarter(Docker(runner, V2), health_timeout=5)(step)
    assert out.status == "ok" and out.detail == "(healthy)", out.detail
    assert [c for c in runner.calls if c[:2] == ("docker", "exec")] == [("docker", "exec", "aaa", "redis-cli", "ping")]


def test_a_healthcheck_that_fails_at_once_is_run_again_after_a_wait():
    """Not straight away a second time: the redis that said LOADING 1 ms ago says it again."""
    import time

    first: list[float] = []

    def answer(argv):
        first.append(first[0] if first else time.monotonic())
        return CommandFailed(argv, 1, "LOADING") if time.monotonic() - first[0] < 0.1 else ok("PONG")

    def inspect(argv):
        return ok(json.dumps([{"Id": "aaa", "Name": "/redis-1", "State": {"Status": "running",
                                                                          "Health": {"Status": "starting"}},
                               "Config": {"Healthcheck": {"Test": ["CMD", "redis-cli", "ping"]}}}]))

    runner = FakeRunner([(("docker", "inspect"), inspect), (("docker", "exec"), answer)])
    step = replace(REDIS, containers=("aaa",), probes=(("aaa", ("redis-cli", "ping"), 3.0),))
    out = StackRestarter(Docker(runner, V2), health_timeout=5)(step)
    assert out.status == "ok", out.detail
    assert len([c for c in runner.calls if c[:2] == ("docker", "exec")]) == 2
