"""The chat-completions wire format (PROVIDERS §1.3-1.9): request bodies, answers, error envelopes.

Private to the adapter: wire shapes are mapped to core values and core errors right here.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import attrs
import httpx

from mynth_adapters.http_client import classify, parse_retry_after
from mynth_core.errors import (
    ContentRefusedError,
    ProviderBadResponseError,
    ProviderError,
    ProviderMisconfiguredError,
    ProviderRateLimitedError,
    ProviderRejectedError,
)
from mynth_core.generation.ports import ChatRequest, Usage

_log = logging.getLogger(__name__)

OVERLOADED: Final = 503  # "no provider meets the routing requirements": wait, like a 429
FORBIDDEN: Final = 403
MODERATION_TYPES: Final = frozenset({"content_policy_violation", "refusal"})
MODERATION_KEYS: Final = ("reasons", "flagged_input")
# `metadata.error_type` (and old string `code`s) mapped to the HTTP status they stand for.
ERROR_TYPE_STATUS: Final[Mapping[str, int]] = {
    "context_length_exceeded": 400,
    "invalid_request": 400,
    "payment_required": 402,
    "timeout": 408,
    "rate_limit_exceeded": 429,
    "rate_limited": 429,
    "server": 500,
    "server_error": 500,
    "provider_unavailable": 502,
    "provider_overloaded": 503,
}
_MIN_STATUS, _MAX_STATUS = 400, 599

# Builds the core error of an embedded `error` object (a 200 body, a stream event).
ErrorFactory = Callable[[Mapping[str, Any]], ProviderError]


@attrs.frozen(kw_only=True)
class Answer:
    """A non-streaming answer, mapped from the wire."""

    text: str
    model: str | None
    finish_reason: str | None
    usage: Usage | None
    cost_usd: float | None
    generation_id: str | None


def request_body(
    request: ChatRequest,
    *,
    model: str,
    fallbacks: Sequence[str],
    openrouter: bool,
    stream: bool,
) -> dict[str, Any]:
    """The JSON body of `POST /chat/completions` for `model` (OpenRouter tries `fallbacks`).

    OpenRouter's extras (`models`, `provider`, `usage`) go only to OpenRouter: other
    OpenAI-compatible servers may reject unknown keys.
    """
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": m.role.value, "content": m.content} for m in request.messages],
    }
    optional = {
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "user": request.user,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if request.schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.schema.name,
                "strict": request.schema.strict,
                "schema": _plain(request.schema.schema),
            },
        }
    if stream:
        # A documented no-op on OpenRouter, needed by local OpenAI-compatible servers.
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if openrouter:
        if fallbacks:
            body["models"] = list(fallbacks)
        if request.schema is not None:  # else a provider may silently ignore the schema
            body["provider"] = {"require_parameters": True}
        body["usage"] = {"include": True}
    return body


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def parse_answer(document: object, *, provider: str, error: ErrorFactory) -> Answer:
    """The answer in a non-streaming 2xx body; an embedded `error` raises first (§1.4).

    Raises:
        ProviderError: a body that is only `{"error": …}` or a `finish_reason: "error"` choice
            (by the error's code); `ContentRefusedError` for `content_filter`;
            `ProviderBadResponseError` for a body without a usable choice.
    """
    if not isinstance(document, dict):
        raise ProviderBadResponseError(f"{provider}: the answer is not a JSON object")
    if isinstance(document.get("error"), dict):
        raise error(document["error"])
    choice = first_choice(document.get("choices"))
    if choice is None:
        raise ProviderBadResponseError(f"{provider}: the answer has no choices")
    finish = choice.get("finish_reason")
    if finish == "error":
        embedded = choice.get("error")
        raise error(embedded if isinstance(embedded, dict) else {})
    if finish == "content_filter":
        raise ContentRefusedError(f"{provider}: output stopped by a content filter")
    message = choice.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if content is not None and not isinstance(content, str):
        raise ProviderBadResponseError(f"{provider}: message content is not text")
    usage = document.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return Answer(
        text=content or "",
        model=_text(document.get("model")),
        finish_reason=_text(finish),
        usage=parse_usage(usage),
        cost_usd=parse_cost(usage),
        generation_id=_text(document.get("id")),
    )


def first_choice(choices: object) -> Mapping[str, Any] | None:
    """The choice with index 0 (mynth never asks for n > 1), or None."""
    if not isinstance(choices, list):
        return None
    for choice in choices:
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            return choice
    return None


def parse_usage(usage: Mapping[str, Any]) -> Usage | None:
    """`Usage` from an OpenAI `usage` object; None unless both counts are integers."""
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    if prompt is None or completion is None:
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


def parse_cost(usage: Mapping[str, Any]) -> float | None:
    """OpenRouter's `usage.cost` (credits, USD-denominated), when it is a number."""
    cost = usage.get("cost")
    if isinstance(cost, bool) or not isinstance(cost, int | float):
        return None
    return float(cost)


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# --- errors -----------------------------------------------------------------------------------


def error_object(body: bytes) -> Mapping[str, Any]:
    """The `error` object of an error envelope, or `{}` for any other body (an HTML page)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) else {}


def response_error(
    response: httpx.Response, body: bytes, *, provider: str, now: datetime
) -> ProviderError:
    """The core error for a non-2xx response whose (bounded) body is `body`."""
    return envelope_error(
        error_object(body),
        provider=provider,
        status=response.status_code,
        headers=response.headers,
        now=now,
    )


def envelope_error(
    error: Mapping[str, Any],
    *,
    provider: str,
    headers: httpx.Headers,
    now: datetime,
    status: int | None = None,
) -> ProviderError:
    """The core error for an `error` object; `status` is the HTTP status, else its `code`.

    A 200 body or stream event carrying an error is judged by its code like an HTTP status
    (§0.2); without a usable code it is a bad response (retried once).
    """
    metadata = error.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    error_type = metadata.get("error_type")
    status = status or _status_of(error.get("code")) or _status_of(error_type)
    message = error.get("message")
    where = f"{provider}: HTTP {status}" if status else f"{provider}: error"
    if isinstance(message, str) and message:
        where = f"{where} ({message[:200]})"
    if error_type in MODERATION_TYPES or (
        status == FORBIDDEN and any(key in metadata for key in MODERATION_KEYS)
    ):
        return ContentRefusedError(where)
    if status is None:
        return ProviderBadResponseError(where)
    if status == OVERLOADED:
        wait = parse_retry_after(headers.get("retry-after"), now=now)
        return ProviderRateLimitedError(
            where, retry_after=None if wait is None else math.ceil(wait)
        )
    classified = classify(httpx.Response(status, headers=headers), provider=provider, now=now)
    if classified is None:  # an "error" with a 2xx code: nothing to go by
        return ProviderBadResponseError(where)
    result = attrs.evolve(classified, detail=where)
    if isinstance(result, ProviderMisconfiguredError | ProviderRejectedError):
        level = logging.ERROR if isinstance(result, ProviderMisconfiguredError) else logging.WARNING
        _log.log(level, "%s refused the request: %s", provider, where)
    return result


def _status_of(code: object) -> int | None:
    if isinstance(code, str):
        code = int(code) if code.isdigit() else ERROR_TYPE_STATUS.get(code)
    if isinstance(code, int) and not isinstance(code, bool) and _MIN_STATUS <= code <= _MAX_STATUS:
        return code
    return None
