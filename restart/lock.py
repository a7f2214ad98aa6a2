"""One restart per (Docker engine, compose project) at a time.

Two overlapping runs interleave: the second one's ``stop app`` kills what the first one just
started and verified.  So a run takes a lock before its first change and holds it until it
exits.  The lock is ``fcntl.flock`` on a file in the workspace:

- the kernel drops a flock when its holder dies (SIGKILL, a closed terminal), so a lock can
  never outlive its run: "stale" only means that the holder record below was left behind;
- the file lives in ``<workspace>/.splent_cache/restart/``, which the host and SPLENT's CLI
  container both see (the workspace is bind-mounted), so a run on the host and one in the CLI
  container exclude each other; a lock under /tmp would not be shared.

The file also carries a small JSON holder record (pid, host, started, argv) that a waiting run
shows, and that the holder clears on its way out.  A record found under a free lock was left
by a run that died: it is taken over, with a note, never silently ignored.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

from restart.errors import ConfigError, LockBusy
from restart.planning.settings import CACHE_DIR

LOCK_DIR = CACHE_DIR
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
POLL = 0.1


def engine_key(environ: Mapping[str, str] = os.environ) -> str:
    """Which Docker engine this run talks to: DOCKER_HOST, else the docker context, else default.

    The CLI container reaches the host's engine through the mounted default socket, so that
    socket counts as "default" too.
    """
    host = environ.get("DOCKER_HOST", "")
    if host and host != DEFAULT_SOCKET:
        return host
    context = environ.get("DOCKER_CONTEXT", "")
    if not context and not host:
        config = Path(environ.get("DOCKER_CONFIG") or Path(environ.get("HOME", "/")) / ".docker") / "config.json"
        try:
            context = json.loads(config.read_text()).get("currentContext", "")
        except (OSError, ValueError, AttributeError):
            context = ""
    return context if context and context != "default" else "default"


def engine_name(context: str | None, host: str | None) -> str:
    """The key of a resolved engine (restart.planning.engine.Engine): its context, else DOCKER_HOST, else default."""
    if context and context != "default":
        return context
    if host and host != DEFAULT_SOCKET:
        return host
    return "default"


def lock_path(workspace: Path, project: str, engine: str) -> Path:
    """``<ws>/.splent_cache/restart/<project>.lock``; another engine gets a suffix of its own."""
    name = project if engine == "default" else f"{project}@{hashlib.sha1(engine.encode()).hexdigest()[:10]}"
    return Path(workspace) / LOCK_DIR / f"{name}.lock"


def describe(holder: dict | None) -> str:
    """'pid 4242 on host web-1 since 11:02:03 (12.3s ago), `splent-restart --dev`'."""
    if not holder:
        return "a run that has not written its record yet"
    text = f"pid {holder.get('pid', '?')}"
    if holder.get("host"):
        text += f" on host {holder['host']}"
    started = holder.get("started")
    if started:
        try:
            when = datetime.fromisoformat(started)
            ago = (datetime.now(timezone.utc) - when).total_seconds()
            text += f" since {when.astimezone().strftime('%H:%M:%S')} ({ago:.1f}s ago)"
        except ValueError:
            text += f" since {started}"
    if holder.get("argv"):
        text += ", `" + " ".join(holder["argv"]) + "`"
    return text


class RunLock:
    """``with RunLock(...)``: wait for (or, with no_wait, refuse) the lock, hold it, release it.

    ``info`` is what --json reports; it is filled in place, so a run that is refused or
    interrupted while waiting still reports what it saw.
    """

    def __init__(self, path: Path, project: str, engine: str, *, no_wait: bool = False,
                 say: Callable[[str], None] = lambda text: None, warn: Callable[[str], None] = lambda text: None,
                 argv: list[str] | None = None) -> None:
        self.path, self.project, self.engine, self.no_wait = Path(path), project, engine, no_wait
        self.say, self.warn = say, warn
        self.argv = list(sys.argv if argv is None else argv)
        self.fd: int | None = None
        self.writable = True
        self.info: dict = {"path": str(self.path), "engine": engine, "waited": 0.0, "holder": None,
                           "took_over": None}

    @property
    def waited(self) -> bool:
        return self.info["holder"] is not None

    def __enter__(self) -> RunLock:
        self.fd = self._open()
        try:
            self._acquire()
        except BaseException:
            os.close(self.fd)
            self.fd = None
            raise
        left = self._read()
        if left:      # the flock is free, yet a record is there: its run died without clearing it
            self.info["took_over"] = left
            self.warn(f"note: took over the lock left by pid {left.get('pid', '?')} (not running)"
                      + (f" on host {left['host']}" if left.get("host") else "") + f": {self.path}")
        self._write({"pid": os.getpid(), "host": socket.gethostname(),
                     "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "argv": self.argv, "engine": self.engine, "project": self.project})
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def release(self) -> None:
        """Clear the record, then drop the flock (in that order: a waiter must find no record)."""
        if self.fd is None:
            return
        try:
            if self.writable:
                os.ftruncate(self.fd, 0)
        except OSError:
            pass
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:
            try:    # someone else's lock file (root in the CLI container): flock needs no write access
                fd = os.open(self.path, os.O_RDONLY)
                self.writable = False
            except OSError as e:
                raise ConfigError(f"cannot open the run lock {self.path} ({e.strerror}); restart takes it so "
                                  "that two runs never restart one product at once.") from None
        except OSError as e:
            raise ConfigError(f"cannot create the run lock {self.path} ({e.strerror}); restart takes it so "
                              "that two runs never restart one product at once.") from None
        return fd

    def _acquire(self) -> None:
        started = time.monotonic()
        shown = None
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            holder = self._read() or self.info["holder"]
            if self.no_wait:
                self.info["holder"] = holder
                raise LockBusy(f"another restart of {self.project} is running ({describe(holder)}); not "
                               "waiting (--no-wait).")
            if shown is None or (holder and holder != shown):
                self.say(f"waiting for another restart of {self.project} to finish: {describe(holder)} …")
                shown = holder or {}
            self.info["holder"] = holder or self.info["holder"] or {}
            self.info["waited"] = round(time.monotonic() - started, 3)
            time.sleep(POLL)
        if self.info["holder"] is not None:
            self.info["waited"] = round(time.monotonic() - started, 3)
            self.say(f"lock taken after waiting {self.info['waited']:.1f}s")

    def _read(self) -> dict | None:
        try:
            raw = os.pread(self.fd, 64 * 1024, 0)
            record = json.loads(raw) if raw.strip() else None
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _write(self, record: dict) -> None:
        if not self.writable:
            return
        data = json.dumps(record).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)
