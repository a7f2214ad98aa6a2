"""A rolling restart across Docker engines: one host (or ``--batch K`` hosts) at a time.

Every host is inspected (read-only) before the first one is touched, so a bad input anywhere
(an unreachable engine, a missing context, no web container) stops the fleet with nothing
changed.  Then each host runs one whole restart (:func:`restart.run.run_once`); the next host
starts only once the previous one was verified answering.  The first failure stops the roll:
the hosts after it are left untouched, and the report says which hosts were restarted, which
failed and which were not touched.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TextIO

from restart.docker.client import Docker
from restart.docker.execute import inspect
from restart.docker.runner import ShRunner
from restart.docker.steps import build_steps
from restart.errors import FAILED, INTERRUPTED, OK, USAGE, ConfigError, RestartError
from restart.planning.engine import Engine, read_fleet
from restart.planning.plan import Plan, build_plan
from restart.planning.settings import Settings
from restart.progress import Progress
from restart.report import render_plan, result_data
from restart.run import run_once

RESTARTED, FAILED_HOST, BAD_INPUT, NOT_TOUCHED, INTERRUPTED_HOST = (
    "restarted", "failed", "bad input", "not touched", "interrupted")


@dataclass
class Host:
    """One engine of the fleet and what happened to it."""

    engine: Engine
    plan: Plan
    status: str = NOT_TOUCHED
    error: str = ""
    code: int = OK
    result: object = None            # restart.docker.execute.RunResult once it ran
    inspection: object = None        # restart.docker.execute.Inspection from the read-only pass
    run: object = None               # restart.docker.steps.RunSteps built from it (what --dry-run shows)
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.engine.short


class PrefixedStream:
    """A text stream that writes whole lines, each prefixed with ``[host] ``; threads share the lock."""

    def __init__(self, stream: TextIO, prefix: str, lock: threading.Lock) -> None:
        self.stream, self.prefix, self.lock, self.buffer = stream, prefix, lock, ""

    def write(self, text: str) -> int:
        self.buffer += text
        *lines, self.buffer = self.buffer.split("\n")
        if lines:
            with self.lock:
                self.stream.write("".join(f"{self.prefix}{line}\n" for line in lines))
                self.stream.flush()
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def contexts_of(args) -> list[str]:
    """The fleet's contexts from repeated --context or --fleet FILE (not both); each once."""
    if args.fleet and args.context:
        raise ConfigError("give the fleet either as repeated --context or as --fleet FILE, not both.")
    names = read_fleet(args.fleet) if args.fleet else list(args.context or ())
    if len(names) < 2 and not args.fleet:
        raise ConfigError("--batch restarts several hosts at a time: name them with --context (repeated) "
                          "or --fleet FILE.")
    seen = set()
    for name in names:
        if name in seen:
            raise ConfigError(f'context "{name}" is named twice in the fleet.')
        seen.add(name)
    return names


def main_fleet(settings: Settings, args, progress: Progress, runner=None) -> int:
    """Plan once, inspect every host, then restart host after host (or K at a time)."""
    source = f"--fleet {args.fleet}" if args.fleet else "--context"
    names = contexts_of(args)
    plan = build_plan(settings)
    engines = [Engine(context=name, source=source) for name in names]
    hosts = [Host(engine, _for_engine(plan, engine)) for engine in engines]
    lock = threading.Lock()
    progresses = {h.name: Progress(PrefixedStream(progress.stream, f"[{h.name}] ", lock), color=False,
                                   quiet=progress.quiet, verbose=progress.verbose, tty=False) for h in hosts}
    started = time.monotonic()
    _inspect_all(hosts, runner, progresses)
    if args.dry_run:
        return _dry_run(hosts, args)
    bad = [h for h in hosts if h.status == BAD_INPUT]
    if bad:
        for h in bad:
            progresses[h.name].error(h.error)
        code = max(h.code for h in bad)     # the ConfigError's 2 when there is one, else 1
        error = "; ".join(f"host {h.name}: {h.error}" for h in bad) + " Nothing was restarted on any host."
        return _report(hosts, args, progress, code, error, started)
    return _roll(hosts, args, runner, progress, progresses, started)


def _for_engine(plan: Plan, engine: Engine) -> Plan:
    return replace(plan, settings=replace(plan.settings, engine=engine))


def _inspect_all(hosts: list[Host], runner, progresses: dict) -> None:
    """The read-only pass, all hosts at once: engine, compose, web container, app mode, pip list."""
    def one(h: Host) -> None:
        p = progresses[h.name]
        r = runner or ShRunner(echo=p.command if p.verbose else None)
        try:
            h.inspection = inspect(h.plan, Docker(r, h.plan.settings.compose_cmd, h.engine))
            h.run = build_steps(h.plan, h.inspection)   # an app that cannot be restarted as it runs: before any host
        except RestartError as e:
            h.status, h.error, h.code = BAD_INPUT, str(e), e.exit_code
        except Exception as e:  # a bug: the fleet still reports every host
            h.status, h.error, h.code = BAD_INPUT, f"internal error: {type(e).__name__}: {e}", FAILED

    with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as pool:
        list(pool.map(one, hosts))


def _roll(hosts: list[Host], args, runner, progress: Progress, progresses: dict, started: float) -> int:
    def one(h: Host) -> Host:
        t0 = time.monotonic()
        h.result = run_once(h.plan.settings, runner, progresses[h.name], plan=h.plan)
        h.seconds = time.monotonic() - t0
        h.status = {OK: RESTARTED, INTERRUPTED: INTERRUPTED_HOST}.get(h.result.exit_code, FAILED_HOST)
        h.error, h.code = h.result.error, h.result.exit_code
        p = progresses[h.name]
        if h.status == RESTARTED:
            p.line(f"done: restarted in {h.seconds:.1f}s")
        else:
            p.error(h.error)
            for source, lines in (h.result.log or {}).items():
                p.line(f"--- last lines of {source} ---", status="warning")
                for line in lines:
                    p.line(f"  {line}")
        return h

    batch = max(1, args.batch)
    for i in range(0, len(hosts), batch):
        group = hosts[i:i + batch]
        if len(group) == 1:
            one(group[0])            # in this thread: Ctrl-C reaches run_once as in a single run
        else:
            with ThreadPoolExecutor(max_workers=len(group)) as pool:
                futures = [pool.submit(one, h) for h in group]
                try:
                    for f in futures:
                        f.result()
                except KeyboardInterrupt:
                    progress.line("interrupted: waiting for the hosts being restarted…", status="interrupted")
                    for f in futures:
                        f.result()
                    for h in group:
                        if h.status == RESTARTED:
                            continue
                        h.status = INTERRUPTED_HOST
        if any(h.status != RESTARTED for h in group):
            break
    failed = [h for h in hosts if h.status in (FAILED_HOST, INTERRUPTED_HOST)]
    if not failed:
        return _report(hosts, args, progress, OK, "", started)
    if any(h.status == INTERRUPTED_HOST for h in failed):
        code = INTERRUPTED
    else:
        code = failed[0].code
        if code == USAGE and any(h.status == RESTARTED for h in hosts):
            code = FAILED            # something was touched: not a "nothing changed" usage error
    error = "; ".join(f"host {h.name} {h.status}: {h.error}" for h in failed)
    return _report(hosts, args, progress, code, error, started)


def _report(hosts: list[Host], args, progress: Progress, code: int, error: str, started: float) -> int:
    by = {status: [h.name for h in hosts if h.status == status]
          for status in (RESTARTED, FAILED_HOST, INTERRUPTED_HOST, BAD_INPUT, NOT_TOUCHED)}
    summary = "; ".join(f"{status}: {', '.join(names)}" for status, names in by.items() if names)
    total = time.monotonic() - started
    if code == OK:
        progress.line(f"fleet done: {len(hosts)} host(s) restarted in {total:.1f}s ({summary})")
    else:
        progress.error(f"fleet stopped: {summary}.")
    if args.json:
        data = {"fleet": True, "outcome": "ok" if code == OK else "interrupted" if code == INTERRUPTED
                else "failed" if any(h.status == RESTARTED or h.status == FAILED_HOST for h in hosts) else "error",
                "exit_code": code, "error": error or None, "batch": args.batch,
                "seconds": round(total, 3), "summary": by,
                "hosts": [{"context": h.engine.context, "status": h.status, "error": h.error or None,
                           "exit_code": h.code if h.status != NOT_TOUCHED else None, "seconds": round(h.seconds, 3),
                           "result": result_data(h.result) if h.result is not None and h.result.plan else None}
                          for h in hosts]}
        print(json.dumps(data, indent=2, default=str))
    return code


def _dry_run(hosts: list[Host], args) -> int:
    """The plan of every host, as the single-host --dry-run prints it, one section per host."""
    sections = []
    for h in hosts:
        text = render_plan(h.plan, h.inspection, h.run, h.error)
        sections.append({"context": h.engine.context, "plan": text.splitlines(), "error": h.error or None,
                         "container": h.inspection.web.name if h.inspection else None,
                         "mode": h.inspection.state.mode if h.inspection else None})
    order = "one at a time, each verified before the next" if args.batch == 1 else f"{args.batch} at a time"
    if args.json:
        print(json.dumps({"dry_run": True, "fleet": True, "batch": args.batch, "hosts": sections}, indent=2))
    else:
        print(f"fleet of {len(hosts)} host(s), {order}; stops at the first failure, the rest untouched:")
        for n, section in enumerate(sections, 1):
            print(f"\n== host {n}/{len(hosts)}: [{section['context']}]")
            print("\n".join(section["plan"]))
    return OK
