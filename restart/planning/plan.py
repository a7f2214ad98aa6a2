"""Files → a Plan: everything a run will do, decided before anything is touched.

Pure: reads the workspace's files and nothing else (no Docker, no ``sh``).  Every bad input
(TOML, UVL, ``.env``, a cycle, a missing compose file, script or cached feature) raises
ConfigError here, so a run either has a whole plan or changes nothing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Collection

from restart.errors import ConfigError
from restart.planning.envfile import EnvFile, read_env_file
from restart.planning.features import FeatureRef, compose_file_in, project_name, workspace_relative
from restart.planning.graph import order_features
from restart.planning.links import plan_links
from restart.planning.ordermemo import ordered
from restart.planning.pyproject import find_uvl, read_pyproject
from restart.planning.settings import Settings
from restart.planning.uvl import load_uvl


@dataclass(frozen=True)
class Stack:
    """One feature stack to restart, with the stacks it must wait for.

    The compose command line is not here: compose is known only after inspection (v1 or v2),
    so restart/docker/steps.py builds it from these fields.
    """

    feature: str                      # package name, the graph's node id
    label: str                        # what progress shows: "redis"
    project: str
    file: Path
    cwd: Path
    needs: frozenset[str] = frozenset()
    reasons: tuple[str, ...] = ()     # why it waits: "after redis (demo_spl.uvl:9)"


@dataclass(frozen=True)
class Plan:
    settings: Settings
    product_dir: Path
    compose_file: Path | None               # None only in an order-only plan
    project: str
    env_file: EnvFile
    features: tuple[FeatureRef, ...]
    order: object                     # restart.planning.graph.Order
    stacks: tuple[Stack, ...]
    links: tuple = ()                 # restart.planning.links.LinkChange
    start_script: str = ""            # relative to the product, e.g. scripts/05_0_start_app_dev.sh
    uvl: Path | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    sync: bool = True                 # feature links and pip: off with --no-features or no declaration

    @property
    def env(self) -> str:
        return self.settings.env

    def restricted(self, stacks: Collection[str], *, sync: bool) -> Plan:
        """The same plan restarting only ``stacks`` (package names) and, unless ``sync``, no feature sync.

        A watch cycle plans the whole product (so every input is checked) and then runs only
        what the change needs.  ``stacks`` should be closed under dependents (a stack's
        dependents are in it too); a kept stack's needs outside it are left running.
        """
        return replace(self, sync=self.sync and sync, links=self.links if sync else (),
                       stacks=tuple(s for s in self.stacks if s.feature in stacks))


def short_label(package: str) -> str:
    """``splent_feature_redis`` → ``redis``: what SPLENT users call a feature."""
    return package.removeprefix("splent_feature_")


def env_file_path(product_dir: Path, env: str) -> Path:
    """dev: docker/.env; prod: docker/.env.deploy when it exists, else docker/.env."""
    docker = product_dir / "docker"
    if env == "prod" and (docker / ".env.deploy").is_file():
        return docker / ".env.deploy"
    return docker / ".env"


def stack_timeout(settings: Settings) -> int:
    """``compose restart -t`` and ``docker restart -t`` take whole seconds: a fractional --timeout
    rounds up (never less grace than asked for)."""
    return max(0, math.ceil(settings.timeout))


def build_plan(settings: Settings, *, order_only: bool = False) -> Plan:
    """Read the product's files and decide every step of the run.

    Parameters
    ----------
    settings : Settings
        The resolved workspace, product and environment.
    order_only : bool
        For ``--print-order``: read only pyproject.toml and the UVL model; the compose file,
        env file and start script may be missing (the env file is named, not read).

    Returns
    -------
    Plan
        Feature stacks in dependency order (with what each waits for), the symlink changes,
        the env file's variable names and the start script.

    Raises
    ------
    ConfigError
        For any bad or missing input; nothing has been changed when it is raised.
    """
    ws, env, product_dir = settings.workspace, settings.env, settings.product_dir
    rel = workspace_relative(ws)
    compose_file = compose_file_in(product_dir / "docker", env)
    if compose_file is None and not order_only:
        raise ConfigError(f"no compose file for {settings.product}: neither "
                          f"{rel(product_dir / 'docker' / f'docker-compose.{env}.yml')} nor "
                          "docker-compose.yml exists.")
    config = read_pyproject(product_dir / "pyproject.toml", env)
    features = config.features
    uvl = find_uvl(ws, product_dir, config)
    notes = []
    # No features key at all is not a declaration of "no features": leave links and pip alone
    # rather than remove every link and uninstall every feature the container has.
    sync = config.declared and not settings.no_features
    if not config.declared and not settings.no_features:
        notes.append(f"{rel(config.path)} declares no features (no [tool.splent].features): feature "
                     "links and pip are left as they are; only the app restarts")
    model = None
    if uvl is not None:
        model = load_uvl(uvl, rel(uvl))
        if not model.features:
            raise ConfigError(f"the UVL model {rel(uvl)} is empty (it defines no features); restore it, "
                              "or delete it to restart stacks in declared order.")
    elif config.spl:
        notes.append(f'no UVL model found for spl "{config.spl}": stacks restart in declared order')
    declared = [f.package for f in features]
    # with a model, the order comes from the memo when nothing it depends on changed (ordermemo.py)
    order = ordered(ws, declared, model) if model is not None else order_features(declared, None)
    env_path = env_file_path(product_dir, env)
    env_file = EnvFile(env_path) if order_only else read_env_file(env_path, label=rel(env_path))
    notes.extend(env_file.notes)
    start = settings.start_script
    if not order_only and not (product_dir / start).is_file():
        raise ConfigError(f"start script {rel(product_dir / start)} does not exist.")

    links = ()
    if sync and not order_only:
        links = plan_links(ws, product_dir, features)

    by_package = {f.package: f for f in features}
    only = _resolve_only(settings.only, features, rel(product_dir / "pyproject.toml"))
    stacks: list[Stack] = []
    with_stack = {p: file for p in order.nodes if (file := by_package[p].compose_file(ws, env))}
    for package in order.nodes:
        if package not in with_stack or (only and package not in only):
            continue
        ref = by_package[package]
        file = with_stack[package]
        needs = _stack_needs(package, order, set(with_stack) & (only or set(with_stack)))
        stacks.append(Stack(package, short_label(package), ref.stack_project(settings.product, env), file,
                            file.parent, frozenset(needs), _reasons(package, needs, order)))
    return Plan(settings=settings, product_dir=product_dir, compose_file=compose_file,
                project=project_name(settings.product, env), env_file=env_file, features=features,
                order=order, stacks=tuple(stacks), links=links, start_script=start, uvl=uvl,
                notes=tuple(notes), sync=sync)



def _resolve_only(names: tuple[str, ...], features, pyproject: str) -> set[str]:
    """--only accepts the package (splent_feature_redis), the short name (redis) or the entry."""
    chosen = set()
    for name in names:
        hits = {f.package for f in features
                if name in (f.package, short_label(f.package), f.entry, f.name)}
        if not hits:
            known = ", ".join(short_label(f.package) for f in features) or "none"
            raise ConfigError(f'--only {name}: no such feature is declared in {pyproject} '
                              f"for this env (declared: {known}).")
        chosen |= hits
    return chosen


def _stack_needs(package: str, order, stacks: set[str]) -> set[str]:
    """Nearest stacks this one depends on, looking through features that have no stack."""
    needs, todo, seen = set(), list(order.needs.get(package, ())), set()
    while todo:
        dep = todo.pop()
        if dep in seen:
            continue
        seen.add(dep)
        if dep in stacks:
            needs.add(dep)
        else:
            todo.extend(order.needs.get(dep, ()))
    return needs


def _reasons(package: str, needs: set[str], order) -> tuple[str, ...]:
    reasons = []
    for edge in order.edges:
        if edge.after == package:
            reasons.append(f"after {short_label(edge.before)} ({edge.reason})")
    if not reasons and needs:
        reasons.append("after " + ", ".join(sorted(short_label(n) for n in needs)))
    return tuple(reasons)
