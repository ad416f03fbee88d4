"""`translate_db_errors()`: driver and SQLAlchemy errors become core errors at the port."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import exc

from mynth_core.errors import ConflictError, ServiceUnavailableError

_PG_UNIQUE_VIOLATION: Final = "23505"
_SQLITE_UNIQUE: Final = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})
_UNAVAILABLE: Final = (
    exc.OperationalError,  # SQLite "database is locked", Postgres admin shutdown, ...
    exc.InterfaceError,
    exc.DisconnectionError,
    exc.TimeoutError,  # no pooled connection became free in time
    OSError,  # connection refused before the driver could wrap it
)


@contextmanager
def translate_db_errors() -> Iterator[None]:
    """Re-raise database failures as core errors.

    A unique violation becomes `ConflictError`; any other integrity violation is a
    `ConflictError` too (a row it referred to changed underneath). An unreachable, locked
    or timed-out database becomes `ServiceUnavailableError`. Anything else is a bug and
    propagates unchanged.
    """
    try:
        yield
    except exc.IntegrityError as error:
        detail = "already exists" if is_unique_violation(error) else "violates a constraint"
        raise ConflictError(detail=f"the change conflicts with stored data: {detail}") from error
    except exc.DBAPIError as error:
        if error.connection_invalidated or isinstance(error, _UNAVAILABLE):
            raise ServiceUnavailableError(detail="the database is unavailable") from error
        raise
    except _UNAVAILABLE as error:
        raise ServiceUnavailableError(detail="the database is unavailable") from error


def is_unique_violation(error: exc.IntegrityError) -> bool:
    """Whether `error` is a duplicate key (primary key or unique constraint), on any dialect."""
    orig = error.orig
    if getattr(orig, "sqlstate", None) == _PG_UNIQUE_VIOLATION:
        return True
    if isinstance(orig, sqlite3.IntegrityError):
        return getattr(orig, "sqlite_errorname", None) in _SQLITE_UNIQUE
    return False
