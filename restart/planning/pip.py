"""Pip in the web container: what is installed against what is declared, and how to fix it.

Detection is one read (:data:`PIP_LIST`, or the agent's metadata scan in its place);
:func:`diff_features` compares it with the declaration, :func:`pip_calls` turns the differences
into at most one install and one uninstall (verb, argv, packages), and :func:`pip_failure` turns a
failed call into the one error the user sees, with pip's error tail as its log.  Nothing here runs a process: the
executor does, after every read-only check has passed.
"""
from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from restart.errors import RestartError
from restart.planning.features import EDITABLE, PINNED, FeatureRef, normalize_package

NEW, REMOVED, BUMP, SWITCH = "new", "removed", "bump", "switch"
NON_EDITABLE = "non-editable"      # installed from a wheel or sdist: no source folder
FEATURE_PREFIX = "splent_feature_"
PIP = ("python3", "-m", "pip")
# Detection is this one call: ``docker exec <web> python3 -m pip list --format=json``.
PIP_LIST = (*PIP, "list", "--format=json")


@dataclass(frozen=True)
class Installed:
    """One package ``pip list`` reports in the web container."""

    package: str             # normalised: lower-case, runs of '-', '_', '.' → '_'
    version: str
    location: str | None     # editable_project_location (pip >= 21.3); None: not editable


def parse_pip_list(text: str) -> dict[str, Installed]:
    """Read ``pip list --format=json`` output, keyed by normalised package name.

    Raises
    ------
    RestartError
        The output is not pip's JSON list (a container problem, not a configuration one).

    Examples
    --------
    >>> parse_pip_list('[{"name": "splent-feature-x", "version": "1.0.0", '
    ...                '"editable_project_location": "/workspace/splent_feature_x"}]')
    {'splent_feature_x': Installed(package='splent_feature_x', version='1.0.0', \
location='/workspace/splent_feature_x')}
    """
    data = _json_list(text)
    if data is None or not all(isinstance(d, dict) and isinstance(d.get("name"), str) for d in data):
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        raise RestartError("`pip list --format=json` in the web container did not print a package list"
                           + (f": {first[:120]}" if first else " (empty output)") + ".")
    installed = {}
    for item in data:
        package = normalize_package(item["name"])
        location = item.get("editable_project_location")
        installed[package] = Installed(package, str(item.get("version", "")),
                                       location if isinstance(location, str) and location else None)
    return installed


def _json_list(text: str) -> list | None:
    """The JSON list in pip's stdout; tolerates a stray line (a notice) around it."""
    candidates = [text] + [line for line in text.splitlines() if line.lstrip().startswith("[")]
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, list):
            return data
    return None


@dataclass(frozen=True)
class FeatureChange:
    """One difference between the declaration and the web container's pip."""

    kind: str              # "new" | "removed" | "bump" | "switch"
    package: str
    old: str | None        # for display: installed version, mode or location
    new: str | None        # for display: declared version, mode or location
    path: str | None       # container path to `pip install -e`; None for "removed"

    def label(self) -> str:
        """Progress text, e.g. ``↑ splent_feature_redis 1.0.0 → 1.1.0``."""
        if self.kind == NEW:
            return f"+ {self.package} (new)"
        if self.kind == REMOVED:
            return f"- {self.package} (removed)"
        if self.kind == BUMP:
            arrow = "↓" if _older(self.new or "", self.old or "") else "↑"
            return f"{arrow} {self.package} {self.old} → {self.new}"
        return f"⇄ {self.package} {self.old} → {self.new}"


def diff_features(features: Sequence[FeatureRef], installed: Mapping[str, Installed],
                  to_container: Callable[[FeatureRef], str], *,
                  known: Collection[str] = ()) -> tuple[FeatureChange, ...]:
    """Compare the declared features with what pip reports in the web container.

    Parameters
    ----------
    features : sequence of FeatureRef
        Declared, in order.
    installed : mapping
        :func:`parse_pip_list`'s result.
    to_container : callable
        A feature → the container path of its source folder (``ref.root`` mapped in).
    known : collection of str
        Packages the product declared before: removed when no longer declared, even when
        not named ``splent_feature_*``.

    Returns
    -------
    tuple of FeatureChange
        Removals first (sorted), then declared features in order:

        - ``new``: not installed;
        - ``switch``: the installed mode differs (``editable`` / ``pinned`` / ``non-editable``;
          a location under ``.splent_cache/features/`` or ending in ``<name>@<version>`` is
          pinned), or the mode matches but the source folder differs (old/new are then the
          two locations);
        - ``bump``: pinned, installed pinned or non-editable, and the versions differ (tag
          without ``v`` vs pip's version; ``1.0`` equals ``1.0.0``).

        A feature installed editable from exactly its declared folder (or from the product's
        ``features/<ns_safe>/<link_name>`` link to it, as SPLENT installs) is unchanged even
        when pip's version differs from the tag: the folder is the tag's clone, and a tag
        whose pyproject was not bumped would otherwise reinstall on every run.  A pinned
        feature installed non-editable at the declared version is unchanged too.

    Examples
    --------
    >>> from restart.planning.features import parse_entry
    >>> ref = parse_entry("splent_feature_x@v1.1.0", source="", key="")
    >>> old = {"splent_feature_x": Installed("splent_feature_x", "1.0.0", None)}
    >>> [c.label() for c in diff_features([ref], old, lambda r: "/workspace/x")]
    ['↑ splent_feature_x 1.0.0 → 1.1.0']
    """
    declared = {ref.package for ref in features}
    was_declared = {normalize_package(name) for name in known}
    changes = [FeatureChange(REMOVED, pkg, inst.version, None, None)
               for pkg, inst in sorted(installed.items())
               if pkg not in declared and (pkg.startswith(FEATURE_PREFIX) or pkg in was_declared)]
    seen = set()
    for ref in features:
        if ref.package in seen:
            continue
        seen.add(ref.package)
        path = posixpath.normpath(to_container(ref))
        change = _change(ref, installed.get(ref.package), path)
        if change is not None:
            changes.append(change)
    return tuple(changes)


def _change(ref: FeatureRef, inst: Installed | None, path: str) -> FeatureChange | None:
    if inst is None:
        return FeatureChange(NEW, ref.package, None, ref.release or EDITABLE, path)
    location = posixpath.normpath(inst.location) if inst.location else None
    if location is not None and _same_source(location, path, ref):
        return None
    mode = _installed_mode(location)
    if mode != ref.mode and not (ref.mode == PINNED and mode == NON_EDITABLE):
        return FeatureChange(SWITCH, ref.package, mode, ref.mode, path)
    if ref.mode == PINNED and not same_version(ref.release or "", inst.version):
        return FeatureChange(BUMP, ref.package, inst.version, ref.release, path)
    if location is None:            # pinned, non-editable, same version: the same code
        return None
    return FeatureChange(SWITCH, ref.package, location, path, path)


def _installed_mode(location: str | None) -> str:
    if location is None:
        return NON_EDITABLE
    if "/.splent_cache/features/" in location + "/" or "@" in posixpath.basename(location):
        return PINNED
    return EDITABLE


def _same_source(location: str, path: str, ref: FeatureRef) -> bool:
    """Installed from the declared folder itself, or from a product's link to it."""
    return location == path or location.endswith(f"/features/{ref.ns_safe}/{ref.link_name}")


_RELEASE = re.compile(r"(\d+(?:\.\d+)*)(.*)")


def _version_key(version: str) -> tuple[tuple[int, ...], str]:
    """``v1.2.0`` → ((1, 2), ""); ``1.0.0-rc1`` → ((1,), "rc1"): enough of PEP 440 for tags."""
    text = version.strip().lower()
    text = text[1:] if text.startswith("v") else text
    match = _RELEASE.fullmatch(text)
    if not match:
        return (), text
    release = [int(part) for part in match[1].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    return tuple(release), re.sub(r"[-_.]", "", match[2])


def same_version(a: str, b: str) -> bool:
    """Whether a tag and pip's version name one release: ``v1.0`` == ``1.0.0``."""
    return _version_key(a) == _version_key(b)


def _older(a: str, b: str) -> bool:
    """``a`` is a plain release strictly before ``b`` (pre-releases are never called older)."""
    ka, kb = _version_key(a), _version_key(b)
    return bool(ka[0] and kb[0]) and not ka[1] and not kb[1] and ka[0] < kb[0]


def pip_argvs(changes: Sequence[FeatureChange]) -> tuple[tuple[str, ...], ...]:
    """The pip calls that carry out ``changes``: at most one install, then one uninstall.

    Installing first means a failing install (a broken feature, the usual pip failure) leaves
    the container exactly as it was: nothing has been uninstalled yet.  Only removed features
    are uninstalled.  Bumps and switches are not: ``pip install -e`` replaces an installed
    distribution of the same name itself, and if the install fails it rolls the old one back,
    so the container never ends up without the feature.  :func:`pip_calls` says what each is about.

    Examples
    --------
    >>> pip_argvs([FeatureChange("removed", "splent_feature_a", "1.0", None, None),
    ...            FeatureChange("new", "splent_feature_b", None, "editable", "/workspace/b")])
    (('python3', '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-q', '--no-deps', \
'--no-build-isolation', '-e', '/workspace/b'), \
('python3', '-m', 'pip', 'uninstall', '--disable-pip-version-check', '-y', 'splent_feature_a'))
    """
    removed = list(dict.fromkeys(c.package for c in changes if c.kind == REMOVED))
    paths = list(dict.fromkeys(c.path for c in changes if c.kind != REMOVED and c.path))
    argvs = []
    if paths:
        argvs.append((*PIP, "install", "--disable-pip-version-check", "--no-input", "-q", "--no-deps",
                      "--no-build-isolation", *(arg for path in paths for arg in ("-e", path))))
    if removed:
        argvs.append((*PIP, "uninstall", "--disable-pip-version-check", "-y", *removed))
    return tuple(argvs)


# --- pip failures ------------------------------------------------------------------------------

# pip's and setuptools' framing around the real error: true, but says nothing about the fault.
_PIP_NOISE = re.compile(
    r"(note|hint): |\[notice\]|WARNING: Running pip as the 'root' user|DEPRECATION: |"
    r"error: (subprocess-exited-with-error|metadata-generation-failed|legacy-install-failure)$|"
    r"[×╰│]|\[end of output\]|Traceback \(most recent call last\):$|"
    r"Encountered error while|See above for (output|details)|ERROR: Exception:$")
_FRAME = re.compile(r'File "[^"]*", line \d+')
_CARETS = re.compile(r"[\s^~]+")
_ERROR_LINE = re.compile(r"(?i)([\w.]*(error|exception)|[a-z]+ error|error)\b[^:]*:")


def pip_error_tail(text: str, limit: int = 12) -> list[str]:
    """The lines of pip's stderr that say what went wrong, at most ``limit``, last ones kept,
    without their common indentation.

    pip wraps a build failure in boxes and notes ("note: This error originates from a
    subprocess", "hint: See above for details") and the backend's traceback; the last line
    alone is then useless.  Dropped: that framing, traceback frames (``File "…", line N``,
    the source line under it and its ``^^^`` markers) and the root-user warning.

    Examples
    --------
    >>> pip_error_tail('  File "/x.py", line 3, in f\\n    raise E\\n    ^^^\\nValueError: bad pyproject\\n'
    ...                'note: This is an issue with the package mentioned above, not pip.\\n')
    ['ValueError: bad pyproject']
    """
    kept, frame_indent = [], None
    for raw in (text or "").splitlines():
        stripped = raw.strip()
        if not stripped or _CARETS.fullmatch(stripped):
            continue
        indent = len(raw) - len(raw.lstrip())
        if _FRAME.match(stripped):
            frame_indent = indent
            continue
        if frame_indent is not None:
            source = indent > frame_indent       # the frame's source line, when it has one
            frame_indent = None
            if source:
                continue
        if _PIP_NOISE.match(stripped):
            continue
        kept.append(raw.rstrip())
    kept = kept[-limit:]
    margin = min((len(line) - len(line.lstrip()) for line in kept), default=0)
    return [line[margin:] for line in kept]          # nesting kept, common indent dropped


def pip_failure(container: str, verb: str, packages: Sequence[str], stderr: str) -> RestartError:
    """The error for a failed :func:`pip_calls` call: one sentence naming the container and
    the features, with pip's key error line; the cleaned tail rides along as ``log``."""
    tail = pip_error_tail(stderr)
    key = next((line.strip() for line in reversed(tail) if _ERROR_LINE.match(line.strip())),
               tail[-1].strip() if tail else "")
    what = f" {'installing' if verb == 'install' else 'uninstalling'} {', '.join(packages)}" if packages else ""
    message = f"pip failed in {container}{what} (no stack or app was touched)"
    log = {f"pip {verb} in {container}": tail} if tail else {}
    return RestartError(message + (f": {key}" if key else "."), log=log)


@dataclass(frozen=True)
class PipCall:
    """One pip call of :func:`pip_argvs`, with its meaning as fields (no argv read back)."""

    verb: str                         # "install" | "uninstall"
    argv: tuple[str, ...]             # run in the web container
    packages: tuple[str, ...]         # the features it installs or uninstalls


def pip_calls(changes: Sequence[FeatureChange]) -> tuple[PipCall, ...]:
    """:func:`pip_argvs` with what each call is about: the install first, then the uninstall."""
    argvs = iter(pip_argvs(changes))
    calls = []
    if any(c.kind != REMOVED and c.path for c in changes):
        packages = tuple(dict.fromkeys(c.package for c in changes if c.kind != REMOVED and c.path))
        calls.append(PipCall("install", next(argvs), packages))
    if any(c.kind == REMOVED for c in changes):
        packages = tuple(dict.fromkeys(c.package for c in changes if c.kind == REMOVED))
        calls.append(PipCall("uninstall", next(argvs), packages))
    return tuple(calls)
