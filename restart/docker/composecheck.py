"""Remember which compose files compose accepted, so an unchanged file is not checked again.

Every run checks each stack's compose file (and the product's) with ``compose … config -q``
before it changes anything.  Each check is a compose process: ~0.2 s of CPU on a small
machine, four of them at once on the example, all before the first change.  Yet between two
everyday restarts those files rarely change.  So an ACCEPTED verdict is stored under a key
made of everything it depends on, and a run whose key matches skips the compose process.
A rejection is never stored: a file compose rejects is checked again on every run.

The key holds:
- the compose command and its ``version`` output (a new compose may judge differently), and
  the whole argv and working directory of the check (project, ``--env-file``, ``-f``);
- the content of every ``-f`` file, and of every file it names by a path (``extends: file:``,
  ``include``, bind-mount sources…: any token that looks like a path — it holds a ``/`` or
  starts with ``.`` — resolved against the file's folder), or whether it exists;
- env files (``--env-file``, the working directory's ``.env``, and named files called
  ``.env*`` or ``*.env``, as ``env_file: ./.env``): whether each exists, its names in order,
  each line python-dotenv cannot parse, and the raw values of the names the compose files
  interpolate (and of the names those values interpolate).  Other values are left out on
  purpose: the everyday edit (a new GREETING) must not cost a compose process;
- the values, in this process's environment, of every variable the compose files interpolate
  (``$NAME``, ``${NAME…}``) and of every ``COMPOSE_*`` and ``DOCKER_*`` variable.

Not covered: a path that is itself built from a variable (``env_file: ${FILE}``; its variable's
value is in the key, the file's content is not), files that an included file names in turn (one
level is followed), and a value of an env file that compose itself would refuse although
python-dotenv reads it (``${X:?}`` inside an ``env_file`` value).  All are rare in SPLENT's
templates; a stale accept only means that compose's own error comes at the stack's ``restart``
instead of before the first change.

Verdicts live in ``<workspace>/.splent_cache/restart/compose-ok/`` (next to the run lock), one
empty file per accepted key, so concurrent runs never merge a shared file.  An unwritable
folder only means no caching.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import stat
from pathlib import Path
from typing import Mapping, Sequence

from dotenv.parser import parse_stream

from restart.planning.settings import CACHE_DIR, keep_newest

FOLDER = CACHE_DIR / "compose-ok"
KEEP = 200                                    # verdict files kept; older ones are pruned on write
FORMAT = "restart-composecheck/1"
VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
TOKEN = re.compile(r"[^\s'\"\[\],#:=]+")


def verdict_key(argv: Sequence[str], cwd: str | os.PathLike | None, version: str | None,
                env: Mapping[str, str] | None = None, *, files: Sequence[Path] = (),
                env_files: Sequence[Path] = ()) -> str | None:
    """The sha256 of everything ``argv`` (a ``compose … config -q`` on ``files``, with
    ``env_files`` as its ``--env-file``) depends on; None: do not cache."""
    if version is None:                        # the compose command was not asked for its version
        return None
    argv = tuple(str(a) for a in argv)
    base = Path(cwd) if cwd else Path.cwd()
    environ = {**os.environ, **(env or {})}
    composes = [_resolve(base, str(f)) for f in files]
    env_files = [_resolve(base, str(f)) for f in env_files] + [base / ".env"]
    parts = [FORMAT, repr(argv), str(base), version]
    names: set[str] = set()
    seen: set[Path] = set()
    for path in composes:
        text = _content(path, parts, seen)
        if text is None:
            continue
        names.update(VARIABLE.findall(text))
        for token in _pathlike(text):
            named = _resolve(path.parent, token)
            if _is_env_file(named):
                env_files.append(named)
            else:
                _content(named, parts, seen)
    bindings = {path: _bindings(path) for path in dict.fromkeys(env_files)}
    grown = True
    while grown:                               # ${A} whose value is "${B}": B counts too
        before = len(names)
        for found in bindings.values():
            for key, value in found or ():
                if key in names and value:
                    names.update(VARIABLE.findall(value))
        grown = len(names) > before
    for path, found in bindings.items():
        if found is None:
            parts.append(f"env-file missing {path}")
            continue
        parts.append(f"env-file {path}")
        parts += [f"  {key}={value!r}" if key in names else f"  {key}" for key, value in found]
    names.update(n for n in environ if n.startswith(("COMPOSE_", "DOCKER_")))
    parts += [f"env {n}={environ.get(n)!r}" for n in sorted(names)]
    return hashlib.sha256("\n".join(parts).encode(errors="surrogateescape")).hexdigest()


def _is_env_file(path: Path) -> bool:
    return path.name.startswith(".env") or path.name.endswith(".env")


def _bindings(path: Path) -> list[tuple[str, str | None]] | None:
    """An env file as compose sees it, for the key: every name in order (a line python-dotenv
    cannot parse as "!error N"), with its raw value; None when it does not exist.

    Only the values of interpolated names go into the key: an everyday edit of another value
    (a new GREETING) cannot change compose's verdict on the stack's file.
    """
    try:
        if not path.is_file():
            return None
        text = path.read_text(errors="surrogateescape")
    except OSError:
        return None
    out: list[tuple[str, str | None]] = []
    for i, binding in enumerate(parse_stream(io.StringIO(text))):
        if binding.error:
            out.append((f"!error {i}", None))
        elif binding.key is not None:
            out.append((binding.key, binding.value))
    return out


def _pathlike(text: str) -> list[str]:
    """Tokens of a compose file that may name a file: they hold a ``/`` or start with ``.``
    (``./.env``, ``../common.yml``, ``nginx/conf``); ``-`` list marks and ``:`` splits dropped."""
    out = []
    for token in TOKEN.findall(text):
        token = token.lstrip("-")
        if token and "$" not in token and "{" not in token and ("/" in token or token.startswith(".")):
            out.append(token)
    return out


def _resolve(base: Path, value: str) -> Path:
    return Path(os.path.normpath(base / os.path.expanduser(value)))


def _content(path: Path, parts: list[str], seen: set[Path]) -> str | None:
    """Add ``path``'s content (or "missing") to ``parts`` once; its text when it is a small file."""
    if path in seen:
        return None
    seen.add(path)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            parts.append(f"dir {path}")
            return None
        if not stat.S_ISREG(st.st_mode):            # a device, a fifo: never read
            parts.append(f"other {path} {stat.S_IFMT(st.st_mode)}")
            return None
        if st.st_size > 4_000_000:                  # an image, a dump: size and mtime say enough
            parts.append(f"big {path} {st.st_size} {st.st_mtime_ns}")
            return None
        data = path.read_bytes()
    except OSError:
        parts.append(f"missing {path}")
        return None
    parts.append(f"file {path} {hashlib.sha256(data).hexdigest()}")
    return data.decode(errors="replace")


def accepted_before(workspace: Path, key: str | None) -> bool:
    return bool(key) and (Path(workspace) / FOLDER / key).is_file()


def remember(workspace: Path, key: str | None) -> None:
    """Store an accepted verdict; a folder restart cannot write to only means no caching."""
    if not key:
        return
    folder = Path(workspace) / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / key).touch()
        keep_newest(list(folder.iterdir()), KEEP)
    except OSError:
        pass


def check(docker, argv: Sequence[str], *, cwd, workspace: Path, files: Sequence[Path],
          env_files: Sequence[Path] = (), env: Mapping[str, str] | None = None, timeout: float = 60) -> bool:
    """Run ``argv`` (a ``compose … config -q``) unless these exact inputs were accepted before.

    Raises what ``docker.run`` raises (CommandFailed on a rejection, never remembered).
    Returns True when the compose process ran, False when the stored verdict stood in for it.
    """
    key = verdict_key(docker.engine.argv(argv), cwd, docker.compose_version, env, files=files,
                      env_files=env_files)
    if accepted_before(workspace, key):
        return False
    docker.run(argv, cwd=cwd, env=env, timeout=timeout)
    remember(workspace, key)
    return True
