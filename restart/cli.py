"""``splent-restart``: arguments in, one exit code out.

This is the only place that turns exceptions into exit codes (see EXIT_CODES); nothing else
calls ``sys.exit``.  Heavy imports (networkx, sh, python-dotenv) happen after argument
parsing so that ``--help`` stays instant.
"""
from __future__ import annotations

import argparse
import json
import sys

from restart import __version__
from restart.errors import BUSY, FAILED, INTERRUPTED, OK, USAGE, ConfigError, RestartError

EXIT_CODES = (
    (OK, "success: stacks restarted and the app verified (or --dry-run/--print-order printed)"),
    (FAILED, "a step failed (stack, pip, stop, start, verify) or the product is not up; the message says "
             "what was touched"),
    (USAGE, "usage or configuration error: nothing was touched"),
    (BUSY, "another run is restarting this product and --no-wait was given: nothing was touched"),
    (INTERRUPTED, "interrupted (Ctrl-C, or SIGTERM from kill/timeout): running stack restarts and pip calls "
                  "finished, nothing new started; an "
                  "app already stopped was started and verified first (a second Ctrl-C abandons that and says "
                  "the app is down)"),
)

EPILOG = "exit codes:\n" + "\n".join(f"  {code:<4} {text}" for code, text in EXIT_CODES) + """

environment: WORKING_DIR (workspace), SPLENT_APP (product), SPLENT_ENV (dev|prod),
SPLENT_HOST_PROJECT_DIR (host path of the workspace, when run inside SPLENT's CLI container),
DOCKER_CONTEXT / DOCKER_HOST (the engine, as for docker), NO_COLOR (no colours).
The workspace .env is read for SPLENT_APP and SPLENT_ENV."""


def non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more seconds")
    if value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number of seconds")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return value


def url_path(text: str) -> str:
    if not text.startswith("/") or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"{text!r} must be a URL path starting with '/', without spaces")
    return text


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one sentence, exit 2; no usage dump to scroll past
        self.exit(USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="splent-restart", formatter_class=argparse.RawDescriptionHelpFormatter,
               description="Restart a SPLENT product's Flask app (and its feature stacks) without "
                           "recreating any container.", epilog=EPILOG)
    env = p.add_argument_group("environment and target")
    env.add_argument("--dev", action="store_true", help="use the dev environment")
    env.add_argument("--prod", action="store_true", help="use the prod environment (default: SPLENT_ENV, else dev)")
    env.add_argument("--workspace", metavar="PATH", help="workspace root (default: WORKING_DIR, else the nearest "
                     "folder above with a .env naming SPLENT_APP, else /workspace)")
    env.add_argument("--product", metavar="NAME", help="product (default: SPLENT_APP, else the workspace .env)")
    env.add_argument("--container", metavar="NAME", help="web container (default: found in the product's "
                     "compose project)")
    env.add_argument("--context", metavar="NAME", action="append", help="docker context of the engine to use "
                     "(default: DOCKER_CONTEXT, else DOCKER_HOST, else docker's own); repeat it for a fleet: "
                     "one engine after another, each verified before the next")
    env.add_argument("--fleet", metavar="FILE", help="restart on every docker context listed in FILE (one a "
                     "line, # comments), one after another")
    env.add_argument("--batch", type=positive_int, default=1, metavar="K",
                     help="fleet: restart K hosts at a time (default 1)")
    what = p.add_argument_group("what to restart")
    what.add_argument("--full", action="store_true", help="re-run the whole entrypoint instead of the start "
                      "script (main-process mode: restart the web container); skips pip installs")
    what.add_argument("--only", metavar="FEATURE", action="append", help="restart only this feature's stack "
                      "(repeatable; package, short name or pyproject entry)")
    what.add_argument("--no-features", action="store_true", help="skip feature sync (symlinks and pip)")
    what.add_argument("--keep-going", action="store_true", help="restart the app even if a feature stack failed")
    what.add_argument("--apply-env", action="store_true", help="main-process mode: when the env file differs "
                      "from the running web container, RECREATE that container (compose up -d --no-deps "
                      "--force-recreate <web>) so the app gets the new values; nothing else is recreated")
    loop = p.add_argument_group("watch mode")
    loop.add_argument("--watch", action="store_true", help="restart once, then keep watching the env file, "
                      "pyproject.toml, the UVL model and the feature compose files; each change restarts only "
                      "what it needs (Ctrl-C ends with exit 130, the app left running)")
    loop.add_argument("--watch-only", action="store_true", help="like --watch, without the first restart")
    tune = p.add_argument_group("timing and probes")
    tune.add_argument("--timeout", type=non_negative, default=10.0, metavar="SECONDS",
                      help="stop timeout for stacks (compose restart -t) and app processes (default 10)")
    tune.add_argument("--health-timeout", type=non_negative, default=60.0, metavar="SECONDS",
                      help="how long a restarted stack may take to be running/healthy (default 60)")
    tune.add_argument("--start-timeout", type=non_negative, default=30.0, metavar="SECONDS",
                      help="how long the app may take to answer after its start (default 30)")
    tune.add_argument("--parallel", type=positive_int, default=8, metavar="N",
                      help="restart at most N independent stacks at once (default 8)")
    tune.add_argument("--no-wait", action="store_true", help="if another run is restarting this product, "
                      "exit at once (code 75) instead of waiting for it")
    tune.add_argument("--port", type=port, default=5000, help="app port inside the container (default 5000)")
    tune.add_argument("--probe-path", type=url_path, default="/", metavar="PATH",
                      help="HTTP path probed to verify (default /)")
    tune.add_argument("--no-probe", action="store_true", help="verify only that the app process runs")
    tune.add_argument("--log-file", action="append", metavar="PATH",
                      help="app log in the container to show on failure (repeatable)")
    tune.add_argument("--compose-cmd", metavar="CMD", help='compose command, e.g. "docker compose" or '
                      '"docker-compose" (default: v2 if it works, else v1)')
    out = p.add_argument_group("output")
    out.add_argument("--dry-run", action="store_true", help="print the plan (steps and exact commands, env "
                     "variable names only) and change nothing")
    out.add_argument("--print-order", action="store_true", help="print the feature order and why; needs no Docker")
    out.add_argument("--json", action="store_true", help="one JSON object on stdout (progress stays on stderr); "
                     "with --watch one object per line, per cycle")
    out.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    out.add_argument("-v", "--verbose", action="store_true", help="print every Docker command (secret values masked)")
    out.add_argument("--no-color", action="store_true", help="no colours (also when NO_COLOR is set or not a TTY)")
    out.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def main(argv: list[str] | None = None, *, runner=None) -> int:
    """Run splent-restart; ``runner`` replaces the real ShRunner (tests pass a fake)."""
    args = build_parser().parse_args(argv)
    # restart.* imports wait until the arguments parsed: they pull in sh and python-dotenv,
    # and --help must stay instant.
    from restart.interrupt import sigterm_as_ctrl_c
    from restart.planning.settings import resolve
    from restart.progress import Progress

    sigterm_as_ctrl_c()     # kill, timeout, a CI cancel: the same as Ctrl-C (SPEC, "interrupts")
    progress = Progress(quiet=args.quiet, verbose=args.verbose)    # colour once Settings says so
    try:
        settings = resolve(args)
        progress.use_color(settings.color)
        if args.watch or args.watch_only:
            if args.print_order or args.dry_run:
                raise ConfigError("--watch runs restarts; it cannot be combined with --dry-run or --print-order.")
            if args.fleet or len(args.context or ()) > 1:
                raise ConfigError("--watch follows one engine; it cannot be combined with a fleet "
                                  "(--fleet or several --context).")
            from restart.watch import watch

            return watch(settings, progress, json_lines=args.json, first=not args.watch_only, runner=runner)
        if not args.print_order and (args.fleet or len(args.context or ()) > 1 or args.batch > 1):
            from restart.fleet import main_fleet

            return main_fleet(settings, args, progress, runner)
        if args.print_order:
            from restart.planning.plan import build_plan

            return _print_order(build_plan(settings, order_only=True), args)
        if args.dry_run:
            return _dry_run(settings, args, progress, runner)
    except RestartError as e:
        progress.error(str(e))
        return _finish(None, args, e.exit_code, str(e))
    except KeyboardInterrupt:
        progress.error("interrupted: nothing was changed.")
        return _finish(None, args, INTERRUPTED, "interrupted")
    except Exception as e:  # a bug: say so in one line; the traceback is for -v
        progress.error(f"internal error: {type(e).__name__}: {e} (run with -v for details)")
        if args.verbose:
            import traceback

            traceback.print_exc()
        return _finish(None, args, FAILED, f"internal error: {e}")
    # the read-only calls that need only the settings start now, before the rest of restart is
    # imported and the plan built (restart/docker/lookahead.py)
    from restart.docker.lookahead import look_ahead
    from restart.docker.runner import ShRunner

    ahead = look_ahead(settings, runner or ShRunner(echo=progress.command if progress.verbose else None))
    from restart.run import run_once

    result = run_once(settings, runner, progress, ahead=ahead)
    if result.exit_code == OK:
        _done(result, progress)
    elif result.exit_code == INTERRUPTED and result.error == "interrupted":
        progress.error("interrupted: " + _summary(result))
    else:
        progress.error(result.error)
        for source, lines in result.log.items():
            progress.line(f"--- last lines of {source} ---", status="warning")
            for line in lines:
                progress.line(f"  {line}")
    return _finish(result, args, result.exit_code, result.error)


def _print_order(plan, args) -> int:
    from restart.report import order_data, render_order

    if args.json:
        print(json.dumps(order_data(plan), indent=2))
    else:
        print(render_order(plan, verbose=args.verbose))
    return OK


def _dry_run(settings, args, progress, runner=None) -> int:
    from restart.docker.execute import preview
    from restart.docker.lookahead import look_ahead
    from restart.docker.runner import ShRunner
    from restart.planning.plan import build_plan
    from restart.report import planned, render_plan

    runner = runner or ShRunner(echo=progress.command if args.verbose else None)
    ahead = look_ahead(settings, runner)    # read-only calls only, started while the plan is built
    try:
        plan = build_plan(settings)
    except BaseException:
        ahead.close()
        raise
    s = plan.settings
    pre, run, why = preview(plan, ahead.docker, ahead)
    for warning in pre.warnings if pre else ():
        progress.line(f"! {warning}", status="warning")
    text = render_plan(plan, pre, run, why)
    if args.json:
        from restart.report import order_data, zombie_data

        print(json.dumps({"dry_run": True, "plan": text.splitlines(), "planned": planned(run, s.engine),
                          "order": order_data(plan),
                          "container": pre.web.name if pre else None,
                          "mode": pre.state.mode if pre else None,
                          "features": [c.label() for c in pre.changes] if pre else [],
                          "zombies": zombie_data(plan, pre)}, indent=2))
    else:
        print(text)
    return OK


def _summary(result) -> str:
    if result.inspection is None:
        return "nothing was changed."
    done = [o.name for o in result.stacks + result.steps if o.ok]
    not_done = [f"{o.name} ({o.status})" for o in result.stacks + result.steps if not o.ok]
    parts = [f"done: {', '.join(done)}" if done else "nothing was restarted"]
    if not_done:
        parts.append(f"not done: {', '.join(not_done)}")
    return "; ".join(parts) + "; the app was " + (
        "restarted." if any(o.name == "verify" and o.ok for o in result.steps) else "not restarted.")


def _done(result, progress) -> None:
    s, pre = result.plan.settings, result.inspection
    verify = next((o for o in result.steps if o.name in ("verify", "reload gunicorn") and o.ok), None)
    what = verify.detail if verify else ""
    progress.line(f"done: {s.product} ({s.env}) restarted in {result.timings['total']:.1f}s"
                  f" — {pre.state.mode}, {what}")


def _finish(result, args, code: int, error: str = "") -> int:
    if args.json:
        from restart.report import result_data

        if result is None or result.plan is None:   # stopped while planning: there is no plan to report
            data = {"outcome": "error" if code != INTERRUPTED else "interrupted", "exit_code": code,
                    "error": error or None}
        else:
            data = result_data(result)
        print(json.dumps(data, indent=2, default=str))
    return code


def main_entry() -> None:
    sys.exit(main())


__all__ = ["main", "main_entry", "build_parser", "EXIT_CODES", "ConfigError"]
