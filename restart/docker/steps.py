"""The run after inspection, as one value: every step with the argv it runs and the env NAMES it passes.

Built from the plan (the workspace's files) and the inspection (read-only Docker calls), and
nothing else.  ``execute`` walks it, ``--dry-run`` prints it, ``--json`` and ``-v`` report it:
what is shown is what runs, because all of them read this one value
(tests/test_dry_run_docker.py holds a dry run against a real run's logging docker shim).
Env-file values are never here: a step names them; the executor passes the values in the
docker CLI's environment.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from restart.docker import compose as cc
from restart.docker.app import REAPER, REAPER_MARK, START_LOG, env_differences, preloaded
from restart.docker.client import exec_argv
from restart.docker.earlystop import wanted
from restart.docker.locate import EXEC_MANAGED, agent_call
from restart.errors import ConfigError, RestartError
from restart.planning.features import workspace_relative
from restart.planning.pip import pip_calls
from restart.planning.plan import Plan, stack_timeout

LINKS, PIP, STACK = "links", "pip", "stack"
STOP, START, VERIFY, RELOAD, RESTART, RECREATE, VERIFY_ENV = (
    "stop", "start", "verify", "reload", "restart", "recreate", "verify-env")


@dataclass(frozen=True)
class Step:
    """One thing the run does, exactly as it will do it."""

    kind: str                         # LINKS, PIP, STACK, STOP, START, VERIFY, RELOAD, RESTART, RECREATE, VERIFY_ENV
    name: str                         # progress and --json: "feature links", "pip install", "redis", "stop app"
    title: str                        # what --dry-run says the step does
    argv: tuple[str, ...] = ()        # the docker argv, before the engine's ``--context``; () for file work
    env: tuple[str, ...] = ()         # variable NAMES whose values ride in the child's environment
    cwd: Path | None = None
    agent: str = ""                   # the agent command, when the agent's source goes on stdin
    timeout: float | None = None
    shown: str = ""                   # the command for people (the agent's hex arguments decoded)
    lines: tuple[str, ...] = ()       # what the step covers, for --dry-run
    skip: str = ""                    # why it will not run (links a remote engine's container cannot see)


@dataclass(frozen=True)
class LinkStep(Step):
    links: tuple = ()                 # restart.planning.links.LinkChange


@dataclass(frozen=True)
class PipStep(Step):
    verb: str = ""                    # install | uninstall
    packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackStep(Step):
    feature: str = ""                 # package name: the graph's node id
    project: str = ""
    base: tuple[str, ...] = ()        # ``compose -p P --env-file E -f F``: its ps and config -q
    needs: frozenset[str] = frozenset()
    reasons: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()  # its containers, listed while inspecting: watched without compose ps
    probes: tuple[tuple[str, tuple[str, ...], float], ...] = ()   # (id, healthcheck argv, timeout), read then too

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class AppStep(Step):
    target: str = ""                  # the start script, or the container restarted / recreated
    master: int = 0                   # reload: the gunicorn master
    names: tuple[str, ...] = ()       # verify-env: the variables checked in the app's processes
    host_dir: str = ""                # recreate: SPLENT_HOST_PROJECT_DIR for compose's interpolation


@dataclass(frozen=True)
class RunSteps:
    """Everything the run will change, in order: sync, then stacks (a DAG), then the app."""

    compose: tuple[str, ...]
    sync: tuple[Step, ...] = ()
    stacks: tuple[StackStep, ...] = ()
    app: tuple[AppStep, ...] = ()
    preload: str = ""                 # why the container is restarted instead of a SIGHUP reload
    stop_early: bool = False          # dev: the stop step runs beside the last stack restart (earlystop.py)
    env_not_applied: tuple[str, ...] = ()
    apply_command: str = ""           # the ``up -d`` that would apply them (engine included)

    @property
    def all(self) -> tuple[Step, ...]:
        return (*self.sync, *self.stacks, *self.app)


def build_steps(plan: Plan, pre) -> RunSteps:
    """The run's steps from the plan and the inspection (restart.docker.execute.Inspection).

    Raises
    ------
    RestartError
        When the app cannot be restarted the way it runs (a main process that is no gunicorn
        master, --apply-env on a container compose did not create): said before any change.
    """
    compose = (pre.compose if pre else None) or plan.settings.compose_cmd or cc.V2
    stacks = stack_steps(plan, compose, pre.stack_ids if pre else {}, pre.stack_probes if pre else {})
    early = bool(stacks) and pre is not None and wanted(plan.settings.env, pre.state.mode)
    steps, preload, missing, apply = app_steps(plan, pre, compose)
    if early:
        steps = tuple(replace(st, title=st.title + " — in dev, beside the last stack restart (the app cannot serve "
                              "while its stacks are down); a failed last stack gets the app started again")
                      if st.kind == STOP else st for st in steps)
    return RunSteps(compose, sync_steps(plan, pre), stacks, steps, preload=preload, env_not_applied=missing,
                    apply_command=apply, stop_early=early)


def sync_steps(plan: Plan, pre) -> tuple[Step, ...]:
    if not plan.sync:
        return ()
    rel = _rel(plan)
    steps: list[Step] = []
    if plan.links:
        lines = tuple(f"{c.action} {rel(c.path)}" + (f" -> {c.target}" if c.target else "") for c in plan.links)
        steps.append(LinkStep(LINKS, "feature links", "feature links", lines=lines, links=tuple(plan.links),
                              skip=pre.links_skipped if pre else ""))
    web = pre.web.name if pre else "<web container>"
    for call in pip_calls(pre.changes if pre else ()):
        argv = exec_argv(web, call.argv)
        steps.append(PipStep(PIP, f"pip {call.verb}", f"pip {call.verb} {', '.join(call.packages)}", argv,
                             timeout=600, shown=_shown(plan, argv), verb=call.verb, packages=call.packages))
    return tuple(steps)


def stack_steps(plan: Plan, compose: tuple[str, ...], known: dict | None = None,
                probes: dict | None = None) -> tuple[StackStep, ...]:
    """One step a stack; ``known`` (project -> container ids, from inspection) saves a compose ps each,
    ``probes`` (container id -> (healthcheck argv, timeout)) lets the gate probe at once."""
    s, rel = plan.settings, _rel(plan)
    known, probes = known or {}, probes or {}
    steps = []
    for st in plan.stacks:
        base = cc.stack_args(compose, st.project, plan.env_file.path, st.file)
        argv = cc.restart_argv(base, stack_timeout(s))
        steps.append(StackStep(STACK, st.label, st.label, argv, cwd=st.cwd, timeout=s.timeout + 120,
                               shown=f"(cd {rel(st.cwd)} && {_shown(plan, argv)})", feature=st.feature,
                               project=st.project, base=base, needs=st.needs, reasons=st.reasons,
                               containers=(ids := tuple(known.get(st.project, ()))),
                               probes=tuple((i, *probes[i]) for i in ids if i in probes)))
    return tuple(steps)


def app_steps(plan: Plan, pre, compose: tuple[str, ...]) -> tuple:
    """(steps, preload, env_not_applied, apply_command) for the way the app runs."""
    if pre is None:
        return (), "", (), ""
    s, web, state = plan.settings, pre.web, pre.state
    port, path = (s.port, s.probe_path) if s.probe_path else (0, "/")
    probe = f"HTTP :{s.port}{s.probe_path}" if s.probe_path else "process only"
    verify = _agent(plan, VERIFY, "verify", f"verify: app process running and answering ({probe}), "
                    f"{s.start_timeout:g}s max", web, "wait", port, path, s.start_timeout,
                    timeout=s.start_timeout + 30)
    if state.mode == EXEC_MANAGED:
        names = tuple(plan.env_file.names)
        script = f"{pre.product_path}/{plan.start_script}"
        start_argv = exec_argv(web.name, start_command(script), env=names, detach=True, workdir=pre.product_path)
        shown = _shown(plan, start_argv).replace(shlex.quote(REAPER), "<reaper>")
        stop = _agent(plan, STOP, "stop app", "stop the app: SIGTERM flask/watchmedo/gunicorn, SIGKILL after "
                      "the timeout, check none is left", web, "stop", s.timeout, timeout=s.timeout + 30)
        start = AppStep(START, "start", "start (under a parent that reaps the app's processes and exits with it)",
                        start_argv, names, timeout=60, shown=shown, target=script)
        return (stop, start, verify), "", (), ""
    missing = tuple(env_differences(plan.env_file.values, web.env))
    preload = preloaded(state, web.env) if not s.full else ""
    recreate = None
    if web.service:
        recreate = cc.recreate_argv(compose, plan.project, plan.compose_file, web.service)
    if missing and s.apply_env:
        if recreate is None:
            raise RestartError(f"--apply-env: the web container {web.name} was not created by compose (it has "
                               "no service label), so restart cannot recreate it; recreate it yourself.")
        if not pre.compose:
            raise ConfigError("--apply-env needs compose to recreate the web container, and neither "
                              "`docker compose` nor `docker-compose` works here.")
        step = AppStep(RECREATE, "recreate web container", f"recreate the web container {web.name} (service "
                       f"{web.service}) for {len(missing)} changed env value(s): {', '.join(missing)}",
                       recreate, ("SPLENT_HOST_PROJECT_DIR",), plan.compose_file.parent,
                       timeout=s.start_timeout + 120, shown=_shown(plan, recreate), target=web.name,
                       host_dir=s.host_dir_for_compose)
        check = _agent(plan, VERIFY_ENV, "verify env", "verify env: the app's processes hold the env file's "
                       f"values of {', '.join(missing)}", web, "envdiff", *missing, env=missing, names=missing)
        return (step, verify, check), "", (), ""
    if s.full or preload:
        argv = ("docker", "restart", "-t", str(stack_timeout(s)), web.name)
        why = f" ({preload}: SIGHUP would keep the old code)" if preload else ""
        steps = (AppStep(RESTART, "restart container", f"restart the web container (kept, not recreated){why}",
                         argv, timeout=s.timeout + 120, shown=_shown(plan, argv), target=web.name),
                 verify)
    elif not state.masters:
        raise RestartError(f"the app in {web.name} is the container's main process but is not a "
                           "gunicorn master, so it cannot be reloaded gracefully; use --full to "
                           "restart the container.")
    else:
        master = state.masters[0]
        steps = (_agent(plan, RELOAD, "reload gunicorn", "graceful reload: SIGHUP to the gunicorn master, wait "
                        "for new workers", web, "reload", master, s.start_timeout, port, path,
                        timeout=s.start_timeout + 30, master=master),)
    apply = shlex.join(s.engine.argv(recreate or cc.recreate_argv(compose, plan.project, plan.compose_file,
                                                                  web.name)))
    return steps, preload, (missing if not s.apply_env else ()), (apply if missing else "")


def start_command(script: str) -> tuple[str, ...]:
    """The start script under restart's reaper (restart/docker/app.py REAPER says why), its output to START_LOG."""
    return ("python3", "-c", REAPER, REAPER_MARK, START_LOG, "bash", script)


def _agent(plan: Plan, kind: str, name: str, title: str, web, command: str, *args: object,
           timeout: float = 60, env: tuple[str, ...] = (), **fields) -> AppStep:
    """A step that is one agent command; ``shown`` gives its arguments in clear."""
    argv = agent_call(web, command, *args, env=env)
    prefix = shlex.join(plan.settings.engine.argv(exec_argv(web.name, (), env=env, interactive=True)))
    shown = f"{prefix} python3 - <agent on stdin, arguments hex-encoded:> {command} " + " ".join(map(str, args))
    return AppStep(kind, name, title, argv, env, agent=command, timeout=timeout, shown=shown.rstrip(), **fields)


def _shown(plan: Plan, argv: tuple[str, ...]) -> str:
    return shlex.join(plan.settings.engine.argv(argv))


def _rel(plan: Plan):
    return workspace_relative(plan.settings.workspace)


def step_data(step: Step, engine) -> dict:
    """--json: a step as run (the engine's ``--context`` included), env by name."""
    return {"kind": step.kind, "name": step.name, "argv": list(engine.argv(step.argv)) if step.argv else [],
            "env": list(step.env), "cwd": str(step.cwd) if step.cwd else None,
            **({"needs": sorted(step.needs)} if isinstance(step, StackStep) else {}),
            **({"skip": step.skip} if step.skip else {})}
