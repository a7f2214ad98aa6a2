"""Worker that needs redis (release v0.3.0)"""
__version__ = "0.3.0"


def init_feature(app):
    app.extensions.setdefault("splent_features", {})["splent_feature_queue"] = __version__
