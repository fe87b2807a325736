"""FastAPI routers of the Klaviyo-compatible API, one module per resource type."""
