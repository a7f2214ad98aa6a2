"""demo_app: a tiny SPLENT-style product that reports who it is and what it runs with.

``GET /`` answers JSON with this process's PID and parent PID, the values of a few
environment variables, the installed features and the server running it, so a test can see
whether a restart happened (new PID), which env file it got, and which feature versions it
loaded. ``GET /health`` answers ``ok``; ``GET /unavailable`` answers 503 (for --probe-path tests).
"""
import importlib
import importlib.metadata
import os

from flask import Flask, jsonify, request

ENV_NAMES = ("GREETING", "MOTTO", "SPLENT_ENV", "SECRET_TOKEN")
FEATURE_PREFIX = "splent_feature_"


def installed_features():
    """{package: version} of the installed ``splent_feature_*`` distributions (read from disk)."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").replace("-", "_").lower()
        if name.startswith(FEATURE_PREFIX):
            found[name] = dist.version
    return dict(sorted(found.items()))


def load_features(app, names):
    """Import and initialise each feature once, as SPLENT's feature loader does at start-up.

    Returns {package: module.__version__}, None for a feature that does not import: the
    versions of the code this process actually runs, which may lag behind ``pip``.
    """
    loaded = {}
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:
            loaded[name] = None
            continue
        init = getattr(module, "init_feature", None)
        if callable(init):
            init(app)
        loaded[name] = getattr(module, "__version__", None)
    return loaded


def server_name():
    software = request.environ.get("SERVER_SOFTWARE", "")
    return "gunicorn" if software.lower().startswith("gunicorn") else "flask"


def create_app(config_name=None):
    app = Flask(__name__)
    app.config["CONFIG_NAME"] = config_name or os.environ.get("SPLENT_ENV", "development")
    modules = load_features(app, installed_features())

    @app.get("/")
    def index():
        return jsonify(
            app="demo_app",
            config=app.config["CONFIG_NAME"],
            pid=os.getpid(),
            ppid=os.getppid(),
            env={name: os.environ.get(name) for name in ENV_NAMES},
            features=installed_features(),
            modules=modules,
            server=server_name(),
        )

    @app.get("/health")
    def health():
        return "ok"

    @app.get("/unavailable")
    def unavailable():  # a probe path that answers 503: an app that runs but is not healthy
        return "unavailable", 503

    return app
