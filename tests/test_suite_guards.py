"""The suite cannot go green by accident: CI refuses the opt-outs that skip whole test groups."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", ["RESTART_SKIP_DOCKER", "RESTART_SKIP_CORPUS"])
@pytest.mark.parametrize("value", ["1", ""])
def test_ci_refuses_an_opt_out(tmp_path, name, value):
    """``.ci/run`` with an opt-out set stops before provisioning anything, exit 2, naming it."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "provision").write_text("echo PROVISION-RAN; exit 0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTART_SKIP_")}
    env[name] = value
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    (tmp_path / "python3").write_text("#!/bin/sh\necho TOX-RAN\n")     # never the real tox
    (tmp_path / "python3").chmod(0o755)
    proc = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, text=True, env=env,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "PROVISION-RAN" not in proc.stdout and "TOX-RAN" not in proc.stdout
    assert name in proc.stderr


def test_ci_runs_without_opt_outs(tmp_path):
    """The same copy, no opt-out: it provisions and runs tox (here: the stand-ins)."""
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "provision").write_text("echo PROVISION-RAN\n")
    (tmp_path / "python3").write_text("#!/bin/sh\necho TOX-RAN\n")
    (tmp_path / "python3").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTART_SKIP_")}
    env["PATH"] = f"{tmp_path}{os.pathsep}{env['PATH']}"
    proc = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, text=True, env=env,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "PROVISION-RAN" in proc.stdout and "TOX-RAN" in proc.stdout
