"""The web app, its REST API and the user study: `create_app(Settings(...))`."""

from .app import create_app, run_server
from .settings import Settings

__all__ = ["Settings", "create_app", "run_server"]
