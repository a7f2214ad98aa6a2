"""The bad-input catalogue (issue 7): what a user in trouble sees for each bad input.

Every case runs ``restart.cli.main`` on a copy of ``examples/workspace`` with a FakeRunner
that answers like a healthy dev engine except where the case says otherwise, and checks:
the exit code; ONE ``error:`` sentence on stderr naming the file, feature or container at
fault, and no traceback; no Docker call that changes anything (``changing_calls() == []``)
and no feature link changed on disk; under one second.  The few inputs that are NOT errors
(by decision, see the README's troubleshooting table) are tested for what they do instead.

The README's troubleshooting table has one row per test here; keep the two in step.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from restart.cli import main
from restart.docker.runner import Result
from restart.errors import CommandFailed
from tests.fakes import FakeRunner, agent_command
from tests.rig import skip_run_state

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "workspace"
PRODUCT, PROJECT, WEB = "demo_app", "demo_app_dev", "demo_app_web"
DEV_SCRIPT = f"/workspace/{PRODUCT}/scripts/05_0_start_app_dev.sh"


# --- a healthy dev engine, as the FakeRunner answers it ------------------------------------------

def ok(stdout: str = "") -> Result:
    return Result(("fake",), 0, stdout, "")


def fail(code: int, stderr: str):
    """A reply that raises what ShRunner raises for a failed command."""
    return lambda argv: CommandFailed(argv, code, stderr)


def container(ws: Path | None, name: str = WEB, service: str | None = None, *, running: bool = True,
              cid: str = "c-web", cmd=("tail", "-f", "/dev/null")) -> dict:
    """One ``docker inspect`` entry, shaped like the real output (the fields restart reads)."""
    mounts = [{"Type": "bind", "Source": str(ws), "Destination": "/workspace", "RW": True}] if ws else []
    return {"Id": cid, "Name": f"/{name}",
            "State": {"Status": "running" if running else "exited", "Running": running, "ExitCode": 0},
            "Config": {"Cmd": list(cmd), "Entrypoint": None, "Env": ["PATH=/usr/local/bin:/usr/bin"],
                       "Labels": {"com.docker.compose.project": PROJECT,
                                  "com.docker.compose.service": service or name}},
            "Mounts": mounts}


def inspect_reply(containers: list[dict]):
    by_id = {c["Id"]: c for c in containers}
    by_id.update({c["Name"].lstrip("/"): c for c in containers})

    def reply(argv):
        found = [by_id[a] for a in argv[2:] if a in by_id]
        if not found:
            return CommandFailed(argv, 1, f"Error: No such object: {argv[-1]}")
        return ok(json.dumps(found))
    return reply


def agent_reply(*, script_exists: bool = True):
    """The in-container agent: a dev app running, stop/start/verify all fine."""
    def reply(argv):
        cmd, rest = agent_command(argv)
        status = {"apps": [{"pid": 101, "ppid": 90, "argv": ["flask", "run"], "role": "flask", "main": False}],
                  "masters": [], "pid1": ["tail", "-f", "/dev/null"], "workers": {}}
        data = {
            "status": status,
            "files": {p: {"exists": script_exists, "readable": script_exists} for p in rest},
            "inspect": {"status": status, "pip": None,         # None: no importlib.metadata, ask pip
                        "files": {p: {"exists": script_exists, "readable": script_exists} for p in rest[1:]}},
            "stop": {"stopped": [101], "killed": [], "left": []},
            "wait": {"ok": True, "status": 200, "pids": [202], "seconds": 0.2, "exited": False},
            "tail": {},
        }[cmd]
        return ok(json.dumps(data))
    return reply


def pip_listing(ws: Path) -> str:
    """pip list in the web container: the example's dev features, installed as SPLENT installs them."""
    cache = "/workspace/.splent_cache/features/splent_io"
    return json.dumps([
        {"name": "splent_feature_redis", "version": "1.0.0",
         "editable_project_location": f"{cache}/splent_feature_redis@v1.0.0"},
        {"name": "splent-feature-queue", "version": "1.0.0",
         "editable_project_location": "/workspace/splent_feature_queue"},
        {"name": "splent_feature_notes", "version": "1.0.0",
         "editable_project_location": "/workspace/splent_feature_notes"},
        {"name": "splent_feature_nginx", "version": "1.0.0",
         "editable_project_location": f"{cache}/splent_feature_nginx@v1.0.0"},
        {"name": "splent_feature_debug", "version": "0.1.0",
         "editable_project_location": "/workspace/splent_feature_debug"},
        {"name": "Flask", "version": "3.1.0"},
    ])


def compose_reply(argv):
    """``compose … version`` / ``restart`` succeed; ``ps`` shows one running container per stack."""
    if "ps" in argv:
        project = argv[argv.index("-p") + 1]
        return ok(json.dumps({"ID": f"id-{project}", "Name": f"{project}-svc-1", "Service": "svc",
                              "State": "running", "Health": "", "ExitCode": 0}))
    return ok()


def healthy_engine(ws: Path | None) -> list:
    web = container(ws)
    return [
        (("docker", "version"), ok("28.2.2")),
        (("docker", "ps", "-a"), ok(f"{web['Id']}\n")),
        (("docker", "ps"), ok(f"{web['Id']}\n")),
        (("docker", "inspect"), inspect_reply([web])),
        (("docker", "exec", "-i", WEB, "python3", "-"), agent_reply()),
        (("docker", "exec", WEB, "python3", "-m", "pip", "list"), ok(pip_listing(ws) if ws else "[]")),
        (("docker", "compose"), compose_reply),
        (("docker-compose",), compose_reply),
    ]


# --- running a case ------------------------------------------------------------------------------

@dataclass
class Run:
    code: int
    out: str
    err: str
    runner: FakeRunner
    seconds: float
    links_before: dict
    links_after: dict

    @property
    def error(self) -> str:
        """The one ``error:`` line (fails unless there is exactly one)."""
        lines = [line for line in self.err.splitlines() if re.match(r"^(splent-restart: )?error: ", line)]
        assert len(lines) == 1, self.err
        return lines[0]

    def starts(self) -> list[tuple[str, ...]]:
        return [c for c in self.runner.calls if c[:3] == ("docker", "exec", "-d")]

    def agent_calls(self, command: str) -> list[tuple[str, ...]]:
        return [c for c in self.runner.calls if (agent_command(c) or ("",))[0] == command]


def links(ws: Path) -> dict[str, str]:
    """Every symlink under the product's features/: the on-disk state a refused run must keep."""
    root = ws / PRODUCT / "features"
    if not root.is_dir() or root.is_symlink():
        return {}
    return {str(p.relative_to(root)): os.readlink(p) for p in sorted(root.rglob("*")) if p.is_symlink()}


def example_copy(tmp_path: Path, monkeypatch) -> Path:
    """A fresh copy of examples/workspace; no SPLENT variable leaks in from the test's environment."""
    for name in ("WORKING_DIR", "SPLENT_APP", "SPLENT_ENV", "SPLENT_HOST_PROJECT_DIR", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "ws"
    shutil.copytree(EXAMPLE, root, symlinks=True, ignore=skip_run_state)
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def ws(tmp_path, monkeypatch) -> Path:
    return example_copy(tmp_path, monkeypatch)


SEEN: dict[str, tuple[int, str]] = {}   # test name -> (exit code, output with WS for the workspace)
RECORD_VARIABLE = "RESTART_CATALOGUE_RECORD"   # a file: every run is also appended there (JSON lines)


@pytest.fixture
def restart(capsys, request, tmp_path):
    """``restart(ws, *args, replies=[...])``: main() against the fake engine; replies go first.

    Each run is also recorded in SEEN for the troubleshooting-table test (paths made generic:
    the workspace copy reads ``WS``, other temporary paths lose their temporary prefix).
    """
    def run(ws: Path | None, *args: str, replies=(), workspace: bool = True) -> Run:
        runner = FakeRunner([*replies, *healthy_engine(ws)])
        argv = [*args, *(["--workspace", str(ws)] if ws is not None and workspace else [])]
        before = links(ws) if ws is not None else {}
        started = time.monotonic()
        try:
            code = main(argv, runner=runner)
        except SystemExit as e:                 # argparse's own usage errors
            code = e.code
        seconds = time.monotonic() - started
        out = capsys.readouterr()
        assert "Traceback" not in out.err + out.out
        text = out.err + out.out
        SEEN[request.node.name] = (code, text.replace(str(tmp_path / "ws"), "WS").replace(str(tmp_path), ""))
        if os.environ.get(RECORD_VARIABLE):        # a table test in another process asked for it
            with open(os.environ[RECORD_VARIABLE], "a") as handle:
                handle.write(json.dumps([request.node.name, *SEEN[request.node.name]]) + "\n")
        return Run(code, out.out, out.err, runner, seconds, before, links(ws) if ws is not None else {})
    return run


def refused(run: Run, code: int, *words: str) -> str:
    """The catalogue's contract for an input restart refuses; returns the message.

    Exit ``code``; stderr is one line, ``error: <one sentence>`` naming ``words``; no Docker
    call that changes state; no feature link created, re-pointed or removed; under 1 s.
    """
    assert run.code == code, run.err
    message = run.error
    assert [line for line in run.err.splitlines() if line.strip()] == [message], run.err
    for word in words:
        assert word in message, (word, message)
    assert run.runner.changing_calls() == []
    assert run.links_after == run.links_before
    assert run.seconds < 1.0, run.seconds
    return message


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# === where: workspace, product, env ===============================================================

def test_no_workspace(restart, tmp_path, monkeypatch):
    monkeypatch.setattr("restart.planning.settings.DEFAULT_WORKSPACE", tmp_path / "workspace")   # absent
    for name in ("WORKING_DIR", "SPLENT_APP", "SPLENT_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    run = restart(None)
    refused(run, 2, "no SPLENT workspace found", str(tmp_path / "workspace"), "--workspace")


def test_working_dir_not_a_directory(restart, ws, monkeypatch):
    monkeypatch.setenv("WORKING_DIR", str(ws / "nope"))
    refused(restart(ws, workspace=False), 2, f"workspace {ws / 'nope'} (from WORKING_DIR) is not a directory.")


def test_splent_app_unset(restart, ws):
    edit(ws / ".env", "SPLENT_APP=demo_app\n", "")
    refused(restart(ws), 2, "SPLENT_APP is not set", str(ws / ".env"), "--product")


def test_unknown_product(restart, ws, monkeypatch):
    monkeypatch.setenv("SPLENT_APP", "ghost_app")
    refused(restart(ws), 2, 'product "ghost_app" not found', str(ws / "ghost_app"), "SPLENT_APP in the environment")


def test_product_name_with_a_path(restart, ws):
    refused(restart(ws, "--product", "../ws/demo_app"), 2, 'product "../ws/demo_app" is not a folder name in the '
            f"workspace {ws} (from --product).")


def test_dev_and_prod(restart, ws):
    refused(restart(ws, "--dev", "--prod"), 2, "--dev and --prod exclude each other")


@pytest.mark.parametrize("where", ["environment", "workspace_env"])
def test_splent_env_staging(restart, ws, monkeypatch, where):
    if where == "environment":
        monkeypatch.setenv("SPLENT_ENV", "staging")
        source = "the environment"
    else:
        edit(ws / ".env", "SPLENT_ENV=dev", "SPLENT_ENV=staging")
        source = str(ws / ".env")
    refused(restart(ws), 2, 'SPLENT_ENV is "staging"', f"(from {source})", '"dev" or "prod"')


def test_workspace_env_unparsable(restart, ws):
    with open(ws / ".env", "a") as f:
        f.write("this is not an assignment\n")
    line = line_of(ws / ".env", "this is not")
    refused(restart(ws), 2, f"{ws / '.env'}:{line}: cannot parse", "NAME=value")


# === command line =================================================================================

@pytest.mark.parametrize("args, words", [
    (["--timeout", "-1"], ["argument --timeout", "'-1' must be 0 or more seconds"]),
    (["--timeout", "soon"], ["argument --timeout", "'soon' is not a number of seconds"]),
    (["--timeout", "inf"], ["argument --timeout", "'inf' is not a finite number"]),
    (["--health-timeout", "nan"], ["argument --health-timeout", "'nan' must be 0 or more"]),
    (["--parallel", "0"], ["argument --parallel", "'0' must be 1 or more"]),
    (["--parallel", "two"], ["argument --parallel", "'two' is not a whole number"]),
    (["--port", "70000"], ["argument --port", "'70000' is not a TCP port"]),
    (["--probe-path", "health"], ["argument --probe-path", "must be a URL path starting with '/'"]),
    (["--frobnicate"], ["unrecognized arguments: --frobnicate"]),
], ids=["timeout-negative", "timeout-not-a-number", "timeout-inf", "health-timeout-nan", "parallel-0",
        "parallel-not-a-number", "port-out-of-range", "probe-path-relative", "unknown-option"])
def test_bad_option(restart, ws, args, words):
    message = refused(restart(ws, *args), 2, *words)
    assert message.startswith("splent-restart: error: ") and message.endswith("(see --help)")


def test_only_undeclared_feature(restart, ws):
    refused(restart(ws, "--only", "search"), 2, "--only search: no such feature is declared in "
            "demo_app/pyproject.toml", "declared: redis, queue, notes, nginx, debug")


# === pyproject.toml ===============================================================================

def test_pyproject_missing(restart, ws):
    (ws / PRODUCT / "pyproject.toml").unlink()
    refused(restart(ws), 2, "demo_app/pyproject.toml does not exist.")


def test_invalid_toml(restart, ws):
    toml = ws / PRODUCT / "pyproject.toml"
    edit(toml, 'spl = "demo_spl"', 'spl = "demo_spl')
    line = line_of(toml, 'spl = "demo_spl')
    refused(restart(ws), 2, f"demo_app/pyproject.toml:{line}:", "invalid TOML")


def test_pyproject_not_utf8(restart, ws):
    toml = ws / PRODUCT / "pyproject.toml"
    toml.write_bytes(toml.read_bytes().replace(b"Example SPLENT", b"Exampl\xe9 SPLENT"))
    refused(restart(ws), 2, "demo_app/pyproject.toml: not UTF-8 text")


@pytest.mark.parametrize("old, new, words", [
    ("[tool.splent]\n", "[tool]\nsplent = \"demo_spl\"\n[tool.splent_old]\n",
     "[tool.splent] must be a table, not a string."),
    ("features = [\n", "features = \"splent_feature_queue\"\nfeatures_old = [\n",
     "[tool.splent].features must be a list of strings, not a string."),
    ('features_dev = ["splent_feature_debug"]', "features_dev = { debug = true }",
     "[tool.splent].features_dev must be a list of strings, not a table."),
    ('spl = "demo_spl"', 'spl = ["demo_spl"]', "[tool.splent].spl must be a string, not a list."),
], ids=["tool-splent-string", "features-string", "features-dev-table", "spl-list"])
def test_tool_splent_wrong_type(restart, ws, old, new, words):
    edit(ws / PRODUCT / "pyproject.toml", old, new)
    refused(restart(ws), 2, "demo_app/pyproject.toml: ", words)


@pytest.mark.parametrize("entry, words", [
    ('"splent-io/"', 'entry "splent-io/" has an empty name.'),
    ('"splent_feature_queue@"', 'entry "splent_feature_queue@" has an empty version.'),
    ("42", "entry 42 is an integer, not a string"),
    ('"../splent_feature_queue"', 'entry "../splent_feature_queue" has an invalid namespace ".."'),
    ('"splent-io/splent_feature_queue@v2.0.0"', 'entry "splent-io/splent_feature_queue@v2.0.0" conflicts with '
                                               '"splent-io/splent_feature_queue"'),
], ids=["empty-name", "empty-version", "not-a-string", "dot-dot-namespace", "declared-twice"])
def test_malformed_feature_entry(restart, ws, entry, words):
    edit(ws / PRODUCT / "pyproject.toml", '"splent-io/splent_feature_notes",',
         f'"splent-io/splent_feature_notes", {entry},')
    refused(restart(ws), 2, "demo_app/pyproject.toml: [tool.splent].features ", words)


def _drop_tool_splent(ws: Path) -> None:
    toml = ws / PRODUCT / "pyproject.toml"
    toml.write_text(toml.read_text().split("[tool.splent]")[0])


def test_no_tool_splent_dry_run(restart, ws):
    """Decision: no features key at all is valid; only the app restarts; links and pip left alone."""
    _drop_tool_splent(ws)
    run = restart(ws, "--dry-run")
    assert run.code == 0 and run.err == "" and run.runner.changing_calls() == [] and run.seconds < 1.0
    assert "note: demo_app/pyproject.toml declares no features (no [tool.splent].features)" in run.out
    assert "feature stacks: none to restart" in run.out and "feature sync: skipped" in run.out


def test_no_tool_splent_restarts_only_the_app(restart, ws):
    _drop_tool_splent(ws)
    run = restart(ws)
    assert run.code == 0, run.err
    assert run.links_after == run.links_before               # no link removed
    assert not any("pip" in c for c in run.runner.calls)     # not even `pip list`: nothing uninstalled
    assert not any(c[:2] == ("docker", "compose") and "restart" in c for c in run.runner.calls)
    assert len(run.agent_calls("stop")) == 1 and len(run.starts()) == 1 and run.seconds < 1.0


# === the UVL model ================================================================================

UVL = Path("splent_spl_demo/demo_spl.uvl")


def test_declared_feature_missing_from_uvl_keeps_declared_order(restart, ws):
    """Decision: a declared feature the model lacks is no error; it keeps its declared place."""
    extra = ws / "splent_feature_extra"
    shutil.copytree(ws / "splent_feature_queue", extra, symlinks=True)
    edit(ws / PRODUCT / "pyproject.toml", "features = [\n", 'features = [\n    "splent_feature_extra",\n')
    run = restart(ws, "--print-order", "--json")
    assert run.code == 0 and run.runner.calls == [] and run.seconds < 1.0
    data = json.loads(run.out)
    assert data["stacks"] == ["splent_feature_extra", "splent_feature_redis", "splent_feature_queue",
                              "splent_feature_nginx"]
    assert not any(e["after"] == "splent_feature_extra" or e["before"] == "splent_feature_extra"
                   for e in data["edges"])


def test_uvl_names_and_packages_in_another_spelling(restart, ws):
    """Decision: package attributes and feature names match pyproject entries by pip's rule (case, -_.)."""
    edit(ws / UVL, "package 'splent_feature_redis'", "package 'Splent-Feature.REDIS'")
    edit(ws / UVL, "package 'splent_feature_queue'", "package 'SPLENT_FEATURE_QUEUE'")
    run = restart(ws, "--print-order", "--json")
    assert run.code == 0 and run.runner.calls == [] and run.seconds < 1.0
    edges = {(e["before"], e["after"]) for e in json.loads(run.out)["edges"]}
    assert ("splent_feature_redis", "splent_feature_queue") in edges
    assert ("splent_feature_queue", "splent_feature_nginx") in edges


def test_print_order_needs_only_pyproject_and_uvl(restart, ws):
    """Decision: --print-order reads pyproject.toml and the UVL model, nothing else."""
    product = ws / PRODUCT
    for path in ("scripts/05_0_start_app_dev.sh", "docker/.env", "docker/docker-compose.dev.yml"):
        (product / path).unlink()
    run = restart(ws, "--print-order", "--json")
    assert run.code == 0, run.err
    assert run.runner.calls == [] and run.seconds < 1.0
    assert [list(g) for g in json.loads(run.out)["generations"]][0][0] == "splent_feature_redis"


def test_uvl_syntax_error(restart, ws):
    uvl = ws / UVL
    with open(uvl, "a") as f:
        f.write("\tqueue => => redis\n")
    line = len(uvl.read_text().splitlines())
    refused(restart(ws), 2, f"error: {UVL}:{line}:11: expected a feature")


def test_uvl_cycle(restart, ws):
    uvl = ws / UVL
    with open(uvl, "a") as f:
        f.write("\tredis => queue\n")
    first, last = line_of(uvl, "\tqueue => redis"), len(uvl.read_text().splitlines())
    refused(restart(ws), 2, f"demo_spl.uvl: dependency cycle: queue -> redis -> queue "
            f"(demo_spl.uvl:{first}, :{last})")


def test_uvl_missing_is_declared_order_with_a_note(restart, ws):
    """Decision: spl set but no model on disk is no error: declared order, and the plan says so."""
    shutil.rmtree(ws / UVL.parent)
    run = restart(ws, "--dry-run")
    assert run.code == 0 and run.err == "" and run.runner.changing_calls() == [] and run.seconds < 1.0
    assert 'note: no UVL model found for spl "demo_spl": stacks restart in declared order' in run.out
    assert "order source: declared order (no UVL model)" in run.out
    stacks = [line.split(":")[0].strip() for line in run.out.splitlines() if ": (cd " in line]
    assert stacks == ["redis", "queue", "nginx"]


def test_uvl_path_is_a_directory(restart, ws):
    """A directory named <spl>.uvl is no model file: exit 2 naming it, not "no model, declared order"."""
    (ws / UVL).unlink()
    (ws / UVL).mkdir()
    refused(restart(ws), 2, "the UVL model splent_spl_demo/demo_spl.uvl is a directory")


@pytest.mark.parametrize("text", ["", "// downloaded from uvlhub.io\n\n"], ids=["zero-bytes", "only-a-comment"])
def test_uvl_empty(restart, ws, text):
    (ws / UVL).write_text(text)
    refused(restart(ws), 2, f"the UVL model {UVL} is empty (it defines no features)", "delete it")


def test_uvl_not_utf8(restart, ws):
    uvl = ws / UVL
    uvl.write_bytes(uvl.read_bytes().replace(b"demo_spl: the", b"demo_spl\xff the"))
    refused(restart(ws), 2, f"error: {UVL}:1: not valid UTF-8")


# === env file =====================================================================================

ENV = Path(PRODUCT, "docker", ".env")


def test_env_file_missing(restart, ws):
    (ws / ENV).unlink()
    refused(restart(ws), 2, f"env file {ENV} does not exist.")


def test_env_bare_name_set_in_the_environment(restart, ws, monkeypatch):
    """A bare NAME line takes NAME from restart's environment, as docker run --env-file does."""
    edit(ws / ENV, "GUNICORN_WORKERS=2\n", "GUNICORN_WORKERS=2\nBARE_TOKEN\n")
    monkeypatch.setenv("BARE_TOKEN", "from-the-environment")
    run = restart(ws)
    assert run.code == 0, run.err
    (start,) = run.starts()
    env = run.runner.envs[run.runner.calls.index(start)]
    assert env["BARE_TOKEN"] == "from-the-environment" and "BARE_TOKEN" in start
    assert "from-the-environment" not in " ".join(start) and run.seconds < 1.0


def test_env_bare_name_unset(restart, ws):
    """Unset in restart's environment, a bare NAME line is left out with a note, never passed as ""."""
    edit(ws / ENV, "GUNICORN_WORKERS=2\n", "GUNICORN_WORKERS=2\nBARE_UNSET_NAME\n")
    run = restart(ws)
    assert run.code == 0, run.err
    (start,) = run.starts()
    assert "BARE_UNSET_NAME" not in start
    assert "BARE_UNSET_NAME" not in run.runner.envs[run.runner.calls.index(start)]
    assert ("note: demo_app/docker/.env:15: BARE_UNSET_NAME has no value and is not set in restart's "
            "environment: left out (not passed as an empty value)") in run.err


def test_env_line_unparsable(restart, ws):
    edit(ws / ENV, "GUNICORN_WORKERS=2\n", "GUNICORN_WORKERS=2\nLABEL='Quienes somos\n")
    line = line_of(ws / ENV, "LABEL=")
    refused(restart(ws), 2, f"{ENV}:{line}: cannot parse", "LABEL='Quienes somos")


def test_env_invalid_variable_name(restart, ws):
    edit(ws / ENV, "GUNICORN_WORKERS=2\n", "GUNICORN_WORKERS=2\nMY-KEY=1\n")
    refused(restart(ws), 2, f'{ENV}:{line_of(ws / ENV, "MY-KEY")}: "MY-KEY" is not a valid variable name.')


def test_env_file_not_utf8(restart, ws):
    data = (ws / ENV).read_bytes().replace(b"Hello from dev", b"Ol\xe1 from dev")
    (ws / ENV).write_bytes(data)
    line = data[: data.index(b"Ol\xe1")].count(b"\n") + 1
    refused(restart(ws), 2, f"{ENV}:{line}: the env file is not UTF-8 text.")


# === compose files and scripts ====================================================================

def test_compose_file_missing(restart, ws):
    (ws / PRODUCT / "docker" / "docker-compose.dev.yml").unlink()
    refused(restart(ws), 2, "no compose file for demo_app", "demo_app/docker/docker-compose.dev.yml",
            "docker-compose.yml")


def test_product_compose_file_compose_rejects(restart, ws):
    """Decision: restart never runs the product's compose file, but warns when compose rejects it
    (``config -q``, read-only), since the ``up -d`` it suggests would fail."""
    (ws / PRODUCT / "docker" / "docker-compose.dev.yml").write_text("services:\n  demo_app_web:\n    image: x\n"
                                                                     "     ports: [1]\n")
    product = ("docker", "compose", "-p", PROJECT)
    refusal = fail(15, "yaml: line 4: mapping values are not allowed in this context")
    run = restart(ws, replies=[(product, lambda argv: refusal(argv) if "config" in argv else ok())])
    assert run.code == 0, run.err
    warnings = [line for line in run.err.splitlines() if line.startswith("! ")]
    assert warnings == ["! compose rejects the product's compose file demo_app/docker/docker-compose.dev.yml "
                        "(the `up -d` restart suggests for env changes would fail): yaml: line 4: mapping "
                        "values are not allowed in this context"]
    config = [c for c in run.runner.calls if c[:4] == product and c[-2:] == ("config", "-q")]
    assert len(config) == 1 and run.seconds < 1.0


def test_feature_compose_file_compose_rejects(restart, ws):
    """Every stack's file is checked read-only (``config -q``) before anything changes: exit 2."""
    refusal = fail(15, "time=\"…\" level=warning msg=\"x\"\nvalidating /ws/docker-compose.yml: "
                       "services.splent_feature_redis additional properties 'imagee' not allowed")
    redis = ("docker", "compose", "-p", "demo_app_splent_io_splent_feature_redis_dev")
    link = ws / PRODUCT / "features" / "splent_io" / "splent_feature_queue"
    link.unlink()                                     # a link to fix: it must stay unfixed
    run = restart(ws, replies=[(redis, lambda argv: refusal(argv) if "config" in argv else ok())])
    refused(run, 2, "compose rejects the redis stack's file "
            ".splent_cache/features/splent_io/splent_feature_redis@v1.0.0/docker/docker-compose.yml",
            "additional properties 'imagee' not allowed")
    assert not link.exists() and run.agent_calls("stop") == [] and run.starts() == []
    checked = {c[3] for c in run.runner.calls if c[-2:] == ("config", "-q")}
    assert {"demo_app_splent_io_splent_feature_redis_dev", "demo_app_splent_io_splent_feature_queue_dev",
            "demo_app_splent_io_splent_feature_nginx_dev"} <= checked


def test_start_script_missing(restart, ws):
    (ws / PRODUCT / "scripts" / "05_0_start_app_dev.sh").unlink()
    refused(restart(ws), 2, "start script demo_app/scripts/05_0_start_app_dev.sh does not exist.")


def test_entrypoint_missing_with_full(restart, ws):
    (ws / PRODUCT / "entrypoints" / "entrypoint.dev.sh").unlink()
    refused(restart(ws, "--full"), 2, "start script demo_app/entrypoints/entrypoint.dev.sh does not exist.")


def test_start_script_missing_in_container(restart, ws):
    """Honestly exit 1 (the web container's view, found while inspecting); nothing touched."""
    agent = (("docker", "exec", "-i", WEB, "python3", "-"), agent_reply(script_exists=False))
    refused(restart(ws, replies=[agent]), 1, f"start script {DEV_SCRIPT} does not exist in container "
            f"{WEB} (is the workspace mounted there?).")


def test_start_script_not_executable_runs_with_bash(restart, ws):
    """Decision: SPLENT runs its scripts with `bash script`, so a missing +x bit is no error."""
    script = ws / PRODUCT / "scripts" / "05_0_start_app_dev.sh"
    script.chmod(0o644)
    run = restart(ws)
    assert run.code == 0, run.err
    (start,) = run.starts()
    assert start[-2:] == ("bash", DEV_SCRIPT) and run.seconds < 1.0


PKILL_PATTERNS = ("flask run", "watchmedo", "auto-restart", "watchmedo.*auto-restart", "gunicorn")


def test_start_script_pkills_by_pattern_never_hits_restart(restart, ws):
    """Decision: SPLENT's start script `pkill -f`s while restart's probe waits; no command line restart
    runs in the web container can match, whatever the arguments (probe path, log files)."""
    run = restart(ws, "--probe-path", "/gunicorn/watchmedo/auto-restart", "--log-file", "/var/log/flask run.log")
    assert run.code == 0, run.err
    in_container = [(argv, stdin) for argv, stdin in zip(run.runner.calls, run.runner.stdins, strict=True)
                    if argv[:2] == ("docker", "exec")]
    agents = [(argv, stdin) for argv, stdin in in_container if agent_command(argv)]
    assert {agent_command(a)[0] for a, _ in agents} >= {"inspect", "stop", "wait"}
    assert all("def wait_ready" in stdin for _, stdin in agents)           # the source rides on stdin
    wait = next(agent_command(a)[1] for a, _ in agents if agent_command(a)[0] == "wait")
    assert "/gunicorn/watchmedo/auto-restart" in wait                          # ...and the arguments arrive
    for argv, _ in in_container:
        line = " ".join(argv[argv.index(WEB) + 1:])                           # what pkill -f sees
        assert not any(re.search(p, line) for p in PKILL_PATTERNS), line


def test_probe_killed_by_a_signal_looks_again(restart, ws):
    """Decision: a probe that dies from a signal (exit 143) says nothing about the app: it is run again."""
    answers = iter([CommandFailed(("docker",), 143, "")])

    def wait_once_killed(argv):
        if agent_command(argv)[0] == "wait":
            return next(answers, None) or agent_reply()(argv)
        return agent_reply()(argv)
    run = restart(ws, replies=[(("docker", "exec", "-i", WEB, "python3", "-"), wait_once_killed)])
    assert run.code == 0, run.err
    assert len(run.agent_calls("wait")) == 2 and run.err.strip().splitlines()[-1].startswith("done: ")


def test_probe_killed_every_time_while_the_app_runs(restart, ws):
    """The final sentence says what is true after one more look: the app runs, unverified."""
    def killed(argv):
        if agent_command(argv)[0] == "wait":
            return CommandFailed(argv, 143, "")
        return agent_reply()(argv)
    run = restart(ws, replies=[(("docker", "exec", "-i", WEB, "python3", "-"), killed)])
    assert run.code == 1
    assert run.error.endswith("the app was stopped and started again (pid 101 runs now) but could not be "
                              "verified.")
    assert "not running now" not in run.err and len(run.agent_calls("wait")) == 3


# === Docker and the web container ================================================================

def test_docker_cli_missing(restart, ws):
    replies = [(("docker", "version"), fail(127, "docker not found on PATH"))]
    refused(restart(ws, replies=replies), 2, "the docker command is not installed or not on PATH.")


@pytest.mark.parametrize("stderr", [
    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
    "failed to connect to the docker API at unix:///var/run/docker.sock; check if the path is correct and if "
    "the daemon is running: dial unix /var/run/docker.sock: connect: no such file or directory",
], ids=["classic-wording", "new-wording"])
def test_daemon_down(restart, ws, stderr):
    replies = [(("docker", "version"), fail(1, stderr))]
    refused(restart(ws, replies=replies), 2, "the Docker daemon is not running")


def test_socket_permission_denied(restart, ws):
    stderr = ("permission denied while trying to connect to the Docker daemon socket at unix:///var/run/"
              "docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.49/version\": dial unix "
              "/var/run/docker.sock: connect: permission denied")
    replies = [(("docker", "version"), fail(1, stderr))]
    refused(restart(ws, replies=replies), 2, "permission denied on the Docker socket", "docker group")


def test_no_compose_v2_nor_v1(restart, ws):
    replies = [(("docker", "compose", "version"), fail(1, "docker: 'compose' is not a docker command.")),
               (("docker-compose", "version"), fail(127, "docker-compose not found on PATH"))]
    refused(restart(ws, replies=replies), 2, "neither `docker compose` (v2) nor `docker-compose` (v1) is "
            "installed", "--compose-cmd")


def test_compose_cmd_does_not_work(restart, ws):
    replies = [(("podman-compose", "version"), fail(127, "podman-compose not found on PATH"))]
    refused(restart(ws, "--compose-cmd", "podman-compose", replies=replies), 2,
            'the compose command "podman-compose" (--compose-cmd) does not work', "not found on PATH")


def test_web_container_not_running(restart, ws):
    """Honestly exit 1 (the product is down, not misconfigured); nothing touched."""
    replies = [(("docker", "ps"), ok(""))]
    refused(restart(ws, replies=replies), 1, "no running container in compose project demo_app_dev "
            "(is the product up?).")


def test_web_container_stopped(restart, ws):
    replies = [(("docker", "ps", "-a"), ok("c-web\n")), (("docker", "ps"), ok(""))]
    refused(restart(ws, replies=replies), 1, "no running container in compose project demo_app_dev "
            "(its containers exist but are stopped).")


def test_no_web_container_among_running(restart, ws):
    db = container(None, "demo_app_db", cid="c-db")
    replies = [(("docker", "ps"), ok("c-db\n")), (("docker", "inspect"), inspect_reply([db]))]
    refused(restart(ws, replies=replies), 1, "no web container in project demo_app_dev", "demo_app_web",
            "(running: demo_app_db).")


def test_two_candidate_web_containers(restart, ws):
    both = [container(ws), container(ws, "demo_app_worker", cid="c-worker")]
    replies = [(("docker", "ps"), ok("c-web\nc-worker\n")), (("docker", "inspect"), inspect_reply(both))]
    refused(restart(ws, replies=replies), 2, "two candidate web containers in project demo_app_dev "
            "(demo_app_web, demo_app_worker)", "--container")


def test_container_flag_unknown(restart, ws):
    refused(restart(ws, "--container", "ghost"), 2, 'container "ghost" (from --container) does not exist.')


def test_container_flag_not_running(restart, ws):
    stopped = container(ws, running=False)
    replies = [(("docker", "inspect"), inspect_reply([stopped]))]
    refused(restart(ws, "--container", WEB, replies=replies), 2,
            f'container "{WEB}" (from --container) is not running.')


def test_web_container_without_python3(restart, ws):
    """Honestly exit 1: the image lacks what restart needs; the first agent call fails, nothing touched."""
    missing = fail(127, 'OCI runtime exec failed: exec failed: unable to start container process: exec: '
                        '"python3": executable file not found in $PATH: unknown')
    replies = [(("docker", "exec", "-i", WEB, "python3", "-"), missing)]
    refused(restart(ws, replies=replies), 1, f"the web container {WEB} has no python3")


# === feature stacks ===============================================================================

def test_stack_with_no_containers(restart, ws):
    """A run-time outcome, exit 1: the empty stack is "not running", and nothing after the stacks runs."""
    redis = ("docker", "compose", "-p", "demo_app_splent_io_splent_feature_redis_dev")
    run = restart(ws, "-q", replies=[(redis, lambda argv: ok("[]") if "ps" in argv else ok())])
    assert run.code == 1, run.err
    assert "project demo_app_splent_io_splent_feature_redis_dev has no containers" in run.err
    assert run.error == ("error: 3 feature stack(s) did not restart: redis (not running), queue (skipped), "
                         "nginx (skipped); the app was not touched (use --keep-going to restart it anyway).")
    assert [c[3] for c in run.runner.changing_calls()] == ["demo_app_splent_io_splent_feature_redis_dev"]
    assert run.agent_calls("stop") == [] and run.starts() == [] and run.seconds < 1.0


# === feature sources and links ====================================================================

CACHED_REDIS = Path(".splent_cache/features/splent_io/splent_feature_redis@v1.0.0")


def test_pinned_feature_missing_from_cache(restart, ws):
    shutil.rmtree(ws / CACHED_REDIS)
    refused(restart(ws), 2, 'feature "splent-io/splent_feature_redis@v1.0.0" is not in the cache '
            f"({CACHED_REDIS})", "splent product:resolve")


def test_editable_checkout_missing(restart, ws):
    shutil.rmtree(ws / "splent_feature_queue")
    refused(restart(ws), 2, 'feature "splent-io/splent_feature_queue" is editable but its checkout '
            "splent_feature_queue/ does not exist")


def test_feature_source_outside_workspace(restart, ws, tmp_path):
    outside = tmp_path / "elsewhere" / "splent_feature_queue"
    shutil.move(ws / "splent_feature_queue", outside)
    (ws / "splent_feature_queue").symlink_to(outside)
    refused(restart(ws), 2, 'feature "splent-io/splent_feature_queue" resolves outside the workspace',
            str(outside), "web container cannot see it")


def test_link_pointing_outside_workspace_is_repointed(restart, ws):
    """Decision: a features/ link that points elsewhere is SPLENT's to own: it is re-pointed, not an error."""
    link = ws / PRODUCT / "features" / "splent_io" / "splent_feature_queue"
    link.unlink()
    link.symlink_to("/etc")
    run = restart(ws, "--dry-run")
    assert run.code == 0 and run.runner.changing_calls() == [] and run.seconds < 1.0
    assert "replace demo_app/features/splent_io/splent_feature_queue -> ../../../splent_feature_queue" in run.out
    assert os.readlink(link) == "/etc"                        # a dry run changes nothing


def test_features_folder_is_a_symlink(restart, ws, tmp_path):
    ns = ws / PRODUCT / "features" / "splent_io"
    shutil.move(ns, tmp_path / "ns")
    ns.symlink_to(tmp_path / "ns")
    refused(restart(ws), 2, "demo_app/features/splent_io is a symlink, not a directory")


def test_real_directory_where_a_link_belongs(restart, ws):
    link = ws / PRODUCT / "features" / "splent_io" / "splent_feature_queue"
    link.unlink()
    link.mkdir()
    refused(restart(ws), 2, "demo_app/features/splent_io/splent_feature_queue is a real directory, not a "
            'symlink', 'feature "splent-io/splent_feature_queue"')
    assert link.is_dir() and not link.is_symlink()


# === one run at a time, and what piles up =========================================================

def lock_file(ws: Path) -> Path:
    from restart.lock import engine_key, lock_path

    return lock_path(ws, PROJECT, engine_key(os.environ))


def test_another_run_holds_the_lock_no_wait(restart, ws):
    """Exit 75 at once, naming the run that holds the lock; the holder's lock and record are kept."""
    from restart.lock import RunLock

    with RunLock(lock_file(ws), PROJECT, "default", argv=["splent-restart", "--dev"]):
        message = refused(restart(ws, "--no-wait"), 75, f"another restart of {PROJECT} is running (pid "
                          f"{os.getpid()} on host ", "`splent-restart --dev`); not waiting (--no-wait).")
        assert json.loads(lock_file(ws).read_text())["pid"] == os.getpid()
    assert message.startswith("error: another restart")


def test_lock_left_by_a_dead_run_is_taken_over(restart, ws):
    """Not an error: a record under a free flock was left by a run that died; taken over, with a note."""
    path = lock_file(ws)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"pid": 4242, "host": "old-shell", "started": "2026-11-27T10:00:00+00:00",
                                "argv": ["splent-restart"]}))
    run = restart(ws, "--no-wait")
    assert run.code == 0, run.err
    assert "note: took over the lock left by pid 4242 (not running) on host old-shell: " in run.err
    assert len(run.starts()) == 1 and path.read_text() == "" and run.seconds < 1.0


def test_lock_folder_cannot_be_created(restart, ws):
    (ws / ".splent_cache" / "restart").write_text("a file where restart's lock folder belongs")
    refused(restart(ws), 2, "cannot create the run lock WS/.splent_cache/restart/demo_app_dev.lock".replace(
        "WS", str(ws)), "two runs never restart one product at once")


def test_zombies_under_a_pid1_that_never_reaps(restart, ws):
    """Not an error: the plan counts the zombies restart cannot reap and gives the one-line fix."""
    def reply(argv):
        command, rest = agent_command(argv)
        if command not in ("status", "inspect"):
            return agent_reply()(argv)
        app = {"pid": 101, "ppid": 1, "argv": ["flask", "run"], "role": "flask", "main": False}
        status = {"apps": [app], "masters": [], "pid1": ["tail", "-f", "/dev/null"], "workers": {},
                  "zombies": [14, 106], "orphans": [101], "pid1_reaps": False}
        if command == "inspect":
            return ok(json.dumps({"status": status, "pip": None,
                                  "files": {p: {"exists": True, "readable": True} for p in rest[1:]}}))
        return ok(json.dumps(status))
    agent = (("docker", "exec", "-i", WEB, "python3", "-"), reply)
    data = json.loads(restart(ws, "--dry-run", "--json", replies=[agent]).out)
    assert data["zombies"] == {"before": 2, "will_add": 1, "after": None, "pid1": "tail -f /dev/null",
                               "fix": f"add `init: true` to service {WEB} in {PRODUCT}/docker/docker-compose.dev.yml"}
    run = restart(ws, "--dry-run", replies=[agent])
    assert run.code == 0 and run.runner.changing_calls() == [] and run.seconds < 1.0
    assert (f"zombies: 2 in {WEB} whose parent, PID 1 (tail -f /dev/null), never reaps them; stopping the app "
            "adds 1 more (pid 101: started outside restart, now a child of PID 1); restart cannot reap those: "
            f"add `init: true` to service {WEB} in {PRODUCT}/docker/docker-compose.dev.yml") in run.out


# === the README's troubleshooting table ===========================================================

DOC = Path(__file__).resolve().parent.parent / "README.md"
TABLE_TESTS = ("test_troubleshooting_table_matches_the_catalogue", "test_troubleshooting_row")


def catalogue_ids() -> set[str]:
    """Every test in this module as pytest names it: ``test_x`` or ``test_x[id]``."""
    ids = set()
    for name, fn in globals().items():
        if not name.startswith("test_") or name in TABLE_TESTS:
            continue
        marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "parametrize"]
        if not marks:
            ids.add(name)
            continue
        mark = marks[0]
        params = mark.kwargs.get("ids") or mark.args[1]
        ids.update(f"{name}[{p}]" for p in params)
    return ids


def table_rows() -> dict[str, str]:
    """The troubleshooting table's rows that name a catalogue test: {test name: row}."""
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ") and "`test_" in line]
    return {m[1]: row for row in rows if (m := re.search(r"`(test_[^`]+)`\s*\|\s*$", row))}


def seen_everywhere() -> dict[str, tuple[int, str]]:
    """SEEN, completed by running the catalogue cases that did not run in this process.

    Run alone (``-k``), under xdist or in random order, the table test would otherwise compare
    nothing; the missing cases run in a child pytest that records what each printed.
    """
    missing = catalogue_ids() - set(SEEN)
    # never from a child: a case that fails there is missing there too, and a child of the child
    # would follow, without end
    if missing and not _CHILD_RUN and not os.environ.get(RECORD_VARIABLE):
        import subprocess
        import sys
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            record = Path(tmp) / "seen.jsonl"
            env = {**os.environ, RECORD_VARIABLE: str(record)}
            argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(Path(__file__))]
            node = Path(__file__).relative_to(DOC.parent)          # node ids are relative to cwd's rootdir
            argv += [f"--deselect={node}::{name}" for name in TABLE_TESTS]
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600,
                                  cwd=DOC.parent, stdin=subprocess.DEVNULL)
            recorded = record.read_text().splitlines() if record.exists() else []
            for line in recorded:
                name, code, text = json.loads(line)
                SEEN.setdefault(name, (code, text))
        _CHILD_RUN.append(proc.returncode)
    left = catalogue_ids() - set(SEEN)
    assert not left, f"catalogue cases that never ran, so their table rows are unchecked: {sorted(left)}"
    return SEEN


_CHILD_RUN: list[int] = []     # the child run happens at most once per process
QUOTED = ("error: ", "splent-restart: error: ", "note: ", "✗ ", "replace ", "zombies: ")


def test_troubleshooting_table_matches_the_catalogue():
    """One row per test, each test named once."""
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ") and "`test_" in line]
    named = [re.search(r"`(test_[^`]+)`\s*\|\s*$", row) for row in rows]
    assert all(named), [row for row, m in zip(rows, named, strict=True) if not m]
    in_doc = [m[1] for m in named]
    assert len(in_doc) == len(set(in_doc)), "a test is listed twice"
    assert set(in_doc) == catalogue_ids()
    assert len(in_doc) >= 30


@pytest.mark.parametrize("name", sorted(table_rows()))
def test_troubleshooting_row(name):
    """Each row on its own: the exit code and every quoted message are what that case printed.

    A quoted message (a code span starting like QUOTED) must be what the run printed: ``WS`` is
    the workspace, ``…`` stands for any text; ``error:`` spans must match a whole line.
    """
    row = table_rows()[name]
    code, text = seen_everywhere()[name]
    cells = [c.strip() for c in row.strip().strip("|").split(" | ")]
    assert cells[2] == str(code), (name, cells[2], code)
    for span in re.findall(r"``\s?(.+?)\s?``|`([^`]+)`", cells[1]):
        span = span[0] or span[1]
        if not span.startswith(QUOTED):
            continue
        pattern = ".*?".join(re.escape(part) for part in span.split("…"))
        lines = [line.strip() for line in text.splitlines()]
        if span.startswith(("error: ", "splent-restart: error: ")):
            assert any(re.fullmatch(pattern, line) for line in lines), (name, span, text)
        else:
            assert any(re.search(pattern, line) for line in lines), (name, span, text)
