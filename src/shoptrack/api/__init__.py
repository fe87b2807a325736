"""The HTTP surface: lean ASGI intake routes and the FastAPI application for the rest
(``shoptrack.api.app.create_app``)."""
