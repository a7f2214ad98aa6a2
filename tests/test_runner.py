"""ShRunner against real processes: argv only, env by name, one error type."""
import os
import time
from pathlib import Path

import pytest

from restart.docker.runner import ShRunner, mask
from restart.errors import CommandFailed


def test_captures_stdout_and_code():
    r = ShRunner().run(["echo", "hello world"])
    assert (r.code, r.stdout) == (0, "hello world\n")


def test_env_values_reach_child_not_argv():
    seen = []
    r = ShRunner(echo=seen.append, secrets=["s3cr3t"]).run(
        ["python3", "-c", "import os; print(os.environ['TOKEN'])"], env={"TOKEN": "s3cr3t"})
    assert r.stdout.strip() == "s3cr3t"
    assert "s3cr3t" not in " ".join(r.argv)
    assert seen and "s3cr3t" not in seen[0]


def test_child_keeps_parent_environment():
    os.environ["RESTART_TEST_PARENT"] = "kept"
    try:
        r = ShRunner().run(["sh", "-c", 'echo "$RESTART_TEST_PARENT"'], env={"OTHER": "1"})
    finally:
        del os.environ["RESTART_TEST_PARENT"]
    assert r.stdout.strip() == "kept"


def test_failure_carries_argv_code_and_stderr_tail():
    with pytest.raises(CommandFailed) as info:
        ShRunner().run(["sh", "-c", "echo first >&2; echo 'the real reason' >&2; exit 3"])
    e = info.value
    assert e.code == 3 and e.argv[0] == "sh"
    assert str(e).endswith("the real reason")


def test_missing_program_is_command_failed_127():
    with pytest.raises(CommandFailed) as info:
        ShRunner().run(["restart-no-such-program-xyz"])
    assert info.value.code == 127 and "not found" in str(info.value)


def test_timeout_is_command_failed():
    with pytest.raises(CommandFailed) as info:
        ShRunner().run(["sleep", "5"], timeout=0.3)
    assert info.value.code is None and "timed out" in str(info.value)


def test_cwd(tmp_path):
    assert ShRunner().run(["pwd"], cwd=tmp_path).stdout.strip() == str(tmp_path)


def test_ok_codes():
    assert ShRunner().run(["sh", "-c", "exit 4"], ok=(0, 4)).code == 4


def test_mask_hides_secret_bearing_args():
    assert mask(["docker", "exec", "-e", "TOKEN", "c", "x=abc123"], ["abc123"]) == \
        "docker exec -e TOKEN c '***'"


def test_secrets_of_hides_values_of_secret_looking_names():
    from restart.docker.runner import secrets_of

    values = {"SECRET_TOKEN": "abc", "GREETING": "Hello from dev", "SPLENT_APP": "demo_app_long",
              "SPLENT_ENV": "dev", "PORT": "5000", "SHORT": "x", "DB_PASSWORD": "pw"}
    assert sorted(secrets_of(values)) == ["abc", "pw"]


def test_stdin_text_reaches_the_child_and_not_its_argv():
    """The agent travels this way: ``python3 -`` reads its program from stdin."""
    r = ShRunner().run(["python3", "-", "x"], stdin="import sys; print(6 * 7, sys.argv[1:])")
    assert r.stdout.strip() == "42 ['x']" and r.argv == ("python3", "-", "x")


def test_timeout_kills_the_whole_process_group(tmp_path):
    """A timed-out compose leaves no child behind: the kill goes to the child's own session."""
    pidfile = tmp_path / "pid"
    with pytest.raises(CommandFailed) as info:
        ShRunner().run(["sh", "-c", f"sleep 30 & echo $! > {pidfile}; wait"], timeout=0.5)
    assert info.value.code is None
    pid = int(pidfile.read_text())
    for _ in range(50):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return
        if state == "Z":          # killed; waiting for init to reap it
            return
        time.sleep(0.02)
    pytest.fail(f"sleep {pid} outlived the timeout")


def test_a_failure_before_the_timeout_is_not_called_a_timeout():
    with pytest.raises(CommandFailed) as info:
        ShRunner().run(["sh", "-c", "exit 5"], timeout=10)
    assert info.value.code == 5
