"""What ``--dry-run`` shows is what a run executes: the same steps, the same argv.

Both come from one value (restart/docker/steps.py).  Judged from outside: the dry run's reported steps
against the docker calls a logging shim saw during a real run on the engine, for the three ways
a run goes: dev (stop, start, verify), dev ``--full`` (the entrypoint) and prod main-process
(gunicorn reload).  Every changing call the shim saw was planned, every planned step ran, in
order, with exactly the planned argv.
"""
from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.restart_helpers import is_agent, make_shim, restart, set_env_value, shim_argvs

pytestmark = pytest.mark.docker


def changing(argv: list[str]) -> bool:
    """A docker call (as the shim logs it: the words after ``docker``) that changes something."""
    if argv[:1] == ["compose"]:
        return "restart" in argv or "up" in argv
    if argv[:1] == ["restart"] or argv[:2] == ["exec", "-d"]:
        return True
    if argv[:1] == ["exec"] and "pip" in argv:
        return "install" in argv or "uninstall" in argv
    return is_agent("stop")(argv) or is_agent("reload")(argv)


def in_order(wanted: list[list[str]], seen: list[list[str]]) -> bool:
    it = iter(seen)
    return all(any(w == s for s in it) for w in wanted)


@pytest.mark.parametrize("env, args, app_kinds", [
    ("dev", ("--dev",), ["stop", "start", "verify"]),
    ("dev", ("--dev", "--full"), ["stop", "start", "verify"]),
    ("prod", ("--prod",), ["reload"]),
], ids=["dev", "dev-full", "prod-main-process"])
def test_dry_run_is_what_the_run_executes(example, tmp_path, env, args, app_kinds):
    ws = example()
    ws.up(env)
    set_env_value(ws.env_file(env), "GREETING", "planned and done")

    dry = restart(ws, *args, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)["planned"]
    stacks = [p for p in planned if p["kind"] == "stack"]
    app = [p for p in planned if p["kind"] not in ("stack", "links", "pip")]
    assert [p["kind"] for p in app] == app_kinds
    assert len(stacks) == len(ws.stacks(env)) and stacks            # the example's stacks, each a step
    assert all(p["argv"][0] == "docker" for p in planned if p["argv"])

    shim = make_shim(tmp_path / "shim")
    run = restart(ws, *args, "--json", shim_dir=shim)
    assert run.returncode == 0, run.stderr
    seen = shim_argvs(shim)
    want = [p["argv"][1:] for p in planned if p["argv"]]          # the shim logs the words after `docker`
    # every changing call was planned, as often as planned (stack restarts run in parallel: any order)
    assert Counter(map(tuple, filter(changing, seen))) == Counter(tuple(w) for w in want if changing(w))
    # every planned step ran with exactly its argv, the app's steps in order, and the app started (or
    # reloaded) only after every stack restart; in dev the stop may run beside the last stack restart
    assert in_order([p["argv"][1:] for p in app], seen)
    first_app = seen.index(next(p for p in app if p["kind"] != "stop")["argv"][1:])
    assert all(seen.index(s["argv"][1:]) < first_app for s in stacks)
    # the run reports the same steps it was shown
    assert json.loads(run.stdout)["planned"] == planned
    # env passed by name: the start step names the env file's variables, the value is nowhere
    start = next((p for p in app if p["kind"] == "start"), None)
    if start:
        assert "GREETING" in start["env"] and ["-e", "GREETING"] == start["argv"][
            start["argv"].index("GREETING") - 1: start["argv"].index("GREETING") + 1]
        assert ws.answer(env)["env"]["GREETING"] == "planned and done"
    assert "planned and done" not in json.dumps(seen) + dry.stdout + run.stdout
