"""Which containers each feature stack has, read once while inspecting, so that the readiness
check after a ``compose restart`` need not start compose again to ask.

``compose restart`` restarts the containers a project already has; it never creates or removes
one.  So the project's containers, listed read-only before the first change (one ``docker ps``
for every stack at once, beside the other inspection calls), are the ones to watch after its
restart: a cheap ``docker inspect`` of those ids replaces ``compose ps`` (a compose process,
~0.1 s and its start-up CPU) after every restart, on the critical path of a chain.  When the
list is unknown or no longer true (a container went away meanwhile), compose is asked as before.
"""
from __future__ import annotations

from typing import Collection, Sequence

from restart.docker.client import ContainerState, Docker
from restart.errors import RestartError

PROJECT = "com.docker.compose.project"
FORMAT = '{{.ID}}\t{{.Label "com.docker.compose.project"}}'


def stack_containers(docker: Docker, projects: Collection[str]) -> dict[str, tuple[str, ...]]:
    """{project: container ids} for the projects that have containers; {} when docker cannot say.

    Like ``compose ps -a``: every state, one-off containers (``compose run``) left out.
    """
    argv = ("docker", "ps", "-a", "--no-trunc", "--filter", f"label={PROJECT}",
            "--filter", "label=com.docker.compose.oneoff=False", "--format", FORMAT)
    try:
        out = docker.run(argv, timeout=30).stdout
    except RestartError:            # only a shortcut: the readiness check asks compose instead
        return {}
    found: dict[str, list[str]] = {}
    for line in out.splitlines():
        cid, _, project = line.strip().partition("\t")
        if cid and project in projects:
            found.setdefault(project, []).append(cid)
    return {p: tuple(ids) for p, ids in found.items()}


def stack_probes(docker: Docker, ids: Sequence[str]) -> dict[str, tuple[tuple[str, ...], float]]:
    """{container id: (its healthcheck as docker exec argv, its timeout)} for those that declare one.

    Read with one ``docker inspect`` while inspecting, beside the agent call, so that right after
    a stack's restart its healthcheck runs at once, beside the ``docker inspect`` of its state
    (restart/docker/stacks.py) instead of after it.  ``compose restart`` keeps the containers
    and their config, so the healthcheck read before is the one after.  {} when docker cannot say.
    """
    if not ids:
        return {}
    try:
        return {s.id: (s.probe, s.probe_timeout) for s in docker.states(ids) if s.id and s.probe}
    except RestartError:            # only a shortcut: the readiness check reads it after the restart
        return {}


def current_states(docker: Docker, known: Sequence[str] | None, prefix: Sequence[str], cwd) -> list[ContainerState]:
    """The stack's containers as they are now: from the known ids, else (or when one is gone) from
    ``compose ps`` as before; [] when the project has no containers."""
    if known:
        states = docker.states(known)
        if len(states) == len(known) and all(s.state != "removed" for s in states):
            return states
    states = docker.stack_states(prefix, cwd)          # compose knows the project's members
    if states and all(s.id for s in states):
        # compose ps can call a container running that exited meanwhile: decide on docker inspect
        states = docker.states([s.id for s in states]) or states
    return states
