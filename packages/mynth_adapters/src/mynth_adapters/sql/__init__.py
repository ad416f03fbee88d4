"""SQL adapters over SQLAlchemy Core: SQLite (embedded) and Postgres (deployments)."""

from __future__ import annotations

from mynth_adapters.sql.engine import sql_engine
from mynth_adapters.sql.migrate import is_at_head, migrate
from mynth_adapters.sql.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

__all__ = ["SqlUnitOfWork", "SqlUnitOfWorkFactory", "is_at_head", "migrate", "sql_engine"]
