"""gunicorn in SPLENT's prod template (main-process) on the real engine: a reload serves the NEW
code, without a failed request, and a ``--preload`` master (whose SIGHUP keeps the old code) is
restarted instead, saying so.  Judged from the app's own answer and an in-container probe loop.
"""
from __future__ import annotations

import json
import time

import pytest

from tests.restart_helpers import container_id, restart

pytestmark = pytest.mark.docker

# Runs in the web container for the whole restart: GET url every 20 ms until <out>.stop exists,
# then writes {"ok", "failed", "errors"} to <out>. <out>.started appears after the first answer.
PROBE_LOOP = """\
import json, os, sys, time, urllib.request
url, out = sys.argv[1], sys.argv[2]
ok = failed = 0
errors = []
while not os.path.exists(out + ".stop"):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            r.read()
        ok += 1
    except Exception as e:
        failed += 1
        errors.append(repr(e)[:120])
    if ok == 1 and not os.path.exists(out + ".started"):
        open(out + ".started", "w").close()
    time.sleep(0.02)
with open(out + ".tmp", "w") as f:
    json.dump({"ok": ok, "failed": failed, "errors": errors[:5]}, f)
os.rename(out + ".tmp", out)
"""
OUT = "/tmp/reload-probe.json"


def wait_for_file(ws, path: str, timeout: float = 30) -> None:
    """Poll (bounded) until a file exists in the prod web container."""
    deadline = time.monotonic() + timeout
    while ws.exec("test", "-e", path, env="prod", check=False).returncode != 0:
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout:g}s"
        time.sleep(0.1)


def change_code(ws, marker: str) -> None:
    init = ws.product_dir / "src" / ws.product / "__init__.py"
    text = init.read_text()
    assert f'app="{ws.product}"' in text
    init.write_text(text.replace(f'app="{ws.product}"', f'app="{marker}"'))


def test_reload_serves_new_code_without_a_failed_request(example):
    ws = example()
    ws.up("prod")
    web = ws.web_container("prod")
    cid, started = container_id(web), ws.started_at(web)
    assert ws.answer("prod")["app"] == ws.product
    change_code(ws, "reloaded-code-1")
    ws.exec("python3", "-c", PROBE_LOOP, "http://127.0.0.1:5000/", OUT, env="prod", detach=True)
    wait_for_file(ws, OUT + ".started")
    run = restart(ws, "--prod", "--no-features", "--json")
    ws.exec("touch", OUT + ".stop", env="prod")
    wait_for_file(ws, OUT)
    probe = json.loads(ws.exec("cat", OUT, env="prod").stdout)
    assert run.returncode == 0, run.stderr
    assert [s["name"] for s in json.loads(run.stdout)["steps"]] == ["reload gunicorn"]
    assert ws.answer("prod")["app"] == "reloaded-code-1"                 # the new code answers
    assert probe["failed"] == 0 and probe["ok"] >= 5, probe             # and nobody saw it go away
    assert ws.started_at(web) == started and container_id(web) == cid   # a reload, not a restart


def test_preloaded_gunicorn_is_restarted_so_the_new_code_is_served(example):
    ws = example()
    script = ws.product_dir / "scripts" / "05_1_start_app_prod.sh"
    text = script.read_text()
    script.write_text(text.replace("exec gunicorn --bind 0.0.0.0:5000 \\\n",
                                   "exec gunicorn --bind 0.0.0.0:5000 --preload \\\n"))
    assert "--preload" in script.read_text()
    ws.up("prod")
    web = ws.web_container("prod")
    cid, started = container_id(web), ws.started_at(web)
    change_code(ws, "preloaded-code-2")
    run = restart(ws, "--prod", "--no-features", "--json")
    assert run.returncode == 0, run.stderr
    assert ws.answer("prod")["app"] == "preloaded-code-2"              # never "ok" with the old code
    assert [s["name"] for s in json.loads(run.stdout)["steps"]] == ["restart container", "verify"]
    assert "--preload" in run.stderr and "SIGHUP reload would keep serving the old code" in run.stderr
    assert container_id(web) == cid and ws.started_at(web) != started   # restarted, kept
