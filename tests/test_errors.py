"""Every failure carries ``log`` as a dict, so callers read ``e.log`` without getattr."""
from __future__ import annotations

from restart.errors import CommandFailed, ConfigError, Interrupted, LockBusy, RestartError, UVLSyntaxError


def test_every_failure_has_a_log_dict():
    errors = [RestartError("x"), ConfigError("x"), Interrupted("x"), LockBusy("x"),
              UVLSyntaxError("m.uvl", 1, 2, "bad"), CommandFailed(["docker", "ps"], 1, "boom")]
    assert [e.log for e in errors] == [{}] * len(errors)


def test_a_failure_carries_its_log_tail():
    tail = {"/tmp/app.log": ["Traceback …", "ImportError: no module named x"]}
    err = RestartError("the app did not come back.", log=tail)
    assert err.log == tail and str(err) == "the app did not come back." and err.exit_code == 1
    assert ConfigError("bad input.", log=tail).log == tail
