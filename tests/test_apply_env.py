"""--apply-env without an engine: the exact recreate call, what travels in its environment, the
detected compose command in the suggestion (v1 here), and no env value on any argv."""
from __future__ import annotations

import json
import shutil

import pytest
from dotenv import dotenv_values

from restart.cli import main
from restart.errors import CommandFailed
from tests.fakes import FakeRunner, agent_command
from tests.rig import skip_run_state
from tests.test_catalogue import EXAMPLE, container, inspect_reply, ok

WEB = "demo_app_web_deploy"
NEW = "a new greeting; $(id)"


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root, symlinks=True, ignore=skip_run_state)
    env = root / "demo_app" / "docker" / ".env.deploy"
    env.write_text(env.read_text().replace('GREETING="Hello from prod"', f'GREETING="{NEW}"'))
    return root


def prod_engine(ws, envdiff=()):
    entrypoint = ("bash", "-c", "bash /workspace/demo_app/entrypoints/entrypoint.prod.sh")
    web = container(None, WEB, cid="c-web", cmd=entrypoint)
    stack = container(None, "svc", cid="c-stack")          # every feature stack: one running container
    values = dotenv_values(ws / "demo_app" / "docker" / ".env.deploy")
    web["Config"]["Env"] = [f"{k}={v}" for k, v in {**values, "GREETING": "Hello from prod"}.items()]
    web["Config"]["Labels"]["com.docker.compose.project"] = "demo_app_prod"
    web["Mounts"] = [{"Type": "bind", "Source": str(ws / "demo_app"), "Destination": "/workspace/demo_app"}]

    status = {"apps": [{"pid": 1, "ppid": 0, "argv": ["gunicorn"], "role": "gunicorn", "main": True}],
              "masters": [1], "pid1": ["gunicorn"], "workers": {"1": [7, 8]}}

    def agent(argv):
        cmd, rest = agent_command(argv)
        return ok(json.dumps({
            "status": status,
            "inspect": {"status": status, "pip": None, "files": {p: {"exists": True} for p in rest[1:]}},
            "reload": {"ok": True, "before": [7, 8], "after": [9, 10], "status": 200, "seconds": 0.5},
            "wait": {"ok": True, "status": 200, "pids": [1, 11], "seconds": 0.3, "exited": False},
            "envdiff": {"pids": [1, 11], "differ": list(envdiff)},
            "tail": {},
        }[cmd]))
    return FakeRunner([
        (("docker", "version"), ok("28.2.2")),
        (("docker", "compose", "version"), lambda argv: CommandFailed(argv, 1, "'compose' is not a docker command.")),
        (("docker-compose", "version"), ok("docker-compose version 1.29.2")),
        (("docker", "ps"), ok("c-web\n")),
        (("docker", "inspect"), inspect_reply([web, stack])),
        (("docker-compose",), lambda argv: ok("c-stack\n" if argv[-2:] == ("ps", "-q") else "")),
        (("docker", "exec", "-i"), agent),                   # the agent (env, if any, passed by NAME)
    ])


def run(ws, capsys, fake, *extra):
    code = main(["--workspace", str(ws), "--prod", "--no-features", "--json", *extra], runner=fake)
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def no_value_on_argv(fake):
    return not any(NEW in arg or "a new greeting" in arg for argv in fake.calls for arg in argv)


def test_without_the_flag_nothing_is_recreated_and_the_v1_command_is_suggested(ws, capsys):
    fake = prod_engine(ws)
    code, data, err = run(ws, capsys, fake)
    assert code == 0 and [s["name"] for s in data["steps"]] == ["reload gunicorn"]
    assert data["app"]["env_not_applied"] == ["GREETING"] and data["app"]["env_applied"] == []
    compose_file = ws / "demo_app" / "docker" / "docker-compose.prod.yml"
    assert data["app"]["apply_command"] == (f"docker-compose -p demo_app_prod -f {compose_file} up -d --no-deps "
                                            f"--force-recreate {WEB}")
    assert "--apply-env" in err and not any("up" in argv for argv in fake.calls if argv[0] == "docker-compose")
    assert no_value_on_argv(fake)


def test_apply_env_recreates_only_the_web_service_and_verifies_by_name(ws, capsys, monkeypatch):
    monkeypatch.delenv("SPLENT_HOST_PROJECT_DIR", raising=False)
    fake = prod_engine(ws)
    code, data, err = run(ws, capsys, fake, "--apply-env")
    assert code == 0, err
    assert [s["name"] for s in data["steps"]] == ["recreate web container", "verify", "verify env"]
    assert data["app"]["env_applied"] == ["GREETING"] and data["app"]["env_not_applied"] == []
    assert "recreating the web container" in err
    compose_file = ws / "demo_app" / "docker" / "docker-compose.prod.yml"
    i = next(k for k, argv in enumerate(fake.calls) if "--force-recreate" in argv)
    assert fake.calls[i] == ("docker-compose", "-p", "demo_app_prod", "-f", str(compose_file), "up", "-d",
                             "--no-deps", "--force-recreate", WEB)
    assert fake.envs[i] == {"SPLENT_HOST_PROJECT_DIR": str(ws)}     # interpolated in the mounts
    check = next(k for k, argv in enumerate(fake.calls) if "envdiff" in argv)
    assert agent_command(fake.calls[check]) == ("envdiff", ["GREETING"])
    assert ("-e", "GREETING") == fake.calls[check][3:5]
    assert fake.envs[check] == {"GREETING": NEW}                     # the value rides in the environment
    assert no_value_on_argv(fake)


def test_apply_env_fails_when_the_app_still_has_old_values(ws, capsys):
    fake = prod_engine(ws, envdiff=["GREETING"])
    code, data, err = run(ws, capsys, fake, "--apply-env")
    assert code == 1 and "still runs the app with old values of GREETING" in data["error"]
