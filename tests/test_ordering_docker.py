"""Ordering on the real engine: a slow-to-be-healthy dependency holds its dependents back."""
from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.restart_helpers import restart

pytestmark = pytest.mark.docker
REDIS, QUEUE, NGINX = ("splent-io/splent_feature_redis@v1.0.0", "splent-io/splent_feature_queue",
                       "splent-io/splent_feature_nginx@v1.0.0")
SLOW = 4  # seconds redis takes to report healthy after each (re)start

SLOW_COMMAND = (f'command: ["bash", "-c", "rm -f /tmp/ready; (sleep {SLOW}; touch /tmp/ready) & exec redis-server '
                '--save \\"\\" --appendonly no --protected-mode no"]')


def when(stamp: str) -> datetime:
    """docker's StartedAt (nanoseconds, Z) as a datetime."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}")


def test_slow_healthcheck_delays_dependents(example):
    ws = example()
    compose = ws.stack_file(REDIS, "dev")
    text = compose.read_text()
    text = text.replace('command: ["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"]',
                        SLOW_COMMAND)
    text = text.replace('"CMD-SHELL", "redis-cli ping | grep -q PONG"',
                        '"CMD-SHELL", "test -f /tmp/ready && redis-cli ping | grep -q PONG"')
    assert "/tmp/ready" in text and SLOW_COMMAND in text
    compose.write_text(text)
    ws.up("dev")
    run = restart(ws, "--json", "--no-features")
    assert run.returncode == 0, run.stderr
    started = {f: when(ws.started_at(ws.stack_containers(f, "dev")[0])) for f in (REDIS, QUEUE, NGINX)}
    # queue requires redis: it starts only once redis is healthy, i.e. SLOW seconds after redis started
    assert (started[QUEUE] - started[REDIS]).total_seconds() >= SLOW
    assert started[NGINX] > started[QUEUE]
    stacks = {s["name"]: s for s in json.loads(run.stdout)["stacks"]}
    assert stacks["redis"]["seconds"] >= SLOW and stacks["redis"]["detail"] == "(healthy)"


def test_own_healthcheck_run_does_not_wait_for_the_engines_interval(example):
    """redis's healthcheck runs every 30 s: the engine would call it healthy only 30 s after its
    restart. restart runs the same check itself as soon as redis runs, so queue (which needs
    redis) starts within seconds, and only once the check really passes (see the SLOW test)."""
    ws = example()
    compose = ws.stack_file(REDIS, "dev")
    text = compose.read_text()
    assert "interval: 1s" in text
    compose.write_text(text.replace("interval: 1s", "interval: 30s"))
    ws.up("dev")
    run = restart(ws, "--json", "--no-features")
    assert run.returncode == 0, run.stderr
    started = {f: when(ws.started_at(ws.stack_containers(f, "dev")[0])) for f in (REDIS, QUEUE)}
    gap = (started[QUEUE] - started[REDIS]).total_seconds()
    assert 0 < gap < 10, gap
