"""The web UI's pages, one module per section of the navigation."""
