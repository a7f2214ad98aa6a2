"""Feature sync on the real engine: real pip in the real dev web container.

Each test edits the product's ``[tool.splent]`` declaration, runs splent-restart as users do
and checks four views of the result against the declaration: ``pip list`` in the web
container, the restarted app's answer (``features`` from the installed metadata, ``modules``
from the code it imported), the ``features/`` symlinks, and what restart reported (``--json``
and the progress lines on stderr).

One example is brought up for the module.  The ``ws`` fixture puts the pyproject back after
each test and, when pip, the links or the app differ from how the module found them, runs a
restart to bring them back (and fails the test's teardown if that does not work), so the
tests do not depend on each other's order.
"""
from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from tests.restart_helpers import ctrl_c, is_agent, make_shim, popen_restart, restart, shim_argvs, wait_for_call
from tests.rig import parse_entry

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.docker

REDIS = "splent-io/splent_feature_redis@v1.0.0"
REDIS_NEXT = "splent-io/splent_feature_redis@v1.1.0"
QUEUE = "splent-io/splent_feature_queue"
QUEUE_PINNED = "splent-io/splent_feature_queue@v0.3.0"
NOTES = "splent-io/splent_feature_notes"
NGINX = "splent-io/splent_feature_nginx@v1.0.0"
DEBUG = "splent_feature_debug"
METRICS = "splent-io/splent_feature_metrics@v1.0.0"
FEATURES = [REDIS, QUEUE, NOTES, NGINX]          # the example's [tool.splent].features
FEATURES_DEV = [DEBUG]                           # and its features_dev
PREFIX = "splent_feature_"
STACKS = (REDIS, QUEUE, NGINX)
CHECKOUTS = ("splent_feature_extra", "splent_feature_broken")   # made by tests, removed after each

FEATURE_PYPROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
description = "Made by test_sync_docker"
requires-python = ">=3.11"
dependencies = []

[tool.setuptools.packages.find]
where = ["src"]
"""


# ---------------------------------------------------------------- the declaration and its views


def package(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def set_list(ws, key: str, entries: list[str]) -> None:
    """Rewrite ``key = [...]`` of [tool.splent] in the product's pyproject (one line)."""
    path = ws.product_dir / "pyproject.toml"
    text, count = re.subn(rf"^{key} = \[.*?\]", f"{key} = {json.dumps(entries)}", path.read_text(),
                          count=1, flags=re.S | re.M)
    assert count == 1, f"no {key} list in {path}"
    path.write_text(text)


def make_checkout(ws, name: str, version: str = "0.1.0", pyproject: str | None = None) -> None:
    """An editable feature checkout at the workspace root, shaped like the example's."""
    root = ws.root / name
    (root / "src" / name).mkdir(parents=True)
    (root / "pyproject.toml").write_text(pyproject or FEATURE_PYPROJECT.format(name=name, version=version))
    (root / "src" / name / "__init__.py").write_text(f'__version__ = "{version}"\n')


def expected(ws) -> dict[str, tuple[str, str]]:
    """{package: (version, container location)} for every declared dev feature."""
    found = {}
    for entry in ws.features("dev"):
        root = ws.feature_root(entry)
        with open(root / "pyproject.toml", "rb") as handle:
            version = tomllib.load(handle)["project"]["version"]
        found[package(parse_entry(entry)[1])] = (version, f"/workspace/{root.relative_to(ws.root).as_posix()}")
    return found


def expected_links(ws) -> dict[str, str]:
    links = {}
    for entry in ws.features("dev"):
        ns_safe, name, version = parse_entry(entry)
        link = f"{ns_safe}/{name}@{version}" if version else f"{ns_safe}/{name}"
        links[link] = os.path.relpath(ws.feature_root(entry), ws.product_dir / "features" / ns_safe)
    return links


def installed(ws) -> dict[str, tuple[str, str | None]]:
    """{package: (version, editable location)} of the splent_feature_* packages pip lists."""
    rows = json.loads(ws.exec("python3", "-m", "pip", "list", "--format=json", env="dev").stdout)
    return {package(r["name"]): (r["version"], r.get("editable_project_location"))
            for r in rows if package(r["name"]).startswith(PREFIX)}


def links(ws) -> dict[str, str]:
    folder = ws.product_dir / "features"
    return {p.relative_to(folder).as_posix(): os.readlink(p) for p in folder.glob("*/*") if p.is_symlink()}


def state(ws) -> dict:
    answer = ws.answer("dev")
    return {"pip": installed(ws), "links": links(ws), "features": answer["features"],
            "modules": answer["modules"]}


def assert_matches_declaration(ws) -> dict:
    """pip, the app and the links all say what the pyproject says; returns the app's answer."""
    want = expected(ws)
    assert installed(ws) == want
    versions = {pkg: version for pkg, (version, _) in want.items()}
    answer = ws.answer("dev")
    assert answer["features"] == versions             # metadata on disk, read by the new process
    assert answer["modules"] == versions              # the code the new process imported
    assert links(ws) == expected_links(ws)
    return answer


def sync(ws, *args, shim_dir=None):
    """splent-restart --json ARGS: (completed process, parsed JSON)."""
    run = restart(ws, "--json", *args, shim_dir=shim_dir)
    try:
        data = json.loads(run.stdout)
    except ValueError:
        pytest.fail(f"no JSON on stdout (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")
    return run, data


def changes(data) -> dict[str, str]:
    return {c["package"]: c["kind"] for c in data["features"]}


def step_names(data) -> list[str]:
    return [s["name"] for s in data["steps"]]


def pip_execs(argvs) -> list[list[str]]:
    """The docker exec calls that ran pip (the shim logs docker's argv without "docker")."""
    return [a for a in argvs if a[:1] == ["exec"] and "pip" in a]


def stack_started(ws) -> dict[str, str]:
    return {f: ws.started_at(ws.stack_containers(f, "dev")[0]) for f in STACKS}


def module_file(ws, name: str) -> str:
    """Where the web container's python imports a feature from (the interpreter the app runs)."""
    return ws.exec("python3", "-c", f"import {name}; print({name}.__file__)", env="dev").stdout.strip()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def baseline(example_dev_up):
    """How the module found the example: pyproject text, pip, links and the app's features."""
    ws = example_dev_up
    found = state(ws)
    assert found["pip"] == expected(ws) and found["links"] == expected_links(ws)
    return {"pyproject": (ws.product_dir / "pyproject.toml").read_text(), **found}


@pytest.fixture
def ws(example_dev_up, baseline):
    """The module's example; afterwards the pyproject is restored and, if needed, re-synced."""
    ws = example_dev_up
    yield ws
    (ws.product_dir / "pyproject.toml").write_text(baseline["pyproject"])
    for name in CHECKOUTS:
        shutil.rmtree(ws.root / name, ignore_errors=True)
    now = {k: baseline[k] for k in ("pip", "links", "features", "modules")}
    try:
        current = state(ws)
    except Exception:                   # the app does not answer: the restart below fixes that
        current = None
    if current != now:
        run = restart(ws, "--only", "notes")        # notes has no stack: sync and the app only
        assert run.returncode == 0, f"restoring the example failed:\n{run.stderr}"
        assert state(ws) == now, "the example did not return to how the module found it"


# ---------------------------------------------------------------- scenarios


def test_unchanged_product_detects_with_the_one_inspection_call_and_runs_no_pip(ws, tmp_path):
    shim = make_shim(tmp_path / "shim")
    run, data = sync(ws, shim_dir=shim)
    assert run.returncode == 0, run.stderr
    argvs = shim_argvs(shim)
    assert pip_execs(argvs) == []                    # detection reads the installed metadata ...
    assert len([a for a in argvs if is_agent("inspect")(a)]) == 1     # ... in the one inspection exec
    assert data["features"] == [] and data["links"] == []
    assert not [n for n in step_names(data) if n.startswith("pip") or n == "feature links"]   # ... and no more
    assert_matches_declaration(ws)


def test_add_a_pinned_and_an_editable_feature(ws):
    make_checkout(ws, "splent_feature_extra", "0.4.0")
    set_list(ws, "features_dev", [DEBUG, METRICS, "splent_feature_extra"])
    pid = ws.answer("dev")["pid"]
    run, data = sync(ws)
    assert run.returncode == 0, run.stderr
    assert changes(data) == {"splent_feature_metrics": "new", "splent_feature_extra": "new"}
    assert "+ splent_feature_metrics (new)" in run.stderr and "+ splent_feature_extra (new)" in run.stderr
    answer = assert_matches_declaration(ws)
    assert answer["modules"]["splent_feature_metrics"] == "1.0.0" and answer["pid"] != pid
    assert installed(ws)["splent_feature_extra"] == ("0.4.0", "/workspace/splent_feature_extra")
    assert links(ws)["splent_io/splent_feature_metrics@v1.0.0"] == (
        "../../../.splent_cache/features/splent_io/splent_feature_metrics@v1.0.0")


def test_remove_a_feature(ws):
    set_list(ws, "features_dev", [])
    run, data = sync(ws)
    assert run.returncode == 0, run.stderr
    assert changes(data) == {"splent_feature_debug": "removed"}
    assert "- splent_feature_debug (removed)" in run.stderr
    answer = assert_matches_declaration(ws)
    assert "splent_feature_debug" not in installed(ws) and "splent_feature_debug" not in answer["modules"]
    assert "splent_io/splent_feature_debug" not in links(ws)
    assert (ws.root / "splent_feature_debug").is_dir()            # the checkout itself is kept


def test_bump_a_pinned_version_and_back(ws):
    set_list(ws, "features", [REDIS_NEXT, QUEUE, NOTES, NGINX])
    run, data = sync(ws)
    assert run.returncode == 0, run.stderr
    assert data["features"] == [{"kind": "bump", "package": "splent_feature_redis", "old": "1.0.0", "new": "1.1.0",
                                 "path": "/workspace/.splent_cache/features/splent_io/splent_feature_redis@v1.1.0"}]
    assert "↑ splent_feature_redis 1.0.0 → 1.1.0" in run.stderr
    assert assert_matches_declaration(ws)["modules"]["splent_feature_redis"] == "1.1.0"
    assert "splent_io/splent_feature_redis@v1.0.0" not in links(ws)

    set_list(ws, "features", FEATURES)
    run, data = sync(ws)
    assert run.returncode == 0, run.stderr
    assert changes(data) == {"splent_feature_redis": "bump"}
    assert "↓ splent_feature_redis 1.1.0 → 1.0.0" in run.stderr
    assert assert_matches_declaration(ws)["modules"]["splent_feature_redis"] == "1.0.0"


def test_switch_editable_to_pinned_and_back(ws):
    cached = "/workspace/.splent_cache/features/splent_io/splent_feature_queue@v0.3.0"
    assert module_file(ws, "splent_feature_queue").startswith("/workspace/splent_feature_queue/")
    set_list(ws, "features", [REDIS, QUEUE_PINNED, NOTES, NGINX])
    run, data = sync(ws)
    assert run.returncode == 0, run.stderr
    assert data["features"] == [{"kind": "switch", "package": "splent_feature_queue", "old": "editable",
                                 "new": "pinned", "path": cached}]
    assert "⇄ splent_feature_queue editable → pinned" in run.stderr
    assert_matches_declaration(ws)
    assert installed(ws)["splent_feature_queue"] == ("0.3.0", cached)
    assert module_file(ws, "splent_feature_queue").startswith(cached + "/")
    assert [s["name"] for s in data["stacks"]] == ["redis", "queue", "nginx"]   # its stack, from the cache

    set_list(ws, "features", FEATURES)
    run, data = sync(ws)
    assert run.returncode == 0, run.stderr
    assert changes(data) == {"splent_feature_queue": "switch"}
    assert "⇄ splent_feature_queue pinned → editable" in run.stderr
    assert_matches_declaration(ws)
    assert module_file(ws, "splent_feature_queue").startswith("/workspace/splent_feature_queue/")


def test_dry_run_lists_every_change_and_changes_nothing(ws, baseline):
    set_list(ws, "features", [REDIS_NEXT, QUEUE_PINNED, NOTES, NGINX])
    set_list(ws, "features_dev", [METRICS])
    pid, started = ws.answer("dev")["pid"], stack_started(ws)
    labels = ["- splent_feature_debug (removed)", "↑ splent_feature_redis 1.0.0 → 1.1.0",
              "⇄ splent_feature_queue editable → pinned", "+ splent_feature_metrics (new)"]
    run = restart(ws, "--dry-run")
    assert run.returncode == 0, run.stderr
    assert all(label in run.stdout for label in labels), run.stdout
    assert f"{ws.web_container('dev')} python3 -m pip install" in run.stdout            # the exact commands
    assert "pip uninstall --disable-pip-version-check -y splent_feature_debug" in run.stdout
    run, data = sync(ws, "--dry-run")
    assert run.returncode == 0, run.stderr
    assert data["dry_run"] is True and data["features"] == labels
    assert installed(ws) == baseline["pip"] and links(ws) == baseline["links"]
    assert ws.answer("dev")["pid"] == pid and stack_started(ws) == started


def test_pip_failure_stops_before_any_stack_or_the_app(ws, baseline):
    make_checkout(ws, "splent_feature_broken", pyproject='[project\nname = "splent_feature_broken"\n')
    set_list(ws, "features", [REDIS_NEXT, QUEUE, NOTES, NGINX])
    set_list(ws, "features_dev", ["splent_feature_broken"])               # and debug removed
    pid, started = ws.answer("dev")["pid"], stack_started(ws)
    run, data = sync(ws)
    assert run.returncode == 1, run.stderr
    web = ws.web_container("dev")
    assert f"pip failed in {web}" in run.stderr and "no stack or app was touched" in run.stderr
    assert "TOMLDecodeError" in run.stderr                      # pip's own error, not just "exit code 1"
    assert "Traceback" not in run.stderr and "done:" not in run.stderr
    assert data["outcome"] == "failed" and "TOMLDecodeError" in data["error"]
    assert changes(data) == {"splent_feature_debug": "removed", "splent_feature_redis": "bump",
                             "splent_feature_broken": "new"}
    assert [(s["name"], s["status"]) for s in data["steps"]] == [("feature links", "ok"), ("pip install", "failed")]
    assert data["stacks"] == []
    assert ws.answer("dev")["pid"] == pid and stack_started(ws) == started
    # pip installs before it uninstalls, and a failed install installs nothing: pip is as it was
    assert installed(ws) == baseline["pip"]


def test_no_features_skips_sync(ws, baseline, tmp_path):
    set_list(ws, "features", [REDIS_NEXT, QUEUE, NOTES, NGINX])
    set_list(ws, "features_dev", [])
    shim = make_shim(tmp_path / "shim")
    run, data = sync(ws, "--no-features", shim_dir=shim)
    assert run.returncode == 0, run.stderr
    assert pip_execs(shim_argvs(shim)) == []                    # not even pip list
    assert data["features"] == [] and data["links"] == []
    assert "↑" not in run.stderr and "(removed)" not in run.stderr and "feature links" not in step_names(data)
    assert installed(ws) == baseline["pip"] and links(ws) == baseline["links"]


def test_full_fixes_links_but_leaves_pip_to_the_entrypoint(ws, baseline, tmp_path):
    set_list(ws, "features", [REDIS_NEXT, QUEUE, NOTES, NGINX])
    set_list(ws, "features_dev", [])
    shim = make_shim(tmp_path / "shim")
    run, data = sync(ws, "--full", shim_dir=shim)
    assert run.returncode == 0, run.stderr
    assert links(ws) == expected_links(ws)                      # links follow the declaration
    assert pip_execs(shim_argvs(shim)) == []                    # restart ran no pip at all
    assert data["features"] == [] and not [n for n in step_names(data) if n.startswith("pip")]
    # the entrypoint's 00_install_features installs what the links point at; it never uninstalls
    pip = installed(ws)
    assert pip["splent_feature_redis"] == expected(ws)["splent_feature_redis"]
    assert pip["splent_feature_debug"] == baseline["pip"]["splent_feature_debug"]
    assert ws.answer("dev")["modules"]["splent_feature_redis"] == "1.1.0"


def test_ctrl_c_during_pip_lets_it_finish_and_restarts_nothing(ws, tmp_path):
    """Ctrl-C as a terminal sends it (the whole process group) while pip installs: the pip call runs
    to its end before restart exits 130, and no stack and not the app is restarted."""
    make_checkout(ws, "splent_feature_extra", "0.4.0")
    set_list(ws, "features_dev", [DEBUG, "splent_feature_extra"])
    pid, started = ws.answer("dev")["pid"], stack_started(ws)
    shim = make_shim(tmp_path / "shim")
    proc = popen_restart(ws, "--json", shim_dir=shim)
    wait_for_call(proc, shim, lambda argv: argv[:1] == ["exec"] and "pip" in argv and "install" in argv)
    ctrl_c(proc)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 130, err
    # pip had finished when restart exited (read at once, from the container)
    assert installed(ws)["splent_feature_extra"] == ("0.4.0", "/workspace/splent_feature_extra")
    assert "letting the running pip call finish" in err
    data = json.loads(out)
    assert data["outcome"] == "interrupted" and data["stacks"] == []
    assert [(s["name"], s["status"]) for s in data["steps"]][-1] == ("pip install", "ok")
    assert ws.answer("dev")["pid"] == pid and stack_started(ws) == started
