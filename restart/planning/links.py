"""Feature links: make ``<product>/features/`` point at the declared features.

The web container imports features through these symlinks, so they are planned with the rest of
the plan (:func:`plan_links` only reads, and refuses anything it would have to delete that is not
a link) and written first in a run by :func:`apply_links`, the one function here that writes.
Kept apart from pip (``restart.planning.pip``): links are host files, planned without Docker, while pip
is read and changed inside the web container.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from restart.errors import ConfigError, RestartError
from restart.planning.features import PINNED, FeatureRef, workspace_relative

CREATE, REPLACE, REMOVE = "create", "replace", "remove"


@dataclass(frozen=True)
class LinkChange:
    """One symlink to create, re-point or remove under ``<product>/features/``."""

    action: str            # "create" | "replace" | "remove"
    path: Path
    target: str | None     # relative target; None for "remove"


def plan_links(workspace: Path, product_dir: Path, features: Sequence[FeatureRef]) -> tuple[LinkChange, ...]:
    """Decide the symlink changes that make ``<product>/features/`` match ``features``.

    Parameters
    ----------
    workspace, product_dir : Path
    features : sequence of FeatureRef
        The declared features, in order.

    Returns
    -------
    tuple of LinkChange
        Stale symlinks under ``features/<ns>/`` to remove (sorted), then the links to create
        or re-point, in declared order.  Targets are relative: ``../../../<name>`` (editable)
        or ``../../../.splent_cache/features/<ns_safe>/<name>@<version>`` (pinned) for a
        product directly inside the workspace.  Correct links produce no change.

    Raises
    ------
    ConfigError
        A pinned feature missing from the cache, an editable feature without its checkout,
        a source or product that resolves outside the workspace (the web container sees only
        the workspace), or a real file or directory where a link belongs (never deleted).
    """
    ws_real = os.path.realpath(workspace)
    rel = workspace_relative(workspace)
    product_real = os.path.realpath(product_dir)
    if not _within(product_real, ws_real):
        raise ConfigError(f"{product_dir} resolves outside the workspace {workspace} ({product_real}).")
    features_dir = product_dir / "features"
    _need_directory(features_dir, rel)

    expected: dict[Path, str] = {}
    changes: list[LinkChange] = []
    for ref in features:
        link = ref.link_path(product_dir)
        if link in expected:
            continue
        root = ref.root(workspace)
        if not root.is_dir():
            if ref.mode == PINNED:
                raise ConfigError(f'feature "{ref.entry}" is not in the cache ({rel(root)}); '
                                  "`splent product:resolve` fetches it.")
            raise ConfigError(f'feature "{ref.entry}" is editable but its checkout {rel(root)}/ does not '
                              "exist in the workspace.")
        root_real = os.path.realpath(root)
        if not _within(root_real, ws_real):
            raise ConfigError(f'feature "{ref.entry}" resolves outside the workspace ({rel(root)} → '
                              f"{root_real}), where the web container cannot see it.")
        _need_directory(link.parent, rel)
        lexical_root = os.path.join(ws_real, os.path.relpath(root, workspace))
        target = os.path.relpath(lexical_root, os.path.join(product_real, "features", ref.ns_safe))
        expected[link] = target
        if link.is_symlink():
            if os.readlink(link) != target:
                changes.append(LinkChange(REPLACE, link, target))
        elif os.path.lexists(link):
            kind = "directory" if link.is_dir() else "file"
            raise ConfigError(f"{rel(link)} is a real {kind}, not a symlink: move it away so feature "
                              f'"{ref.entry}" can be linked there (restart never deletes one).')
        else:
            changes.append(LinkChange(CREATE, link, target))

    stale = []
    if features_dir.is_dir():
        for ns_dir in sorted(features_dir.iterdir()):
            if ns_dir.is_symlink() or not ns_dir.is_dir():
                continue                     # not SPLENT's layout: leave it alone
            stale += [LinkChange(REMOVE, p, None) for p in sorted(ns_dir.iterdir())
                      if p.is_symlink() and p not in expected]
    return tuple(stale + changes)


def apply_links(changes: Sequence[LinkChange]) -> None:
    """Carry out :func:`plan_links`'s changes; a re-pointed link is swapped atomically.

    Raises
    ------
    RestartError
        When the filesystem changed since planning (say, a directory appeared where a link
        goes) or cannot be written.  A non-symlink is never removed.
    """
    for change in changes:
        path = change.path
        try:
            if change.action == REMOVE:
                if path.is_symlink():
                    path.unlink()
                elif os.path.lexists(path):
                    raise RestartError(f"{path} is no longer a symlink; it was not removed.")
            elif change.action == CREATE:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(change.target, path)
            elif change.action == REPLACE:
                if not path.is_symlink():
                    raise RestartError(f"{path} is no longer a symlink; it was not replaced.")
                tmp = path.with_name(f".{path.name}.restart-tmp")
                if tmp.is_symlink():
                    tmp.unlink()
                os.symlink(change.target, tmp)
                os.replace(tmp, path)        # rename(2): never follows, never replaces a directory
            else:
                raise ValueError(f"unknown link action {change.action!r}")
        except OSError as e:
            reason = e.strerror or e
            raise RestartError(f"cannot {change.action} the feature link {path}: {reason}.") from None


def _need_directory(path: Path, rel: Callable[[Path], str]) -> None:
    """A link folder must be a real directory (or absent): a symlinked one could write elsewhere."""
    if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
        what = "a symlink" if path.is_symlink() else "a file"
        raise ConfigError(f"{rel(path)} is {what}, not a directory: restart will not put feature links "
                          "there.")


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
