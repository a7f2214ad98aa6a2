"""Bring the example SPLENT workspace (examples/workspace) up and down on the real Docker engine.

Test tooling, not the product: it drives ``docker`` with ``subprocess.run`` and argv lists.

    ws = Workspace.create(tmp_path / "ws")          # a copy whose product is demo_<6 hex>
    ws.up("dev")                                    # network, product stack, feature stacks, app
    ws.answer("dev")                                # the app's JSON, fetched inside the container
    ws.down()                                       # every container, network and volume: gone

Every name derived from the product (compose projects ``<product>_<env>`` and
``<product>_splent_io_<feature>_<env>``, container names, the network ``<product>_network``) is
unique per copy, so tests never share Docker objects by accident.

Also a command line: ``python -m tests.rig up|down|answer --workspace DIR [--env dev|prod]
[--variant prod-exec] [--product NAME] [--context NAME]`` (``up`` copies the example into DIR when DIR holds no
workspace yet).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TEMPLATE = EXAMPLES / "workspace"
VARIANTS = EXAMPLES / "variants"
TOKEN = "demo_app"                       # the example product's name, replaced in copies
WEB_IMAGE_DEFAULT = "${RESTART_WEB_IMAGE:-restart-test/web:2}"
PROJECT_LABEL = "com.docker.compose.project"
RIG_LABEL = "restart.rig.product"
APP_PORT = 5000
UP_TIMEOUT = 60.0
SKIP_NAMES = {"__pycache__", "build", ".pytest_cache"}
# what restart itself keeps in a workspace (run lock, compose verdicts, order memo): a run of the
# example in place leaves it there, and no copy may start with another run's state
RUN_STATE = Path(".splent_cache") / "restart"


def skip_run_state(dirpath: str, names: list[str]) -> list[str]:
    """``shutil.copytree``'s ``ignore``: leave out RUN_STATE."""
    return [RUN_STATE.name] if Path(dirpath).name == RUN_STATE.parent.name and RUN_STATE.name in names else []

# Fetches a URL and prints the body; exit 1 with one line on stderr when it cannot.
# Static: the URL is its only argument. Runs in the web container (python3, no curl needed).
FETCH_PY = """\
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode()); sys.stderr.write(f"HTTP {e.code}\\n"); sys.exit(1)
except Exception as e:
    sys.stderr.write(f"{type(e).__name__}: {e}\\n"); sys.exit(1)
"""

# Lists the container's processes from /proc (works without procps), itself excluded.
PROCS_PY = """\
import json, os
me, out = os.getpid(), []
for name in os.listdir("/proc"):
    if not name.isdigit() or int(name) == me:
        continue
    try:
        stat = open(f"/proc/{name}/stat").read()
        argv = open(f"/proc/{name}/cmdline", "rb").read().split(b"\\0")
    except OSError:
        continue
    head, rest = stat[: stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
    out.append({"pid": int(name), "ppid": int(rest[1]), "state": rest[0],
                "comm": head[head.index("(") + 1:],
                "cmdline": [a.decode(errors="replace") for a in argv if a]})
print(json.dumps(sorted(out, key=lambda p: p["pid"])))
"""

# An HTTP/1.0 GET with bash's /dev/tcp: the services image has neither curl nor python.
BASH_GET = ('exec 3<>"/dev/tcp/$1/$2" && printf "GET %s HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n" "$3" >&3 '
            '&& timeout 5 cat <&3')


class RigError(RuntimeError):
    """A docker call of the rig failed, or the example did not come up in time."""


def byte_compile(checkout: Path) -> None:
    """Byte-compile a checkout's ``restart`` package, as ``pip install`` leaves an installed one.

    The benchmarks time restart from a checkout (PYTHONPATH); where PYTHONDONTWRITEBYTECODE is
    set (this machine sets it) every run would compile ~35 modules from source (~30 ms), which
    an installed restart, and the pip-installed reference it is compared with, never pay.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(checkout) / "restart")], check=True)


def run(argv, *, check=True, env=None, cwd=None, timeout=120) -> subprocess.CompletedProcess:
    """Run argv (a list, never a shell string); on failure raise RigError with the stderr tail."""
    child_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=child_env,
                              cwd=cwd, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise RigError(f"{' '.join(map(str, argv))} timed out after {timeout}s") from e
    if check and proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RigError(f"{' '.join(map(str, argv))} exited {proc.returncode}:\n{tail}")
    return proc


def docker(*argv, **kw) -> subprocess.CompletedProcess:
    return run(["docker", *argv], **kw)


def wait_until(probe, timeout: float, interval: float = 0.5):
    """Call probe() until it returns something truthy (exceptions count as not yet); return it."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (RigError, ValueError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise RigError(f"not ready after {timeout:.0f}s" + (f": {last}" if last else ""))
        time.sleep(interval)


def parse_ps_json(text: str) -> list[dict]:
    """``compose ps --format json`` output: a JSON array (older v2) or one object per line."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def parse_entry(entry: str) -> tuple[str, str, str | None]:
    """``[ns/]name[@version]`` → (ns_safe, name, version); the default namespace is splent-io."""
    left, _, version = entry.partition("@")
    ns, _, name = left.rpartition("/")
    ns_safe = re.sub(r"[-.]", "_", ns or "splent-io")
    return ns_safe, name, version or None


def new_product_name() -> str:
    return f"demo_{secrets.token_hex(3)}"


@dataclass
class Workspace:
    root: Path
    product: str
    variant: str | None = None
    started: set[str] = field(default_factory=set)     # envs brought up (for exec()/down())
    context: str | None = None                          # docker context of the engine it lives on

    # ------------------------------------------------------------------ creating a copy

    @classmethod
    def create(cls, dest_dir, product: str | None = None, variant: str | None = None,
               web_image: str | None = None, context: str | None = None) -> Workspace:
        """Copy examples/workspace to dest_dir, renaming the product ``demo_app`` → ``product``.

        The name is replaced in file contents and paths; symlinks stay symlinks, modes are kept.
        ``variant`` (a folder of examples/variants/) is copied over the product's docker/.
        ``web_image`` (default: $RESTART_WEB_IMAGE, else the compose files' own default) is
        written into the product's compose files. SPLENT_HOST_PROJECT_DIR is added to the
        workspace .env. ``context`` names the docker context of the engine every docker and
        compose call of this copy goes to (default: the local engine).
        """
        product = product or new_product_name()
        if not re.fullmatch(r"[a-z][a-z0-9_]*", product):
            raise ValueError(f"product name {product!r}: use lower-case letters, digits and _")
        root = Path(dest_dir).resolve()
        root.mkdir(parents=True, exist_ok=True)
        copy_tree(TEMPLATE, root, TOKEN, product)
        ws = cls(root, product, variant, context=context)
        if variant:
            if not (VARIANTS / variant).is_dir():
                raise ValueError(f"no variant {variant!r} in {VARIANTS}")
            copy_tree(VARIANTS / variant, ws.docker_dir, TOKEN, product)
        ws._pin_web_image(web_image or os.environ.get("RESTART_WEB_IMAGE"))
        with open(root / ".env", "a") as handle:
            handle.write(f"SPLENT_HOST_PROJECT_DIR={root}\n")
        return ws

    @classmethod
    def open(cls, root, context: str | None = None) -> Workspace:
        """An existing copy (its product is SPLENT_APP of <root>/.env)."""
        root = Path(root).resolve()
        product = dotenv_values(root / ".env").get("SPLENT_APP")
        if not product:
            raise RigError(f"{root}/.env has no SPLENT_APP: not a workspace")
        return cls(root, product, context=context)

    def _pin_web_image(self, image: str | None) -> None:
        if not image:
            return
        for path in self.docker_dir.glob("docker-compose*.yml"):
            path.write_text(path.read_text().replace(WEB_IMAGE_DEFAULT, image))

    def docker(self, *argv, **kw) -> subprocess.CompletedProcess:
        """``docker [--context C] ARGV``: every call of this copy goes to its engine."""
        return docker(*(("--context", self.context) if self.context else ()), *argv, **kw)

    # ------------------------------------------------------------------ names and paths

    @property
    def product_dir(self) -> Path:
        return self.root / self.product

    @property
    def docker_dir(self) -> Path:
        return self.product_dir / "docker"

    @property
    def network(self) -> str:
        return f"{self.product}_network"

    def env_file(self, env: str) -> Path:
        deploy = self.docker_dir / ".env.deploy"
        return deploy if env == "prod" and deploy.exists() else self.docker_dir / ".env"

    def env_values(self, env: str) -> dict[str, str]:
        """The product env file, parsed like compose and restart do (never sourced)."""
        return {k: v for k, v in dotenv_values(self.env_file(env)).items() if v is not None}

    def compose_file(self, env: str) -> Path:
        specific = self.docker_dir / f"docker-compose.{env}.yml"
        return specific if specific.exists() else self.docker_dir / "docker-compose.yml"

    def project(self, env: str) -> str:
        return f"{self.product}_{env}"

    def web_container(self, env: str) -> str:
        return f"{self.product}_web" if env == "dev" else f"{self.product}_web_deploy"

    def feature_project(self, feature: str, env: str) -> str:
        ns_safe, name, _ = parse_entry(feature)
        return f"{self.product}_{ns_safe}_{name}_{env}"

    # ------------------------------------------------------------------ features

    def features(self, env: str) -> list[str]:
        """Declared entries: ``features`` then ``features_<env>`` (pyproject order)."""
        with open(self.product_dir / "pyproject.toml", "rb") as handle:
            splent = tomllib.load(handle)["tool"]["splent"]
        entries = list(splent.get("features", []))
        return entries + [e for e in splent.get(f"features_{env}", []) if e not in entries]

    def feature_root(self, feature: str) -> Path:
        ns_safe, name, version = parse_entry(feature)
        if version:
            return self.root / ".splent_cache" / "features" / ns_safe / f"{name}@{version}"
        return self.root / name

    def stack_file(self, feature: str, env: str) -> Path | None:
        docker_dir = self.feature_root(feature) / "docker"
        for name in (f"docker-compose.{env}.yml", "docker-compose.yml"):
            if (docker_dir / name).is_file():
                return docker_dir / name
        return None

    def stacks(self, env: str) -> list[tuple[str, Path]]:
        """(feature entry, compose file) of the declared features that have a stack, in order."""
        return [(f, path) for f in self.features(env) if (path := self.stack_file(f, env))]

    def resolve_links(self, env: str) -> None:
        """Make features/<ns>/<name>[@<version>] links for env, as ``product:resolve`` does."""
        wanted = {}
        for feature in self.features(env):
            ns_safe, name, version = parse_entry(feature)
            link = self.product_dir / "features" / ns_safe / (f"{name}@{version}" if version else name)
            wanted[link] = os.path.relpath(self.feature_root(feature), link.parent)
        for link in (self.product_dir / "features").glob("*/*"):
            if link.is_symlink() and link not in wanted:
                link.unlink()
        for link, target in wanted.items():
            link.parent.mkdir(parents=True, exist_ok=True)
            if not (link.is_symlink() and os.readlink(link) == target):
                if link.is_symlink():
                    link.unlink()
                link.symlink_to(target)

    # ------------------------------------------------------------------ up / down

    def compose_env(self) -> dict[str, str]:
        return {"SPLENT_HOST_PROJECT_DIR": str(self.root)}

    def up(self, env: str = "dev", timeout: float = UP_TIMEOUT) -> dict:
        """Bring the example up in env and wait until the app answers; return its answer.

        Once per env. Dev and prod of one copy share the network <product>_network, where both
        envs' stacks would answer to the same service names: use one copy per env.
        """
        self.started.add(env)
        self.resolve_links(env)
        self.create_network()
        self.compose(env, "up", "-d")
        for feature, path in self.stacks(env):
            self.stack_compose(feature, env, path, "up", "-d", "--wait", "--wait-timeout", str(int(timeout)))
        self.start_app(env)
        return self.wait_answer(env, timeout)

    def create_network(self) -> None:
        if self.docker("network", "inspect", self.network, check=False).returncode != 0:
            self.docker("network", "create", "--label", f"{RIG_LABEL}={self.product}", self.network)

    def compose(self, env: str, *args, **kw) -> subprocess.CompletedProcess:
        """docker compose on the product stack, from the product's docker/ folder."""
        argv = ["compose", "-p", self.project(env), "-f", self.compose_file(env), *args]
        return self.docker(*argv, cwd=self.docker_dir, env=self.compose_env(), **kw)

    def stack_compose(self, feature: str, env: str, path: Path, *args, **kw):
        """docker compose on a feature stack, from its docker/ folder, with the product env file."""
        argv = ["compose", "-p", self.feature_project(feature, env), "--env-file", self.env_file(env),
                "-f", path, *args]
        return self.docker(*argv, cwd=path.parent, env=self.compose_env(), **kw)

    def start_app(self, env: str) -> None:
        """Dev and the prod-exec variant: start the app with docker exec -d (env by name)."""
        if self.is_main_process(env):
            return                                       # the container's command runs it
        base = f"/workspace/{self.product}"
        if env == "dev":
            argv = ["bash", f"{base}/entrypoints/entrypoint.dev.sh"]
        else:
            argv = ["bash", "-c", f"bash {base}/scripts/00_install_features.sh && exec bash "
                    f"{base}/scripts/05_1_start_app_prod.sh >> /var/log/entrypoint.log 2>&1"]
        self.exec(*argv, env=env, detach=True, pass_env=True)

    def is_main_process(self, env: str) -> bool:
        """True when the web container's own command runs the entrypoint (SPLENT's prod)."""
        cmd = self.docker("inspect", "-f", "{{json .Config.Cmd}}", self.web_container(env)).stdout
        return "entrypoint" in " ".join(json.loads(cmd) or [])

    def wait_answer(self, env: str, timeout: float = UP_TIMEOUT) -> dict:
        try:
            return wait_until(lambda: self.answer(env), timeout)
        except RigError as e:
            raise RigError(f"{self.product} ({env}) did not answer: {e}\n{self.logs(env)}") from e

    def logs(self, env: str, lines: int = 20) -> str:
        """The tail of the app's logs in the web container (for failure messages)."""
        script = (f"tail -n {lines} /var/log/entrypoint.log /var/log/splent/entrypoint.log 2>&1;"
                  f" true")
        res = self.docker("exec", self.web_container(env), "bash", "-c", script, check=False)
        out = self.docker("logs", "--tail", str(lines), self.web_container(env), check=False)
        return f"{res.stdout}{res.stderr}\n--- docker logs ---\n{out.stdout}{out.stderr}"

    def projects(self) -> list[str]:
        """Every compose project that has a container of this product (any env, any feature)."""
        out = self.docker("ps", "-a", "--format", f'{{{{.Label "{PROJECT_LABEL}"}}}}', check=False).stdout
        return sorted({p for p in out.split() if p.startswith(f"{self.product}_")})

    def down(self) -> None:
        """Remove every container, volume and network of this product. Idempotent, never raises."""
        for project in self.projects():
            ids = self.docker("ps", "-aq", "--filter", f"label={PROJECT_LABEL}={project}", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", "-v", *ids, check=False)
            self.docker("compose", "-p", project, "down", "-v", "--remove-orphans", "-t", "1", check=False,
                   cwd=self.root if self.root.is_dir() else None)
            for volume in self.docker("volume", "ls", "-q", "--filter", f"label={PROJECT_LABEL}={project}",
                                 check=False).stdout.split():
                self.docker("volume", "rm", "-f", volume, check=False)
        for name in (self.web_container("dev"), self.web_container("prod")):
            self.docker("rm", "-f", "-v", name, check=False)
        self.docker("network", "rm", self.network, check=False)
        self.started.clear()

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes of this product still present (empty after down())."""
        prefix = f"{self.product}_"
        containers = self.docker("ps", "-a", "--format", "{{.Names}}", check=False).stdout.split()
        networks = self.docker("network", "ls", "--format", "{{.Name}}", check=False).stdout.split()
        volumes = self.docker("volume", "ls", "--format", "{{.Name}}", check=False).stdout.split()
        found = {"containers": [c for c in containers if c.startswith(prefix)] + self.projects(),
                 "networks": [n for n in networks if n.startswith(prefix)],
                 "volumes": [v for v in volumes if v.startswith(prefix)]}
        return {kind: names for kind, names in found.items() if names}

    # ------------------------------------------------------------------ looking inside

    def default_env(self) -> str:
        """The env brought up, when exactly one was; else dev."""
        return next(iter(self.started)) if len(self.started) == 1 else "dev"

    def exec(self, *argv, env: str | None = None, container: str | None = None, detach: bool = False,
             pass_env: bool = False, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """docker exec in the web container of env (or container); pass_env hands the product env
        file's values over by NAME (-e NAME; the values only in the docker CLI's environment)."""
        env = env or self.default_env()
        values = self.env_values(env) if pass_env else {}
        flags = ["-d"] if detach else []
        for name in values:
            flags += ["-e", name]
        return self.docker("exec", *flags, container or self.web_container(env), *argv,
                      env=values, check=check, timeout=timeout)

    def fetch(self, env: str, path: str = "/") -> str:
        """GET http://127.0.0.1:5000<path> from inside the web container."""
        url = f"http://127.0.0.1:{APP_PORT}{path}"
        return self.exec("python3", "-c", FETCH_PY, url, env=env, timeout=15).stdout

    def answer(self, env: str = "dev") -> dict:
        """The app's JSON answer to GET /, fetched from inside the web container."""
        return json.loads(self.fetch(env, "/"))

    def http_from(self, container: str, host: str, port: int, path: str = "/") -> tuple[int, str]:
        """GET from inside any container with bash (no curl/python needed): (status, body)."""
        raw = self.docker("exec", container, "bash", "-c", BASH_GET, "get", host, str(port), path,
                     timeout=15).stdout
        head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
        status = head.split(None, 2)[1] if head.startswith("HTTP/") else "0"
        return int(status), body

    def stack_containers(self, feature: str, env: str) -> list[str]:
        """Names of the containers (running or not) of a feature's stack."""
        project = self.feature_project(feature, env)
        out = self.docker("ps", "-a", "--filter", f"label={PROJECT_LABEL}={project}", "--format", "{{.Names}}").stdout
        return sorted(out.split())

    def ps_json(self, project: str, all_containers: bool = False) -> list[dict]:
        """``docker compose -p <project> ps --format json``, parsed (array or one object a line)."""
        argv = ["compose", "-p", project, "ps", "--format", "json"] + (["-a"] if all_containers else [])
        return parse_ps_json(self.docker(*argv, cwd=self.root).stdout)

    def started_at(self, container: str) -> str:
        """State.StartedAt of a container (changes when it is restarted, not when exec'd into)."""
        return self.docker("inspect", "-f", "{{.State.StartedAt}}", container).stdout.strip()

    def processes(self, env: str) -> list[dict]:
        """[{pid, ppid, state, comm, cmdline}] of the web container, read from /proc."""
        return json.loads(self.exec("python3", "-c", PROCS_PY, env=env).stdout)


def copy_tree(src: Path, dest: Path, token: str, replacement: str) -> None:
    """Copy src into dest replacing token in paths and file contents; keep symlinks and modes."""
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if d not in SKIP_NAMES and not d.endswith(".egg-info")
                       and d not in skip_run_state(dirpath, dirnames)]
        rel = Path(dirpath).relative_to(src)
        target_dir = dest / str(rel).replace(token, replacement)
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in dirnames + filenames:
            source = Path(dirpath) / name
            target = target_dir / name.replace(token, replacement)
            if source.is_symlink():
                if target.is_symlink() or target.exists():
                    target.unlink()
                target.symlink_to(os.readlink(source).replace(token, replacement))
            elif source.is_file():
                data = source.read_bytes().replace(token.encode(), replacement.encode())
                target.write_bytes(data)
                shutil.copymode(source, target)


# ---------------------------------------------------------------------- command line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.rig", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("up", "down", "answer"))
    parser.add_argument("--workspace", required=True, type=Path)
    parser.add_argument("--env", choices=("dev", "prod"), default="dev")
    parser.add_argument("--variant", choices=sorted(p.name for p in VARIANTS.iterdir() if p.is_dir()))
    parser.add_argument("--product", help="product name for a new copy (default demo_<6 hex>)")
    parser.add_argument("--context", help="docker context of the engine to use (default: the local one)")
    args = parser.parse_args(argv)
    try:
        return ACTIONS[args.action](args)
    except RigError as e:
        print(f"rig: {e}", file=sys.stderr)
        return 1


def cli_up(args) -> int:
    t0 = time.monotonic()
    if (args.workspace / ".env").exists():
        ws = Workspace.open(args.workspace, context=args.context)
    else:
        ws = Workspace.create(args.workspace, product=args.product, variant=args.variant, context=args.context)
    print(f"rig: workspace {ws.root}, product {ws.product}, env {args.env}", file=sys.stderr)
    answer = ws.up(args.env)
    print(json.dumps(answer, indent=2))
    print(f"rig: up in {time.monotonic() - t0:.1f}s; web container {ws.web_container(args.env)}; "
          f"tear down with: python -m tests.rig down --workspace {ws.root}", file=sys.stderr)
    return 0


def cli_down(args) -> int:
    t0 = time.monotonic()
    ws = Workspace.open(args.workspace, context=args.context)
    ws.down()
    left = ws.leftovers()
    print(f"rig: {ws.product} down in {time.monotonic() - t0:.1f}s"
          + (f"; LEFT OVER: {left}" if left else ""), file=sys.stderr)
    return 1 if left else 0


def cli_answer(args) -> int:
    print(json.dumps(Workspace.open(args.workspace, context=args.context).answer(args.env), indent=2))
    return 0


ACTIONS = {"up": cli_up, "down": cli_down, "answer": cli_answer}

if __name__ == "__main__":
    sys.exit(main())
