"""``--watch``: keep running, and on each change of an input restart only what that change needs.

Inputs: the product's env file, ``pyproject.toml``, the UVL model and every declared feature's
compose file.  Each change (a burst of saves within DEBOUNCE_MS is one change) is planned like a
normal run (:func:`restart.planning.plan.build_plan`: every input checked, so a broken file is one
sentence and nothing is touched), compared with the last planned state (:func:`decide`), and the
plan restricted to what changed is handed to :func:`restart.run.run_once`, one call per cycle.

Files are watched with watchfiles (inotify through Rust's notify crate).  Editors save by
writing a new file and renaming it over the old one, which replaces the inode a file watch
would follow, so the parent folders are watched and events are filtered by path.
"""
from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from restart.errors import INTERRUPTED, OK, ConfigError
from restart.planning.features import workspace_relative
from restart.planning.plan import Plan, build_plan, env_file_path, short_label
from restart.planning.settings import Settings
from restart.progress import Progress
from restart.report import result_data
from restart.run import run_once

DEBOUNCE_MS = 300      # a change is over once no event came for this long…
MAX_GROUP_MS = 1600    # …or after this long, however busy the editor is


@dataclass(frozen=True)
class Snapshot:
    """A planned state: the plan, and the bytes of every input file it read (None: absent)."""

    plan: Plan
    files: Mapping[Path, bytes | None]


@dataclass(frozen=True)
class Scope:
    """What one change needs restarted, and one line that says why."""

    why: str
    stacks: frozenset[str] = frozenset()     # packages, closed under dependents
    sync: bool = False
    app: bool = False
    order: tuple[tuple[str, ...], ...] | None = None   # the new generations, when the order changed

    def __or__(self, other: Scope) -> Scope:
        return Scope(f"{other.why}; still pending: {self.why}", self.stacks | other.stacks,
                     self.sync or other.sync, self.app or other.app, other.order or self.order)

    def plan_for(self, plan: Plan) -> Plan:
        return plan.restricted(self.stacks, sync=self.sync)


def input_files(settings: Settings, plan: Plan | None) -> frozenset[Path]:
    """Every file whose change may need a restart (some may not exist yet)."""
    d = settings.product_dir
    files = {d / "pyproject.toml", d / "docker" / ".env"}
    if settings.env == "prod":
        files.add(d / "docker" / ".env.deploy")     # appearing, it replaces .env for prod
    if plan is not None:
        files.add(env_file_path(d, settings.env))
        if plan.uvl is not None:
            files.add(plan.uvl)
        for ref in plan.features:
            docker = ref.root(settings.workspace) / "docker"
            files |= {docker / f"docker-compose.{settings.env}.yml", docker / "docker-compose.yml"}
    return frozenset(files)


def read_files(files) -> dict[Path, bytes | None]:
    out = {}
    for path in files:
        try:
            out[path] = path.read_bytes()
        except OSError:
            out[path] = None
    return out


def watched_dirs(workspace: Path, files) -> frozenset[Path]:
    """The nearest existing folder above each input, never above the workspace.

    A feature folder that does not exist yet is seen appearing in its parent; once it exists
    the watch moves down to it (see :meth:`Watcher.run`).
    """
    dirs = set()
    for path in files:
        folder = path.parent
        while not folder.is_dir() and folder != workspace and workspace in folder.parents:
            folder = folder.parent
        dirs.add(folder if folder.is_dir() else workspace)
    return frozenset(dirs)


def relevant(files, workspace: Path):
    """A filter for event paths: an input file, or a folder on the way to one (a new feature)."""
    ancestors = {a for f in files for a in f.parents if workspace in a.parents}
    wanted = set(files) | ancestors
    return lambda path: path in wanted


def dependents(order, roots) -> set[str]:
    """``roots`` and every feature that needs one of them, transitively."""
    after: dict[str, set[str]] = {}
    for node, needs in order.needs.items():
        for dep in needs:
            after.setdefault(dep, set()).add(node)
    seen, todo = set(), list(roots)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(after.get(node, ()))
    return seen


def decide(old: Snapshot | None, new: Snapshot) -> Scope:
    """What the step from ``old`` to ``new`` needs, by the rules of ``--watch``.

    env file values → the app only; a feature's compose file → that stack, the stacks that need
    it (new order), then the app; pyproject features → sync, the stacks of new or changed
    features and their dependents, then the app; the UVL model alone → the new order is shown,
    nothing restarts (running stacks need no order; the next restart follows it).
    """
    plan = new.plan
    if old is None:
        return Scope("no restart has succeeded yet: the whole product", frozenset(s.feature for s in plan.stacks),
                     sync=True, app=True)
    rel = workspace_relative(plan.settings.workspace)
    why, roots = [], set()
    before, after = old.plan.env_file.values, plan.env_file.values
    env_names = sorted(n for n in set(before) | set(after) if before.get(n) != after.get(n))
    if env_names:
        why.append(f"{rel(plan.env_file.path)}: {', '.join(env_names)} changed")
    elif old.files.get(plan.env_file.path) != new.files.get(plan.env_file.path):
        why.append(f"{rel(plan.env_file.path)} changed, but no value did")

    old_entries = {f.package: f.entry for f in old.plan.features}
    new_entries = {f.package: f.entry for f in plan.features}
    features = [f"+{short_label(p)}" for p in new_entries if p not in old_entries]
    features += [f"-{short_label(p)}" for p in old_entries if p not in new_entries]
    features += [f"{short_label(p)} {old_entries[p]} → {e}" for p, e in new_entries.items()
                 if p in old_entries and old_entries[p] != e]
    sync = bool(features) or bool(plan.links)
    if features:
        why.append(f"{rel(plan.product_dir / 'pyproject.toml')} features: {', '.join(features)}")
        roots |= {p for p in new_entries if old_entries.get(p) != new_entries[p]}
    elif plan.links:
        why.append(f"feature links out of date: {', '.join(c.path.name for c in plan.links)}")

    old_files = {s.feature: s.file for s in old.plan.stacks}
    edited = sorted(s.feature for s in plan.stacks
                    if old_files.get(s.feature) != s.file or old.files.get(s.file) != new.files.get(s.file))
    for package in (p for p in edited if p not in roots):    # a bumped feature's file moved: said above
        stack = next(s for s in plan.stacks if s.feature == package)
        why.append(f"{short_label(package)}'s compose file {rel(stack.file)} changed")
    roots |= set(edited)

    order = None
    old_edges = {(e.before, e.after) for e in old.plan.order.edges}
    new_edges = {(e.before, e.after) for e in plan.order.edges}
    if old_edges != new_edges or old.plan.order.nodes != plan.order.nodes:
        order = plan.order.generations
        shown = " → ".join(", ".join(short_label(n) for n in gen) for gen in order)
        why.append(f"{rel(plan.uvl) if plan.uvl else 'the feature order'}: new order {shown}")

    with_stack = {s.feature for s in plan.stacks}
    stacks = frozenset(dependents(plan.order, roots) & with_stack)
    app = bool(env_names) or sync or bool(stacks)
    if not why:
        why.append("no input changed")
    return Scope("; ".join(why), stacks, sync, app, order)


def describe(scope: Scope, plan: Plan) -> str:
    """``… → restart queue, nginx (needs queue), then the app`` — the one line of why."""
    if not scope.app:
        return f"{scope.why} → nothing to restart"
    parts = []
    if scope.sync:
        parts.append("sync features")
    names = []
    for stack in plan.stacks:
        if stack.feature in scope.stacks:
            needs = sorted(short_label(n) for n in stack.needs & scope.stacks)
            names.append(stack.label + (f" (needs {', '.join(needs)})" if needs else ""))
    if names:
        parts.append("restart " + ", ".join(names))
    parts.append("then the app" if parts else "the app only")
    return f"{scope.why} → {', '.join(parts)}"



@dataclass
class Watcher:
    """The loop: plan, decide, run_once, report; then wait for the next change."""

    settings: Settings
    progress: Progress
    json_lines: bool = False
    runner: object = None
    out: object = None
    state: Snapshot | None = None
    pending: Scope | None = None         # what a failed cycle did not get done: retried with the next
    seen: Mapping[Path, bytes | None] = field(default_factory=dict)
    cycle_no: int = 0
    in_cycle: bool = False
    interrupted: bool = False

    # -- one cycle ------------------------------------------------------------------------
    def plan_now(self) -> tuple[Snapshot | None, str]:
        known = self.state.plan if self.state else None
        try:
            plan = build_plan(self.settings)
        except ConfigError as e:
            self.seen = read_files(input_files(self.settings, known))
            return None, str(e)
        files = read_files(input_files(self.settings, plan))
        self.seen = files
        return Snapshot(plan, files), ""

    def cycle(self, trigger: list[str], first: bool = False) -> int:
        """Plan, decide and run one change; never raises for the user's faults."""
        self.cycle_no += 1
        started = time.monotonic()
        snap, error = self.plan_now()
        if snap is None:
            self.progress.error(f"{error} (nothing was touched; still watching)")
            self.emit({"outcome": "error", "exit_code": ConfigError.exit_code, "error": error,
                       "trigger": trigger, "why": None})
            return ConfigError.exit_code
        scope = decide(None if first else self.state, snap)
        if first:
            scope = Scope("first restart: the whole product", scope.stacks, True, True)
        if self.pending is not None:
            scope = self.pending | scope
        line = describe(scope, snap.plan)
        self.progress.line(f"watch: {line}")
        self.state = snap
        if not scope.app:
            self.pending = None
            self.emit({"outcome": "nothing", "exit_code": OK, "error": None, "trigger": trigger, "why": line,
                       "scope": _scope_data(scope)})
            return OK
        self.in_cycle = True
        try:
            result = run_once(self.settings, self.runner, self.progress, plan=scope.plan_for(snap.plan))
        finally:
            self.in_cycle = False
        result.timings["plan"] = round(time.monotonic() - started - result.timings.get("total", 0), 3)
        result.timings["cycle"] = round(time.monotonic() - started, 3)
        self.pending = None if result.exit_code == OK else scope
        self.report(result)
        self.emit({**result_data(result), "trigger": trigger, "why": line, "scope": _scope_data(scope)})
        return result.exit_code

    def report(self, result) -> None:
        if result.exit_code == OK:
            verify = next((o for o in result.steps if o.name in ("verify", "reload gunicorn") and o.ok), None)
            self.progress.line(f"done in {result.timings.get('cycle', 0):.1f}s" +
                               (f" — {verify.detail}" if verify else "") + "; watching")
            return
        self.progress.error(f"{result.error} (still watching: the next change retries this one)"
                            if result.exit_code != INTERRUPTED else "interrupted")
        for source, lines in result.log.items():
            self.progress.line(f"--- last lines of {source} ---", status="warning")
            for text in lines:
                self.progress.line(f"  {text}")

    def emit(self, data: dict) -> None:
        if self.json_lines:
            data = {"event": "cycle", "cycle": self.cycle_no, **data}
            self._print(data)

    def _print(self, data: dict) -> None:
        out = self.out or sys.stdout
        out.write(json.dumps(data, default=str) + "\n")
        out.flush()

    # -- the loop -------------------------------------------------------------------------
    def on_signal(self, signum, frame) -> None:
        """In a cycle: finish it (the app is never left stopped); a second signal abandons it."""
        if self.in_cycle and not self.interrupted:
            self.interrupted = True
            self.progress.line("interrupt: finishing this cycle so the app is not left stopped, then "
                               "stopping (interrupt again to abandon it)", status="interrupted")
            return
        raise KeyboardInterrupt

    def run(self, first: bool = True) -> int:
        from watchfiles._rust_notify import RustNotify  # watchfiles' documented Rust backend

        ws = self.settings.workspace
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.on_signal)
        try:
            if first:
                self.cycle(["start"], first=True)
            else:
                snap, error = self.plan_now()
                self.state = snap
                if error:
                    self.progress.error(f"{error} (still watching)")
            armed_once = False
            while not self.interrupted:
                files = input_files(self.settings, self.state.plan if self.state else None)
                dirs = watched_dirs(ws, files)
                wanted = relevant(files, ws)
                with RustNotify(sorted(str(d) for d in dirs), False, False, 300, False, True) as notify:
                    # armed: anything that changed since the last look, while nothing watched, counts now
                    missed = [p for p, data in read_files(files).items() if self.seen.get(p, data) != data]
                    if missed:
                        self.cycle(sorted(workspace_relative(ws)(p) for p in missed))
                    if not armed_once:
                        armed_once = True
                        self.progress.line(f"watching {len(files)} inputs in {len(dirs)} folders "
                                           "(Ctrl-C to stop)")
                        if self.json_lines:
                            self._print({"event": "watching", "folders": sorted(str(d) for d in dirs),
                                         "files": sorted(str(f) for f in files)})
                    while not self.interrupted:
                        raw = notify.watch(MAX_GROUP_MS, DEBOUNCE_MS, 0, None)
                        if raw in ("signal", "stop"):
                            raise KeyboardInterrupt
                        if raw == "timeout":
                            continue
                        changed = sorted({Path(p) for _, p in raw if wanted(Path(p))})
                        if not changed:
                            continue
                        self.cycle([workspace_relative(ws)(p) for p in changed])
                        if input_files(self.settings, self.state.plan if self.state else None) != files \
                                or watched_dirs(ws, files) != dirs:
                            break      # a feature came or went, or a folder appeared: watch anew
        except KeyboardInterrupt:
            pass
        return self.stop()

    def stop(self) -> int:
        down = self.pending is not None
        self.progress.line("stopped watching" + (" (the last cycle did not succeed: see above)" if down else
                                                 "; the app was left running"))
        if self.json_lines:
            self._print({"event": "stopped", "exit_code": INTERRUPTED, "last_cycle_ok": not down})
        return INTERRUPTED


def _scope_data(scope: Scope) -> dict:
    return {"stacks": sorted(scope.stacks), "sync": scope.sync, "app": scope.app,
            "order": [list(g) for g in scope.order] if scope.order else None}


def watch(settings: Settings, progress: Progress, *, json_lines: bool = False, first: bool = True,
          runner=None) -> int:
    """Run the watch loop until Ctrl-C (or SIGTERM); returns 130, the interrupted exit code."""
    try:
        import watchfiles._rust_notify  # noqa: F401
    except ImportError:
        raise ConfigError("--watch needs the watchfiles package (pip install watchfiles).") from None
    return Watcher(settings, progress, json_lines, runner).run(first=first)


__all__ = ["watch", "decide", "describe", "Scope", "Snapshot", "input_files", "watched_dirs"]
