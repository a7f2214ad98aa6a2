"""The in-container agent's matching rules: judged on the program, never on arguments."""
import json
import subprocess
import sys

import pytest

from restart.docker import agent


@pytest.mark.parametrize("argv, role", [
    (["/usr/bin/python3", "/usr/bin/gunicorn", "--bind", "0.0.0.0:5000", "app:create_app()"], "gunicorn"),
    (["gunicorn: master [demo:create_app()]"], "gunicorn"),
    (["gunicorn", "-w", "2", "x:y"], "gunicorn"),
    (["/usr/bin/python3", "/usr/bin/watchmedo", "auto-restart", "--", "flask", "run"], "watchmedo"),
    (["/usr/bin/python3", "/usr/bin/flask", "--app", "demo", "run", "--host=0.0.0.0"], "flask"),
    (["python3", "-m", "flask", "run"], "flask"),
    (["flask", "run"], "flask"),
    # never match a shell whose SCRIPT mentions them: the reference's pkill killed its own bash
    (["bash", "-c", "pkill -f 'flask run' ; pkill -f watchmedo ; pkill -f gunicorn"], None),
    (["sh", "-c", "gunicorn x"], None),
    (["python3", "-c", "<agent source mentioning gunicorn and flask run>", "stop", "10"], None),
    (["flask", "db", "upgrade"], None),
    (["tail", "-f", "/dev/null"], None),
    (["redis-server", "*:6379"], None),
    ([], None),
])
def test_role(argv, role):
    assert agent.role(argv) == role


def test_chain_to_init_tells_main_process_from_exec():
    procs = {1: {"pid": 1, "ppid": 0, "sid": 1, "argv": ["bash", "-c", "bash /workspace/p/entrypoints/x.sh"]},
             7: {"pid": 7, "ppid": 1, "sid": 1, "argv": ["gunicorn: master"]},
             40: {"pid": 40, "ppid": 0, "sid": 40, "argv": ["bash", "/workspace/p/scripts/05_1_start_app_prod.sh"]},
             41: {"pid": 41, "ppid": 40, "sid": 40, "argv": ["gunicorn: master"]},
             # started in the background by an exec'd script that has exited: re-parented to PID 1
             50: {"pid": 50, "ppid": 1, "sid": 45, "argv": ["/usr/bin/python3", "/usr/bin/watchmedo"]}}
    assert agent.chain_to_init(procs, 7) is True
    assert agent.chain_to_init(procs, 41) is False
    assert agent.chain_to_init(procs, 50) is False


def test_read_procs_excludes_itself_and_its_parents():
    # run as a real program: the process list it prints must not contain its own pid or parent
    out = subprocess.run([sys.executable, "-c", "import json,os,sys; sys.path.insert(0, '.');"
                          "from restart.docker import agent; p = agent.read_procs();"
                          "print(json.dumps([os.getpid() in p, os.getppid() in p]))"],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [False, False]


def test_files_and_tail(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {i}\n" for i in range(50)))
    assert agent.tail([str(log), str(tmp_path / "none")], 3) == {str(log): ["line 47", "line 48", "line 49"]}
    assert agent.files([str(log)])[str(log)] == {"exists": True, "readable": True}


def test_agent_runs_from_stdin_with_hex_arguments(tmp_path):
    """Exactly as restart sends it: ``python3 - CMD HEX``, the source on stdin; arguments with
    spaces and the words SPLENT's scripts pkill by arrive intact."""
    from restart.docker.locate import agent_argv, agent_source

    log = tmp_path / "gunicorn flask run.log"
    log.write_text("a\nb\n")
    argv = agent_argv("tail", 1, str(log))
    assert "gunicorn" not in " ".join(argv) and "flask" not in " ".join(argv)
    out = subprocess.run([sys.executable, *argv[1:]], input=agent_source(), capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == {str(log): ["b"]}


def test_installed_reads_what_pip_list_prints():
    """The agent reads the installed metadata instead of starting pip (~0.6 s): same rows as
    ``pip list --format=json`` of the same interpreter, editable locations included."""
    import json
    import subprocess
    import sys

    from restart.docker import agent

    def rows(items):
        return {(i["name"].lower().replace("_", "-"), i["version"], i.get("editable_project_location"))
                for i in items}

    pip = subprocess.run([sys.executable, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                         capture_output=True, text=True, check=True).stdout
    assert rows(agent.installed()) == rows(json.loads(pip))
