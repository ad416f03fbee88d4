"""The one error → problem-details table (RFC 9457) and the exception handlers that use it."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

import attrs
import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    SerializationException,
    ValidationException,
)
from litestar.openapi import ResponseSpec
from litestar.types import ExceptionHandlersMap

from mynth_core.errors import (
    AccountDeletedError,
    AuthenticationRequiredError,
    CheckoutUnavailableError,
    ConflictError,
    ContentRefusedError,
    FieldError,
    GenerationEmptyError,
    GenerationInProgressError,
    GenerationInvalidError,
    InsufficientTokensError,
    InvalidTokenError,
    MalformedWebhookError,
    MynthError,
    NoChangeError,
    NotFoundError,
    PaymentProviderError,
    PropertyMissingError,
    ProviderError,
    ProviderRateLimitedError,
    ProviderTimeoutError,
    RateLimitedError,
    ServiceUnavailableError,
    TooManyImageJobsError,
    UnknownModelError,
    ValidationError,
    VersionConflictError,
    VersionInUseError,
    WebhookRejectedError,
)
from mynth_core.publishing.model import (
    NotPublishedError,
    ProfileImageRequiredError,
    PublishInProgressError,
)
from mynth_http.schemas.common import ProblemOut

PROBLEM_JSON: Final = "application/problem+json"
_log = logging.getLogger("mynth.http")


@attrs.frozen
class Problem:
    """One row of the table; `detail=None` shows the error's own (caller-safe) text."""

    status: int
    slug: str
    title: str
    detail: str | None = None


PROBLEMS: Final[Mapping[type[MynthError], Problem]] = {
    # The detail never names the id: missing, someone else's and deleted read the same.
    NotFoundError: Problem(404, "not-found", "Not found", "Resource not found"),
    ValidationError: Problem(
        422, "validation-failed", "Validation failed", "A field breaks a rule"
    ),
    NoChangeError: Problem(422, "no-change", "No change", "The request changes nothing"),
    ConflictError: Problem(409, "conflict", "Conflict"),
    VersionConflictError: Problem(409, "version-conflict", "Version conflict"),
    VersionInUseError: Problem(409, "version-in-use", "Version in use"),
    ProfileImageRequiredError: Problem(
        409, "profile-image-required", "Profile image required", "Publishing needs a profile image"
    ),
    PublishInProgressError: Problem(
        409, "publish-in-progress", "Publish in progress", "A publish of this persona is pending"
    ),
    NotPublishedError: Problem(
        409, "not-published", "Not published", "The persona is not published"
    ),
    AuthenticationRequiredError: Problem(
        401,
        "authentication-required",
        "Authentication required",
        "This route needs a session token",
    ),
    InvalidTokenError: Problem(
        401, "invalid-token", "Invalid token", "The session token is invalid or expired"
    ),
    AccountDeletedError: Problem(
        401, "account-deleted", "Account deleted", "This account has been deleted"
    ),
    InsufficientTokensError: Problem(402, "insufficient-tokens", "Insufficient tokens"),
    RateLimitedError: Problem(429, "rate-limited", "Too many requests"),
    ServiceUnavailableError: Problem(
        503,
        "service-unavailable",
        "Service unavailable",
        "A dependency is unavailable; retry later",
    ),
    WebhookRejectedError: Problem(
        401, "invalid-signature", "Invalid signature", "The webhook signature was rejected"
    ),
    ProviderError: Problem(
        502, "provider-error", "Provider error", "The model provider failed; nothing was charged"
    ),
    ProviderRateLimitedError: Problem(
        503, "provider-busy", "Provider busy", "The model provider is busy; nothing was charged"
    ),
    ProviderTimeoutError: Problem(
        504,
        "provider-timeout",
        "Provider timeout",
        "The model provider did not answer in time; nothing was charged",
    ),
    ContentRefusedError: Problem(
        422,
        "content-refused",
        "Content refused",
        "The model provider refused this content; nothing was charged",
    ),
    GenerationInvalidError: Problem(
        502,
        "generation-invalid",
        "Generation invalid",
        "The model's answer was unusable; nothing was charged",
    ),
    GenerationEmptyError: Problem(
        502,
        "generation-empty",
        "Generation empty",
        "The model answered with nothing; nothing was charged",
    ),
    UnknownModelError: Problem(422, "unknown-model", "Unknown model"),
    GenerationInProgressError: Problem(409, "generation-in-progress", "Generation in progress"),
    PropertyMissingError: Problem(422, "property-missing", "Property missing"),
    TooManyImageJobsError: Problem(429, "too-many-image-jobs", "Too many image jobs"),
    PaymentProviderError: Problem(
        502,
        "payment-provider-error",
        "Payment provider error",
        "The payment provider failed; nothing was charged",
    ),
    CheckoutUnavailableError: Problem(
        503, "checkout-unavailable", "Checkout unavailable", "Payments are not configured"
    ),
    MalformedWebhookError: Problem(400, "invalid-json", "Invalid JSON"),
}

# Litestar's own errors, by status; ValidationException and bad JSON have their own rows below.
HTTP_PROBLEMS: Final[Mapping[int, Problem]] = {
    400: Problem(400, "bad-request", "Bad request", "The request could not be understood"),
    404: Problem(404, "not-found", "Not found", "Resource not found"),
    405: Problem(405, "method-not-allowed", "Method not allowed", "This path does not allow it"),
    413: Problem(413, "payload-too-large", "Payload too large", "The request body is too large"),
    415: Problem(
        415, "unsupported-media-type", "Unsupported media type", "Send the body as application/json"
    ),
}
INVALID_JSON: Final = Problem(400, "invalid-json", "Invalid JSON", "The body is not valid JSON")
VALIDATION_FAILED: Final = PROBLEMS[ValidationError]
INTERNAL_ERROR: Final = Problem(
    500, "internal-error", "Internal server error", "An unexpected error occurred"
)

PROVIDER_BUSY_RETRY_AFTER: Final = 30  # seconds, when a busy provider named no wait
_BEARER: Final = "Bearer"
_BEARER_INVALID: Final = 'Bearer error="invalid_token"'


def problem_for(error: MynthError) -> Problem | None:
    """The row of `error`'s nearest class in the table (a subclass inherits its parent's)."""
    for cls in type(error).__mro__:
        if problem := PROBLEMS.get(cls):
            return problem
    return None


def encode_problem(problem: Problem, detail: str | None = None, **extensions: object) -> bytes:
    """The JSON body of `problem`; a row's fixed detail wins over the error's own text."""
    body: dict[str, object] = {
        "type": f"/problems/{problem.slug}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail or detail or problem.title,
    }
    body.update(extensions)
    return msgspec.json.encode(body)


def problem_response(
    problem: Problem,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: object,
) -> Response[bytes]:
    """A problem-details response."""
    return Response(
        encode_problem(problem, detail, **extensions),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def _errors(errors: tuple[FieldError, ...] | list[FieldError]) -> list[dict[str, str]]:
    return [{"field": e.field, "message": e.message} for e in errors]


def _extensions(error: MynthError) -> dict[str, object]:
    if isinstance(error, ValidationError):
        return {"errors": _errors(error.errors)}
    if isinstance(error, InsufficientTokensError):
        return {"required": error.required, "available": error.available}
    if isinstance(error, RateLimitedError):
        return {"retry_after": error.retry_after, "bucket": error.bucket}
    if isinstance(error, ProviderRateLimitedError):
        return {"retry_after": error.retry_after or PROVIDER_BUSY_RETRY_AFTER}
    if isinstance(error, TooManyImageJobsError):
        return {"retry_after": error.retry_after, "limit": error.limit}
    return {}


def problem_body(error: BaseException) -> dict[str, object]:
    """The problem-details object for `error`, as an SSE `error` event carries it.

    Anything but a known core error is logged and answered as an internal error.
    """
    problem = problem_for(error) if isinstance(error, MynthError) else None
    if problem is None or not isinstance(error, MynthError):
        _log.error("http.stream_error", exc_info=error)
        return msgspec.json.decode(encode_problem(INTERNAL_ERROR))  # type: ignore[no-any-return]
    return msgspec.json.decode(  # type: ignore[no-any-return]
        encode_problem(problem, str(error), **_extensions(error))
    )


def _headers(error: MynthError) -> dict[str, str]:
    if isinstance(error, RateLimitedError):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, ProviderRateLimitedError):
        return {"Retry-After": str(error.retry_after or PROVIDER_BUSY_RETRY_AFTER)}
    if isinstance(error, TooManyImageJobsError):
        return {"Retry-After": str(error.retry_after)}
    if isinstance(error, AuthenticationRequiredError):
        return {"WWW-Authenticate": _BEARER}
    if isinstance(error, InvalidTokenError | AccountDeletedError):
        return {"WWW-Authenticate": _BEARER_INVALID}
    return {}


def handle_mynth_error(request: Request[Any, Any, Any], exc: MynthError) -> Response[bytes]:
    """A core error, answered through the table."""
    problem = problem_for(exc)
    if problem is None:
        return handle_unexpected_error(request, exc)
    return problem_response(problem, str(exc), _headers(exc), **_extensions(exc))


def handle_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Litestar's own errors: routing, body size, media type, decoding and validation."""
    if isinstance(exc, ValidationException):
        return problem_response(VALIDATION_FAILED, errors=_errors(validation_errors(exc)))
    if isinstance(exc, ClientException) and isinstance(exc.__cause__, SerializationException):
        return problem_response(INVALID_JSON)
    if exc.status_code >= 500:  # noqa: PLR2004 - server side: log, reveal nothing
        return handle_unexpected_error(request, exc)
    problem = HTTP_PROBLEMS.get(exc.status_code) or _generic(exc.status_code)
    headers = {"Allow": exc.headers["allow"]} if exc.headers and "allow" in exc.headers else None
    return problem_response(problem, headers=headers)


def _generic(status: int) -> Problem:
    phrase = HTTPStatus(status).phrase
    return Problem(status, phrase.lower().replace(" ", "-"), phrase, phrase)


def handle_unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Anything else: logged with its traceback, answered without internals."""
    _log.error(
        "http.unhandled_error",
        exc_info=exc,
        extra={"fields": {"method": request.method, "path": request.url.path}},
    )
    return problem_response(INTERNAL_ERROR)


EXCEPTION_HANDLERS: Final[ExceptionHandlersMap] = {
    MynthError: handle_mynth_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected_error,
}


_DOCUMENTED: Final[Mapping[int, str]] = {
    400: "`invalid-json`: the body is not valid JSON",
    401: "`authentication-required`, `invalid-token`, `account-deleted` or `invalid-signature`",
    404: "`not-found`: unknown, someone else's or deleted (identical body)",
    409: (
        "`version-conflict`, `generation-in-progress` (an `Idempotency-Key` in use), "
        "`profile-image-required`, `publish-in-progress` or `not-published`"
    ),
    413: "`payload-too-large`: the body is over the limit",
    415: "`unsupported-media-type`: the body is not JSON",
    402: "`insufficient-tokens` (`required`, `available`)",
    422: (
        "`validation-failed` (`errors: [{field, message}]`), `no-change`, `unknown-model`, "
        "`property-missing` or `content-refused`"
    ),
    429: (
        "`rate-limited` (`retry_after`, `bucket`; `RateLimit-*` headers) or "
        "`too-many-image-jobs`; `Retry-After`"
    ),
    502: (
        "`provider-error`, `generation-invalid`, `generation-empty` (refunded) or "
        "`payment-provider-error`"
    ),
    503: "`provider-busy` (refunded), `checkout-unavailable` or `service-unavailable`",
    504: "`provider-timeout`: the model provider did not answer in time (refunded)",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems a route can answer with."""
    return {
        status: ResponseSpec(
            ProblemOut,
            description=_DOCUMENTED[status],
            media_type=PROBLEM_JSON,
            generate_examples=False,
        )
        for status in statuses
    }


# --- Litestar validation messages → field-addressed errors -----------------------------------

_MSGSPEC: Final = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED_FIELD: Final = re.compile(r"^Object (?:missing required|contains unknown) field `([^`]+)`$")
_MESSAGES: Final[tuple[tuple[str, str], ...]] = (
    ("Object missing required field", "is required"),
    ("Object contains unknown field", "is not a known field"),
)
_BODY: Final = "data"  # the handler parameter Litestar decodes the body into


def validation_errors(exc: ValidationException) -> list[FieldError]:
    """Translate Litestar's `extra` into `{field, message}` pairs with dotted paths.

    Litestar flattens body paths (`data.data.name` becomes `name`), so a body error is
    re-read from the msgspec error it was raised from, which keeps the full path.
    """
    items = exc.extra if isinstance(exc.extra, list) else []
    cause = exc.__cause__
    body = _from_msgspec(str(cause)) if isinstance(cause, msgspec.ValidationError) else None
    errors: list[FieldError] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if item.get("source") == "body" or item.get("key") == _BODY:
            errors.append(body or FieldError("body", _humane(str(item.get("message", "")))))
        else:
            errors.append(
                FieldError(str(item.get("key", "request")), _humane(str(item.get("message", ""))))
            )
    return errors or [FieldError("request", _humane(str(exc.detail)))]


def _from_msgspec(text: str) -> FieldError | None:
    match = _MSGSPEC.match(text)
    if match is None:  # pragma: no cover - the pattern matches any text
        return None
    parts = _path_parts(match["path"] or "")
    if not parts or parts[0] != _BODY:
        named = _NAMED_FIELD.match(match["message"])
        if parts or named is None or named[1] != _BODY:
            return None  # the first error is about a query or path parameter
        return FieldError("body", "is required")
    parts = parts[1:]
    if named := _NAMED_FIELD.match(match["message"]):
        parts.append(named[1])
    return FieldError(".".join(parts) or "body", _humane(match["message"]))


def _path_parts(path: str) -> list[str]:
    # msgspec writes `.data.extensions[...]` for map values and `.items[0]` for arrays
    normal = re.sub(r"\[\.\.\.\]", "", path)
    normal = re.sub(r"\[(\d+)\]", r".\1", normal)
    return [p for p in normal.split(".") if p]


def _humane(message: str) -> str:
    for prefix, replacement in _MESSAGES:
        if message.startswith(prefix):
            return replacement
    return message.replace("`", "").strip() or "is invalid"
