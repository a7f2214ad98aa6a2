"""Reading env files the way compose does, never the way a shell does.

The reference sourced ``docker/.env`` with bash, so ``A=x;cmd`` ran ``cmd``.  Here python-dotenv
parses the file (quotes, ``export``, comments, ``${VAR}``), and a line it cannot parse is an
error with its line number instead of a silent skip.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from restart.errors import ConfigError


@dataclass(frozen=True)
class EnvFile:
    """An env file's values, in file order; ``values`` must never reach an argv."""

    path: Path
    values: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()       # bare NAME lines left out (unset in restart's environment)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.values)


def read_env_file(path: Path, *, label: str | None = None) -> EnvFile:
    """Parse ``path`` with python-dotenv; every problem is one sentence naming file and line.

    Values that reference other variables (``${VAR}``) are expanded from the file itself and
    the process environment, as compose does; nothing is executed.  A bare ``NAME`` line takes
    NAME's value from restart's own environment, as ``docker run --env-file`` does; unset
    there, it is left out with a note (never passed as an empty value).
    """
    shown = label or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"env file {shown} does not exist.") from None
    except OSError as e:
        raise ConfigError(f"env file {shown} cannot be read: {e.strerror}.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{shown}:{line}: the env file is not UTF-8 text.") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bare: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        line = _line(binding.original)
        if binding.error:
            text_lines = binding.original.string.strip().splitlines() or [""]
            raise ConfigError(f'{shown}:{line}: cannot parse '
                              f'"{text_lines[0][:60]}" as NAME=value.')
        if binding.key is not None and not _valid_name(binding.key):
            raise ConfigError(f'{shown}:{line}: "{binding.key}" is not a valid '
                              "variable name.")
        if binding.key is not None and binding.value is None:
            bare[binding.key] = line
    values, notes = {}, []
    for name, value in dotenv_values(stream=io.StringIO(text), interpolate=True).items():
        if value is not None:
            values[name] = value
        elif name in os.environ:
            values[name] = os.environ[name]
        else:
            notes.append(f"{shown}:{bare.get(name, '?')}: {name} has no value and is not set in restart's "
                         "environment: left out (not passed as an empty value)")
    return EnvFile(path, values, tuple(notes))


def _line(original) -> int:
    """The line the binding's text starts on: python-dotenv counts the blank lines before it."""
    blank = original.string[: len(original.string) - len(original.string.lstrip())]
    return original.line + blank.count("\n")


def _valid_name(name: str) -> bool:
    return name.replace("_", "a").isalnum() and not name[0].isdigit() and name.isascii()
