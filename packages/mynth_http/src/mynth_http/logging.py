"""Structured logs: one JSON object per line (or a console line), stamped with the request."""

from __future__ import annotations

import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Final

import attrs
import msgspec

from mynth_adapters.settings import LogFormat

LOGGER: Final = "mynth"
_RESERVED: Final = frozenset({"ts", "level", "event", "request_id", "user_id"})


@attrs.define
class RequestContext:
    """What every log line of one request carries; auth fills in the user."""

    request_id: str
    user_id: str | None = None
    response_headers: list[tuple[bytes, bytes]] = attrs.Factory(list)
    """Headers decided while handling (e.g. `RateLimit-*`), added to whatever response goes out."""


current_request: ContextVar[RequestContext | None] = ContextVar("mynth_request", default=None)


def bind_user(user_id: str) -> None:
    """Name the signed-in caller in the logs of the current request."""
    if (context := current_request.get()) is not None:
        context.user_id = user_id


def log_event(
    logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: object
) -> None:
    """Log `event` (a dotted name) with `fields`; request id and user are added for you."""
    if logger.isEnabledFor(level):
        # makeRecord + handle skips the caller lookup of `logger.log`: this runs per request.
        record = logger.makeRecord(logger.name, level, "", 0, event, (), None)
        record.fields = fields
        logger.handle(record)


def _record_fields(record: logging.LogRecord) -> dict[str, object]:
    context = current_request.get()
    line: dict[str, object] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")[:-6]
        + "Z",
        "level": record.levelname.lower(),
        "event": record.getMessage(),
        "request_id": context.request_id if context else None,
        "user_id": context.user_id if context else None,
    }
    fields = getattr(record, "fields", None)
    if isinstance(fields, dict):
        line.update((k, v) for k, v in fields.items() if k not in _RESERVED)
    if record.exc_info and record.exc_info[0] is not None:
        exc_type, exc, tb = record.exc_info
        line["error"] = {
            "type": exc_type.__name__,
            "traceback": "".join(traceback.format_exception(exc_type, exc, tb)),
        }
    return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        return msgspec.json.encode(_record_fields(record), enc_hook=str).decode()


class ConsoleFormatter(logging.Formatter):
    """`ts LEVEL event key=value ...`, for people at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        line = _record_fields(record)
        error = line.pop("error", None)
        head = f"{line.pop('ts')} {str(line.pop('level')).upper():<7} {line.pop('event')}"
        rest = " ".join(f"{k}={v}" for k, v in line.items() if v is not None)
        text = f"{head} {rest}".rstrip()
        if isinstance(error, dict):
            text += "\n" + str(error["traceback"]).rstrip()
        return text


class _StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time (test capture swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never break a request
            self.handleError(record)


def configure_logging(log_format: LogFormat) -> None:
    """Send `mynth.*` logs to stderr in `log_format`; calling it again replaces the setup."""
    logger = logging.getLogger(LOGGER)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON else ConsoleFormatter())
    for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
