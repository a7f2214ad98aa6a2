"""One restart, start to end, as a value: ``run_once(settings, runner, progress) -> RunResult``.

The CLI calls it once; a loop (``--watch``) or a fleet (one engine after another) calls it again
and again.  It never exits the process and never raises for a failure the user should see: the
result carries the exit code, the one-sentence error and the log tail, and the caller decides
how to print them (human lines on stderr, ``--json``).
"""
from __future__ import annotations

import time
import traceback

from restart.docker.execute import RunResult, execute
from restart.docker.lookahead import Lookahead, look_ahead
from restart.docker.runner import Runner, ShRunner, secrets_of
from restart.errors import BUSY, FAILED, INTERRUPTED, OK, RestartError
from restart.lock import RunLock, engine_name, lock_path
from restart.planning.plan import Plan, build_plan
from restart.planning.settings import Settings
from restart.progress import Progress


def run_once(settings: Settings, runner: Runner | None, progress: Progress, *,
             plan: Plan | None = None, ahead: Lookahead | None = None) -> RunResult:
    """Plan (unless ``plan`` is given) and execute one restart.

    Parameters
    ----------
    settings : Settings
        The resolved run.
    runner : Runner or None
        None: a real ShRunner that echoes commands under ``-v`` and masks the env file's secrets.
    progress : Progress
        Where human progress goes.
    plan : Plan, optional
        An already built plan (a caller that planned to decide what to run).
    ahead : Lookahead, optional
        The settings-only inspection, already started (the CLI starts it before importing this
        module); its runner is the run's when ``runner`` is None.  Without one, and without a
        plan, run_once starts its own before planning.

    Returns
    -------
    RunResult
        ``exit_code`` is OK, FAILED, USAGE or INTERRUPTED; ``error`` holds the sentence.
    """
    started = time.monotonic()
    result = RunResult(plan)
    own = runner is None
    runner = runner or (ahead.docker.runner if ahead is not None else
                        ShRunner(echo=progress.command if progress.verbose else None))
    try:
        if plan is None:
            # the read-only calls that need only the settings run while the plan is built
            ahead = ahead or look_ahead(settings, runner)
            plan = build_plan(settings)
            result.plan = plan
            result.timings["plan"] = round(time.monotonic() - started, 3)
        lock = run_lock(plan, progress)
        result.lock = lock.info
        with lock:
            if lock.waited:         # the run we waited for may have changed links, files, the app: look again
                plan = result.plan = build_plan(settings)
                if ahead is not None:
                    ahead.close()
                    ahead = None
            if own:                 # the env file's secret values are known now: -v masks them from here on
                runner.hide(secrets_of(plan.env_file.values))
            execute(plan, runner, progress, result, ahead)
        result.timings["total"] = round(time.monotonic() - started, 3)
        return _ended(result, OK)
    except RestartError as e:
        if progress.verbose:
            traceback.print_exc()
        result.log = result.log or e.log
        return _ended(result, e.exit_code, str(e))
    except KeyboardInterrupt:
        return _ended(result, INTERRUPTED, "interrupted")
    except Exception as e:  # a bug: one line for the user; the traceback is for -v
        if progress.verbose:
            traceback.print_exc()
        return _ended(result, FAILED, f"internal error: {type(e).__name__}: {e} (run with -v for details)")
    finally:
        if ahead is not None:   # unread when the plan or the lock failed; inspect already closed a read one
            ahead.close()


def run_lock(plan: Plan, progress: Progress):
    """The lock of this product on this run's engine (restart/lock.py says where and why)."""
    s = plan.settings
    engine = engine_name(s.engine.context, s.engine.host)
    return RunLock(lock_path(s.workspace, plan.project, engine), plan.project, engine, no_wait=s.no_wait,
                   say=progress.line, warn=lambda text: progress.line(text, status="warning"))


def _ended(result: RunResult, code: int, error: str = "") -> RunResult:
    result.exit_code, result.error = code, error
    result.outcome = {OK: "ok", INTERRUPTED: "interrupted", BUSY: "busy"}.get(code, "failed")
    return result
