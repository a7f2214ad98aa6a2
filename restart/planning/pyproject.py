"""A product's ``pyproject.toml`` → its declared features and SPL; and where its UVL model is.

Stricter than SPLENT on purpose: the CLI silently drops entries of the wrong type and treats
a non-list as empty, which restarts a product with features missing.  Here every such input
is a ConfigError (exit 2) naming the file, key and entry, raised before anything is touched.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from restart.errors import ConfigError
from restart.planning.features import FeatureRef, parse_entry, toml_kind

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


@dataclass(frozen=True)
class ProductConfig:
    """What restart needs from ``pyproject.toml``, already validated."""

    path: Path
    features: tuple[FeatureRef, ...]   # base list + features_<env>, deduplicated, order kept
    spl: str | None                    # [tool.splent].spl
    spl_version: str | None            # [tool.splent.spl_model].version ("" counts as unset)
    spl_doi: str | None                # [tool.splent.spl_model].doi
    uvl_file: str | None               # legacy [tool.splent.uvl].file (framework: <product>/uvl/<file>)
    declared: bool = True              # False: no features key at all (no [tool.splent] features*, no legacy list)


def label(path: Path) -> str:
    """``innosoft_app/pyproject.toml``: names the file and, in a workspace, the product."""
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def load_toml(path: Path, shown: str | None = None) -> dict:
    """Parse a TOML file; any failure is one ConfigError with ``file:line:column`` when known."""
    shown = shown or label(path)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{shown} does not exist.") from None
    except tomllib.TOMLDecodeError as e:
        reason = str(e)
        where = _TOML_WHERE.search(reason)
        if where:
            reason = reason[:where.start()]
            raise ConfigError(f"{shown}:{where[1]}:{where[2]}: invalid TOML: {reason}.") from None
        raise ConfigError(f"{shown}: invalid TOML: {reason}.") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{shown}: not UTF-8 text (byte {e.start}).") from None
    except OSError as e:
        raise ConfigError(f"{shown} cannot be read: {e.strerror or e}.") from None


def read_pyproject(path: Path, env: str) -> ProductConfig:
    """Read the features a product declares for ``env``, and its SPL.

    Parameters
    ----------
    path : Path
        ``<product>/pyproject.toml``.
    env : str
        The resolved environment: ``features_<env>`` is added to the base list.

    Returns
    -------
    ProductConfig
        ``features`` is ``[tool.splent].features`` (or, when that key is absent, the legacy
        ``[project.optional-dependencies].features``) followed by the ``features_<env>``
        entries not already present.  Entries are compared after normalising namespace and
        name, so ``splent-io/x``, ``splent_io/x`` and ``x`` are one feature.  No features at
        all is fine; ``declared`` is False when not one of those keys exists.

    Raises
    ------
    ConfigError
        Missing file, TOML syntax error (with line), a table or key of the wrong type, a
        malformed entry, or one package declared twice in different ways (another
        namespace, version or mode): pip can install only one of them.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     toml = Path(tmp, "app", "pyproject.toml")
    ...     toml.parent.mkdir()
    ...     _ = toml.write_text('[tool.splent]\\nfeatures = ["x", "splent_io/y@v1"]\\n'
    ...                         'features_dev = ["splent-io/x", "z"]\\n')
    ...     print([f.entry for f in read_pyproject(toml, "dev").features])
    ['x', 'splent_io/y@v1', 'z']
    """
    shown = label(path)
    data = load_toml(path, shown)
    tool = _table(data, "tool", shown, "[tool]")
    splent = _table(tool, "splent", shown, "[tool.splent]")
    project = _table(data, "project", shown, "[project]")

    lists: list[tuple[str, list]] = []
    declared = any(key == "features" or key.startswith("features_") for key in splent)
    if "features" in splent:
        lists.append(("[tool.splent].features", _list(splent, "features", shown, "[tool.splent].features")))
    else:
        extras = _table(project, "optional-dependencies", shown, "[project.optional-dependencies]")
        key = "[project.optional-dependencies].features"
        declared = declared or "features" in extras
        lists.append((key, _list(extras, "features", shown, key)))
    if env:
        key = f"[tool.splent].features_{env}"
        lists.append((key, _list(splent, f"features_{env}", shown, key)))

    features: list[FeatureRef] = []
    seen: dict[str, tuple[FeatureRef, str]] = {}       # package → (first ref, its key)
    for key, entries in lists:
        for entry in entries:
            ref = parse_entry(entry, source=shown, key=key)
            first = seen.get(ref.package)
            if first is None:
                seen[ref.package] = (ref, key)
                features.append(ref)
            elif (first[0].ns_safe, first[0].version) != (ref.ns_safe, ref.version):
                raise ConfigError(f'{shown}: {key} entry "{ref.entry}" conflicts with "{first[0].entry}" '
                                  f"in {first[1]} (one package, declared twice in different ways).")

    spl = _string(splent, "spl", shown, "[tool.splent].spl")
    model = _table(splent, "spl_model", shown, "[tool.splent.spl_model]")
    uvl = _table(splent, "uvl", shown, "[tool.splent.uvl]")
    return ProductConfig(
        path=path,
        features=tuple(features),
        spl=spl,
        spl_version=_string(model, "version", shown, "[tool.splent.spl_model].version"),
        spl_doi=_string(model, "doi", shown, "[tool.splent.spl_model].doi"),
        uvl_file=_string(uvl, "file", shown, "[tool.splent.uvl].file"),
        declared=declared,
    )


def _table(data: dict, key: str, shown: str, name: str) -> dict:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{shown}: {name} must be a table, not {toml_kind(value)}.")
    return value


def _list(data: dict, key: str, shown: str, name: str) -> list:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{shown}: {name} must be a list of strings, not {toml_kind(value)}.")
    return value


def _string(data: dict, key: str, shown: str, name: str) -> str | None:
    """A string setting; blank counts as unset (SPLENT writes ``version = ""`` in pins)."""
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f"{shown}: {name} must be a string, not {toml_kind(value)}.")
    return str(value).strip() or None


def doi_slug(doi: str) -> str:
    """``10.5281/zenodo.21610307`` → ``10.5281_zenodo.21610307``: a DOI as one folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", doi.strip()).strip("_")


def find_uvl(workspace: Path, product_dir: Path, config: ProductConfig) -> Path | None:
    """The product line's UVL model on disk, looked up as ``splent`` does (no network).

    Parameters
    ----------
    workspace, product_dir : Path
    config : ProductConfig

    Returns
    -------
    Path or None
        First hit of, in order (CONVENTIONS §6.1):

        1. the working copy ``splent_spl_<core>/`` (``<core>`` = ``spl`` without a trailing
           ``_spl``), else ``splent_spl_<spl>/`` — only the first of these that exists, as
           in splent_cli: ``<spl>.uvl``, else the first ``*.uvl`` by name;
        2. the cache ``.splent_cache/spls/``: ``<spl>@<version>/``, ``<spl>@<doi_slug>/``,
           ``<spl>/`` and, with no pinned version, every ``<spl>@*/`` in name order (as
           splent_cli sorts them, so both tools pick the same model); a folder whose
           ``metadata.toml`` records a different DOI than the product pins is skipped, one
           that records none is accepted; the file must be ``<spl>.uvl``;
        3. the legacy catalog ``splent_catalog/<spl>/<spl>.uvl``, else its first ``*.uvl``;
        4. the framework's ``<product>/uvl/<[tool.splent.uvl].file>``.

        None when nothing is found: the caller restarts stacks in declared order.

    Raises
    ------
    ConfigError
        An ``spl``, ``spl_model.version`` or ``[tool.splent.uvl].file`` that is not a plain
        name inside its folder (each becomes part of a path).
    """
    shown = label(config.path)
    spl = config.spl
    if spl:
        if not _NAME.fullmatch(spl) or spl.startswith("."):
            raise ConfigError(f'{shown}: [tool.splent].spl "{spl}" is not a plain name '
                              "(allowed: letters, digits, '_', '.' and '-', not starting with '.').")
        if config.spl_version and (not _NAME.fullmatch(config.spl_version)
                                   or config.spl_version.startswith(".")):
            raise ConfigError(f'{shown}: [tool.splent.spl_model].version "{config.spl_version}" is not '
                              "a plain version (allowed: letters, digits, '_', '.' and '-').")
        hit = (_working_copy(workspace, spl) or _cached(workspace, spl, config)
               or _first_uvl(workspace / "splent_catalog" / spl, spl))
        if hit:
            return hit
    if config.uvl_file:
        uvl_dir = product_dir / "uvl"
        candidate = uvl_dir / config.uvl_file
        if not _inside(candidate, uvl_dir):
            raise ConfigError(f'{shown}: [tool.splent.uvl].file "{config.uvl_file}" points outside '
                              f"{product_dir.name}/uvl/.")
        return _regular(candidate)
    return None


def _regular(path: Path) -> Path | None:
    """``path`` if it is a file, None if nothing is there; anything else there is a mistake.

    A directory (or a broken symlink) named ``<spl>.uvl`` is not "no model": passing over it
    would silently restart every stack in declared order.
    """
    if path.is_file():
        return path
    if path.is_symlink() or path.exists():
        what = ("a broken symlink" if not path.exists() else "a directory" if path.is_dir()
                else "not a regular file")
        raise ConfigError(f"the UVL model {label(path)} is {what}; put the model file there, or remove "
                          "it to restart stacks in declared order.")
    return None


def _first_uvl(folder: Path, spl: str) -> Path | None:
    if not folder.is_dir():
        return None
    if (model := _regular(folder / f"{spl}.uvl")) is not None:
        return model
    return next((p for p in sorted(folder.glob("*.uvl")) if p.is_file()), None)


def _working_copy(workspace: Path, spl: str) -> Path | None:
    core = spl[: -len("_spl")] if spl.endswith("_spl") else spl
    for name in dict.fromkeys((f"splent_spl_{core or spl}", f"splent_spl_{spl}")):
        if (workspace / name).is_dir():
            return _first_uvl(workspace / name, spl)
    return None


def _cached(workspace: Path, spl: str, config: ProductConfig) -> Path | None:
    root = workspace / ".splent_cache" / "spls"
    version, doi = config.spl_version, config.spl_doi
    folders = [root / f"{spl}@{version}"] if version else []
    if doi:
        folders.append(root / f"{spl}@{doi_slug(doi)}")
    folders.append(root / spl)
    if not version and root.is_dir():
        folders.extend(p for p in sorted(root.iterdir()) if p.name.startswith(f"{spl}@") and p.is_dir())
    for folder in dict.fromkeys(folders):
        model = _regular(folder / f"{spl}.uvl")
        if model is None:
            continue
        if doi and _recorded_doi(folder) not in (None, doi):
            continue
        return model
    return None


def _recorded_doi(folder: Path) -> str | None:
    """``[spl.uvl].doi`` of a cached model's metadata.toml; unreadable counts as none, as in splent_cli."""
    try:
        with open(folder / "metadata.toml", "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    spl = data.get("spl")
    uvl = spl.get("uvl") if isinstance(spl, dict) else None
    doi = uvl.get("doi") if isinstance(uvl, dict) else None
    return (str(doi).strip() or None) if doi else None


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` resolves (symlinks followed) inside ``folder``."""
    real, base = os.path.realpath(path), os.path.realpath(folder)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)
