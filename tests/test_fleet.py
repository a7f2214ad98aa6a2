"""Remote engines and fleets without an engine: every call carries the engine, errors name it,
a fleet inspects every host before touching one and stops at the first failure.

The fake engines answer like the healthy dev engine of tests/test_catalogue.py; one FakeRunner
per context, so each host's calls (and its changing calls) can be judged on their own.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from restart.cli import main
from restart.docker.client import Docker, engine_error
from restart.errors import CommandFailed, ConfigError
from restart.planning.engine import LOCAL, Engine, read_fleet, resolve_engine
from tests.fakes import FakeRunner, agent_command
from tests.rig import skip_run_state
from tests.test_catalogue import EXAMPLE, WEB, agent_reply, container, healthy_engine, inspect_reply, links, ok

UNREACHABLE = "Cannot connect to the Docker daemon at unix:///run/gone.sock. Is the docker daemon running?"
NO_CONTEXT = ('Failed to initialize: unable to resolve docker endpoint: context "ghost": context not found: '
              "open /root/.docker/contexts/meta/x/meta.json: no such file or directory")
SSH_FAIL = ('error during connect: Get "http://docker.example.com/v1.50/containers/json": command [ssh -o '
            "ConnectTimeout=30 -T -l deploy -- web2 docker system dial-stdio] has exited with exit status 255, "
            "make sure the URL is valid, and Docker 18.09 or later is installed on the remote host: "
            "stderr=ssh: connect to host web2 port 22: Connection refused")


class Engines:
    """A runner in front of one FakeRunner per engine: ``docker --context C …`` goes to engine C."""

    def __init__(self, ws: Path, hosts: dict[str | None, list] | None = None, mounted: bool = True):
        self.log: list[tuple[str | None, tuple[str, ...]]] = []     # (engine, argv as it reached it)
        self.fakes = {name: FakeRunner([*replies, *healthy_engine(ws if mounted else None)])
                      for name, replies in (hosts or {None: []}).items()}

    def run(self, argv, **kw):
        argv = tuple(str(a) for a in argv)
        name = None
        if argv[:2] == ("docker", "--context"):
            name, argv = argv[2], ("docker", *argv[3:])
        self.log.append((name, argv))
        return self.fakes[name].run(argv, **kw)

    @property
    def order(self) -> list[str | None]:
        return [name for name, _ in self.log]

    def starts(self) -> list[str | None]:
        """Which engine each ``docker exec -d`` (an app start) went to, in order."""
        return [name for name, argv in self.log if argv[:3] == ("docker", "exec", "-d")]

    def changing(self, name) -> list:
        return self.fakes[name].changing_calls()


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Path:
    for name in ("WORKING_DIR", "SPLENT_APP", "SPLENT_ENV", "SPLENT_HOST_PROJECT_DIR", "NO_COLOR",
                 "DOCKER_HOST", "DOCKER_CONTEXT"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root, symlinks=True, ignore=skip_run_state)
    monkeypatch.chdir(tmp_path)
    return root


def run(ws, runner, *args, capsys):
    code = main([*args, "--workspace", str(ws)], runner=runner)
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out, out.err


def failing_wait():
    """The agent of a host whose app does not come back."""
    good = agent_reply()

    def reply(argv):
        if agent_command(argv)[0] == "wait":
            return ok(json.dumps({"ok": False, "status": 0, "pids": [], "seconds": 3.0, "exited": True}))
        return good(argv)
    return reply


# --- one engine --------------------------------------------------------------------------------

def test_engine_comes_from_the_flag_then_docker_context_then_docker_host():
    env = {"DOCKER_CONTEXT": "ctx-env", "DOCKER_HOST": "tcp://h:2376"}
    assert resolve_engine(["h1"], env) == Engine(context="h1", source="--context")
    assert resolve_engine(None, env) == Engine(context="ctx-env", source="DOCKER_CONTEXT")
    assert resolve_engine(None, {"DOCKER_HOST": "ssh://u@h"}) == Engine(host="ssh://u@h", source="DOCKER_HOST")
    assert resolve_engine(None, {}) == LOCAL and not LOCAL.remote
    assert Engine(context="h1").argv(("docker", "compose", "ps")) == ("docker", "--context", "h1", "compose", "ps")
    assert Engine(host="ssh://u@h").argv(("docker", "ps")) == ("docker", "ps")    # DOCKER_HOST is inherited


def test_every_docker_and_compose_call_carries_the_context(ws, capsys):
    engines = Engines(ws, {"h1": []})
    code, _, err = run(ws, engines, "--context", "h1", capsys=capsys)
    assert code == 0, err
    assert engines.order and set(engines.order) == {"h1"}          # no call went to another engine
    calls = engines.fakes["h1"].calls
    assert any(c[:3] == ("docker", "compose", "-p") and "restart" in c for c in calls)
    assert any(c[:3] == ("docker", "exec", "-d") for c in calls)


def test_compose_v1_gets_the_contexts_endpoint_as_docker_host(ws):
    inspect = [{"Name": "h1", "Endpoints": {"docker": {"Host": "ssh://deploy@web1", "SkipTLSVerify": False}},
                "TLSMaterial": {}}]
    fake = FakeRunner([(("docker", "--context", "h1", "context", "inspect"), ok(json.dumps(inspect)))])
    docker = Docker(fake, ("docker-compose",), Engine(context="h1"))
    docker.run(("docker-compose", "-p", "x", "ps", "-q"))
    assert fake.calls[-1] == ("docker-compose", "-p", "x", "ps", "-q")
    assert fake.envs[-1]["DOCKER_HOST"] == "ssh://deploy@web1"
    inspect[0]["TLSMaterial"] = {"docker": ["ca.pem", "cert.pem", "key.pem"]}
    tls = Docker(FakeRunner([(("docker",), ok(json.dumps(inspect)))]), ("docker-compose",), Engine(context="h1"))
    with pytest.raises(ConfigError, match='TLS settings of context "h1"'):
        tls.run(("docker-compose", "ps"))


@pytest.mark.parametrize("stderr, words", [
    (NO_CONTEXT, ['docker context "ghost" does not exist']),
    (UNREACHABLE, ['the Docker engine of context "ghost" cannot be reached', "unix:///run/gone.sock"]),
    (SSH_FAIL, ['SSH to the Docker engine of context "ghost" failed', "web2 port 22: Connection refused"]),
    ("error during connect: x509: certificate signed by unknown authority",
     ['TLS with the Docker engine of context "ghost" failed']),
])
def test_engine_errors_name_the_context(stderr, words):
    error = engine_error(CommandFailed(("docker", "--context", "ghost", "version"), 1, stderr), Engine(context="ghost"))
    assert isinstance(error, ConfigError) and error.exit_code == 2
    for word in words:
        assert word in str(error)


def test_local_engine_keeps_its_sentence():
    error = engine_error(CommandFailed(("docker", "version"), 1, UNREACHABLE))
    assert str(error) == "the Docker daemon is not running (docker cannot connect to it)."


def test_unreachable_context_is_one_sentence_exit_2_nothing_touched(ws, capsys):
    engines = Engines(ws, {"gone": [(("docker", "version"), lambda a: CommandFailed(a, 1, UNREACHABLE))]})
    code, _, err = run(ws, engines, "--context", "gone", capsys=capsys)
    assert code == 2
    assert err.strip() == ('error: the Docker engine of context "gone" cannot be reached: ' + UNREACHABLE)
    assert engines.changing("gone") == []


def test_remote_container_without_this_workspace_gets_no_links(ws, capsys):
    """The remote web container mounts its host's checkout, not this one: links stay as they are."""
    shutil.rmtree(ws / "demo_app" / "features")                  # links the run would write
    engines = Engines(ws, {"h1": []}, mounted=False)
    code, out, err = run(ws, engines, "--context", "h1", "--dry-run", capsys=capsys)
    assert code == 0, err
    assert "feature links: not written [local workspace] (the web container demo_app_web on context " \
           '"h1" does not mount this workspace' in out
    assert 'pip [through context "h1"]' in out and "docker --context h1 exec" in out
    code, _, err = run(ws, engines, "--context", "h1", capsys=capsys)
    assert code == 0, err
    assert "– feature links" in err and not (ws / "demo_app" / "features").exists()


def test_local_engine_writes_links_as_before(ws, capsys):
    shutil.rmtree(ws / "demo_app" / "features")
    code, _, err = run(ws, Engines(ws), capsys=capsys)
    assert code == 0, err
    assert links(ws)


# --- a fleet -----------------------------------------------------------------------------------

def test_fleet_restarts_host_after_host(ws, capsys):
    engines = Engines(ws, {"h1": [], "h2": [], "h3": []})
    code, out, err = run(ws, engines, "--context", "h1", "--context", "h2", "--context", "h3", "--json",
                         capsys=capsys)
    assert code == 0, err
    data = json.loads(out)
    assert [(h["context"], h["status"]) for h in data["hosts"]] == [
        ("h1", "restarted"), ("h2", "restarted"), ("h3", "restarted")]
    assert engines.starts() == ["h1", "h2", "h3"]
    assert "[h2] ✓ verify" in err and "fleet done: 3 host(s) restarted" in err


def test_fleet_stops_at_the_first_failure_and_leaves_the_rest_untouched(ws, capsys):
    engines = Engines(ws, {"h1": [], "h2": [(("docker", "exec", "-i", WEB, "python3", "-"), failing_wait())], "h3": []})
    code, out, err = run(ws, engines, "--context", "h1", "--context", "h2", "--context", "h3", "--json",
                         capsys=capsys)
    assert code == 1
    data = json.loads(out)
    assert [h["status"] for h in data["hosts"]] == ["restarted", "failed", "not touched"]
    assert data["summary"] == {"restarted": ["h1"], "failed": ["h2"], "interrupted": [], "bad input": [],
                               "not touched": ["h3"]}
    assert "host h2 failed: the app did not come back" in data["error"]
    assert engines.changing("h3") == []
    assert "error: fleet stopped: restarted: h1; failed: h2; not touched: h3." in err


def test_a_bad_host_is_found_before_any_host_is_touched(ws, tmp_path, capsys):
    fleet = tmp_path / "fleet"
    fleet.write_text("# web tier\nh1\nh2   # second\n\nghost\n")
    engines = Engines(ws, {"h1": [], "h2": [], "ghost": [(("docker", "version"),
                                                          lambda a: CommandFailed(a, 1, NO_CONTEXT))]})
    code, out, err = run(ws, engines, "--fleet", str(fleet), "--json", capsys=capsys)
    assert code == 2
    assert all(engines.changing(h) == [] for h in ("h1", "h2", "ghost"))
    data = json.loads(out)
    assert [h["status"] for h in data["hosts"]] == ["not touched", "not touched", "bad input"]
    assert '[ghost] error: docker context "ghost" does not exist' in err
    assert data["error"].endswith("Nothing was restarted on any host.")


def test_batch_restarts_k_hosts_before_the_next(ws, capsys):
    engines = Engines(ws, {"h1": [], "h2": [], "h3": []})
    code, _, err = run(ws, engines, "--context", "h1", "--context", "h2", "--context", "h3", "--batch", "2",
                       capsys=capsys)
    assert code == 0, err
    starts = engines.starts()
    assert sorted(starts[:2]) == ["h1", "h2"] and starts[2] == "h3"


def test_fleet_dry_run_shows_each_hosts_plan_and_changes_nothing(ws, capsys):
    engines = Engines(ws, {"h1": [], "h2": []})
    code, out, err = run(ws, engines, "--context", "h1", "--context", "h2", "--dry-run", capsys=capsys)
    assert code == 0, err
    assert "== host 1/2: [h1]" in out and "== host 2/2: [h2]" in out
    assert "docker --context h2 exec -i demo_app_web" in out
    assert engines.changing("h1") == engines.changing("h2") == []


@pytest.mark.parametrize("args, words", [
    (["--context", "h1", "--batch", "2"], "--batch restarts several hosts"),
    (["--context", "h1", "--context", "h1"], 'context "h1" is named twice'),
    (["--context", "h1", "--context", "h2", "--fleet", "f"], "not both"),
])
def test_fleet_usage_errors(ws, args, words, capsys):
    code, _, err = run(ws, Engines(ws), *args, capsys=capsys)
    assert code == 2 and words in err


def test_fleet_file_reading(tmp_path):
    path = tmp_path / "f"
    path.write_text("a\n # only a comment\n\nb # web 2\n")
    assert read_fleet(str(path)) == ["a", "b"]
    path.write_text("# nothing\n")
    with pytest.raises(ConfigError, match="names no docker context"):
        read_fleet(str(path))
    with pytest.raises(ConfigError, match="cannot be read"):
        read_fleet(str(tmp_path / "missing"))


def test_inspect_reply_helper_is_shared():   # the fakes stay those of the catalogue
    assert inspect_reply([container(None)])(("docker", "inspect", WEB)).code == 0


def test_a_failing_exec_that_mentions_connections_is_not_an_engine_error():
    """pip's or the app's own "Connection refused" / certificate trouble is not the engine's."""
    for stderr in ("ERROR: Could not install: [Errno 111] Connection refused",
                   "SSL: CERTIFICATE_VERIFY_FAILED x509 certificate signed by unknown authority"):
        failure = CommandFailed(("docker", "--context", "h1", "exec", WEB, "pip"), 1, stderr)
        assert engine_error(failure, Engine(context="h1")) is None
