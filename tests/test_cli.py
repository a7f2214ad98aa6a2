"""The CLI's contract: exit codes, one-sentence errors, no tracebacks, --help content."""
import subprocess
import sys

import pytest

from restart.cli import EXIT_CODES, build_parser, main


def run(args, capsys, monkeypatch, env=None, cwd=None):
    for name in ("WORKING_DIR", "SPLENT_APP", "SPLENT_ENV"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    if cwd:
        monkeypatch.chdir(cwd)
    try:
        code = main(args)
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return code, out.out, out.err


def test_dev_and_prod_is_usage_error(capsys, monkeypatch):
    code, _, err = run(["--dev", "--prod"], capsys, monkeypatch)
    assert code == 2 and "--dev and --prod exclude each other" in err


@pytest.mark.parametrize("value, words", [("-1", "must be 0 or more"), ("soon", "is not a number")])
def test_bad_timeout(value, words, capsys, monkeypatch):
    code, _, err = run(["--timeout", value], capsys, monkeypatch)
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1


def test_unknown_option(capsys, monkeypatch):
    code, _, err = run(["--frobnicate"], capsys, monkeypatch)
    assert code == 2 and "unrecognized arguments: --frobnicate" in err


def test_no_workspace(capsys, monkeypatch, tmp_path):
    code, _, err = run([], capsys, monkeypatch, cwd=tmp_path)
    # /workspace does not exist on a test machine, and nothing above tmp_path names SPLENT_APP
    assert code == 2 and "no SPLENT workspace found" in err


def test_workspace_flag_not_a_directory(capsys, monkeypatch, tmp_path):
    code, _, err = run(["--workspace", str(tmp_path / "nope")], capsys, monkeypatch)
    assert code == 2 and "is not a directory" in err


def test_splent_app_unset(capsys, monkeypatch, tmp_path):
    code, _, err = run(["--workspace", str(tmp_path)], capsys, monkeypatch)
    assert code == 2 and "SPLENT_APP is not set" in err


def test_unknown_product(capsys, monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("SPLENT_APP=ghost_app\n")
    code, _, err = run(["--workspace", str(tmp_path)], capsys, monkeypatch)
    assert code == 2 and 'product "ghost_app" not found' in err


def test_bad_splent_env(capsys, monkeypatch, tmp_path):
    (tmp_path / "p").mkdir()
    code, _, err = run(["--workspace", str(tmp_path), "--product", "p"], capsys, monkeypatch,
                       env={"SPLENT_ENV": "staging"})
    assert code == 2 and 'SPLENT_ENV is "staging"' in err


def test_json_error_object(capsys, monkeypatch, tmp_path):
    import json

    code, out, _ = run(["--workspace", str(tmp_path), "--json"], capsys, monkeypatch)
    data = json.loads(out)
    assert code == 2 and data["exit_code"] == 2 and data["outcome"] == "error"
    assert "SPLENT_APP is not set" in data["error"]


def test_help_lists_every_exit_code():
    text = build_parser().format_help()
    for code, _ in EXIT_CODES:
        assert f"  {code} " in text


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "restart", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("splent-restart ")


def test_help_does_not_import_heavy_modules():
    code = ("import sys; from restart.cli import build_parser; build_parser().format_help();"
            "print(sorted(m for m in ('networkx', 'sh', 'dotenv') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_print_order_json_needs_no_docker(capsys, monkeypatch):
    import json
    from pathlib import Path

    ws = Path(__file__).resolve().parent.parent / "examples" / "workspace"
    code, out, _ = run(["--workspace", str(ws), "--print-order", "--json"], capsys, monkeypatch,
                       env={"PATH": "/nonexistent"})          # no docker reachable at all
    data = json.loads(out)
    assert code == 0
    assert data["generations"] == [["splent_feature_redis", "splent_feature_debug"],
                                   ["splent_feature_queue", "splent_feature_notes"], ["splent_feature_nginx"]]
    assert {(e["before"], e["after"]) for e in data["edges"]} >= {("splent_feature_redis", "splent_feature_queue"),
                                                                  ("splent_feature_queue", "splent_feature_nginx")}
    assert all(".uvl:" in e["reason"] for e in data["edges"])


def test_colour_only_on_a_tty_and_never_with_no_color(monkeypatch):
    import io

    from restart.outcome import Outcome
    from restart.progress import Progress

    def mark(**kw):
        buf = io.StringIO()
        Progress(buf, **kw).finish(Outcome("redis", "ok", seconds=1.3))
        return buf.getvalue()
    assert "\x1b[" in mark(color=True, tty=True)
    assert "\x1b[" not in mark(color=True, tty=False)             # piped: plain lines
    assert mark(color=False, tty=True).startswith("✓ redis 1.3s")
    assert mark(color=True, tty=True, quiet=True) == ""          # -q: nothing but errors
