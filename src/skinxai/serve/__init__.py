"""The web app and JSON API on one FastAPI service (`skinxai serve`)."""

from skinxai.serve.app import create_app

__all__ = ["create_app"]
