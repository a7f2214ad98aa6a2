"""Restart a SPLENT product's Flask app without recreating its containers."""

__version__ = "0.1.0"
