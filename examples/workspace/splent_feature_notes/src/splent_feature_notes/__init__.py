"""Notes, a stack-less feature that needs cache"""
__version__ = "0.2.0"


def init_feature(app):
    app.extensions.setdefault("splent_features", {})["splent_feature_notes"] = __version__
