"""Storage: the schema, the connection rules of each database, and migrations."""

from shoptrack.store.database import Database

__all__ = ["Database"]
