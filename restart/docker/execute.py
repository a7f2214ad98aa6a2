"""Walk a Plan with a Runner: inspect (read-only), sync features, stacks, then the app.

Nothing changes until every read-only check has passed: the web container is found, the way
the app runs is known, the start script exists in the container and the feature changes are
decided.  The first change is a symlink or pip call, then stack restarts, then the app.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from restart.docker import compose as cc
from restart.docker import composecheck
from restart.docker.app import AppController, AppResult
from restart.docker.client import Docker
from restart.docker.earlystop import EarlyStop
from restart.docker.locate import EXEC_MANAGED, AppState, WebContainer, app_state, run_agent
from restart.docker.lookahead import Lookahead
from restart.docker.runner import Runner
from restart.docker.stackids import stack_containers, stack_probes
from restart.docker.stacks import StackRestarter, run_dag
from restart.docker.steps import (
    RECREATE,
    RELOAD,
    RESTART,
    START,
    STOP,
    VERIFY,
    VERIFY_ENV,
    LinkStep,
    PipStep,
    RunSteps,
    build_steps,
)
from restart.errors import CommandFailed, ConfigError, Interrupted, RestartError, last_line
from restart.interrupt import deferred
from restart.outcome import Outcome
from restart.planning.features import workspace_relative
from restart.planning.links import REMOVE, apply_links
from restart.planning.pip import PIP_LIST, diff_features, parse_pip_list, pip_failure
from restart.planning.plan import Plan
from restart.progress import Progress


@dataclass
class Inspection:
    """What the read-only phase learnt; --dry-run shows it too."""

    web: WebContainer
    state: AppState
    compose: tuple[str, ...] | None       # detected (v2 or v1) or --compose-cmd; None: none works, no stack
    product_path: str                     # the product dir inside the container
    changes: tuple = ()                   # restart.planning.pip.FeatureChange
    warnings: tuple[str, ...] = ()        # e.g. the product's compose file that compose rejects
    links_skipped: str = ""               # why feature links stay unwritten (a remote engine's container)
    stack_ids: dict = field(default_factory=dict)   # project -> container ids (restart/docker/stackids.py)
    stack_probes: dict = field(default_factory=dict)   # container id -> (healthcheck argv, timeout)


@dataclass
class RunResult:
    """Everything --json reports; filled as the run goes, so an interrupt can still report."""

    plan: Plan
    inspection: Inspection | None = None
    run: RunSteps | None = None           # what the run does, built from plan + inspection
    steps: list[Outcome] = field(default_factory=list)
    stacks: list[Outcome] = field(default_factory=list)
    app: AppResult = field(default_factory=AppResult)
    outcome: str = "pending"
    exit_code: int = 0
    error: str = ""
    log: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    lock: dict | None = None              # restart.lock.RunLock.info: waited, holder, took_over


def inspect(plan: Plan, docker: Docker, ahead: Lookahead | None = None) -> Inspection:
    """Read-only Docker calls: engine, compose, web container, app mode, installed features.

    They overlap: the engine check, the compose detection, the container lookup and the agent
    call (app processes, start script and installed features, asked inside the web container
    at once) need only the settings and may already be running (``ahead``, started before the
    plan: restart/docker/lookahead.py); the stacks' container listing and the compose file
    checks run beside them.  Results are read in a fixed order, so the error reported is the
    first that matters: no engine, then no compose, then no web container...
    """
    s = plan.settings
    sync = plan.sync and not s.full
    if ahead is None or ahead.settings is not s:
        if ahead is not None:
            ahead.close()
        ahead = Lookahead(s, docker)
    with ahead:
        pool = ahead.pool
        listed = pool.submit(_stack_listing, docker, {st.project for st in plan.stacks}) if plan.stacks else None
        ahead.engine.result()             # an engine that does not answer is THE error, whatever else failed
        try:
            compose = ahead.compose.result()
        except ConfigError:
            if plan.stacks or s.compose_cmd:
                raise
            compose = None                # a product without stacks may run with no compose at all
        checks = [pool.submit(_compose_config, docker, cc.stack_args(compose, st.project, plan.env_file.path, st.file),
                              st, s.workspace, plan.env_file.path) for st in plan.stacks]
        product_check = pool.submit(_product_config, docker, compose, plan) if compose else None
        web = ahead.web.result()
        product_path, script = ahead.product_path, ahead.script
        facts = ahead.facts.result()
        state = app_state(web, facts["status"])
        if state.mode == EXEC_MANAGED and not facts["files"][script]["exists"]:
            raise RestartError(f"start script {script} does not exist in container {web.name} "
                               "(is the workspace mounted there?).")
        for check in checks:              # in plan order: the first stack compose rejects is named
            check.result()
        warnings = tuple(w for w in [product_check.result() if product_check else ""] if w)
        stack_ids, stack_probes = listed.result() if listed else ({}, {})
    changes = ()
    if sync:
        if facts["pip"] is None:          # no importlib.metadata in the container (Python < 3.8): ask pip
            listing = docker.exec(web.name, PIP_LIST, timeout=120).stdout
        else:
            listing = json.dumps(facts["pip"])
        installed = parse_pip_list(listing)
        # a stale link names a feature the product declared before: removed even if not splent_feature_*
        known = [c.path.name.partition("@")[0] for c in plan.links if c.action == REMOVE]
        changes = diff_features(plan.features, installed,
                                lambda ref: web.container_path(ref.root(s.workspace), s.workspace,
                                                               s.host_project_dir),
                                known=known)
    skip = ""
    if s.engine.remote and plan.links and not web.sees(plan.product_dir / "features", s.workspace,
                                                       s.host_project_dir):
        skip = (f"the web container {web.name} on {s.engine.label} does not mount this workspace "
                f"({s.workspace}); its host's checkout keeps its own links")
    return Inspection(web, state, compose, product_path, tuple(changes), warnings, skip, stack_ids, stack_probes)


def _stack_listing(docker: Docker, projects: set[str]) -> tuple[dict, dict]:
    """The stacks' containers and their healthchecks: one ``docker ps`` and one ``docker inspect``."""
    ids = stack_containers(docker, projects)
    return ids, stack_probes(docker, [i for found in ids.values() for i in found])


def _compose_config(docker: Docker, base: tuple[str, ...], stack, ws, env_file) -> None:
    """``compose -p P --env-file E -f F config -q``: read-only, the stack's own restart options.

    A file compose rejects would fail its ``restart`` only after links, pip and other stacks
    were changed; found here, it is a configuration error with nothing touched.
    """
    try:
        composecheck.check(docker, cc.config_argv(base), cwd=stack.cwd, workspace=ws, files=(stack.file,),
                           env_files=(env_file,))
    except CommandFailed as e:
        raise ConfigError(f"compose rejects the {stack.label} stack's file {workspace_relative(ws)(stack.file)}: "
                          f"{last_line(e.stderr) or e}") from None


def _product_config(docker: Docker, compose: tuple[str, ...], plan: Plan) -> str:
    """A warning naming the product's compose file when compose rejects it, else "".

    restart never runs compose on it (it finds containers by label), but the ``up -d`` it
    suggests for env values the container cannot see would fail.  SPLENT_HOST_PROJECT_DIR is
    what compose would interpolate there (restart/planning/settings.py says where it comes from).
    """
    file, s = plan.compose_file, plan.settings
    try:
        composecheck.check(docker, cc.config_argv(cc.product_args(compose, plan.project, file)), cwd=file.parent,
                           env={"SPLENT_HOST_PROJECT_DIR": s.host_dir_for_compose}, workspace=s.workspace,
                           files=(file,))
    except CommandFailed as e:
        shown = workspace_relative(s.workspace)(file)
        return (f"compose rejects the product's compose file {shown} (the `up -d` restart suggests "
                f"for env changes would fail): {last_line(e.stderr) or e}")
    return ""


def preview(plan: Plan, docker: Docker,
            ahead: Lookahead | None = None) -> tuple[Inspection | None, RunSteps | None, str]:
    """What --dry-run shows: the read-only inspection and the steps a run would take, or why
    they cannot be known (no engine, no container…); never changes anything."""
    try:
        pre = inspect(plan, docker, ahead)
    except RestartError as e:
        return None, None, str(e)
    try:
        return pre, build_steps(plan, pre), ""
    except RestartError as e:
        return pre, None, str(e)


def execute(plan: Plan, runner: Runner, progress: Progress, result: RunResult,
            ahead: Lookahead | None = None) -> RunResult:
    """Inspect (read-only; ``ahead`` may have started that before the plan), build the run's
    steps, then walk them: sync, stacks, the app."""
    s = plan.settings
    docker = ahead.docker if ahead is not None else Docker(runner, s.compose_cmd, s.engine)
    t0 = time.monotonic()
    pre = inspect(plan, docker, ahead)
    result.inspection = pre
    run = result.run = build_steps(plan, pre)
    result.timings["inspect"] = round(time.monotonic() - t0, 3)
    progress.line(f"{s.product} ({s.env}): web container {pre.web.name} ({pre.state.mode})")
    for warning in pre.warnings:
        progress.line(f"! {warning}", status="warning")
    for note in plan.env_file.notes:
        progress.line(f"note: {note}", status="warning")

    ctl = AppController(docker, pre.web, port=s.port, probe_path=s.probe_path, start_timeout=s.start_timeout,
                        log_files=s.log_files)
    early = None
    if run.stop_early:      # dev: the stop runs beside the last stack restart (restart/docker/earlystop.py)
        stop = next(st for st in run.app if st.kind == STOP)
        early = EarlyStop(lambda: ctl.stop(stop))
    try:
        _sync(run, pre, docker, progress, result)
        try:
            _stacks(run, s, docker, progress, result, early)
        except (RestartError, KeyboardInterrupt):
            if early is not None and early.fired:   # the app was stopped beside the last stacks: never leave it down
                _app(plan, run, pre, ctl, progress, result, early)
            raise
        _app(plan, run, pre, ctl, progress, result, early)
    except ConfigError as e:        # e.g. the engine went away: after the first change, exit 1, not 2
        raise RestartError(str(e), log=e.log) from None
    bad = [o for o in result.stacks if not o.ok]
    if bad:  # only reachable with --keep-going: the app runs, but the run was not a success
        names = ", ".join(f"{o.name} ({o.status})" for o in bad)
        raise RestartError(f"{len(bad)} feature stack(s) did not restart: {names}; the app was restarted "
                           "anyway (--keep-going).")
    result.outcome = "ok"
    return result


def _step(progress: Progress, result: RunResult, name: str, fn) -> Outcome:
    progress.start(name)
    started = time.monotonic()
    try:
        out = fn()
    except RestartError as e:
        out = Outcome(name, "failed", str(e), time.monotonic() - started)
        result.steps.append(out)
        progress.finish(out)
        raise
    out.name = name
    result.steps.append(out)
    progress.finish(out)
    return out


def _sync(run: RunSteps, pre: Inspection, docker: Docker, progress: Progress, result: RunResult) -> None:
    for step in (s for s in run.sync if isinstance(s, LinkStep)):
        if step.skip:
            out = Outcome(step.name, "skipped", step.skip)
            result.steps.append(out)
            progress.finish(out)
            continue

        def links(step=step) -> Outcome:
            apply_links(step.links)
            return Outcome("", "ok", ", ".join(f"{c.action} {c.path.name}" for c in step.links))
        _step(progress, result, step.name, links)
    for change in pre.changes:
        progress.line(change.label())
    for step in (s for s in run.sync if isinstance(s, PipStep)):
        def pip(step=step) -> Outcome:
            try:
                docker.run(step.argv, timeout=step.timeout)
            except CommandFailed as e:          # pip's error tail goes with it (e.log, shown by the CLI)
                raise pip_failure(pre.web.name, step.verb, step.packages, e.stderr) from None
            return Outcome("", "ok", ", ".join(step.packages))
        with deferred("letting the running pip call finish; nothing else will start",
                      quiet=progress.quiet) as ctrl_c:
            try:
                _step(progress, result, step.name, pip)
            except RestartError as e:
                result.log = e.log
                raise
            except KeyboardInterrupt:
                raise Interrupted(f"interrupted twice: stopped waiting for {step.name}, which may still be "
                                  f"running in {pre.web.name}; no stack and not the app was restarted.") from None
        if ctrl_c.requested:
            raise KeyboardInterrupt


def _stacks(run: RunSteps, s, docker: Docker, progress: Progress, result: RunResult,
            early: EarlyStop | None = None) -> None:
    if not run.stacks:
        return
    restarter = StackRestarter(docker, health_timeout=s.health_timeout)
    run_dag(run.stacks, restarter, progress, workers=s.parallel, outcomes=result.stacks,
            on_last_started=early.fire if early is not None else None)
    bad = [o for o in result.stacks if not o.ok]
    if bad and not s.keep_going:
        names = ", ".join(f"{o.name} ({o.status})" for o in bad)
        if early is not None and early.fired:
            raise RestartError(f"{len(bad)} feature stack(s) did not restart: {names}; the app, stopped beside the "
                               "last stack restart (dev), was started again.")
        raise RestartError(f"{len(bad)} feature stack(s) did not restart: {names}; the app was not touched "
                           "(use --keep-going to restart it anyway).")


def _app(plan: Plan, run: RunSteps, pre: Inspection, ctl: AppController, progress: Progress, result: RunResult,
         early: EarlyStop | None = None) -> None:
    result.app.pids_before = [a["pid"] for a in pre.state.apps]
    with deferred("finishing the app restart so that the app is not left down",
                  quiet=progress.quiet) as ctrl_c:
        try:
            out = _app_steps(plan, run, pre, ctl, progress, result, early)
        except KeyboardInterrupt:   # the second Ctrl-C: say plainly what is left
            done = {o.name for o in result.steps if o.ok}
            if "verify" in done or "reload gunicorn" in done:
                state = "the app was restarted"
            elif "start" in done:
                state = "the app was started but not verified; it may not be running"
            elif "stop app" in done:
                state = "the app was stopped and is DOWN now (run splent-restart again to start it)"
            else:
                state = "the app may be down (run splent-restart again to start it)"
            raise Interrupted(f"interrupted twice: the app restart was abandoned; {state}.") from None
    result.app.pids_after = out.data.get("pids") or out.data.get("workers_after") or []
    if ctrl_c.requested:
        raise KeyboardInterrupt


def _app_steps(plan: Plan, run: RunSteps, pre: Inspection, ctl: AppController, progress: Progress,
               result: RunResult, early: EarlyStop | None = None) -> Outcome:
    """Walk the app's steps; a failure after the app was stopped says whether it runs now."""
    values = plan.env_file.values
    stop = (lambda st: early.outcome()) if early is not None and early.fired else ctl.stop
    actions = {STOP: stop, START: lambda st: ctl.start(st, {n: values[n] for n in st.env}),
               VERIFY: ctl.verify, RELOAD: ctl.reload, RESTART: ctl.restart_container, RECREATE: ctl.recreate,
               VERIFY_ENV: lambda st: ctl.verify_env(st, values)}
    if run.preload:
        progress.line(f"! {run.preload}: a SIGHUP reload would keep serving the old code; restarting "
                      f"the container {pre.web.name} instead", status="warning")
    if any(st.kind == RECREATE for st in run.app):
        names = next(st.names for st in run.app if st.kind == VERIFY_ENV)
        progress.line(f"--apply-env: recreating the web container {pre.web.name} (service {pre.web.service}) "
                      f"for {len(names)} changed env value(s): {', '.join(names)}")
    stopped = False
    out = Outcome("", "ok")
    try:
        for step in run.app:
            out = _step(progress, result, step.name, lambda step=step: actions[step.kind](step))
            stopped = stopped or step.kind == STOP
            if step.kind == VERIFY_ENV:
                result.app.env_applied = list(step.names)
    except RestartError as e:
        result.log = e.log
        if not result.log and pre.state.mode != EXEC_MANAGED:
            result.log = ctl.container_logs()
        if stopped and not any(o.name == "verify" and o.ok for o in result.steps):
            probed = any(o.name == "verify" and not o.ok for o in result.steps)   # the app may run: look
            now = _app_now(ctl.docker, pre.web) if probed else "the app was stopped and is not running now."
            raise RestartError(f"{str(e).rstrip('.')}; {now}", log=result.log) from None
        raise
    if run.env_not_applied:
        missing = run.env_not_applied
        result.app.env_not_applied, result.app.apply_command = list(missing), run.apply_command
        progress.line(f"! {len(missing)} env-file value(s) differ from the running container and were "
                      f"NOT applied (the app is the container's main process): {', '.join(missing)}; "
                      f"apply with --apply-env (recreates the web container) or: "
                      f"{run.apply_command}", status="warning")
    return out


def _app_now(docker: Docker, web: WebContainer) -> str:
    """The end of the failure sentence, after one more look: a failed probe is not a dead app."""
    try:
        pids = [a["pid"] for a in run_agent(docker, web, "status")["apps"]]
    except RestartError:
        return "the app was stopped; whether it runs now is unknown."
    if pids:
        return (f"the app was stopped and started again (pid {', '.join(map(str, pids[:3]))} runs now) "
                "but could not be verified.")
    return "the app was stopped and is not running now."
