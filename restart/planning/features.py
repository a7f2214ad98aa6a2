"""Feature entries ``[<namespace>/]<name>[@<version>]`` and where each feature lives.

One parsed entry knows every name SPLENT derives from it: its pip package, its symlink in
``<product>/features/``, its source folder in the workspace and its compose project.  The
rules are SPLENT's (see CONVENTIONS §4, §5 and §8.1), so ``restart`` finds exactly the
folders and containers that ``splent`` created.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from restart.errors import ConfigError

DEFAULT_NAMESPACE = "splent-io"
PINNED, EDITABLE = "pinned", "editable"

_PART = re.compile(r"[A-Za-z0-9_.-]+")
_PACKAGE_SEPARATORS = re.compile(r"[-_.]+")


def ns_safe(namespace: str) -> str:
    """``splent-io`` → ``splent_io``: the CLI's ``normalize_namespace`` (``-`` and ``.`` → ``_``).

    The CLI's rule, not the framework's ``org_safe`` (``-`` only), because the CLI made the
    link folders, cache folders and compose projects that restart has to find.
    """
    return namespace.replace("-", "_").replace(".", "_")


def normalize_package(name: str) -> str:
    """Pip's identity of a distribution name, in SPLENT's underscore spelling.

    pip treats runs of ``-``, ``_`` and ``.`` as one separator and ignores case (PEP 503), and
    reports ``splent-feature-x`` or ``splent_feature_x`` depending on the build backend.
    """
    return _PACKAGE_SEPARATORS.sub("_", name).lower()


def project_name(name: str, env: str) -> str:
    """SPLENT's compose project name: ``<name>_<env>`` with ``/``, ``@`` and ``.`` → ``_``.

    Not lower-cased, exactly as SPLENT builds it, so the name matches the containers
    ``splent product:up`` created.  Compose itself rejects (v2) or lower-cases (v1)
    upper-case project names, so product names are expected to be lower-case.
    """
    raw = f"{name}_{env}"
    for char in "/@.":
        raw = raw.replace(char, "_")
    return raw


@dataclass(frozen=True)
class FeatureRef:
    """One declared feature: pinned (``@version``, a cached clone) or editable (a checkout)."""

    entry: str                  # as declared, e.g. "splent-io/splent_feature_redis@v1.5.6"
    namespace: str              # as declared, or DEFAULT_NAMESPACE
    name: str                   # folder name, e.g. "splent_feature_redis"
    version: str | None         # git tag, e.g. "v1.5.6"; None for an editable feature

    @property
    def ns_safe(self) -> str:
        return ns_safe(self.namespace)

    @property
    def mode(self) -> str:
        """Pinned = has ``@version``; editable = no ``@`` (both are ``pip install -e``-ed)."""
        return PINNED if self.version is not None else EDITABLE

    @property
    def link_name(self) -> str:
        return f"{self.name}@{self.version}" if self.version is not None else self.name

    @property
    def package(self) -> str:
        """The pip and UVL identity: ``splent-feature-x`` and ``splent_feature_x`` are one."""
        return normalize_package(self.name)

    @property
    def release(self) -> str | None:
        """The version pip reports for a pinned tag: the tag without its leading ``v``."""
        if self.version is None:
            return None
        return self.version[1:] if self.version[:1] in ("v", "V") else self.version

    def root(self, workspace: Path) -> Path:
        """The feature's source folder: the cached clone (pinned) or the checkout (editable)."""
        if self.version is not None:
            return workspace / ".splent_cache" / "features" / self.ns_safe / self.link_name
        return workspace / self.name

    def link_path(self, product_dir: Path) -> Path:
        return product_dir / "features" / self.ns_safe / self.link_name

    def link_target(self) -> str:
        """Relative, so the link resolves the same on the host and in every container."""
        if self.version is not None:
            return f"../../../.splent_cache/features/{self.ns_safe}/{self.link_name}"
        return f"../../../{self.name}"

    def stack_project(self, product: str, env: str) -> str:
        """``<product>_<ns_safe>_<name>_<env>``: per product, and without the version.

        The version left the name because a patch bump created a fresh, empty volume.
        """
        return project_name(f"{product}_{self.ns_safe}_{self.name}", env)

    def compose_file(self, workspace: Path, env: str) -> Path | None:
        """``docker/docker-compose.<env>.yml``, else ``docker/docker-compose.yml``; None: no stack."""
        return compose_file_in(self.root(workspace) / "docker", env)


def compose_file_in(docker_dir: Path, env: str) -> Path | None:
    """SPLENT's rule for products and features alike: the env's compose file, else the plain one."""
    for name in (f"docker-compose.{env}.yml", "docker-compose.yml"):
        if (docker_dir / name).is_file():
            return docker_dir / name
    return None


def toml_kind(value: object) -> str:
    """``a table``, ``an integer``…: a TOML value's type as a user wrote it, for messages."""
    kinds = {dict: "a table", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
             float: "a float"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def parse_entry(entry: object, *, source: str, key: str) -> FeatureRef:
    """Parse one ``[<namespace>/]<name>[@<version>]`` entry.

    Split on the first ``@``, then on the first ``/`` of what is left of it.  Every part
    must match ``[A-Za-z0-9_.-]+`` and must not start with ``.``: each becomes a path
    component, so ``..`` or a hidden folder could point a link outside its place.

    Parameters
    ----------
    entry : object
        The value found in the TOML list.
    source, key : str
        The file and key it came from, for the error message.

    Returns
    -------
    FeatureRef

    Raises
    ------
    ConfigError
        One sentence naming the file, key and entry.

    Examples
    --------
    >>> ref = parse_entry("splent-io/splent_feature_auth@v1.2.7", source="p/pyproject.toml",
    ...                   key="[tool.splent].features")
    >>> ref.ns_safe, ref.name, ref.version, ref.mode
    ('splent_io', 'splent_feature_auth', 'v1.2.7', 'pinned')
    >>> parse_entry("splent_feature_auth", source="", key="").namespace
    'splent-io'
    """
    where = f"{source}: {key} entry"
    if not isinstance(entry, str):
        raise ConfigError(f"{where} {entry!r} is {toml_kind(entry)}, not a string "
                          "like \"splent-io/splent_feature_auth@v1.2.7\".")
    text = entry.strip()
    shown = f'{where} "{entry}"'
    if not text:
        raise ConfigError(f"{shown} is empty.")
    left, at, version = text.partition("@")
    namespace, slash, name = left.partition("/")
    if not slash:
        namespace, name = "", left
    for label, value, present in (("namespace", namespace, bool(slash)), ("name", name, True),
                                  ("version", version, bool(at))):
        if not present:
            continue
        if not value:
            raise ConfigError(f"{shown} has an empty {label}.")
        if not _PART.fullmatch(value) or value.startswith("."):
            raise ConfigError(f'{shown} has an invalid {label} "{value}" (allowed: letters, digits, '
                              "'_', '.' and '-', not starting with '.').")
    return FeatureRef(entry=text, namespace=namespace or DEFAULT_NAMESPACE, name=name,
                      version=version if at else None)


def workspace_relative(workspace: Path) -> Callable[[Path], str]:
    """``path`` as shown to the user: relative to the workspace when inside it, else as is."""
    def rel(path: Path) -> str:
        try:
            return str(Path(path).relative_to(workspace))
        except ValueError:
            return str(path)
    return rel
