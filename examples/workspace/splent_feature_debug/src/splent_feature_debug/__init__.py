"""Dev-only debug toolbar (no stack)"""
__version__ = "0.1.0"


def init_feature(app):
    app.extensions.setdefault("splent_features", {})["splent_feature_debug"] = __version__
