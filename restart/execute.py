"""Walk a Plan with a Runner: inspect (read-only), sync features, stacks, then the app.

Nothing changes until every read-only check has passed: the web container is found, the way
the app runs is known, the start script exists in the container and the feature changes are
decided.  The first change is a symlink or pip call, then stack restarts, then the app.
"""
from __future__ import annotations

import json
import os
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from restart.app import AppController, AppResult, env_differences, preloaded
from restart.docker import Docker
from restart.errors import CommandFailed, ConfigError, Interrupted, RestartError, last_line
from restart.features import workspace_relative
from restart.interrupt import deferred
from restart.locate import EXEC_MANAGED, AppState, WebContainer, app_state, find_web_container, run_agent
from restart.plan import Plan
from restart.progress import Outcome, Progress
from restart.runner import Runner
from restart.stacks import StackRestarter, run_dag


@dataclass
class Inspection:
    """What the read-only phase learnt; --dry-run shows it too."""

    web: WebContainer
    state: AppState
    compose: tuple[str, ...]
    product_path: str                     # the product dir inside the container
    changes: tuple = ()                   # restart.sync.FeatureChange
    pip_argvs: tuple = ()
    warnings: tuple[str, ...] = ()        # e.g. the product's compose file that compose rejects
    links_skipped: str = ""               # why feature links stay unwritten (a remote engine's container)


@dataclass
class RunResult:
    """Everything --json reports; filled as the run goes, so an interrupt can still report."""

    plan: Plan
    inspection: Inspection | None = None
    steps: list[Outcome] = field(default_factory=list)
    stacks: list[Outcome] = field(default_factory=list)
    app: AppResult = field(default_factory=AppResult)
    outcome: str = "pending"
    exit_code: int = 0
    error: str = ""
    log: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    lock: dict | None = None              # restart.lock.RunLock.info: waited, holder, took_over


def inspect(plan: Plan, docker: Docker) -> Inspection:
    """Read-only Docker calls: engine, compose, web container, app mode, installed features.

    They overlap: the engine check, the compose detection and the container lookup run at
    once, the compose file checks beside the rest, and everything asked inside the web
    container (app processes, the start script, the installed features) is one agent call.
    """
    s = plan.settings
    host_ws = os.environ.get("SPLENT_HOST_PROJECT_DIR")
    sync = not s.no_features and not s.full and plan.features is not None
    with ThreadPoolExecutor(max_workers=min(8, len(plan.stacks) + 3)) as pool:
        engine = pool.submit(docker.check_engine)
        detected = pool.submit(docker.detect_compose) if plan.stacks else None
        found = pool.submit(find_web_container, docker, s.product, plan.project, s.container)
        engine.result()                   # an engine that does not answer is THE error, whatever else failed
        compose = detected.result() if detected else (s.compose_cmd or plan.compose)
        checks = [pool.submit(_compose_config, docker, compose, st, s.workspace) for st in plan.stacks]
        product_check = pool.submit(_product_config, docker, compose, plan)
        web = found.result()
        product_path = web.container_path(plan.product_dir, s.workspace, host_ws)
        script = f"{product_path}/{plan.start_script}"
        facts = run_agent(docker, web, "inspect", "pip" if sync else "-", script)
        state = app_state(web, facts["status"])
        if state.mode == EXEC_MANAGED and not facts["files"][script]["exists"]:
            raise RestartError(f"start script {script} does not exist in container {web.name} "
                               "(is the workspace mounted there?).")
        for check in checks:              # in plan order: the first stack compose rejects is named
            check.result()
        warnings = tuple(w for w in [product_check.result()] if w)
    changes, argvs = (), ()
    if sync:
        from restart.sync import PIP_LIST, REMOVE, diff_features, parse_pip_list, pip_argvs

        if facts["pip"] is None:          # no importlib.metadata in the container (Python < 3.8): ask pip
            listing = docker.exec(web.name, PIP_LIST, timeout=120).stdout
        else:
            listing = json.dumps(facts["pip"])
        installed = parse_pip_list(listing)
        # a stale link names a feature the product declared before: removed even if not splent_feature_*
        known = [c.path.name.partition("@")[0] for c in plan.links if c.action == REMOVE]
        changes = diff_features(plan.features, installed,
                                lambda ref: web.container_path(ref.root(s.workspace), s.workspace, host_ws),
                                known=known)
        argvs = pip_argvs(changes)
    skip = ""
    if s.engine.remote and plan.links and not web.sees(plan.product_dir / "features", s.workspace, host_ws):
        skip = (f"the web container {web.name} on {s.engine.label} does not mount this workspace "
                f"({s.workspace}); its host's checkout keeps its own links")
    return Inspection(web, state, tuple(compose), product_path, tuple(changes), tuple(argvs), warnings, skip)


def _compose_config(docker: Docker, compose: tuple[str, ...], stack, ws) -> None:
    """``compose -p P --env-file E -f F config -q``: read-only, the stack's own restart options.

    A file compose rejects would fail its ``restart`` only after links, pip and other stacks
    were changed; found here, it is a configuration error with nothing touched.
    """
    argv = (*compose, *_options(stack.argv), "config", "-q")
    try:
        docker.run(argv, cwd=stack.cwd, timeout=60)
    except CommandFailed as e:
        raise ConfigError(f"compose rejects the {stack.label} stack's file {workspace_relative(ws)(stack.file)}: "
                          f"{last_line(e.stderr) or e}") from None


def _options(argv: tuple[str, ...]) -> tuple[str, ...]:
    """``-p P --env-file E -f F`` of a stack's restart argv."""
    i = argv.index("-p")
    return argv[i: i + 6]


def _product_config(docker: Docker, compose: tuple[str, ...], plan: Plan) -> str:
    """A warning naming the product's compose file when compose rejects it, else "".

    restart never runs compose on it (it finds containers by label), but the ``up -d`` it
    suggests for env values the container cannot see would fail.  SPLENT_HOST_PROJECT_DIR
    defaults to the workspace, as on the host where the product was brought up.
    """
    file, ws = plan.compose_file, plan.settings.workspace
    if not plan.stacks:                            # compose not detected yet: a product without stacks
        try:                                       # may run with no compose installed at all
            compose = docker.detect_compose()
        except ConfigError:
            return ""
    env = {} if os.environ.get("SPLENT_HOST_PROJECT_DIR") else {"SPLENT_HOST_PROJECT_DIR": str(ws)}
    try:
        docker.run((*compose, "-p", plan.project, "-f", str(file), "config", "-q"), cwd=file.parent,
                   env=env, timeout=60)
    except CommandFailed as e:
        shown = workspace_relative(ws)(file)
        return (f"compose rejects the product's compose file {shown} (the `up -d` restart suggests "
                f"for env changes would fail): {last_line(e.stderr) or e}")
    return ""



def execute(plan: Plan, runner: Runner, progress: Progress, result: RunResult) -> RunResult:
    s = plan.settings
    docker = Docker(runner, s.compose_cmd, s.engine)
    t0 = time.monotonic()
    pre = inspect(plan, docker)
    result.inspection = pre
    if pre.compose != plan.compose:
        plan = plan.with_compose(pre.compose)
        result.plan = plan
    result.timings["inspect"] = round(time.monotonic() - t0, 3)
    progress.line(f"{s.product} ({s.env}): web container {pre.web.name} ({pre.state.mode})")
    for warning in pre.warnings:
        progress.line(f"! {warning}", status="warning")
    for note in plan.env_file.notes:
        progress.line(f"note: {note}", status="warning")

    docker.changing = True          # from here on a fault may leave something half done: exit 1
    _sync(plan, pre, docker, progress, result)
    _stacks(plan, docker, progress, result)
    _app(plan, pre, docker, progress, result)
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


def _sync(plan: Plan, pre: Inspection, docker: Docker, progress: Progress, result: RunResult) -> None:
    if plan.settings.no_features:
        return
    if plan.links and pre.links_skipped:
        out = Outcome("feature links", "skipped", pre.links_skipped)
        result.steps.append(out)
        progress.finish(out)
    elif plan.links:
        from restart.sync import apply_links

        def links() -> Outcome:
            apply_links(plan.links)
            return Outcome("", "ok", ", ".join(f"{c.action} {c.path.name}" for c in plan.links))
        _step(progress, result, "feature links", links)
    for change in pre.changes:
        progress.line(change.label())
    from restart.sync import pip_failure

    for argv in pre.pip_argvs:
        def pip(argv=argv) -> Outcome:
            try:
                docker.exec(pre.web.name, argv, timeout=600)
            except CommandFailed as e:          # pip's error tail goes with it (e.log, shown by the CLI)
                raise pip_failure(pre.web.name, argv, e.stderr, pre.changes) from None
            packages = [c.package for c in pre.changes
                        if (c.package if c.kind == "removed" else c.path) in argv[4:]]
            return Outcome("", "ok", ", ".join(packages))
        with deferred("letting the running pip call finish; nothing else will start",
                      quiet=progress.quiet) as ctrl_c:
            try:
                _step(progress, result, "pip " + argv[3], pip)
            except RestartError as e:
                result.log = getattr(e, "log", {}) or {}
                raise
            except KeyboardInterrupt:
                raise Interrupted(f"interrupted twice: stopped waiting for pip {argv[3]}, which may still be "
                                  f"running in {pre.web.name}; no stack and not the app was restarted.") from None
        if ctrl_c.requested:
            raise KeyboardInterrupt


def _stacks(plan: Plan, docker: Docker, progress: Progress, result: RunResult) -> None:
    if not plan.stacks:
        return
    s = plan.settings
    restarter = StackRestarter(docker, health_timeout=s.health_timeout, timeout=s.timeout)
    run_dag(plan.stacks, restarter, progress, workers=s.parallel, outcomes=result.stacks)
    bad = [o for o in result.stacks if not o.ok]
    if bad and not s.keep_going:
        names = ", ".join(f"{o.name} ({o.status})" for o in bad)
        raise RestartError(f"{len(bad)} feature stack(s) did not restart: {names}; the app was not touched "
                           "(use --keep-going to restart it anyway).")


def _app(plan: Plan, pre: Inspection, docker: Docker, progress: Progress, result: RunResult) -> None:
    s = plan.settings
    ctl = AppController(docker, pre.web, port=s.port, probe_path=s.probe_path, stop_timeout=s.timeout,
                        start_timeout=s.start_timeout, log_files=s.log_files)
    result.app.pids_before = [a["pid"] for a in pre.state.apps]
    with deferred("finishing the app restart so that the app is not left down",
                  quiet=progress.quiet) as ctrl_c:
        try:
            out = _app_steps(plan, pre, ctl, progress, result)
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


def _app_steps(plan: Plan, pre: Inspection, ctl: AppController, progress: Progress, result: RunResult) -> Outcome:
    s = plan.settings
    try:
        if pre.state.mode == EXEC_MANAGED:
            _step(progress, result, "stop app", ctl.stop)
            script = f"{pre.product_path}/{plan.start_script}"
            _step(progress, result, "start", lambda: ctl.start(script, plan.env_file.values, pre.product_path))
            out = _step(progress, result, "verify", ctl.verify)
        else:
            missing = env_differences(plan.env_file.values, pre.web.env)
            # the compose command that created the container: v2 or v1, as detected (cached when stacks ran)
            compose = ctl.docker.detect_compose() if missing else pre.compose
            preload = preloaded(pre.state, pre.web.env) if not s.full else ""
            if missing and s.apply_env:
                out = _apply_env(plan, pre, compose, ctl, progress, result, missing)
            elif s.full or preload:
                if preload:
                    progress.line(f"! {preload}: a SIGHUP reload would keep serving the old code; restarting "
                                  f"the container {pre.web.name} instead", status="warning")
                _step(progress, result, "restart container", ctl.restart_container)
                out = _step(progress, result, "verify", ctl.verify)
            else:
                out = _step(progress, result, "reload gunicorn", lambda: ctl.reload(pre.state))
            if missing and not s.apply_env:
                result.app.env_not_applied = missing
                result.app.apply_command = shlex.join(s.engine.argv(recreate_argv(compose, plan, pre.web)))
                progress.line(f"! {len(missing)} env-file value(s) differ from the running container and were "
                              f"NOT applied (the app is the container's main process): {', '.join(missing)}; "
                              f"apply with --apply-env (recreates the web container) or: "
                              f"{result.app.apply_command}", status="warning")
    except RestartError as e:
        result.log = getattr(e, "log", {}) or {}
        if not result.log and pre.state.mode != EXEC_MANAGED:
            result.log = ctl.container_logs()
        stopped = any(o.name == "stop app" and o.ok for o in result.steps)
        verified = any(o.name == "verify" and o.ok for o in result.steps)
        if stopped and not verified and "the app was stopped" not in str(e):
            probed = any(o.name == "verify" and not o.ok for o in result.steps)   # the app may run: look
            now = _app_now(ctl.docker, pre.web) if probed else "the app was stopped and is not running now."
            down = RestartError(f"{str(e).rstrip('.')}; {now}")
            down.log = result.log
            raise down from None
        raise
    return out


def recreate_argv(compose: tuple[str, ...], plan: Plan, web: WebContainer) -> tuple[str, ...]:
    """``<compose> -p P -f F up -d --no-deps --force-recreate <web service>``: only the web container."""
    return (*compose, "-p", plan.project, "-f", str(plan.compose_file), "up", "-d", "--no-deps",
            "--force-recreate", web.service or web.name)


def host_workspace(plan: Plan) -> str:
    """SPLENT_HOST_PROJECT_DIR, which the product compose file interpolates in its mounts."""
    from restart.settings import read_workspace_env

    return (os.environ.get("SPLENT_HOST_PROJECT_DIR")
            or read_workspace_env(plan.settings.workspace).get("SPLENT_HOST_PROJECT_DIR")
            or str(plan.settings.workspace))


def _apply_env(plan: Plan, pre: Inspection, compose: tuple[str, ...], ctl: AppController, progress: Progress,
               result: RunResult, names: list[str]) -> Outcome:
    """--apply-env: recreate only the web container so its main process gets the env file's values.

    compose reads the product compose file's ``env_file`` itself; restart passes only
    SPLENT_HOST_PROJECT_DIR, through the child's environment (no value on any argv).  Verified
    from inside: the app answers, and its processes' environment holds the env file's values.
    """
    if not pre.web.service:
        raise RestartError(f"--apply-env: the web container {pre.web.name} was not created by compose (it has "
                           "no service label), so restart cannot recreate it; recreate it yourself.")
    argv = recreate_argv(compose, plan, pre.web)
    progress.line(f"--apply-env: recreating the web container {pre.web.name} (service {pre.web.service}) "
                  f"for {len(names)} changed env value(s): {', '.join(names)}")
    _step(progress, result, "recreate web container",
          lambda: ctl.recreate(argv, {"SPLENT_HOST_PROJECT_DIR": host_workspace(plan)}, plan.compose_file.parent))
    out = _step(progress, result, "verify", ctl.verify)
    _step(progress, result, "verify env", lambda: ctl.verify_env(plan.env_file.values, names))
    result.app.env_applied = list(names)
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
