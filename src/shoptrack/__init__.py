"""shoptrack: a self-hostable e-commerce event tracker.

Stores connect through connectors; their orders become Placed Order and related events on
customer profiles, exactly once, following each platform's order-status rules.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
