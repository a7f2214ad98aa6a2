"""nginx in front of the product web container"""
__version__ = "1.0.0"


def init_feature(app):
    app.extensions.setdefault("splent_features", {})["splent_feature_nginx"] = __version__
