"""One resolved view of what this run is about: flags > environment > workspace ``.env``.

The reference resolved the environment three ways in one command; here it is resolved once,
in :func:`resolve`, and every step reads it from :class:`Settings`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from restart.errors import ConfigError
from restart.planning.engine import LOCAL, Engine, resolve_engine
from restart.planning.envfile import read_env_file

ENVS = ("dev", "prod")
DEFAULT_WORKSPACE = Path("/workspace")
START_SCRIPTS = {"dev": "scripts/05_0_start_app_dev.sh", "prod": "scripts/05_1_start_app_prod.sh"}
CACHE_DIR = Path(".splent_cache") / "restart"    # in the workspace: run lock, compose verdicts, order memo


def keep_newest(files: list[Path], keep: int) -> None:
    """Delete all but the ``keep`` most recently written of these files of restart's cache.

    The caller catches OSError: a cache that cannot be pruned is only a bigger cache.
    """
    if len(files) > keep:
        for old in sorted(files, key=lambda f: f.stat().st_mtime)[: len(files) - keep]:
            old.unlink(missing_ok=True)


def write_memo(path: Path, data: object, keep: int) -> None:
    """Store one JSON memo of restart's cache (``<name>.json``) and keep its folder's ``keep`` newest.

    Written whole and renamed into place, so a run beside this one never reads half a file; a
    folder restart cannot write to only means no memo.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(data))
        os.replace(partial, path)
        keep_newest([p for p in path.parent.iterdir() if p.suffix == ".json"], keep)
    except OSError:
        pass


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know before reading the product's files."""

    workspace: Path
    product: str
    env: str
    full: bool = False
    color: bool = False             # human progress in colour: a TTY, no --no-color, no NO_COLOR, no --json
    timeout: float = 10.0
    health_timeout: float = 60.0
    start_timeout: float = 30.0
    parallel: int = 8
    only: tuple[str, ...] = ()
    no_features: bool = False
    keep_going: bool = False
    no_wait: bool = False           # another run holds the product's lock: exit 75 instead of waiting
    compose_cmd: tuple[str, ...] | None = None
    container: str | None = None
    port: int = 5000
    probe_path: str | None = "/"
    log_files: tuple[str, ...] = ()
    apply_env: bool = False           # main-process: recreate the web container when its env is stale
    engine: Engine = LOCAL          # --context / DOCKER_CONTEXT / DOCKER_HOST: reaches every docker call
    # SPLENT_HOST_PROJECT_DIR from restart's environment: the workspace as the engine's host sees it
    # when restart runs inside SPLENT's CLI container; maps workspace paths into the web container.
    host_project_dir: str | None = None
    # What compose interpolates SPLENT_HOST_PROJECT_DIR with in the product's mounts for `up -d`:
    # the environment's, else the workspace .env's, else the workspace itself.
    compose_host_dir: str | None = None

    @property
    def product_dir(self) -> Path:
        return self.workspace / self.product

    @property
    def start_script(self) -> str:
        """The script that starts the app, relative to the product: --full runs the entrypoint."""
        return f"entrypoints/entrypoint.{self.env}.sh" if self.full else START_SCRIPTS[self.env]

    @property
    def host_dir_for_compose(self) -> str:
        return self.compose_host_dir or self.host_project_dir or str(self.workspace)


def read_workspace_env(workspace: Path) -> dict[str, str]:
    """The workspace ``.env`` as plain KEY=VALUE (SPLENT writes it that way); missing → {}."""
    path = workspace / ".env"
    if not path.is_file():
        return {}
    return read_env_file(path).values


def find_workspace(cwd: Path) -> Path | None:
    """The nearest folder at or above cwd whose ``.env`` names SPLENT_APP."""
    for folder in (cwd, *cwd.parents):
        env = folder / ".env"
        try:
            if env.is_file() and any(line.strip().removeprefix("export ").startswith("SPLENT_APP=")
                                     for line in env.read_text(errors="replace").splitlines()):
                return folder
        except OSError:
            continue
    return None


def resolve_workspace(flag: str | None, environ: Mapping[str, str], cwd: Path) -> Path:
    """--workspace, else WORKING_DIR, else search upward from cwd, else /workspace."""
    if flag:
        source, path = "--workspace", Path(flag)
    elif environ.get("WORKING_DIR"):
        source, path = "WORKING_DIR", Path(environ["WORKING_DIR"])
    else:
        found = find_workspace(cwd)
        source, path = ("the current directory", found) if found else ("the default", DEFAULT_WORKSPACE)
        if not found and not path.is_dir():
            raise ConfigError("no SPLENT workspace found: no folder above the current directory has a "
                              f".env with SPLENT_APP, and {DEFAULT_WORKSPACE} does not exist (use --workspace).")
    if not path.is_dir():
        raise ConfigError(f"workspace {path} (from {source}) is not a directory.")
    return path.resolve()


def resolve_env(dev: bool, prod: bool, environ: Mapping[str, str], ws_env: Mapping[str, str],
                ws_file: Path | str = "the workspace .env") -> str:
    if dev and prod:
        raise ConfigError("--dev and --prod exclude each other; give one.")
    if dev or prod:
        return "dev" if dev else "prod"
    value = environ.get("SPLENT_ENV") or ws_env.get("SPLENT_ENV") or "dev"
    if value not in ENVS:
        source = "the environment" if environ.get("SPLENT_ENV") else ws_file
        raise ConfigError(f'SPLENT_ENV is "{value}" (from {source}); it must be "dev" or "prod" '
                          "(or give --dev / --prod).")
    return value


def resolve_product(flag: str | None, environ: Mapping[str, str], ws_env: Mapping[str, str],
                    workspace: Path) -> str:
    product = flag or environ.get("SPLENT_APP") or ws_env.get("SPLENT_APP")
    if not product:
        raise ConfigError(f"SPLENT_APP is not set (in the environment or {workspace / '.env'}); "
                          "use --product NAME.")
    source = ("--product" if flag else "SPLENT_APP in the environment" if environ.get("SPLENT_APP")
              else f"SPLENT_APP in {workspace / '.env'}")
    if "/" in product or product in (".", ".."):
        raise ConfigError(f'product "{product}" is not a folder name in the workspace {workspace} (from {source}).')
    if not (workspace / product).is_dir():
        raise ConfigError(f'product "{product}" not found: {workspace / product} is not a directory '
                          f"(from {source}).")
    return product


def resolve(args, environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Build Settings from parsed CLI args (an argparse Namespace)."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    if args.dev and args.prod:  # before anything else: a usage error needs no workspace
        raise ConfigError("--dev and --prod exclude each other; give one.")
    workspace = resolve_workspace(args.workspace, environ, cwd)
    ws_env = read_workspace_env(workspace)
    env = resolve_env(args.dev, args.prod, environ, ws_env, workspace / ".env")
    product = resolve_product(args.product, environ, ws_env, workspace)
    color = not args.no_color and not environ.get("NO_COLOR") and not args.json
    contexts = getattr(args, "context", None) or []
    engine = resolve_engine(contexts if len(contexts) == 1 and not getattr(args, "fleet", None) else None, environ)
    return Settings(
        workspace=workspace, product=product, env=env, full=args.full, color=color, timeout=args.timeout,
        health_timeout=args.health_timeout,
        start_timeout=args.start_timeout, parallel=args.parallel, only=tuple(args.only or ()),
        no_features=args.no_features, keep_going=args.keep_going, no_wait=getattr(args, "no_wait", False),
        compose_cmd=tuple(args.compose_cmd.split()) if args.compose_cmd else None,
        container=args.container, port=args.port,
        probe_path=None if args.no_probe else args.probe_path,
        log_files=tuple(args.log_file or ()), apply_env=getattr(args, "apply_env", False), engine=engine,
        host_project_dir=environ.get("SPLENT_HOST_PROJECT_DIR") or None,
        compose_host_dir=environ.get("SPLENT_HOST_PROJECT_DIR") or ws_env.get("SPLENT_HOST_PROJECT_DIR") or None,
    )
