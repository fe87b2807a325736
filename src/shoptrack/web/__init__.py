"""The web UI: server-rendered pages (Jinja2, htmx, Chart.js) behind a signed-in session."""

from shoptrack.web.app import WebUI, create_web

__all__ = ["WebUI", "create_web"]
