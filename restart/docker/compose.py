"""Compose command lines, in one place: v2 (``docker compose``) or v1 (``docker-compose``).

The command itself is decided once per run (``--compose-cmd``, else detected during
inspection: restart/docker/client.py ``detect_compose``); every stack restart, readiness read,
file check and the ``up -d`` restart suggests is built here from it, so a v1 machine never
sees a v2 command line anywhere.
"""
from __future__ import annotations

from pathlib import Path

V2, V1 = ("docker", "compose"), ("docker-compose",)


def stack_args(compose: tuple[str, ...], project: str, env_file: Path, file: Path) -> tuple[str, ...]:
    """``<compose> -p P --env-file E -f F``: how restart addresses a feature stack (its own project,
    the product's env file for interpolation, the feature's compose file)."""
    return (*compose, "-p", project, "--env-file", str(env_file), "-f", str(file))


def restart_argv(base: tuple[str, ...], timeout: int) -> tuple[str, ...]:
    """``compose … restart -t N``: stop and start the stack's containers, never recreate them."""
    return (*base, "restart", "-t", str(timeout))


def config_argv(base: tuple[str, ...]) -> tuple[str, ...]:
    """``compose … config -q``: read-only; fails when compose would reject the file."""
    return (*base, "config", "-q")


def product_args(compose: tuple[str, ...], project: str, file: Path) -> tuple[str, ...]:
    """``<compose> -p P -f F`` for the product's own compose file (its env_file is compose's to read)."""
    return (*compose, "-p", project, "-f", str(file))


def recreate_argv(compose: tuple[str, ...], project: str, file: Path, service: str) -> tuple[str, ...]:
    """``compose -p P -f F up -d --no-deps --force-recreate <web>``: only the web container."""
    return (*product_args(compose, project, file), "up", "-d", "--no-deps", "--force-recreate", service)


def is_v1(compose: tuple[str, ...]) -> bool:
    return bool(compose) and compose[-1] != "compose"
