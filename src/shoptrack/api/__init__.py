"""The HTTP surface: lean ASGI intake routes and the FastAPI application for the rest."""

from shoptrack.api.app import create_app

__all__ = ["create_app"]
