"""Engines for the SQL adapter tests: a migrated SQLite file, and Postgres when configured."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

# `sqlkit` lives in tests/, which the root conftest's import puts on sys.path; doing it here
# as well lets this directory run on its own.
_TESTS = str(Path(__file__).resolve().parents[2])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from sqlkit import postgres_engine, postgres_schema, sqlite_engine  # noqa: E402

__all__ = ["postgres_engine", "postgres_schema", "sqlite_engine"]


@pytest.fixture(
    params=[
        pytest.param("sqlite_engine", id="sqlite"),
        pytest.param("postgres_engine", id="postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """A migrated engine with empty tables, once per dialect."""
    chosen: AsyncEngine = request.getfixturevalue(request.param)
    return chosen
