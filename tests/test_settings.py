"""Resolution order (flag > environment > workspace .env) and its user-facing sentences, unit-level."""
from __future__ import annotations

from pathlib import Path

import pytest

from restart.cli import build_parser
from restart.errors import ConfigError
from restart.planning import settings as settings_mod
from restart.planning.engine import LOCAL, Engine
from restart.planning.settings import (
    Settings,
    find_workspace,
    read_workspace_env,
    resolve,
    resolve_env,
    resolve_product,
    resolve_workspace,
)


def workspace(root: Path, env_text: str = "SPLENT_APP=shop\n", products=("shop",)) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if env_text is not None:
        (root / ".env").write_text(env_text)
    for name in products:
        (root / name).mkdir(exist_ok=True)
    return root


def message(excinfo) -> str:
    return str(excinfo.value)


# --- workspace: --workspace > WORKING_DIR > nearest .env naming SPLENT_APP > /workspace ---------

def test_workspace_flag_wins_over_working_dir_and_cwd(tmp_path):
    flag, env, cwd = (workspace(tmp_path / n) for n in ("flag", "env", "cwd"))
    assert resolve_workspace(str(flag), {"WORKING_DIR": str(env)}, cwd) == flag.resolve()


def test_working_dir_wins_over_cwd_search(tmp_path):
    env, cwd = workspace(tmp_path / "env"), workspace(tmp_path / "cwd")
    assert resolve_workspace(None, {"WORKING_DIR": str(env)}, cwd) == env.resolve()


def test_empty_working_dir_falls_through_to_the_search(tmp_path):
    cwd = workspace(tmp_path / "cwd")
    assert resolve_workspace("", {"WORKING_DIR": ""}, cwd) == cwd.resolve()


def test_workspace_is_returned_resolved(tmp_path):
    ws = workspace(tmp_path / "ws")
    (tmp_path / "link").symlink_to(ws)
    assert resolve_workspace(str(tmp_path / "link"), {}, tmp_path) == ws.resolve()
    assert resolve_workspace(str(tmp_path / "link" / "shop" / ".."), {}, tmp_path) == ws.resolve()


def test_search_takes_the_nearest_folder_with_splent_app(tmp_path):
    outer = workspace(tmp_path / "outer")
    inner = workspace(outer / "a", "export SPLENT_APP=shop\n")
    deep = inner / "b" / "c"
    deep.mkdir(parents=True)
    assert find_workspace(deep) == inner
    assert find_workspace(inner) == inner           # "at or above": cwd itself counts
    assert resolve_workspace(None, {}, deep) == inner.resolve()


def test_search_skips_env_files_without_splent_app(tmp_path):
    outer = workspace(tmp_path / "outer")
    middle = outer / "m"
    middle.mkdir()
    (middle / ".env").write_text("# SPLENT_APP=x\nMY_SPLENT_APP=x\nSPLENT_APPS=x\nOTHER=1\n")
    assert find_workspace(middle) == outer


def test_search_accepts_indented_and_exported_lines_and_bad_bytes(tmp_path):
    for i, text in enumerate(["   SPLENT_APP=shop\n", "A=1\n  export SPLENT_APP=shop  \n"]):
        ws = workspace(tmp_path / str(i), text)
        assert find_workspace(ws) == ws
    ws = tmp_path / "bytes"
    ws.mkdir()
    (ws / ".env").write_bytes(b"X=\xff\xfe\nSPLENT_APP=shop\n")
    assert find_workspace(ws) == ws


def test_search_ignores_an_env_folder_and_an_unreadable_env(tmp_path, monkeypatch):
    outer = workspace(tmp_path / "outer")
    (outer / "dir" / ".env").mkdir(parents=True)
    assert find_workspace(outer / "dir") == outer
    bad = workspace(outer / "bad")
    real = Path.read_text

    def read_text(self, *a, **kw):
        if self == bad / ".env":
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **kw)

    monkeypatch.setattr(Path, "read_text", read_text)
    assert find_workspace(bad) == outer


def test_search_finds_nothing(tmp_path, monkeypatch):
    (tmp_path / "x").mkdir()
    found = find_workspace(tmp_path / "x")
    assert found is None or tmp_path not in (found, *found.parents)   # nothing at or below tmp_path


def test_default_workspace_when_nothing_is_found(tmp_path, monkeypatch):
    default = tmp_path / "default"
    default.mkdir()
    monkeypatch.setattr(settings_mod, "DEFAULT_WORKSPACE", default)
    monkeypatch.setattr(settings_mod, "find_workspace", lambda cwd: None)
    assert resolve_workspace(None, {}, tmp_path) == default.resolve()


def test_no_workspace_anywhere_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(settings_mod, "DEFAULT_WORKSPACE", tmp_path / "absent")
    monkeypatch.setattr(settings_mod, "find_workspace", lambda cwd: None)
    with pytest.raises(ConfigError) as e:
        resolve_workspace(None, {}, tmp_path)
    assert message(e) == ("no SPLENT workspace found: no folder above the current directory has a .env "
                          f"with SPLENT_APP, and {tmp_path / 'absent'} does not exist (use --workspace).")


@pytest.mark.parametrize("flag, environ, source", [
    ("FLAG", {}, "--workspace"),
    (None, {"WORKING_DIR": "FLAG"}, "WORKING_DIR"),
])
def test_workspace_not_a_directory_names_its_source(tmp_path, flag, environ, source):
    missing = str(tmp_path / "missing")
    flag = missing if flag else None
    environ = {k: missing for k in environ}
    with pytest.raises(ConfigError) as e:
        resolve_workspace(flag, environ, tmp_path)
    assert message(e) == f"workspace {missing} (from {source}) is not a directory."


def test_workspace_file_is_not_a_directory(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError) as e:
        resolve_workspace(str(tmp_path / "file"), {}, tmp_path)
    assert message(e) == f"workspace {tmp_path / 'file'} (from --workspace) is not a directory."


def test_read_workspace_env(tmp_path):
    assert read_workspace_env(tmp_path) == {}
    (tmp_path / ".env").mkdir()
    assert read_workspace_env(tmp_path) == {}
    (tmp_path / ".env").rmdir()
    (tmp_path / ".env").write_text("SPLENT_APP=shop\nexport SPLENT_ENV='prod'\n")
    assert read_workspace_env(tmp_path) == {"SPLENT_APP": "shop", "SPLENT_ENV": "prod"}


# --- environment: --dev/--prod > SPLENT_ENV in the environment > the workspace .env > dev -------

def test_env_flags():
    assert resolve_env(True, False, {"SPLENT_ENV": "prod"}, {"SPLENT_ENV": "prod"}) == "dev"
    assert resolve_env(False, True, {"SPLENT_ENV": "dev"}, {"SPLENT_ENV": "dev"}) == "prod"
    with pytest.raises(ConfigError) as e:
        resolve_env(True, True, {}, {})
    assert message(e) == "--dev and --prod exclude each other; give one."


def test_env_order_environment_then_workspace_then_dev():
    assert resolve_env(False, False, {"SPLENT_ENV": "prod"}, {"SPLENT_ENV": "dev"}) == "prod"
    assert resolve_env(False, False, {"SPLENT_ENV": "dev"}, {"SPLENT_ENV": "prod"}) == "dev"
    assert resolve_env(False, False, {"SPLENT_ENV": ""}, {"SPLENT_ENV": "prod"}) == "prod"
    assert resolve_env(False, False, {}, {"SPLENT_ENV": "prod"}) == "prod"
    assert resolve_env(False, False, {}, {"SPLENT_ENV": ""}) == "dev"
    assert resolve_env(False, False, {}, {}) == "dev"


def test_bad_env_names_its_source(tmp_path):
    with pytest.raises(ConfigError) as e:
        resolve_env(False, False, {"SPLENT_ENV": "Prod"}, {"SPLENT_ENV": "dev"}, tmp_path / ".env")
    assert message(e) == ('SPLENT_ENV is "Prod" (from the environment); it must be "dev" or "prod" '
                          "(or give --dev / --prod).")
    with pytest.raises(ConfigError) as e:
        resolve_env(False, False, {}, {"SPLENT_ENV": "staging"}, tmp_path / ".env")
    assert message(e) == (f'SPLENT_ENV is "staging" (from {tmp_path / ".env"}); it must be "dev" or "prod" '
                          "(or give --dev / --prod).")
    with pytest.raises(ConfigError) as e:
        resolve_env(False, False, {"SPLENT_ENV": ""}, {"SPLENT_ENV": "test"})
    assert message(e) == ('SPLENT_ENV is "test" (from the workspace .env); it must be "dev" or "prod" '
                          "(or give --dev / --prod).")


# --- product: --product > SPLENT_APP in the environment > the workspace .env --------------------

def test_product_order(tmp_path):
    ws = workspace(tmp_path, products=("a", "b", "c"))
    assert resolve_product("a", {"SPLENT_APP": "b"}, {"SPLENT_APP": "c"}, ws) == "a"
    assert resolve_product(None, {"SPLENT_APP": "b"}, {"SPLENT_APP": "c"}, ws) == "b"
    assert resolve_product("", {"SPLENT_APP": ""}, {"SPLENT_APP": "c"}, ws) == "c"


def test_product_unset_is_one_sentence(tmp_path):
    with pytest.raises(ConfigError) as e:
        resolve_product(None, {"SPLENT_APP": ""}, {}, tmp_path)
    assert message(e) == (f"SPLENT_APP is not set (in the environment or {tmp_path / '.env'}); "
                          "use --product NAME.")


@pytest.mark.parametrize("flag, environ, ws_env, source", [
    ("P", {"SPLENT_APP": "x"}, {"SPLENT_APP": "y"}, "--product"),
    (None, {"SPLENT_APP": "P"}, {"SPLENT_APP": "y"}, "SPLENT_APP in the environment"),
    (None, {}, {"SPLENT_APP": "P"}, "SPLENT_APP in WS/.env"),
])
@pytest.mark.parametrize("name", ["a/b", ".", ".."])
def test_product_not_a_folder_name(tmp_path, flag, environ, ws_env, source, name):
    sub = lambda d: {k: name if v == "P" else v for k, v in d.items()}  # noqa: E731
    with pytest.raises(ConfigError) as e:
        resolve_product(name if flag else None, sub(environ), sub(ws_env), tmp_path)
    source = source.replace("WS", str(tmp_path))
    assert message(e) == (f'product "{name}" is not a folder name in the workspace {tmp_path} '
                          f"(from {source}).")


@pytest.mark.parametrize("flag, environ, ws_env, source", [
    ("gone", {}, {}, "--product"),
    (None, {"SPLENT_APP": "gone"}, {}, "SPLENT_APP in the environment"),
    (None, {}, {"SPLENT_APP": "gone"}, "SPLENT_APP in WS/.env"),
])
def test_product_not_found_names_its_source(tmp_path, flag, environ, ws_env, source):
    (tmp_path / "gone").write_text("a file, not a folder")
    with pytest.raises(ConfigError) as e:
        resolve_product(flag, environ, ws_env, tmp_path)
    source = source.replace("WS", str(tmp_path))
    assert message(e) == (f'product "gone" not found: {tmp_path / "gone"} is not a directory '
                          f"(from {source}).")


# --- resolve(): the whole Settings from argv ------------------------------------------------------

def args(*argv: str):
    return build_parser().parse_args(list(argv))


def test_dev_and_prod_refused_before_the_workspace(tmp_path):
    with pytest.raises(ConfigError) as e:
        resolve(args("--dev", "--prod", "--workspace", str(tmp_path / "absent")), {}, tmp_path)
    assert message(e) == "--dev and --prod exclude each other; give one."


def test_resolve_defaults(tmp_path):
    ws = workspace(tmp_path / "ws", "SPLENT_APP=shop\nSPLENT_ENV=prod\n")
    got = resolve(args(), {}, ws)
    assert got == Settings(workspace=ws.resolve(), product="shop", env="prod", color=True, engine=LOCAL)
    assert got.product_dir == ws.resolve() / "shop"


def test_resolve_passes_every_option(tmp_path):
    ws = workspace(tmp_path / "ws", products=("shop", "other"))
    got = resolve(args("--workspace", str(ws), "--product", "other", "--dev", "--full", "--dry-run",
                       "--print-order", "--json", "-q", "-v", "--timeout", "3", "--health-timeout", "4",
                       "--start-timeout", "5", "--parallel", "2", "--only", "a", "--only", "b",
                       "--no-features", "--keep-going", "--no-wait", "--compose-cmd", "docker  compose",
                       "--container", "web", "--port", "8000", "--no-probe", "--log-file", "/l1",
                       "--log-file", "/l2", "--apply-env", "--context", "ctx"),
                  {"SPLENT_ENV": "prod", "DOCKER_CONTEXT": "other", "SPLENT_HOST_PROJECT_DIR": "/host/ws"}, tmp_path)
    assert got == Settings(
        workspace=ws.resolve(), product="other", env="dev", full=True, color=False, timeout=3.0, health_timeout=4.0,
        start_timeout=5.0, parallel=2, only=("a", "b"), no_features=True, keep_going=True, no_wait=True,
        compose_cmd=("docker", "compose"), container="web", port=8000, probe_path=None,
        log_files=("/l1", "/l2"), apply_env=True, engine=Engine(context="ctx", source="--context"),
        host_project_dir="/host/ws", compose_host_dir="/host/ws")


def test_host_project_dir_maps_from_the_environment_only_compose_also_reads_the_workspace_env(tmp_path):
    """Mapping container paths trusts only the environment (restart runs inside SPLENT's CLI
    container); compose's interpolation for `up -d` also takes the workspace .env's value."""
    ws = workspace(tmp_path / "ws")
    with (ws / ".env").open("a") as env:
        env.write("SPLENT_HOST_PROJECT_DIR=/from/ws-env\n")
    got = resolve(args("--workspace", str(ws)), {}, tmp_path)
    assert (got.host_project_dir, got.compose_host_dir, got.host_dir_for_compose) == (
        None, "/from/ws-env", "/from/ws-env")
    bare = resolve(args("--workspace", str(tmp_path / "ws")), {"SPLENT_HOST_PROJECT_DIR": ""}, tmp_path)
    assert bare.host_project_dir is None
    plain = Settings(workspace=ws, product="shop", env="dev")
    assert plain.host_dir_for_compose == str(ws)


def test_resolve_probe_path_kept_without_no_probe(tmp_path):
    ws = workspace(tmp_path / "ws")
    assert resolve(args("--probe-path", "/health"), {}, ws).probe_path == "/health"


@pytest.mark.parametrize("argv, environ, color", [
    ((), {}, True),
    (("--no-color",), {}, False),
    ((), {"NO_COLOR": "1"}, False),
    ((), {"NO_COLOR": ""}, True),
    (("--json",), {}, False),
])
def test_color(tmp_path, argv, environ, color):
    ws = workspace(tmp_path / "ws")
    assert resolve(args(*argv), environ, ws).color is color


def test_engine_one_context_else_environment(tmp_path):
    ws = workspace(tmp_path / "ws")
    environ = {"DOCKER_CONTEXT": "envctx"}
    assert resolve(args("--context", "c1"), environ, ws).engine == Engine(context="c1", source="--context")
    env_engine = Engine(context="envctx", source="DOCKER_CONTEXT")
    assert resolve(args("--context", "c1", "--context", "c2"), environ, ws).engine == env_engine
    assert resolve(args("--context", "c1", "--fleet", "f"), environ, ws).engine == env_engine
    assert resolve(args(), environ, ws).engine == env_engine
    assert resolve(args(), {}, ws).engine == LOCAL


def test_namespace_without_newer_options(tmp_path):
    ws = workspace(tmp_path / "ws")
    ns = args()
    for name in ("no_wait", "apply_env", "context", "fleet"):
        delattr(ns, name)
    got = resolve(ns, {}, ws)
    assert (got.no_wait, got.apply_env, got.engine) == (False, False, LOCAL)


def test_resolve_reads_process_environment_and_cwd(tmp_path, monkeypatch):
    ws = workspace(tmp_path / "ws", "SPLENT_APP=shop\n", products=("shop", "envprod"))
    monkeypatch.chdir(ws / "shop")
    for name in ("WORKING_DIR", "SPLENT_ENV", "NO_COLOR", "DOCKER_CONTEXT", "DOCKER_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SPLENT_APP", "envprod")
    got = resolve(args())
    assert (got.workspace, got.product, got.env) == (ws.resolve(), "envprod", "dev")


def test_default_workspace_is_the_documented_one():
    assert settings_mod.DEFAULT_WORKSPACE == Path("/workspace")      # --help and README say /workspace
