"""The CA database (SQLAlchemy 2 async): SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from .sql import SqlCaStore
from .tables import create_engine, create_tables, metadata

__all__ = ["SqlCaStore", "create_engine", "create_tables", "metadata"]
