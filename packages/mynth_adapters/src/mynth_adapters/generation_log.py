"""`LoggingGenerationLog`: one structured log event per generation (PRODUCT.md §11.1)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import attrs

from mynth_core.generation.runs import GenerationRecord, Outcome

SUCCEEDED: Final = "generation.succeeded"
FAILED: Final = "generation.failed"
_SUCCESSFUL: Final = frozenset({Outcome.SUCCESS, Outcome.NO_CHANGE})


def generation_fields(record: GenerationRecord) -> dict[str, object]:
    """The event's fields; ids and optional facts appear only when they apply."""
    fields: dict[str, object] = {
        "operation": record.operation,
        "outcome": record.outcome.value,
        "provider": record.provider,
        "model_requested": record.model_requested,
        "model": record.model,
        "attempts": record.attempts,
        "usage": None
        if record.usage is None
        else {
            "prompt_tokens": record.usage.prompt_tokens,
            "completion_tokens": record.usage.completion_tokens,
        },
        "provider_cost_usd": record.provider_cost_usd,
        "tokens_charged": record.tokens_charged,
        "tokens_refunded": record.tokens_refunded,
        "latency_ms": record.latency_ms,
        "ttft_ms": record.ttft_ms,
    }
    for key in ("persona_id", "version_id", "chat_id", "message_id"):
        if (value := getattr(record, key)) is not None:
            fields[key] = value
    if record.error_type is not None:
        fields["error"] = {
            "type": record.error_type,
            "message": record.error_message,
            "provider_status": record.provider_status,
        }
    return fields


@attrs.frozen
class LoggingGenerationLog:
    """Writes `generation.succeeded` (info) or `generation.failed` (warning) to `logger`.

    Prompts and generated content are never logged; the request id and user come from the
    log formatter's request context.
    """

    logger: logging.Logger = attrs.Factory(lambda: logging.getLogger("mynth.generation"))

    def record(self, record: GenerationRecord) -> None:
        succeeded = record.outcome in _SUCCESSFUL
        self.logger.log(
            logging.INFO if succeeded else logging.WARNING,
            SUCCEEDED if succeeded else FAILED,
            extra={"fields": generation_fields(record)},
        )


if TYPE_CHECKING:
    from mynth_core.generation.runs import GenerationLog

    _conforms: type[GenerationLog] = LoggingGenerationLog
