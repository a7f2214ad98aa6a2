"""Options reach the engine as the README says, proven without an engine (FakeRunner on a copy of
examples/workspace): --parallel bounds the overlap of compose restarts, two --only features keep
their dependency, SPLENT_HOST_PROJECT_DIR maps paths into the web container, and env values
travel only in the child's environment (argv, --dry-run and -v name them).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from restart.cli import main
from restart.docker.locate import Mount, WebContainer
from restart.errors import CommandFailed
from restart.planning.plan import build_plan
from restart.planning.settings import Settings
from tests.fakes import FakeRunner, agent_command
from tests.restart_helpers import REPO
from tests.test_catalogue import PRODUCT, WEB, container, example_copy, healthy_engine, inspect_reply, ok

REDIS, QUEUE = "splent-io/splent_feature_redis@v1.0.0", "splent-io/splent_feature_queue"
SECRET = "s3cr3t-value-91f2"
# values that appear nowhere else (the product name or /workspace legitimately do, in other roles)
DISTINCTIVE = (SECRET, "plain-9c1d", "Quienes somos (v1); 100% $5", "Hello from dev", "s3cr3t-dev-token")


@pytest.fixture
def ws(tmp_path, monkeypatch):
    return example_copy(tmp_path, monkeypatch)


def restarts(runner: FakeRunner) -> list[tuple[str, ...]]:
    return [c for c in runner.calls if c[:2] == ("docker", "compose") and "restart" in c]


def project_of(argv) -> str:
    return argv[argv.index("-p") + 1] if "-p" in argv else ""


# --- --parallel ----------------------------------------------------------------------------------

def independent_stacks(ws: Path) -> None:
    """redis, queue, notes and nginx with no constraint between them, notes given a stack: 4 at once."""
    uvl = ws / "splent_spl_demo" / "demo_spl.uvl"
    uvl.write_text(uvl.read_text().split("\nconstraints")[0] + "\n")
    (ws / "splent_feature_notes" / "docker").mkdir()
    (ws / "splent_feature_notes" / "docker" / "docker-compose.yml").write_text("services: {}\n")


class Overlap:
    """A compose restart reply that holds each call until a third one runs or a second has passed.

    With the bound kept, two calls overlap and each waits out the second; with it ignored all
    four arrive at once and the third one's arrival is seen at once.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.active = self.most = 0

    def __call__(self, argv):
        if "restart" not in argv:
            return healthy_compose(argv)
        with self.cond:
            self.active += 1
            self.most = max(self.most, self.active)
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.active > 2, timeout=1.0)
            self.active -= 1
        return ok()


def healthy_compose(argv):
    from tests.test_catalogue import compose_reply

    return compose_reply(argv)


@pytest.mark.parametrize("parallel, most", [("2", 2)])
def test_parallel_bounds_overlapping_compose_restarts(ws, capsys, parallel, most):
    independent_stacks(ws)
    overlap = Overlap()
    runner = FakeRunner([(("docker", "compose"), overlap), *healthy_engine(ws)])
    code = main(["--no-features", "--parallel", parallel, "--workspace", str(ws)], runner=runner)
    assert code == 0, capsys.readouterr().err
    assert len(restarts(runner)) == 4
    assert overlap.most == most


def test_parallel_default_runs_four_independent_stacks_at_once(ws, capsys):
    """The check above can see more than 2: without --parallel all four overlap."""
    independent_stacks(ws)
    overlap = Overlap()
    runner = FakeRunner([(("docker", "compose"), overlap), *healthy_engine(ws)])
    assert main(["--no-features", "--workspace", str(ws)], runner=runner) == 0, capsys.readouterr().err
    assert overlap.most >= 3


# --- --only with a dependency --------------------------------------------------------------------

def plan_for(ws: Path, *only: str):
    return build_plan(Settings(workspace=ws, product=PRODUCT, env="dev", no_features=True, only=only))


def test_two_only_features_in_a_dependency_keep_it(ws):
    plan = plan_for(ws, "redis", "queue")
    assert [s.label for s in plan.stacks] == ["redis", "queue"]
    needs = {s.label: set(s.needs) for s in plan.stacks}
    assert needs == {"redis": set(), "queue": {"splent_feature_redis"}}
    again = plan_for(ws, "queue", "redis")                  # the order given does not matter
    assert [(s.label, s.needs) for s in again.stacks] == [(s.label, s.needs) for s in plan.stacks]


def test_two_only_features_restart_in_dependency_order(ws, capsys):
    """queue's compose restart starts only after redis's restart (and its readiness check) ended."""
    runner = FakeRunner(healthy_engine(ws))
    code = main(["--no-features", "--only", "queue", "--only", "redis", "--workspace", str(ws)], runner=runner)
    assert code == 0, capsys.readouterr().err
    calls = runner.calls
    redis = [i for i, c in enumerate(calls) if c[:2] == ("docker", "compose") and "splent_feature_redis" in
             project_of(c)]
    queue = [i for i, c in enumerate(calls) if c[:2] == ("docker", "compose") and "splent_feature_queue" in
             project_of(c) and "restart" in c]
    assert [project_of(c) for c in restarts(runner)] == [f"{PRODUCT}_splent_io_splent_feature_redis_dev",
                                                        f"{PRODUCT}_splent_io_splent_feature_queue_dev"]
    assert max(redis) < queue[0]                            # redis's restart and ps both before queue's


@pytest.mark.parametrize("spelling", ["redis", "splent_feature_redis", REDIS])
def test_only_spellings_select_the_same_stack(ws, spelling):
    plan = plan_for(ws, spelling, QUEUE)
    assert [(s.label, s.project, s.needs) for s in plan.stacks] == [
        (s.label, s.project, s.needs) for s in plan_for(ws, "redis", "queue").stacks]


# --- SPLENT_HOST_PROJECT_DIR -----------------------------------------------------------------------

def web(*mounts: tuple[str, str]) -> WebContainer:
    return WebContainer("w", "id", "web", "test", tuple(Mount(s, d) for s, d in mounts))


def test_container_path_through_the_host_workspace():
    """restart in SPLENT's CLI container sees /workspace; the web container's mount source is the host's."""
    w = web(("/home/me/ws", "/workspace"))
    assert w.container_path(Path("/workspace/demo/scripts/x.sh"), Path("/workspace"), "/home/me/ws") == \
        "/workspace/demo/scripts/x.sh"
    w = web(("/home/me/ws", "/srv/app"))
    assert w.container_path(Path("/workspace/demo/x.sh"), Path("/workspace"), "/home/me/ws") == "/srv/app/demo/x.sh"
    assert w.container_path(Path("/workspace/demo/x.sh"), Path("/workspace")) == "/workspace/demo/x.sh"   # fallback


def test_container_path_longest_mount_wins():
    w = web(("/home/me/ws", "/srv/app"), ("/home/me/ws/demo/src", "/code"), ("/home/me", "/h"))
    assert w.container_path(Path("/ws/demo/src/m.py"), Path("/ws"), "/home/me/ws") == "/code/m.py"
    assert w.container_path(Path("/ws/demo/x.sh"), Path("/ws"), "/home/me/ws") == "/srv/app/demo/x.sh"
    # a sibling whose name only starts like a mount source is not under it
    w = web(("/home/me/ws", "/srv/app"), ("/home/me/ws2", "/other"))
    assert w.container_path(Path("/ws/demo/x.sh"), Path("/ws"), "/home/me/ws") == "/srv/app/demo/x.sh"
    # the local view wins over the host view when both match: the longer source decides
    w = web(("/ws", "/local"), ("/home/me/ws/demo", "/hostdemo"))
    assert w.container_path(Path("/ws/demo/x.sh"), Path("/ws"), "/home/me/ws") == "/hostdemo/x.sh"


def test_host_project_dir_maps_the_start_script_into_the_container(ws, monkeypatch, capsys):
    """The web container mounts the HOST path of the workspace at /app; restart sees it elsewhere."""
    host = "/srv/host-view/ws"
    monkeypatch.setenv("SPLENT_HOST_PROJECT_DIR", host)
    info = container(None)
    info["Mounts"] = [{"Type": "bind", "Source": host, "Destination": "/app", "RW": True}]
    runner = FakeRunner([(("docker", "inspect"), inspect_reply([info])),
                         (("docker", "exec", WEB, "python3", "-m", "pip", "list"), ok("[]")),
                         *healthy_engine(ws)])
    code = main(["--no-features", "--only", "notes", "--workspace", str(ws)], runner=runner)
    assert code == 0, capsys.readouterr().err
    [start] = [c for c in runner.calls if c[:3] == ("docker", "exec", "-d")]
    assert start[-1] == f"/app/{PRODUCT}/scripts/05_0_start_app_dev.sh"
    assert start[start.index("-w") + 1] == f"/app/{PRODUCT}"


# --- env values never on argv ----------------------------------------------------------------------

def secret_env(ws: Path) -> dict[str, str]:
    env = ws / PRODUCT / "docker" / ".env"
    env.write_text(env.read_text() + f'SECRET_TOKEN="{SECRET}"\nPLAIN_VALUE="plain-9c1d"\n')
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(env).items() if v is not None}


def test_start_passes_names_on_argv_and_values_in_the_environment(ws, capsys):
    values = secret_env(ws)
    runner = FakeRunner(healthy_engine(ws))
    assert main(["--no-features", "--only", "notes", "--workspace", str(ws)], runner=runner) == 0
    [i] = [i for i, c in enumerate(runner.calls) if c[:3] == ("docker", "exec", "-d")]
    start = runner.calls[i]
    names = [start[j + 1] for j, a in enumerate(start) if a == "-e"]
    assert names == list(values)                              # every name, by name only
    assert runner.envs[i] == values                           # the values ride in the environment
    for n, (call, env) in enumerate(zip(runner.calls, runner.envs, strict=True)):
        assert not [a for a in call for v in DISTINCTIVE if v in a], call
        assert n == i or not set(env.items()) & set(values.items()), (call, env)   # no other call gets them


def test_dry_run_names_variables_and_shows_no_value(ws, capsys):
    values = secret_env(ws)
    runner = FakeRunner(healthy_engine(ws))
    assert main(["--dry-run", "--workspace", str(ws)], runner=runner) == 0
    out = capsys.readouterr()
    assert "SECRET_TOKEN" in out.out and "PLAIN_VALUE" in out.out
    assert set(DISTINCTIVE[:2]) <= set(values.values())
    assert not [v for v in DISTINCTIVE if v in out.out + out.err]
    assert runner.changing_calls() == []


class FakeSh:
    """Stands in for ``sh.Command`` so the real ShRunner (and its -v echo) runs against FakeRunner."""

    def __init__(self, runner: FakeRunner) -> None:
        self.runner = runner

    def __call__(self, program):
        def run(*args, _env=None, **kw):
            res = self.runner.run((program, *args), env=_env)
            # ShRunner starts in the background and waits; the pid only ever meets a cancelled timer
            return type("Proc", (), {"exit_code": res.code, "stdout": res.stdout, "stderr": res.stderr,
                                     "pid": 2 ** 30, "wait": lambda self: None})()
        return run


def test_verbose_prints_every_command_with_names_only(ws, capsys, monkeypatch):
    import sh

    values = secret_env(ws)
    runner = FakeRunner(healthy_engine(ws))
    monkeypatch.setattr(sh, "Command", FakeSh(runner))
    assert main(["-v", "--no-features", "--only", "notes", "--workspace", str(ws)]) == 0
    err = capsys.readouterr().err
    echoed = [line for line in err.splitlines() if line.startswith("  $ ")]
    assert len(echoed) == len(runner.calls) and any("exec -d" in line and "-e SECRET_TOKEN" in line
                                                    for line in echoed), err
    assert not [v for v in DISTINCTIVE if v in err]
    [i] = [i for i, c in enumerate(runner.calls) if c[:3] == ("docker", "exec", "-d")]
    assert {k: runner.envs[i][k] for k in values} == values   # the real runner hands the values over


# --- stop: SIGKILL reported, survivors refused -----------------------------------------------------

def stop_reply(result: dict):
    return [(("docker", "exec", "-i", WEB, "python3", "-"), lambda argv: ok(json.dumps(result)))]


def stop_step():
    from restart.docker.locate import agent_call
    from restart.docker.steps import STOP, AppStep

    return AppStep(STOP, "stop app", "", agent_call(WebContainer(WEB, "id", "web", "t", ()), "stop", 2),
                   agent="stop", timeout=32)


def test_stop_reports_processes_that_needed_sigkill():
    from restart.docker.app import AppController
    from restart.docker.client import Docker

    ctl = AppController(Docker(FakeRunner(stop_reply({"stopped": [1, 2], "killed": [2], "left": []}))),
                        WebContainer(WEB, "id", "web", "t", ()), port=5000, probe_path="/", start_timeout=3)
    assert ctl.stop(stop_step()).detail == "2 process(es), 1 needed SIGKILL"


def test_stop_refuses_when_a_process_survives_sigkill():
    from restart.docker.app import AppController
    from restart.docker.client import Docker
    from restart.errors import RestartError

    ctl = AppController(Docker(FakeRunner(stop_reply({"stopped": [7], "killed": [7], "left": [7]}))),
                        WebContainer(WEB, "id", "web", "t", ()), port=5000, probe_path="/", start_timeout=3)
    with pytest.raises(RestartError, match=rf"app processes \[7\] in {WEB} survived SIGKILL\."):
        ctl.stop(stop_step())


# --- main-process gunicorn with --preload ----------------------------------------------------------

def gunicorn_agent(master_argv: list[str]):
    """A prod web container whose main process chain is a gunicorn master (pid 1) and 2 workers."""
    status = {"apps": [{"pid": 1, "ppid": 0, "argv": master_argv, "role": "gunicorn", "main": True},
                       {"pid": 8, "ppid": 1, "argv": master_argv, "role": "gunicorn", "main": True}],
              "masters": [1], "pid1": master_argv, "workers": {"1": [8]}}
    answers = {"status": status, "files": {}, "tail": {},
               "inspect": {"status": status, "pip": None, "files": {}},
               "reload": {"ok": True, "before": [8], "after": [9], "status": 200, "seconds": 0.3},
               "wait": {"ok": True, "status": 200, "pids": [1, 9], "seconds": 0.2, "exited": False}}
    return lambda argv: ok(json.dumps(answers[agent_command(argv)[0]]))


GUNICORN = ["/usr/local/bin/python3", "/usr/local/bin/gunicorn", "--bind", "0.0.0.0:5000", "demo_app:create_app()"]


@pytest.mark.parametrize("argv, env, preload", [
    (GUNICORN, [], False),
    (GUNICORN[:2] + ["--preload"] + GUNICORN[2:], [], True),
    (GUNICORN, ["GUNICORN_CMD_ARGS=--workers 2 --preload"], True),
], ids=["plain", "argv", "GUNICORN_CMD_ARGS"])
def test_preloaded_gunicorn_is_restarted_not_reloaded(ws, capsys, argv, env, preload):
    """SIGHUP keeps a --preload master's old code: restart the container instead, and say so."""
    info = container(ws, cmd=("bash", "entrypoints/entrypoint.prod.sh"))
    info["Config"]["Env"] += env
    runner = FakeRunner([(("docker", "inspect"), inspect_reply([info])),
                         (("docker", "exec", "-i", WEB, "python3", "-"), gunicorn_agent(argv)), *healthy_engine(ws)])
    code = main(["--no-features", "--only", "notes", "--json", "--workspace", str(ws)], runner=runner)
    out, err = capsys.readouterr()
    assert code == 0, err
    steps = [s["name"] for s in json.loads(out)["steps"]]
    reloads = [c for c in runner.calls if (agent_command(c) or ("",))[0] == "reload"]
    if preload:
        assert steps == ["restart container", "verify"] and not reloads
        assert ("docker", "restart", "-t", "10", WEB) in runner.calls
        assert "--preload" in err and "SIGHUP reload would keep serving the old code" in err
        dry = main(["--dry-run", "--no-features", "--only", "notes", "--workspace", str(ws)], runner=runner)
        assert dry == 0 and "SIGHUP would keep the old code" in capsys.readouterr().out
    else:
        assert steps == ["reload gunicorn"] and len(reloads) == 1 and "--preload" not in err


# --- the lookahead: read-only calls overlap the planning ----------------------------------------

def _slow_plan(monkeypatch, module, seen_by_plan: list, runner: FakeRunner) -> None:
    """build_plan, as ``module`` calls it, first waits (bounded) for the agent's inspect call."""
    real = build_plan

    def slow(settings, **kw):
        for _ in range(200):
            if any(agent_command(c) and agent_command(c)[0] == "inspect" for c in list(runner.calls)):
                break
            threading.Event().wait(0.01)
        seen_by_plan.extend(list(runner.calls))
        return real(settings, **kw)
    monkeypatch.setattr(module, "build_plan", slow)


@pytest.mark.parametrize("dry_run", [False, True])
def test_settings_only_inspection_runs_while_the_plan_is_built(ws, monkeypatch, dry_run):
    """Engine check, compose detection, web container lookup and the agent's inspect need only the
    settings: they have all run by the time planning ends (a slow plan waits for them, up to 2 s);
    the stack listing and compose file checks, which need the plan, come after."""
    import restart.planning.plan as plan_module
    import restart.run as run_module

    runner = FakeRunner(healthy_engine(ws))
    seen: list = []
    _slow_plan(monkeypatch, plan_module if dry_run else run_module, seen, runner)
    args = ["--no-features", "--workspace", str(ws)] + (["--dry-run"] if dry_run else [])
    assert main(args, runner=runner) == 0
    kinds = {c[:2] for c in seen}
    assert ("docker", "version") in kinds and ("docker", "inspect") in kinds, seen
    assert any(agent_command(c) and agent_command(c)[0] == "inspect" for c in seen), seen
    assert not [c for c in seen if "config" in c or "restart" in c], seen
    assert sum(1 for c in runner.calls if agent_command(c) and agent_command(c)[0] == "inspect") == 1


def test_a_plan_error_is_the_error_even_while_the_engine_is_being_asked(ws, capsys):
    """The lookahead's calls are read-only and their answers unread when the plan fails."""
    (ws / PRODUCT / "pyproject.toml").write_text("[project\n")
    runner = FakeRunner(healthy_engine(ws))
    assert main(["--workspace", str(ws)], runner=runner) == 2
    assert "pyproject.toml" in capsys.readouterr().err
    assert runner.changing_calls() == []


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_plan_error_exits_at_once_while_the_engine_hangs(ws, tmp_path, dry_run):
    """The lookahead's calls to an engine that never answers are killed when the plan fails: the
    error comes at once and the process exits, leaving no docker call behind (judged from outside:
    wall time and the process list), instead of waiting for their 20-60 s timeouts."""
    marker = "987654.25"                             # a sleep no other process runs
    shim = tmp_path / "hung"
    shim.mkdir()
    (shim / "docker").write_text(f"#!/bin/sh\nexec sleep {marker}\n")
    (shim / "docker").chmod(0o755)
    (ws / PRODUCT / "pyproject.toml").write_text("[project\n")
    env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "restart", "--workspace", str(ws), *(["--dry-run"] * dry_run)],
                         env=env, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True).stdout.split()
    for pid in left:                                  # never leave them behind, even when failing
        os.kill(int(pid), signal.SIGKILL)
    assert run.returncode == 2 and "pyproject.toml" in run.stderr, run.stderr
    assert took < 5, f"{took:.1f}s: the exit waited for the hung engine"
    assert left == []


def test_a_run_that_waited_for_the_lock_looks_again(ws, monkeypatch):
    """The run it waited for may have changed the app or the files: what the lookahead saw before
    the lock is thrown away, and the engine, the container and the agent are asked again."""
    import restart.run as run_module

    runner = FakeRunner(healthy_engine(ws))
    entered: list[int] = []

    class Waited:
        waited, info = True, {"waited": 1.0, "holder": None, "took_over": None}

        def __enter__(self):
            entered.append(len(runner.calls))
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(run_module, "run_lock", lambda plan, progress: Waited())
    assert main(["--no-features", "--workspace", str(ws)], runner=runner) == 0
    after = runner.calls[entered[0]:]
    assert ("docker", "version") in {c[:2] for c in after}
    assert [c for c in after if agent_command(c) and agent_command(c)[0] == "inspect"], after


def _agent_inspects(runner: FakeRunner) -> list[tuple[str, str]]:
    """(container, start script path) of every agent inspect call, in order."""
    out = []
    for c in runner.calls:
        agent = agent_command(c)
        if agent and agent[0] == "inspect":
            out.append((c[c.index("python3") - 1], agent[1][1]))
    return out


def test_the_agent_is_asked_before_the_web_container_is_found(ws):
    """SPLENT names the web container <product>_web and mounts the workspace on /workspace: the
    agent's inspect goes there at once, not after the lookup (docker ps, docker inspect), and that
    one answer is used once the lookup agrees."""
    runner = FakeRunner()
    inspect = inspect_reply([container(ws)])
    seen_by_lookup: list[bool] = []

    def slow_inspect(argv):         # the lookup answers only once the agent was asked (up to 2 s)
        for _ in range(200):
            if _agent_inspects(runner):
                break
            threading.Event().wait(0.01)
        seen_by_lookup.append(bool(_agent_inspects(runner)))
        return inspect(argv)

    runner.replies = [(("docker", "inspect"), slow_inspect)] + healthy_engine(ws)
    assert main(["--no-features", "--workspace", str(ws)], runner=runner) == 0
    assert seen_by_lookup[0], "the agent waited for the web container lookup"
    assert _agent_inspects(runner) == [(WEB, f"/workspace/{PRODUCT}/scripts/05_0_start_app_dev.sh")]


def test_a_web_container_named_otherwise_is_asked_again(ws):
    """The guess misses (compose's own name, no container_name): the answer that counts comes from
    the container the lookup found, and the run goes on with it."""
    other = "demo_app_dev-web-1"
    replies = healthy_engine(ws)
    agent = next(reply for prefix, reply in replies if prefix[:4] == ("docker", "exec", "-i", WEB))
    runner = FakeRunner([
        (("docker", "inspect"), inspect_reply([container(ws, name=other, service="web")])),
        (("docker", "exec", "-i", WEB), CommandFailed(("docker",), 1, f"Error: No such container: {WEB}")),
        (("docker", "exec", "-i", other), agent),
        (("docker", "exec", "-d", other), ok()),
    ] + replies)
    assert main(["--no-features", "--workspace", str(ws)], runner=runner) == 0
    script = f"/workspace/{PRODUCT}/scripts/05_0_start_app_dev.sh"
    assert _agent_inspects(runner) == [(WEB, script), (other, script)]
    assert [c for c in runner.calls if c[:3] == ("docker", "exec", "-d")][0][-2:] == ("bash", script)


def test_a_workspace_mounted_elsewhere_is_asked_again_at_the_mapped_path(ws):
    """Same container, another mount: the start script the agent checks is the mapped one."""
    web = container(ws)
    web["Mounts"][0]["Destination"] = "/srv/ws"
    runner = FakeRunner([(("docker", "inspect"), inspect_reply([web]))] + healthy_engine(ws))
    assert main(["--no-features", "--workspace", str(ws)], runner=runner) == 0
    assert _agent_inspects(runner) == [(WEB, f"/workspace/{PRODUCT}/scripts/05_0_start_app_dev.sh"),
                                       (WEB, f"/srv/ws/{PRODUCT}/scripts/05_0_start_app_dev.sh")]


def test_in_prod_the_agent_is_asked_at_once_in_splents_prod_container(ws):
    """SPLENT's prod template names the web container <product>_web_deploy: the look goes there
    first (a dev container of the same product, <product>_web, may be running beside it)."""
    deploy = f"{PRODUCT}_web_deploy"
    replies = healthy_engine(ws)
    agent = next(reply for prefix, reply in replies if prefix[:4] == ("docker", "exec", "-i", WEB))
    runner = FakeRunner([(("docker", "inspect"), inspect_reply([container(ws, name=deploy)])),
                         (("docker", "exec", "-i", deploy), agent)] + replies)
    main(["--prod", "--dry-run", "--no-features", "--workspace", str(ws)], runner=runner)
    assert [name for name, _ in _agent_inspects(runner)] == [deploy]
