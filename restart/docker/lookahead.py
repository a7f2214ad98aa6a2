"""The read-only Docker calls that need only the settings, started before the plan is built.

Planning reads pyproject, the UVL model and the env file and orders the features: ~0.1-0.2 s of
one core in which no Docker call needs to wait.  The engine check, the compose detection, the
web container lookup and the agent's look inside it (app processes, start script, installed
features) depend on none of it, so they run meanwhile; :func:`restart.docker.execute.inspect`
adds what does need the plan (the stacks' containers, the compose file checks) and reads
everything in the same order as before, so the first error reported is the same.

The agent's look does not wait for the lookup either: it is asked at once in the container
SPLENT's templates name ``<product>_web`` (prod: ``<product>_web_deploy``; or ``--container``),
with the start script where SPLENT's ``/workspace`` mount puts it, and its answer is used when
the lookup finds that very container and path; otherwise (another name, another mount, no
such container) it is asked again there.
That takes the lookup (``docker ps``, ``docker inspect``: ~0.05 s) off the way to the first change.

Only read-only calls run here.  A run that waited for another one's lock throws its lookahead
away: the other run may have changed the very things it saw.
"""
from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

from restart.docker.client import Docker
from restart.docker.composememo import detect_compose
from restart.docker.locate import WebContainer, conventional_path, find_web_container, run_agent
from restart.docker.runner import Runner
from restart.errors import RestartError
from restart.planning.features import project_name
from restart.planning.settings import Settings

WORKERS = 8     # the four calls here, then inspect's stack listing and compose file checks


class Lookahead:
    """Futures for the settings-only part of the inspection, and the pool inspect goes on with.

    ``with`` it (inspect does) to shut the pool down; ``close()`` drops it unread (a run that
    waited for the lock, a plan that failed).
    """

    def __init__(self, settings: Settings, docker: Docker) -> None:
        s = self.settings = settings
        self.docker = docker
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="inspect")
        # the installed features only when a run may sync them (inspect ignores them otherwise)
        self.asks_pip = not (s.no_features or s.full)
        self.engine: Future = self.pool.submit(docker.check_engine)
        self.compose: Future = self.pool.submit(detect_compose, docker, s.workspace)
        self.web: Future[WebContainer] = self.pool.submit(
            find_web_container, docker, s.product, project_name(s.product, s.env), s.container)
        # the same agent call in the container and at the path SPLENT's templates give
        self.guess = (s.container or f"{s.product}_web{'_deploy' if s.env == 'prod' else ''}",
                      f"{conventional_path(s.product_dir, s.workspace)}/{s.start_script}")
        self.guessed: Future[dict] = self.pool.submit(self._ask, WebContainer(self.guess[0], "", "", "", ()),
                                                      self.guess[1])
        self.facts: Future[dict] = self.pool.submit(self._facts)

    @property
    def script(self) -> str:
        """The start script's path inside the web container (the agent checks that it exists)."""
        s = self.settings
        return f"{self.product_path}/{s.start_script}"

    @property
    def product_path(self) -> str:
        s = self.settings
        return self.web.result().container_path(s.product_dir, s.workspace, s.host_project_dir)

    def _ask(self, web: WebContainer, script: str) -> dict:
        return run_agent(self.docker, web, "inspect", "pip" if self.asks_pip else "-", script)

    def _facts(self) -> dict:
        web, script = self.web.result(), self.script
        if (web.name, script) == self.guess:
            try:
                return self.guessed.result()
            except RestartError:        # asked again below: an error is reported from the real call
                pass
        return self._ask(web, script)

    def close(self) -> None:
        """Drop the lookahead unread: queued calls are cancelled and running ones killed, until
        none is left (bounded), so a run that ends on a plan error exits at once even when the
        engine hangs, and a run that waited for the lock starts its own calls on a quiet runner."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        kill = getattr(self.docker.runner, "kill_running", None)    # a fake runner has nothing to kill
        ours = (self.engine, self.compose, self.web, self.guessed, self.facts)
        deadline = time.monotonic() + 5
        while kill and not all(f.done() for f in ours) and time.monotonic() < deadline:
            kill()
            time.sleep(0.01)

    def __enter__(self) -> Lookahead:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True)   # every check submitted runs, also after one failed


def look_ahead(settings: Settings, runner: Runner) -> Lookahead:
    """Start the settings-only inspection calls on this runner (see the module docstring)."""
    return Lookahead(settings, Docker(runner, settings.compose_cmd, settings.engine))
