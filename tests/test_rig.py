"""The rig is real: the example comes up on the engine, answers from inside, and leaves nothing.

Three ways the app runs: dev (idle container, app started with docker exec), prod as SPLENT's
template (gunicorn is the container's main process chain) and the prod-exec variant (idle prod
container, gunicorn started with docker exec).
"""
from __future__ import annotations

import json
import os
import stat

import pytest

from tests.rig import TEMPLATE, TOKEN, Workspace, parse_entry, parse_ps_json

MOTTO = "Quienes somos (v1); 100% $5"
REDIS = "splent-io/splent_feature_redis@v1.0.0"
QUEUE = "splent-io/splent_feature_queue"
NGINX = "splent-io/splent_feature_nginx@v1.0.0"
HEALTHCHECKED = {"splent_feature_redis", "splent_feature_queue"}


# ---------------------------------------------------------------- helpers (no engine needed)


def by_pid(procs):
    return {p["pid"]: p for p in procs}


def ancestors(procs, pid):
    """PIDs from pid's parent up to the top of the container's PID namespace."""
    table, chain = by_pid(procs), []
    while pid in table and table[pid]["ppid"] not in chain:
        pid = table[pid]["ppid"]
        chain.append(pid)
    return chain


def assert_stacks_up(ws, env):
    """Product and every feature stack running (redis and queue also healthy), via compose ps."""
    projects = {ws.project(env): None} | {ws.feature_project(f, env): f for f, _ in ws.stacks(env)}
    assert len(projects) == 4, projects
    for project, feature in projects.items():
        rows = ws.ps_json(project, all_containers=True)
        assert rows, f"{project}: no containers"
        for row in rows:
            assert row["State"] == "running", (project, row)
            if feature and parse_entry(feature)[1] in HEALTHCHECKED:
                assert row["Health"] == "healthy", (project, row)


def assert_nginx_proxies(ws, env, pid):
    """A request from inside the nginx container reaches the app (the same process answers)."""
    [nginx] = ws.stack_containers(NGINX, env)
    status, body = ws.http_from(nginx, "127.0.0.1", 80, "/")
    assert status == 200, body
    assert json.loads(body)["app"] == ws.product
    assert json.loads(body)["pid"] in {p["pid"] for p in ws.processes(env)}
    assert ws.http_from(nginx, "127.0.0.1", 80, "/nginx-health") == (200, f"ok {env}\n")


def assert_gone(ws):
    ws.down()
    assert ws.leftovers() == {}
    ws.down()                                    # idempotent: nothing left to remove, no error


def test_parse_ps_json_accepts_array_and_lines():
    rows = [{"Name": "a", "State": "running"}, {"Name": "b", "State": "exited"}]
    assert parse_ps_json(json.dumps(rows)) == rows
    assert parse_ps_json("\n".join(json.dumps(r) for r in rows) + "\n") == rows
    assert parse_ps_json("") == []


def test_create_renames_product_everywhere(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    other = Workspace.create(tmp_path / "other")
    assert ws.product != other.product and ws.product.startswith("demo_")
    for path in ws.root.rglob("*"):
        assert TOKEN not in str(path.relative_to(ws.root)), path
        if path.is_file() and not path.is_symlink():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert (ws.product_dir / "src" / ws.product / "__init__.py").is_file()
    assert f"container_name: {ws.product}_web\n" in ws.compose_file("dev").read_text()
    assert f"SPLENT_HOST_PROJECT_DIR={ws.root}\n" in (ws.root / ".env").read_text()


def test_create_keeps_symlinks_and_executable_bits(tmp_path):
    ws = Workspace.create(tmp_path / "ws", product="demo_links")
    links = sorted((ws.product_dir / "features" / "splent_io").iterdir())
    assert [p.name for p in links] == sorted(os.listdir(TEMPLATE / TOKEN / "features" / "splent_io"))
    for link in links:
        assert link.is_symlink() and not os.path.isabs(os.readlink(link))
        assert (link / "pyproject.toml").is_file(), link
    for script in [*ws.product_dir.glob("scripts/*.sh"), *ws.product_dir.glob("entrypoints/*.sh")]:
        assert script.stat().st_mode & stat.S_IXUSR, script


def test_create_variant_and_web_image(tmp_path):
    ws = Workspace.create(tmp_path / "ws", variant="prod-exec", web_image="restart-test/web-noprocps:2")
    text = ws.compose_file("prod").read_text()
    assert "tail" in text and "entrypoint.prod.sh" not in text.split("services:")[1]
    assert "image: restart-test/web-noprocps:2\n" in text
    with pytest.raises(ValueError):
        Workspace.create(tmp_path / "bad", product="Demo-App")


def test_resolve_links_follows_the_env(tmp_path):
    ws = Workspace.create(tmp_path / "ws")
    ws.resolve_links("prod")
    names = sorted(p.name for p in (ws.product_dir / "features" / "splent_io").iterdir())
    assert "splent_feature_metrics@v1.0.0" in names and "splent_feature_debug" not in names
    assert [f for f, _ in ws.stacks("prod")] == [REDIS, QUEUE, NGINX]


# ---------------------------------------------------------------- dev: one example for the module


@pytest.mark.docker
def test_dev_every_stack_runs(example_dev_up):
    assert_stacks_up(example_dev_up, "dev")


@pytest.mark.docker
def test_dev_app_answers_with_pid_and_env(example_dev_up):
    ws = example_dev_up
    answer = ws.answer("dev")
    assert answer["app"] == ws.product and answer["server"] == "flask"
    assert answer["env"] == {"GREETING": "Hello from dev", "MOTTO": MOTTO, "SPLENT_ENV": "dev",
                             "SECRET_TOKEN": "s3cr3t-dev-token"}
    assert set(answer["features"]) == {"splent_feature_redis", "splent_feature_queue", "splent_feature_notes",
                                       "splent_feature_nginx", "splent_feature_debug"}
    assert answer["features"]["splent_feature_redis"] == "1.0.0" == answer["modules"]["splent_feature_redis"]
    procs = by_pid(ws.processes("dev"))
    assert "flask" in procs[answer["pid"]]["cmdline"][1]
    assert "watchmedo" in procs[answer["ppid"]]["cmdline"][1]
    assert procs[1]["cmdline"] == ["tail", "-f", "/dev/null"]       # exec-managed: PID 1 idles


@pytest.mark.docker
def test_dev_exec_sees_the_workspace(example_dev_up):
    ws = example_dev_up
    out = ws.exec("cat", f"/workspace/{ws.product}/pyproject.toml").stdout
    assert f'name = "{ws.product}"' in out
    assert ws.fetch("dev", "/health") == "ok"


@pytest.mark.docker
def test_dev_nginx_proxies_to_the_web_container(example_dev_up):
    assert_nginx_proxies(example_dev_up, "dev", example_dev_up.answer("dev")["pid"])


# ---------------------------------------------------------------- prod: SPLENT's template, and a variant


@pytest.mark.docker
def test_prod_gunicorn_is_the_main_process_chain(example):
    ws = example()
    answer = ws.up("prod")
    assert answer["server"] == "gunicorn" and answer["config"] == "production"
    assert answer["env"] == {"GREETING": "Hello from prod", "MOTTO": MOTTO, "SPLENT_ENV": "prod",
                             "SECRET_TOKEN": "s3cr3t-prod-token"}
    assert "splent_feature_metrics" in answer["features"] and "splent_feature_debug" not in answer["features"]
    procs = ws.processes("prod")
    master = answer["ppid"]
    assert "gunicorn" in by_pid(procs)[master]["cmdline"][1]
    assert master == 1 or 1 in ancestors(procs, master)
    assert_stacks_up(ws, "prod")
    assert_nginx_proxies(ws, "prod", answer["pid"])
    assert_gone(ws)


@pytest.mark.docker
def test_prod_exec_variant_starts_gunicorn_with_docker_exec(example):
    ws = example(variant="prod-exec")
    answer = ws.up("prod")
    assert answer["server"] == "gunicorn" and answer["env"]["MOTTO"] == MOTTO
    assert answer["env"]["SECRET_TOKEN"] == "s3cr3t-prod-token"
    procs = by_pid(ws.processes("prod"))
    assert procs[1]["cmdline"] == ["tail", "-f", "/dev/null"]
    master = answer["ppid"]
    assert "gunicorn" in procs[master]["cmdline"][1]
    assert procs[master]["ppid"] == 0          # exec'd: its parent is outside the container
    assert_stacks_up(ws, "prod")
    assert_gone(ws)
