"""Wire types shared by every resource: timestamps, documented limits, pages, problems."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

# Timestamps go out as text: msgspec would print microseconds, the API promises milliseconds.
Timestamp = Annotated[
    str,
    msgspec.Meta(
        extra_json_schema={
            "description": "RFC 3339 UTC timestamp with millisecond precision",
            "examples": ["2026-01-01T12:00:00.000Z"],
            "extra": {"format": "date-time"},
        }
    ),
]


def rfc3339(at: datetime) -> str:
    """`at` as RFC 3339 in UTC with a `Z` and millisecond precision."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def documented(description: str | None = None, **schema: object) -> msgspec.Meta:
    """OpenAPI-only facts about a field; the core enforces them and names every offender."""
    extra: dict[str, Any] = {"extra": schema} if schema else {}
    if description is not None:
        extra["description"] = description
    return msgspec.Meta(extra_json_schema=extra)


class FieldErrorOut(msgspec.Struct, kw_only=True):
    """One broken rule, addressed by a dotted path such as `data.name`."""

    field: str
    message: str


class ProblemOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details as Mynth sends them (documentation shape)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldErrorOut] | None = None
    required: int | None = None
    available: int | None = None
    retry_after: int | None = None


class HealthOut(msgspec.Struct, kw_only=True):
    """Liveness: the process serves requests."""

    status: Literal["ok"] = "ok"


class ReadinessOut(msgspec.Struct, kw_only=True):
    """Readiness with one status per dependency check (never a configuration value)."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "failing"]]

    @classmethod
    def of(cls, results: Mapping[str, bool]) -> ReadinessOut:
        checks: dict[str, Literal["ok", "failing"]] = {
            name: "ok" if ok else "failing" for name, ok in results.items()
        }
        return cls(status="ok" if all(results.values()) else "unavailable", checks=checks)

    @property
    def http_status(self) -> int:
        return 200 if self.status == "ok" else 503
