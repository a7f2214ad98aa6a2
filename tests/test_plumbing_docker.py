"""Plumbing on the real engine: ``--parallel N`` bounds the overlapping stack restarts, and
SPLENT_HOST_PROJECT_DIR maps the workspace when restart sees it at another path than the engine.

Both judged from outside: a docker shim that logs when each call starts and ends, container
StartedAt, the app's answer, the ``-w`` workdir of the start call.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.restart_helpers import is_compose_restart, make_shim, restart, set_env_value

pytestmark = pytest.mark.docker
STACKS = [f"splent_feature_p{i}" for i in range(4)]

# A logging docker that also records when each call ends: it runs the real docker as a child
# (no exec), so one line at the start and one at the end, keyed by the shim's pid and start.
# Each line is one os.write on an O_APPEND descriptor, so lines of concurrent calls never mix
# (a buffered text-mode write may be split into several writes, and two such can interleave).
TIMED_SHIM = """#!/usr/bin/env python3
import json, os, subprocess, sys, time
CALL = f"{{os.getpid()}}-{{time.time_ns()}}"
def log(**entry):
    fd = os.open(os.environ["DOCKER_SHIM_LOG"] + ".timed", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps({{"id": CALL, **entry}}) + "\\n").encode())
    finally:
        os.close(fd)
log(start=time.time(), argv=sys.argv[1:])
code = subprocess.call([{real!r}, *sys.argv[1:]])
log(end=time.time())
sys.exit(code)
"""

# A stack whose container takes ~1 s to stop, so that overlapping restarts really overlap.
COMPOSE = """\
services:
  {name}:
    image: ${{RESTART_SVC_IMAGE:-restart-test/svc:1}}
    command: ["bash", "-c", "trap 'sleep 1; exit 0' TERM; while :; do sleep 1 & wait $$!; done"]
    networks:
      - splent_network

networks:
  splent_network:
    external: true
    name: ${{SPLENT_NETWORK:-splent_network}}
"""
FEATURE_PYPROJECT = """\
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = []

[tool.setuptools.packages.find]
where = ["src"]
"""


def declare(ws, names: list[str]) -> None:
    """The product declares exactly ``names`` (editable, splent-io), the UVL model knows them."""
    pyproject = ws.product_dir / "pyproject.toml"
    head = pyproject.read_text().split("[tool.splent]")[0]
    entries = "".join(f'    "splent-io/{name}",\n' for name in names)
    pyproject.write_text(f'{head}[tool.splent]\nspl = "demo_spl"\nfeatures = [\n{entries}]\n')
    leaves = "".join(f"\t\toptional\n\t\t\tp{i} {{org 'splent-io', package '{name}'}}\n"
                     for i, name in enumerate(names))
    (ws.root / "splent_spl_demo" / "demo_spl.uvl").write_text(f"features\n\tdemo_spl\n{leaves}")


def timed_shim(folder: Path) -> Path:
    shim = make_shim(folder)
    real = subprocess.run(["sh", "-c", "command -v docker"], capture_output=True, text=True, check=True).stdout.strip()
    (shim / "docker").write_text(TIMED_SHIM.format(real=real))
    return shim


def timed_calls(shim: Path) -> list[dict]:
    """{id, start, argv, end} of each call the timed shim logged.  The shim writes each line in one
    write, but two entries that still landed on one line (``{…}{…}``) are read as two."""
    calls: dict[str, dict] = {}
    decoder = json.JSONDecoder()
    for line in (shim / "argv.log.timed").read_text().splitlines():
        i = 0
        while i < len(line):
            entry, i = decoder.raw_decode(line, i)
            calls.setdefault(entry["id"], {}).update(entry)
    return list(calls.values())


def timed_argvs(shim: Path) -> list[list[str]]:
    return [c["argv"] for c in timed_calls(shim)]


def intervals(shim: Path, matches) -> list[tuple[float, float]]:
    """(start, end) of each logged call whose argv ``matches``."""
    return [(c["start"], c["end"]) for c in timed_calls(shim) if matches(c["argv"])]


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """Most spans open at one moment (an end at the very moment of a start does not overlap)."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    open_now = peak = 0
    for _, delta in events:
        open_now += delta
        peak = max(peak, open_now)
    return peak


def test_parallel_bounds_overlapping_stack_restarts(example, tmp_path):
    ws = example()
    for name in STACKS:
        (ws.root / name / "src" / name).mkdir(parents=True)
        (ws.root / name / "src" / name / "__init__.py").write_text("")
        (ws.root / name / "pyproject.toml").write_text(FEATURE_PYPROJECT.format(name=name))
        (ws.root / name / "docker").mkdir()
        (ws.root / name / "docker" / "docker-compose.yml").write_text(COMPOSE.format(name=name))
    declare(ws, STACKS)
    ws.up("dev")
    ctrs = {name: ws.stack_containers(f"splent-io/{name}", "dev") for name in STACKS}
    assert all(len(c) == 1 for c in ctrs.values()), ctrs
    before = {name: ws.started_at(c[0]) for name, c in ctrs.items()}
    shim = timed_shim(tmp_path / "shim")

    run = restart(ws, "--dev", "--no-features", "--parallel", "2", "--json", shim_dir=shim)
    assert run.returncode == 0, run.stderr
    projects = [ws.feature_project(f"splent-io/{name}", "dev") for name in STACKS]
    spans = intervals(shim, lambda argv: any(is_compose_restart(p)(argv) for p in projects))
    assert len(spans) == 4, spans
    assert max_overlap(spans) == 2, sorted(spans)           # never more than 2, and the limit is used
    after = {name: ws.started_at(c[0]) for name, c in ctrs.items()}
    assert all(after[n] != before[n] for n in STACKS), (before, after)


def test_host_project_dir_maps_an_aliased_workspace(example, tmp_path, monkeypatch):
    """restart sees the workspace at an alias path (as in SPLENT's CLI container); the engine
    mounted the real one.  The product dir is also mounted at /srv/<product>, a longer (so
    preferred) mount than /workspace: only a mapping through SPLENT_HOST_PROJECT_DIR finds it;
    without the variable restart falls back on the /workspace/<product> convention."""
    monkeypatch.delenv("SPLENT_HOST_PROJECT_DIR", raising=False)
    ws = example()
    declare(ws, [])                                        # no stacks: the app is what is judged
    dev = ws.docker_dir / "docker-compose.dev.yml"
    mount = "      - ${SPLENT_HOST_PROJECT_DIR}:/workspace\n"
    extra = f"      - ${{SPLENT_HOST_PROJECT_DIR}}/{ws.product}:/srv/{ws.product}\n"
    assert mount in dev.read_text()
    dev.write_text(dev.read_text().replace(mount, mount + extra))
    ws.up("dev")
    alias = tmp_path / "alias"
    alias.mkdir()
    subprocess.run(["mount", "--bind", str(ws.root), str(alias)], check=True)
    try:
        aliased = SimpleNamespace(root=alias)
        set_env_value(ws.env_file("dev"), "GREETING", "mapped through the host dir")
        shim = timed_shim(tmp_path / "shim")
        run = restart(aliased, "--dev", "--no-features", shim_dir=shim,
                      extra_env={"SPLENT_HOST_PROJECT_DIR": str(ws.root)})
        assert run.returncode == 0, run.stderr
        assert ws.answer("dev")["env"]["GREETING"] == "mapped through the host dir"
        assert workdirs(shim) == [f"/srv/{ws.product}"]

        set_env_value(ws.env_file("dev"), "GREETING", "by the convention")
        plain = timed_shim(tmp_path / "plain")
        run = restart(aliased, "--dev", "--no-features", shim_dir=plain)
        assert run.returncode == 0, run.stderr
        assert ws.answer("dev")["env"]["GREETING"] == "by the convention"
        assert workdirs(plain) == [f"/workspace/{ws.product}"]
    finally:
        subprocess.run(["umount", str(alias)], check=True)


def workdirs(shim: Path) -> list[str]:
    """The ``-w`` of each app start (``docker exec -d``) the shim logged."""
    starts = [a for a in timed_argvs(shim) if a[:2] == ["exec", "-d"]]
    return [a[a.index("-w") + 1] for a in starts if "-w" in a]
