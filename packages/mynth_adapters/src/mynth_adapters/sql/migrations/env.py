"""Alembic environment: runs on the connection `mynth_adapters.sql.migrate` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from mynth_adapters.sql.tables import metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters a table by copying it; batch mode does that for later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    msg = "run migrations through mynth_adapters.sql.migrate (or `mynth migrate`)"
    raise TypeError(msg)
run_migrations(_connection)
