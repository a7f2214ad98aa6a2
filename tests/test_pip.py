"""Pip in the web container: pip list parsing, change detection, pip argv, pip failures."""
from __future__ import annotations

from pathlib import Path

import pytest

from restart.errors import RestartError
from restart.planning.features import parse_entry
from restart.planning.pip import (
    FeatureChange,
    Installed,
    diff_features,
    parse_pip_list,
    pip_argvs,
    pip_calls,
    pip_error_tail,
    pip_failure,
    same_version,
)

REDIS = "splent-io/splent_feature_redis@v1.5.6"
THEME = "splent-io/splent_feature_theme"


def refs(*entries):
    return [parse_entry(e, source="app/pyproject.toml", key="[tool.splent].features") for e in entries]


# --- pip list --------------------------------------------------------------------------------

# `python3 -m pip list --format=json` (pip 23.2) in a container where one feature is editable
# from its checkout and one from the cache: pip prints one line, names as their metadata spells them.
PIP_LIST = (
    '[{"name": "blinker", "version": "1.9.0"}, {"name": "Flask", "version": "3.1.0"}, '
    '{"name": "splent-feature-notes", "version": "1.3.0", '
    '"editable_project_location": "/workspace/splent_feature_notes"}, '
    '{"name": "splent_feature_redis", "version": "1.5.6", '
    '"editable_project_location": '
    '"/workspace/.splent_cache/features/splent_io/splent_feature_redis@v1.5.6"}, '
    '{"name": "splent_framework", "version": "1.6.2", '
    '"editable_project_location": "/workspace/splent_framework"}, '
    '{"name": "Werkzeug", "version": "3.1.3"}]\n'
)


def test_parse_pip_list():
    installed = parse_pip_list(PIP_LIST)
    assert list(installed) == ["blinker", "flask", "splent_feature_notes", "splent_feature_redis",
                               "splent_framework", "werkzeug"]
    assert installed["splent_feature_notes"] == Installed("splent_feature_notes", "1.3.0",
                                                          "/workspace/splent_feature_notes")
    assert installed["flask"] == Installed("flask", "3.1.0", None)


def test_parse_pip_list_tolerates_a_notice_line():
    text = "[notice] A new release of pip is available\n" + PIP_LIST
    assert "splent_feature_redis" in parse_pip_list(text)


@pytest.mark.parametrize("text, tail", [
    ("", " (empty output)."),
    ("OCI runtime exec failed: exec failed\n", ": OCI runtime exec failed: exec failed."),
    ('{"name": "x"}', ': {"name": "x"}.'),
    ('[{"version": "1"}]', ': [{"version": "1"}].'),
])
def test_parse_pip_list_bad_output_is_a_restart_error(text, tail):
    with pytest.raises(RestartError) as err:
        parse_pip_list(text)
    assert type(err.value) is RestartError and err.value.exit_code == 1
    message = "`pip list --format=json` in the web container did not print a package list"
    assert str(err.value) == message + tail


# --- diff_features ---------------------------------------------------------------------------

WS = Path("/host/ws")


def to_container(ref):
    return "/workspace/" + ref.root(WS).relative_to(WS).as_posix()


def inst(package, version, location=None):
    return Installed(package, version, location)


def diff(entries, installed, known=()):
    return diff_features(refs(*entries), {i.package: i for i in installed}, to_container, known=known)


CACHE = "/workspace/.splent_cache/features/splent_io"


def test_new_features():
    changes = diff([THEME, REDIS], [])
    assert changes == (
        FeatureChange("new", "splent_feature_theme", None, "editable", "/workspace/splent_feature_theme"),
        FeatureChange("new", "splent_feature_redis", None, "1.5.6", f"{CACHE}/splent_feature_redis@v1.5.6"),
    )
    assert [c.label() for c in changes] == ["+ splent_feature_theme (new)", "+ splent_feature_redis (new)"]


def test_unchanged_produces_no_change():
    installed = parse_pip_list(PIP_LIST)
    assert diff_features(refs("splent_feature_notes", REDIS), installed, to_container) == ()


def test_installed_through_the_product_link_counts_as_unchanged():
    links = "/workspace/app/features/splent_io"
    installed = [inst("splent_feature_redis", "1.5.6", f"{links}/splent_feature_redis@v1.5.6"),
                 inst("splent_feature_theme", "2.0.0", f"{links}/splent_feature_theme")]
    assert diff([REDIS, THEME], installed) == ()


def test_removed_only_feature_packages_and_known_ones():
    installed = parse_pip_list(PIP_LIST) | {"my_auth": inst("my_auth", "0.1", "/workspace/my_auth")}
    changes = diff_features(refs(REDIS), installed, to_container, known=["my-auth", "Flask-Gone"])
    assert changes == (FeatureChange("removed", "my_auth", "0.1", None, None),
                       FeatureChange("removed", "splent_feature_notes", "1.3.0", None, None))
    assert changes[1].label() == "- splent_feature_notes (removed)"


def test_version_bump_and_downgrade():
    old = [inst("splent_feature_redis", "1.5.5", f"{CACHE}/splent_feature_redis@v1.5.5")]
    (bump,) = diff([REDIS], old)
    assert bump == FeatureChange("bump", "splent_feature_redis", "1.5.5", "1.5.6",
                                 f"{CACHE}/splent_feature_redis@v1.5.6")
    assert bump.label() == "↑ splent_feature_redis 1.5.5 → 1.5.6"
    (down,) = diff(["splent-io/splent_feature_redis@v1.4.0"], [inst("splent_feature_redis", "1.5.6")])
    assert down.label() == "↓ splent_feature_redis 1.5.6 → 1.4.0"


def test_switch_editable_to_pinned_and_back():
    editable = [inst("splent_feature_redis", "1.5.6", "/workspace/splent_feature_redis")]
    (to_pinned,) = diff([REDIS], editable)
    assert to_pinned == FeatureChange("switch", "splent_feature_redis", "editable", "pinned",
                                      f"{CACHE}/splent_feature_redis@v1.5.6")
    assert to_pinned.label() == "⇄ splent_feature_redis editable → pinned"
    pinned = [inst("splent_feature_redis", "1.5.6", f"{CACHE}/splent_feature_redis@v1.5.6")]
    (to_editable,) = diff(["splent_feature_redis"], pinned)
    assert to_editable == FeatureChange("switch", "splent_feature_redis", "pinned", "editable",
                                        "/workspace/splent_feature_redis")
    assert to_editable.label() == "⇄ splent_feature_redis pinned → editable"


def test_non_editable_install():
    wheel = [inst("splent_feature_redis", "1.5.6")]
    assert diff([REDIS], wheel) == ()                                   # same release, same code
    assert diff(["splent_feature_redis@1.5.6.0"], wheel) == ()          # 1.5.6.0 == 1.5.6
    (switch,) = diff(["splent_feature_redis"], wheel)
    assert switch.label() == "⇄ splent_feature_redis non-editable → editable"


def test_same_mode_other_folder_is_reinstalled():
    fork = "/workspace/.splent_cache/features/fork/splent_feature_redis@v1.5.6"
    other_ns = [inst("splent_feature_redis", "1.5.6", fork)]
    (change,) = diff([REDIS], other_ns)
    assert (change.kind, change.old, change.new) == ("switch", fork, f"{CACHE}/splent_feature_redis@v1.5.6")
    elsewhere = [inst("splent_feature_theme", "1.0", "/workspace/old/splent_feature_theme/")]
    (change,) = diff([THEME], elsewhere)
    assert change.label() == ("⇄ splent_feature_theme /workspace/old/splent_feature_theme → "
                              "/workspace/splent_feature_theme")


def test_installed_from_its_own_cache_folder_ignores_an_unbumped_version():
    stale_metadata = [inst("splent_feature_redis", "1.5.5", f"{CACHE}/splent_feature_redis@v1.5.6")]
    assert diff([REDIS], stale_metadata) == ()


def test_removals_come_first_then_declared_order():
    installed = [inst("splent_feature_b", "1.0", f"{CACHE}/splent_feature_b@v1.0"),
                 inst("splent_feature_z", "1.0", "/workspace/splent_feature_z")]
    changes = diff(["splent_feature_c", "splent_feature_b@v2.0", "splent_feature_a"], installed)
    assert [(c.kind, c.package) for c in changes] == [
        ("removed", "splent_feature_z"), ("new", "splent_feature_c"), ("bump", "splent_feature_b"),
        ("new", "splent_feature_a")]


@pytest.mark.parametrize("a, b, same", [
    ("v1.0.0", "1.0.0", True), ("v1.0", "1.0.0", True), ("1", "1.0", True), ("V2.1", "2.1.0", True),
    ("v1.0.0-rc1", "1.0.0rc1", True), ("v1.0.1", "1.0.0", False), ("v1.10", "1.1", False),
    ("main", "main", True), ("main", "1.0", False),
])
def test_same_version(a, b, same):
    assert same_version(a, b) is same


# --- pip_argvs -------------------------------------------------------------------------------

INSTALL = ("python3", "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q", "--no-deps",
           "--no-build-isolation")
UNINSTALL = ("python3", "-m", "pip", "uninstall", "--disable-pip-version-check", "-y")


def test_pip_argvs_batches_into_one_install_then_one_uninstall():
    changes = (
        FeatureChange("removed", "splent_feature_x", "1.0", None, None),
        FeatureChange("removed", "splent_feature_y", "2.0", None, None),
        FeatureChange("new", "splent_feature_a", None, "editable", "/workspace/splent_feature_a"),
        FeatureChange("bump", "splent_feature_b", "1.0", "1.1", f"{CACHE}/b@v1.1"),
        FeatureChange("switch", "splent_feature_c", "editable", "pinned", f"{CACHE}/c@v1"),
    )
    # install first: when it fails (a broken feature), nothing has been uninstalled yet
    assert pip_argvs(changes) == (
        (*INSTALL, "-e", "/workspace/splent_feature_a", "-e", f"{CACHE}/b@v1.1", "-e", f"{CACHE}/c@v1"),
        (*UNINSTALL, "splent_feature_x", "splent_feature_y"),
    )
    assert {argv[3] for argv in pip_argvs(changes)} == {"install", "uninstall"}   # the subcommand


def test_pip_argvs_edge_cases():
    assert pip_argvs(()) == ()
    only_removed = (FeatureChange("removed", "splent_feature_x", "1.0", None, None),)
    assert pip_argvs(only_removed) == ((*UNINSTALL, "splent_feature_x"),)
    switch = (FeatureChange("switch", "splent_feature_c", "pinned", "editable", "/workspace/c"),)
    assert pip_argvs(switch) == ((*INSTALL, "-e", "/workspace/c"),)


def test_diff_then_argvs_end_to_end():
    installed = parse_pip_list(PIP_LIST)
    changes = diff_features(refs("splent-io/splent_feature_redis@v1.6.0", THEME), installed, to_container)
    assert [c.label() for c in changes] == ["- splent_feature_notes (removed)",
                                            "↑ splent_feature_redis 1.5.6 → 1.6.0",
                                            "+ splent_feature_theme (new)"]
    assert pip_argvs(changes) == (
        (*INSTALL, "-e", f"{CACHE}/splent_feature_redis@v1.6.0", "-e", "/workspace/splent_feature_theme"),
        (*UNINSTALL, "splent_feature_notes"),
    )


# --- pip failures ----------------------------------------------------------------------------

# pip 23's stderr when setuptools rejects a feature's pyproject (cut down, same shape).
SETUPTOOLS_FAILURE = """\
  error: subprocess-exited-with-error

  × Preparing editable metadata (pyproject.toml) did not run successfully.
  │ exit code: 1
  ╰─> [53 lines of output]
      configuration error: `project.dependencies` must be array
      GIVEN VALUE:
          "not-a-list"
      Traceback (most recent call last):
        File "/usr/lib/python3/dist-packages/pip/_vendor/pyproject_hooks/_in_process.py", line 353, in <module>
          main()
        File "<string>", line 1, in <module>
        File "/usr/lib/python3/dist-packages/setuptools/config/pyprojecttoml.py", line 51, in validate
          raise ValueError(f"{error}\\n{summary}") from None
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
      ValueError: invalid pyproject.toml config: `project.dependencies`.
      configuration error: `project.dependencies` must be array
      [end of output]

  note: This error originates from a subprocess, and is likely not a problem with pip.
error: metadata-generation-failed

× Encountered error while generating package metadata.
╰─> See above for output.

note: This is an issue with the package mentioned above, not pip.
hint: See above for details.
"""
BROKEN = FeatureChange("new", "splent_feature_broken", None, "editable", "/workspace/splent_feature_broken")


def test_pip_error_tail_keeps_the_fault_and_drops_the_framing():
    assert pip_error_tail(SETUPTOOLS_FAILURE) == [
        "configuration error: `project.dependencies` must be array", "GIVEN VALUE:", '    "not-a-list"',
        "ValueError: invalid pyproject.toml config: `project.dependencies`.",
        "configuration error: `project.dependencies` must be array"]
    assert pip_error_tail(SETUPTOOLS_FAILURE, limit=2) == pip_error_tail(SETUPTOOLS_FAILURE)[-2:]
    assert pip_error_tail("") == []


def test_pip_failure_names_container_features_and_the_key_line():
    bump = FeatureChange("bump", "splent_feature_redis", "1.5.6", "1.6.0", f"{CACHE}/splent_feature_redis@v1.6.0")
    (install,) = pip_calls([bump, BROKEN])
    assert install.verb == "install" and install.argv == pip_argvs([bump, BROKEN])[0]
    err = pip_failure("app_web", install.verb, install.packages, SETUPTOOLS_FAILURE)
    assert type(err) is RestartError and err.exit_code == 1
    assert str(err) == ("pip failed in app_web installing splent_feature_redis, splent_feature_broken (no stack "
                        "or app was touched): configuration error: `project.dependencies` must be array")
    assert err.log == {"pip install in app_web": pip_error_tail(SETUPTOOLS_FAILURE)}


def test_pip_failure_plain_error_line_and_uninstall():
    toml = ("    raise suffixed_err(src, pos, msg)\n"
            "pip._vendor.tomli.TOMLDecodeError: Expected ']' (at line 1, column 9)\n")
    err = pip_failure("w", "install", ("splent_feature_broken",), toml)
    assert str(err).endswith("touched): pip._vendor.tomli.TOMLDecodeError: Expected ']' (at line 1, column 9)")
    gone = FeatureChange("removed", "splent_feature_x", "1.0", None, None)
    install, uninstall = pip_calls([gone, BROKEN])
    assert (install.packages, uninstall.verb, uninstall.packages) == (("splent_feature_broken",), "uninstall",
                                                                      ("splent_feature_x",))
    err = pip_failure("w", uninstall.verb, uninstall.packages, "")
    assert str(err) == "pip failed in w uninstalling splent_feature_x (no stack or app was touched)."
    assert err.log == {}


# --- from the mutation survivors (issue 12) ---------------------------------------------------

def test_parse_pip_list_odd_entries():
    """No version is "" (not "None"); an empty or non-string editable location is not editable;
    a list line indented under a notice is still found (mutmut survivors)."""
    text = ('[notice] A new release of pip is available\n'
            '  [{"name": "a"}, {"name": "b", "version": "1", "editable_project_location": ""}, '
            '{"name": "c", "version": "2", "editable_project_location": 7}]\n')
    assert parse_pip_list(text) == {"a": Installed("a", "", None), "b": Installed("b", "1", None),
                                    "c": Installed("c", "2", None)}


def test_a_feature_declared_twice_is_one_change_and_the_next_still_counts():
    """(mutmut: ``seen.add(None)`` and the ``continue`` as ``break`` survived)"""
    assert [c.package for c in diff([THEME, THEME, REDIS], [])] == ["splent_feature_theme", "splent_feature_redis"]


@pytest.mark.parametrize("location", [
    "/workspace/.splent_cache/features/other_ns/splent_feature_redis",      # in the cache, no @
    "/srv/features/splent_feature_redis@v1.5.6",                             # <name>@<version>, elsewhere
])


def test_installed_from_another_pinned_folder_is_a_switch_of_folder(location):
    """Either sign makes an install pinned; same mode, other folder: reinstall from the declared one."""
    (change,) = diff([REDIS], [inst("splent_feature_redis", "1.5.6", location)])
    assert change == FeatureChange("switch", "splent_feature_redis", location,
                                   f"{CACHE}/splent_feature_redis@v1.5.6", f"{CACHE}/splent_feature_redis@v1.5.6")
    assert pip_argvs([change]) == ((*INSTALL, "-e", f"{CACHE}/splent_feature_redis@v1.5.6"),)


def test_pip_failure_without_an_error_line_or_names():
    """The last line stands in for a missing error line; no feature named: no "installing"
    (mutmut: ``tail[-2]``, ``… if names or True`` survived)."""
    stderr = "first thing\nsecond thing\nsomething odd happened\n"
    err = pip_failure("w", "install", (), stderr)
    assert str(err) == "pip failed in w (no stack or app was touched): something odd happened"
    assert err.log == {"pip install in w": ["first thing", "second thing", "something odd happened"]}


def test_pip_error_tail_limit_and_a_frame_without_source_line():
    lines = [f"line {i}" for i in range(20)]
    assert pip_error_tail("\n".join(lines)) == lines[-12:]
    frame = '  File "/x.py", line 3, in f\n  KeyError: x\n'          # the next line is not indented more
    assert pip_error_tail(frame) == ["KeyError: x"]


def test_bad_pip_output_is_quoted_up_to_120_characters():
    with pytest.raises(RestartError) as err:
        parse_pip_list("x" * 200)
    assert str(err.value).endswith(": " + "x" * 120 + ".")


def test_a_bump_down_to_release_zero_is_a_downgrade():
    """``0`` is release (0,), older than 1 (mutmut: trailing zeros stripped down to nothing survived)."""
    assert FeatureChange("bump", "x", "1", "0", "/w/x").label() == "↓ x 1 → 0"
    assert FeatureChange("bump", "x", "0", "0.1", "/w/x").label() == "↑ x 0 → 0.1"
