"""Env files are parsed like compose does; every refusal is one sentence naming file and line."""
from __future__ import annotations

import pytest

from restart.errors import ConfigError
from restart.planning.envfile import EnvFile, _valid_name, read_env_file


def read(tmp_path, data: bytes | str, **kw) -> EnvFile:
    path = tmp_path / "app.env"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return read_env_file(path, **kw)


def refusal(tmp_path, data, **kw) -> str:
    with pytest.raises(ConfigError) as e:
        read(tmp_path, data, **kw)
    return str(e.value)


def test_values_in_file_order_with_quotes_export_comments_and_empty(tmp_path):
    env = read(tmp_path, "# comment\nB=2\nexport A='x y'\nC=\"q\" # note\nE=\n_U1=u\n")
    assert env.values == {"B": "2", "A": "x y", "C": "q", "E": "", "_U1": "u"}
    assert env.names == ("B", "A", "C", "E", "_U1")
    assert env.notes == ()
    assert env.path == tmp_path / "app.env"


def test_interpolation_from_file_and_environment_never_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("FROM_ENV", "outside")
    env = read(tmp_path, "A=1\nB=${A}-${FROM_ENV}\nC=x;echo hi\nD=$(id)\n")
    assert env.values == {"A": "1", "B": "1-outside", "C": "x;echo hi", "D": "$(id)"}


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as e:
        read_env_file(tmp_path / "none.env")
    assert str(e.value) == f"env file {tmp_path / 'none.env'} does not exist."
    with pytest.raises(ConfigError) as e:
        read_env_file(tmp_path / "none.env", label="docker/.env")
    assert str(e.value) == "env file docker/.env does not exist."


def test_unreadable_file(tmp_path):
    (tmp_path / "d.env").mkdir()
    with pytest.raises(ConfigError) as e:
        read_env_file(tmp_path / "d.env")
    assert str(e.value) == f"env file {tmp_path / 'd.env'} cannot be read: Is a directory."
    with pytest.raises(ConfigError) as e:
        read_env_file(tmp_path / "d.env", label="L")
    assert str(e.value) == "env file L cannot be read: Is a directory."


def test_not_utf8_names_the_line(tmp_path):
    shown = tmp_path / "app.env"
    assert refusal(tmp_path, b"\xffA=1\n") == f"{shown}:1: the env file is not UTF-8 text."
    assert refusal(tmp_path, b"A=1\nB=2\nC=\xe9\n", label="L") == "L:3: the env file is not UTF-8 text."


def test_bom_and_line_endings(tmp_path):
    assert read(tmp_path, "\ufeffA=1\r\nB=2\r\n").values == {"A": "1", "B": "2"}
    assert read(tmp_path, "A=1\rB=2\r").values == {"A": "1", "B": "2"}
    # line numbers count CR-only and CRLF line ends
    assert refusal(tmp_path, "A=1\rB=2\rbad line\r", label="L") == 'L:3: cannot parse "bad line" as NAME=value.'
    assert refusal(tmp_path, "A=1\r\nbad line\r\n", label="L") == 'L:2: cannot parse "bad line" as NAME=value.'


def test_unparsable_line_is_quoted_and_cut_at_60(tmp_path):
    shown = tmp_path / "app.env"
    assert refusal(tmp_path, "A=1\nfoo bar baz\n") == f'{shown}:2: cannot parse "foo bar baz" as NAME=value.'
    long = "x " + "y" * 100
    assert refusal(tmp_path, f"{long}\n", label="L") == f'L:1: cannot parse "{long[:60]}" as NAME=value.'
    assert refusal(tmp_path, 'A="open\nB=2\n', label="L") == 'L:1: cannot parse "A="open" as NAME=value.'


@pytest.mark.parametrize("name", ["1A", "A-B", "A.B", "É", "Aé"])
def test_invalid_names(tmp_path, name):
    assert refusal(tmp_path, f"OK=1\n{name}=x\n", label="L") == f'L:2: "{name}" is not a valid variable name.'


def test_valid_name():
    assert all(_valid_name(n) for n in ("A", "_", "_1", "a_b", "AB9"))
    assert not any(_valid_name(n) for n in ("9", "9A", "A B", "A-B", "Ä", "A$"))


def test_bare_name_takes_restarts_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BARE_SET", "from-env")
    monkeypatch.delenv("BARE_UNSET", raising=False)
    env = read(tmp_path, "A=1\nBARE_SET\n\nBARE_UNSET\n", label="L")
    assert env.values == {"A": "1", "BARE_SET": "from-env"}
    assert env.notes == ("L:4: BARE_UNSET has no value and is not set in restart's environment: left out "
                         "(not passed as an empty value)",)


def test_bare_name_set_empty_in_environment_is_passed(tmp_path, monkeypatch):
    monkeypatch.setenv("BARE_EMPTY", "")
    assert read(tmp_path, "BARE_EMPTY\n").values == {"BARE_EMPTY": ""}


def test_line_numbers_skip_blank_lines_before_the_line(tmp_path, monkeypatch):
    # python-dotenv's own line is where the blank lines before a binding start; the report names
    # the line the text is on (broken before: "L:2" for a bad line 4).
    monkeypatch.delenv("BARE_UNSET", raising=False)
    assert refusal(tmp_path, "A=1\n\n\nbad line\n", label="L") == 'L:4: cannot parse "bad line" as NAME=value.'
    assert refusal(tmp_path, "\n  \n\t\nbad line\n", label="L") == 'L:4: cannot parse "bad line" as NAME=value.'
    assert refusal(tmp_path, "A=1\n# c\n\n  B-C=x\n", label="L") == 'L:4: "B-C" is not a valid variable name.'
    assert read(tmp_path, "A=1\n\n\nBARE_UNSET\n", label="L").notes[0].startswith("L:4: BARE_UNSET ")


def test_an_empty_env_file_value(tmp_path):
    empty = EnvFile(tmp_path / "x.env")
    assert (empty.values, empty.notes, empty.names) == ({}, (), ())
    assert read(tmp_path, "") == EnvFile(tmp_path / "app.env", {}, ())
