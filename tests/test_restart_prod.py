"""splent-restart on the real engine in prod, both ways the app runs, and without procps.

main-process: SPLENT's prod template (gunicorn is the container's main process chain) —
graceful reload by default, `docker restart` with --full, env differences reported by name.
exec-managed: the prod-exec variant (idle container, gunicorn started with docker exec) and a
dev web image without procps (no ps, pkill or kill binary).
"""
from __future__ import annotations

import json

import pytest

from tests.restart_helpers import container_id, leaked_values, make_shim, restart, set_env_value, shim_argvs

pytestmark = pytest.mark.docker


def workers(ws):
    procs = ws.processes("prod")
    return sorted(p["pid"] for p in procs if p["ppid"] == 1 and "gunicorn" in " ".join(p["cmdline"]))


def test_main_process_reload_full_and_env_report(example, tmp_path):
    ws = example()
    ws.up("prod")
    web = ws.web_container("prod")
    cid, started = container_id(web), ws.started_at(web)
    before = ws.answer("prod")
    old_workers = workers(ws)
    set_env_value(ws.env_file("prod"), "GREETING", "changed in .env.deploy")

    shim = make_shim(tmp_path / "shim")
    run = restart(ws, "--prod", "--json", shim_dir=shim)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["mode"] == "main-process"
    reload = next(s for s in data["steps"] if s["name"] == "reload gunicorn")
    assert reload["data"]["master"] == 1
    assert set(reload["data"]["workers_after"]).isdisjoint(old_workers)
    assert set(workers(ws)).isdisjoint(old_workers)
    assert ws.started_at(web) == started and container_id(web) == cid      # not restarted, not recreated
    after = ws.answer("prod")
    assert after["pid"] != before["pid"]                                    # a new worker answers
    # the running container cannot see the edited value: said by NAME, with the command, never claimed
    assert after["env"]["GREETING"] == before["env"]["GREETING"]
    assert data["app"]["env_not_applied"] == ["GREETING"]
    assert "up -d" in data["app"]["apply_command"] and "changed in .env.deploy" not in run.stdout + run.stderr
    assert "NOT applied" in run.stderr and "GREETING" in run.stderr
    assert leaked_values(ws, "prod", shim_argvs(shim)) == []

    shim_full = make_shim(tmp_path / "shim-full")
    full = restart(ws, "--prod", "--full", "--json", shim_dir=shim_full)
    assert full.returncode == 0, full.stderr
    steps = [s["name"] for s in json.loads(full.stdout)["steps"]]
    assert steps == ["restart container", "verify"]
    assert container_id(web) == cid and ws.started_at(web) != started        # restarted, kept
    assert ws.answer("prod")["server"] == "gunicorn"
    assert leaked_values(ws, "prod", shim_argvs(shim_full)) == []


def test_prod_exec_managed_variant_stops_old_master_and_applies_env(example, tmp_path):
    ws = example(variant="prod-exec")
    ws.up("prod")
    procs = ws.processes("prod")
    gunicorns = {p["pid"] for p in procs if "gunicorn" in " ".join(p["cmdline"])}
    masters = [p["pid"] for p in procs if p["pid"] in gunicorns and p["ppid"] not in gunicorns]
    assert masters, procs
    set_env_value(ws.env_file("prod"), "GREETING", "prod-exec (new) $(id)")
    shim = make_shim(tmp_path / "shim")
    run = restart(ws, "--prod", "--json", shim_dir=shim)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["mode"] == "exec-managed"
    assert [s["name"] for s in data["steps"]][-3:] == ["stop app", "start", "verify"]
    assert data["steps"][-2]["detail"].endswith("scripts/05_1_start_app_prod.sh")
    alive = {p["pid"] for p in ws.processes("prod")}
    assert not alive & set(masters)                                         # the old master is gone
    answer = ws.answer("prod")
    assert answer["env"]["GREETING"] == "prod-exec (new) $(id)" and answer["server"] == "gunicorn"
    assert leaked_values(ws, "prod", shim_argvs(shim)) == []

    # --prod --full: the whole prod entrypoint (install step, then exec gunicorn) through docker exec
    before = ws.answer("prod")["pid"]
    full = restart(ws, "--prod", "--full", "--json")
    assert full.returncode == 0, full.stderr
    data = json.loads(full.stdout)
    assert [s["name"] for s in data["steps"]][-3:] == ["stop app", "start", "verify"]
    assert data["steps"][-2]["detail"].endswith("entrypoints/entrypoint.prod.sh")
    answer = ws.answer("prod")
    assert answer["pid"] != before and answer["server"] == "gunicorn"


def test_stop_works_without_procps(example):
    ws = example(web_image="restart-test/web-noprocps:2")
    ws.up("dev")
    assert ws.exec("sh", "-c", "command -v pkill ps kill || echo none", env="dev").stdout.strip() == "none"
    old = {p["pid"] for p in ws.processes("dev") if {"flask", "watchmedo"} & set(p["comm"].split())
           or any(w in " ".join(p["cmdline"]) for w in ("flask", "watchmedo"))}
    assert old
    run = restart(ws, "--dev", "--no-features")
    assert run.returncode == 0, run.stderr
    alive = {p["pid"] for p in ws.processes("dev") if p.get("state") != "Z"}
    assert not alive & old
    assert ws.answer("dev")["pid"] not in old
