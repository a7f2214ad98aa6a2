"""The compose-verdict cache: an accepted ``config -q`` stands in for the next identical check only.

Judged from the fake runner's calls: a check that the cache answers makes no compose call.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from restart.docker import composecheck
from restart.docker.client import V2, Docker
from restart.errors import CommandFailed
from tests.fakes import FakeRunner
from tests.test_catalogue import edit, example_copy, healthy_engine

VERSION = "Docker Compose version v2.29.7"


@pytest.fixture
def stack(tmp_path, monkeypatch):
    """A workspace with one feature stack: compose file, env file, and a file it names (env_file)."""
    for name in [n for n in os.environ if n.startswith(("COMPOSE_", "DOCKER_"))] + ["SVC_IMAGE"]:
        monkeypatch.delenv(name, raising=False)
    ws = tmp_path / "ws"
    docker_dir = ws / "feat" / "docker"
    docker_dir.mkdir(parents=True)
    (docker_dir / "docker-compose.yml").write_text(
        "services:\n  svc:\n    image: ${SVC_IMAGE:-svc:1}\n    env_file:\n      - ./extra.env\n"
        "    extends:\n      file: ./common.yml\n      service: base\n")
    (docker_dir / "extra.env").write_text("A=1\nGREETING=hi\n")
    (docker_dir / "common.yml").write_text("services:\n  base:\n    restart: always\n")
    env_file = ws / "product" / "docker" / ".env"
    env_file.parent.mkdir(parents=True)
    env_file.write_text("GREETING=hi\n")
    return ws, docker_dir, env_file


def checker(ws: Path, docker_dir: Path, env_file: Path, runner: FakeRunner, version: str | None = VERSION):
    docker = Docker(runner, V2)
    docker.compose_version = version
    argv = (*V2, "-p", "p_feat_dev", "--env-file", str(env_file), "-f", str(docker_dir / "docker-compose.yml"),
            "config", "-q")
    return lambda: composecheck.check(docker, argv, cwd=docker_dir, workspace=ws,
                                      files=(docker_dir / "docker-compose.yml",), env_files=(env_file,))


def config_calls(runner: FakeRunner) -> int:
    return sum(1 for c in runner.calls if c[-2:] == ("config", "-q"))


def test_same_files_are_not_checked_again(stack):
    runner = FakeRunner()
    check = checker(*stack, runner)
    assert check() is True
    assert check() is False
    assert config_calls(runner) == 1
    assert list((stack[0] / composecheck.FOLDER).iterdir()), "the verdict lives in the workspace's cache"


@pytest.mark.parametrize("edit", ["compose file", "named file"])
def test_an_edited_input_is_checked_again(stack, edit):
    ws, docker_dir, env_file = stack
    runner = FakeRunner()
    check = checker(ws, docker_dir, env_file, runner)
    check()
    path = {"compose file": docker_dir / "docker-compose.yml", "named file": docker_dir / "common.yml"}[edit]
    path.write_text(path.read_text() + "# edited\n")
    assert check() is True
    assert config_calls(runner) == 2


@pytest.mark.parametrize("which", ["--env-file", "env_file:"])
def test_env_files_count_by_names_syntax_and_interpolated_values(stack, which):
    """The everyday edit (another GREETING) keeps the verdict; what compose reads for its verdict
    does not: a value it interpolates, a new name, a line that does not parse."""
    ws, docker_dir, env_file = stack
    path = env_file if which == "--env-file" else docker_dir / "extra.env"
    runner = FakeRunner()
    check = checker(ws, docker_dir, env_file, runner)
    check()
    for line, again in [("GREETING=other", False), ("SVC_IMAGE=svc:2", True), ("SVC_IMAGE=svc:3", True),
                        ("NEW_NAME=1", True), ("NEW_NAME=2", False), ("'broken", True)]:
        kept = [x for x in path.read_text().splitlines() if x.split("=")[0] != line.split("=")[0]]
        path.write_text("\n".join([*kept, line]) + "\n")
        assert check() is again, line


def test_a_named_file_that_disappears_is_checked_again(stack):
    ws, docker_dir, env_file = stack
    runner = FakeRunner()
    check = checker(ws, docker_dir, env_file, runner)
    check()
    (docker_dir / "extra.env").unlink()           # compose rejects a missing env_file: it must get to say so
    assert check() is True


def test_an_interpolated_variable_counts_an_unrelated_one_does_not(stack, monkeypatch):
    runner = FakeRunner()
    check = checker(*stack, runner)
    check()
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    assert check() is False
    monkeypatch.setenv("SVC_IMAGE", "other:2")
    assert check() is True
    monkeypatch.setenv("COMPOSE_PROFILES", "debug")   # compose's own settings count too
    assert check() is True


def test_another_compose_version_is_checked_again(stack):
    runner = FakeRunner()
    checker(*stack, runner)()
    assert checker(*stack, runner, version="Docker Compose version v2.30.0")() is True
    assert config_calls(runner) == 2


def test_an_unknown_compose_version_is_never_cached(stack):
    runner = FakeRunner()
    check = checker(*stack, runner, version=None)
    check()
    check()
    assert config_calls(runner) == 2


def test_a_rejection_is_never_stored(stack):
    refusal = CommandFailed(("docker",), 15, "services.svc additional properties 'imagee' not allowed")
    runner = FakeRunner([(V2, refusal)])
    check = checker(*stack, runner)
    for _ in range(2):
        with pytest.raises(CommandFailed):
            check()
    assert config_calls(runner) == 2
    runner.replies.clear()                          # compose accepts it now (it was fixed elsewhere)
    assert check() is True


def test_an_unwritable_cache_only_means_no_caching(stack):
    ws = stack[0]
    (ws / ".splent_cache").write_text("not a folder")
    runner = FakeRunner()
    check = checker(*stack, runner)
    assert check() is True and check() is True


def test_old_verdicts_are_pruned(stack, monkeypatch):
    monkeypatch.setattr(composecheck, "KEEP", 3)
    ws, docker_dir, env_file = stack
    runner = FakeRunner()
    check = checker(ws, docker_dir, env_file, runner)
    for i in range(5):
        env_file.write_text(f"NAME_{i}=hi\n")
        check()
    assert len(list((ws / composecheck.FOLDER).iterdir())) == 3


def test_a_second_run_checks_no_unchanged_compose_file(tmp_path, monkeypatch, capsys):
    """Through main() on the example: the next run with the same files, or after a new GREETING in
    the env file, starts no ``config -q``; an edited stack file is checked again, and only that one."""
    from restart.cli import main

    ws = example_copy(tmp_path, monkeypatch)

    def checked() -> list[str]:
        runner = FakeRunner(healthy_engine(ws))
        code = main(["--workspace", str(ws)], runner=runner)
        assert code == 0, capsys.readouterr().err
        return [c[3] for c in runner.calls if c[-2:] == ("config", "-q")]

    assert len(checked()) == 4                     # 3 stacks + the product
    assert checked() == []
    edit(ws / "demo_app/docker/.env", "GREETING=\"Hello from dev\"", "GREETING=again")   # the everyday edit
    assert checked() == []
    edit(ws / ".splent_cache/features/splent_io/splent_feature_redis@v1.0.0/docker/docker-compose.yml",
         "restart: always", "restart: unless-stopped")
    assert checked() == ["demo_app_splent_io_splent_feature_redis_dev"]
