"""What restart tells people: the dry-run plan, the order, the --json object.

Env-file values never appear here: the plan lists variable NAMES only.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from restart.docker.compose import V2
from restart.docker.steps import step_data
from restart.planning.features import workspace_relative
from restart.planning.plan import Plan, short_label


def _rel(plan: Plan, path: Path) -> str:
    return workspace_relative(plan.settings.workspace)(path)


def render_plan(plan: Plan, pre=None, run=None, why_no_inspection: str = "") -> str:
    """The whole run as numbered steps with the exact commands ``run`` (restart.docker.steps.RunSteps)
    holds: what --dry-run prints is what a run executes.  Secret values are never shown."""
    s = plan.settings
    web = pre.web.name if pre else "<web container>"
    mode = pre.state.mode if pre else "unknown until the web container is inspected"
    compose = run.compose if run else (s.compose_cmd or V2)
    names = plan.env_file.names
    eng = s.engine
    local, remote = ((" [local workspace]", f" [through {eng.label}]") if eng.remote else ("", ""))
    out = [f"plan for {s.product} ({s.env}) in {s.workspace}" + (" [--full]" if s.full else ""),
           f"  compose project {plan.project}: {_rel(plan, plan.compose_file)} (compose: {' '.join(compose)})",
           f"  env file {_rel(plan, plan.env_file.path)}: {len(names)} variables: {', '.join(names) or '-'}",
           f"  web container: {web}" + (f" (found by {pre.web.found_by})" if pre else ""),
           f"  app: {mode}" + (f" — {pre.state.why}" if pre else ""),
           f"  order source: {_rel(plan, plan.uvl) if plan.uvl else 'declared order (no UVL model)'}"]
    if pre and (note := zombie_note(plan, pre)):
        out.append(f"  {note}")
    if eng.remote:
        out.append(f"  engine: {eng.label} (from {eng.source}): feature links act on the local workspace; "
                   "pip, stacks and the app act through the engine")
    if why_no_inspection:
        out.append(f"  (containers not inspected: {why_no_inspection})")
    out += [f"  note: {n}" for n in plan.notes]
    n = 0

    def step(title: str, *lines: str) -> None:
        nonlocal n
        n += 1
        out.append(f"{n}. {title}")
        out.extend(f"     {line}" for line in lines)

    sync = run.sync if run else ()
    links = [st for st in sync if st.kind == "links"]
    pips = [st for st in sync if st.kind == "pip"]
    if not plan.sync:
        step("feature sync: skipped (--no-features)" if s.no_features
             else "feature sync: skipped (no features declared)")
    else:
        if links and links[0].skip:
            step(f"feature links: not written{local} ({links[0].skip})", *links[0].lines)
        else:
            step(f"feature links{local}", *(links[0].lines if links else ["up to date"]))
        if s.full:
            step("pip: skipped with --full (the entrypoint installs features)")
        elif pre:
            step("pip" + remote + ": " + (f"{len(pre.changes)} change(s)" if pre.changes
                                          else "installed features match"),
                 *[c.label() for c in pre.changes], *[st.shown for st in pips])
        else:
            step(f"pip{remote}: compare the installed features in the web container with the declaration")
    stacks = run.stacks if run else ()
    if stacks:
        lines = [f"{st.label}: {st.shown}" + (f"  [{'; '.join(st.reasons)}]" if st.reasons else "")
                 for st in stacks]
        step(f"feature stacks{remote} ({len(stacks)}, up to {s.parallel} at once, each waits until running"
             f"/healthy, {s.health_timeout:g}s max)", *lines)
    else:
        step("feature stacks: none to restart")
    for st in run.app if run else ():
        step(st.title + remote, st.shown)
    if run and run.env_not_applied:
        step(f"report {len(run.env_not_applied)} env-file value(s) the container cannot see "
             f"(main process keeps its creation env): {', '.join(run.env_not_applied)}",
             f"apply with --apply-env or: {run.apply_command}")
    if not run or not run.app:
        step("the app: stop, start and verify, or reload: decided once the web container is inspected")
    return "\n".join(out)


def planned(run, engine) -> list[dict]:
    """--json: every step the run takes (or, for --dry-run, would take), as run."""
    return [step_data(st, engine) for st in run.all] if run else []


def init_fix(plan: Plan, pre) -> str:
    return (f"add `init: true` to service {pre.web.service or pre.web.name} in "
            f"{_rel(plan, plan.compose_file)}")


def zombie_note(plan: Plan, pre) -> str:
    """Zombies restart cannot reap (their parent is a PID 1 that never does), and the fix."""
    st = pre.state
    if not st.zombies and not st.orphans:
        return ""
    pid1 = " ".join(st.pid1) or "PID 1"
    text = f"zombies: {len(st.zombies)} in {pre.web.name} whose parent, PID 1 ({pid1}), never reaps them"
    if st.orphans:
        text += (f"; stopping the app adds {len(st.orphans)} more (pid {', '.join(map(str, st.orphans))}: "
                 "started outside restart, now a child of PID 1)")
    return text + f"; restart cannot reap those: {init_fix(plan, pre)} (restart's own starts leave none)"


def zombie_data(plan: Plan, pre, steps=()) -> dict | None:
    """--json: the zombies under PID 1 before the run, how many stopping adds, and after verify."""
    if pre is None:
        return None
    after = next((o.data["zombies"] for o in steps if o.name == "verify" and "zombies" in o.data), None)
    st = pre.state
    bad = bool(st.zombies or st.orphans or after)
    return {"before": len(st.zombies), "will_add": len(st.orphans), "after": after,
            "pid1": " ".join(st.pid1), "fix": init_fix(plan, pre) if bad else None}


def order_data(plan: Plan) -> dict:
    order = plan.order
    return {
        "product": plan.settings.product, "env": plan.settings.env,
        "uvl": str(plan.uvl) if plan.uvl else None,
        "generations": [list(g) for g in order.generations],
        "edges": [{"before": e.before, "after": e.after, "reason": e.reason, "via": list(e.via)}
                  for e in order.edges],
        "notes": list(order.notes) + list(plan.notes),
        "stacks": [st.feature for st in plan.stacks],
    }


def render_order(plan: Plan, verbose: bool = False) -> str:
    data = order_data(plan)
    source = _rel(plan, plan.uvl) if plan.uvl else "declared order (no UVL model)"
    stacks = set(data["stacks"])
    out = [f"order for {plan.settings.product} ({plan.settings.env}) from {source}:"]
    for i, gen in enumerate(data["generations"], 1):
        out.append(f"  {i}. " + ", ".join(short_label(f) + ("" if f in stacks else " (no stack)") for f in gen))
    if data["edges"]:
        out.append("because:")
        for e in data["edges"]:
            via = f" via {', '.join(e['via'])}" if e["via"] else ""
            out.append(f"  {short_label(e['after'])} after {short_label(e['before'])}{via}  ({e['reason']})")
    if verbose and data["notes"]:
        out.append("imposing no order:")
        out.extend(f"  {n}" for n in data["notes"])
    return "\n".join(out)


def result_data(result) -> dict:
    """The --json object: one per run, whatever the outcome."""
    plan, pre = result.plan, result.inspection
    return {
        "product": plan.settings.product if plan else None,
        "env": plan.settings.env if plan else None,
        "outcome": result.outcome,
        "exit_code": result.exit_code,
        "error": result.error or None,
        "container": pre.web.name if pre else None,
        "mode": pre.state.mode if pre else None,
        "features": [asdict(c) for c in pre.changes] if pre else [],
        "links": [{"action": c.action, "path": str(c.path), "target": c.target} for c in plan.links] if plan else [],
        "planned": planned(result.run, plan.settings.engine) if plan else [],
        "stacks": [_outcome(o) for o in result.stacks],
        "steps": [_outcome(o) for o in result.steps],
        "app": {"pids_before": result.app.pids_before, "pids_after": result.app.pids_after,
                "env_not_applied": result.app.env_not_applied, "env_applied": result.app.env_applied,
                "apply_command": result.app.apply_command or None},
        "log_tail": result.log,
        "warnings": list(pre.warnings) if pre else [],
        "timings": result.timings,
        "lock": result.lock,
        "zombies": zombie_data(plan, pre, result.steps) if plan else None,
    }


def _outcome(o) -> dict:
    return {"name": o.name, "status": o.status, "detail": o.detail, "seconds": round(o.seconds, 3),
            **({"data": o.data} if o.data else {})}
