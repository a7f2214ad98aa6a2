"""Redis server for the product (one compose file for all envs)"""
__version__ = "1.0.0"


def init_feature(app):
    app.extensions.setdefault("splent_features", {})["splent_feature_redis"] = __version__
