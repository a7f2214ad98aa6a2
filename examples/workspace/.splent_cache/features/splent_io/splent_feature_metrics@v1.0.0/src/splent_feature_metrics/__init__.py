"""Prod-only metrics endpoint (no stack)"""
__version__ = "1.0.0"


def init_feature(app):
    app.extensions.setdefault("splent_features", {})["splent_feature_metrics"] = __version__
