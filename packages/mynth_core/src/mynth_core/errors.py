"""The MynthError tree: every failure a caller can cause or observe."""

from __future__ import annotations

import attrs


@attrs.frozen
class FieldError:
    """One broken rule, addressed by a dotted field path (`data.extensions.top_5_movies`)."""

    field: str
    message: str


class MynthError(Exception):
    """Root of every error the core raises on purpose."""


@attrs.frozen
class NotFoundError(MynthError):
    """Unknown, soft-deleted, or someone else's private resource (never distinguished)."""

    resource: str
    id: str

    def __str__(self) -> str:
        return f"{self.resource} {self.id} was not found"


@attrs.frozen
class ValidationError(MynthError):
    """Input that breaks one or more field rules."""

    errors: tuple[FieldError, ...]

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        return cls(errors=(FieldError(field, message),))

    def __str__(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" for e in self.errors)


@attrs.frozen
class NoChangeError(MynthError):
    """A change request that would leave the persona exactly as it is."""

    def __str__(self) -> str:
        return "the request changes nothing"


@attrs.frozen
class ConflictError(MynthError):
    """The resource changed underneath the request, or is busy."""

    detail: str

    def __str__(self) -> str:
        return self.detail


@attrs.frozen
class VersionConflictError(ConflictError):
    """An edit was based on a version that is no longer current."""


@attrs.frozen
class VersionInUseError(ConflictError):
    """A version that is current, public or pinned by a chat cannot be deleted."""


class AuthenticationError(MynthError):
    """The caller could not be identified."""


@attrs.frozen
class AuthenticationRequiredError(AuthenticationError):
    """A signed-in route was called without a credential."""

    def __str__(self) -> str:
        return "this route needs a session token"


@attrs.frozen
class InvalidTokenError(AuthenticationError):
    """A credential was presented but failed verification."""

    reason: str

    def __str__(self) -> str:
        return f"the session token was rejected: {self.reason}"


@attrs.frozen
class AccountDeletedError(AuthenticationError):
    """A valid token of a user who has been deleted."""

    def __str__(self) -> str:
        return "this account has been deleted"


@attrs.frozen
class NotPermittedError(MynthError):
    """An operation the configuration forbids (never used to hide existence)."""

    detail: str

    def __str__(self) -> str:
        return self.detail


@attrs.frozen
class InsufficientTokensError(MynthError):
    """The balance cannot cover a charge."""

    required: int
    available: int

    def __str__(self) -> str:
        return f"needs {self.required} tokens, {self.available} available"


@attrs.frozen
class RateLimitedError(MynthError):
    """A rate-limit bucket is exhausted."""

    bucket: str
    retry_after: int

    def __str__(self) -> str:
        return f"rate limit {self.bucket} exhausted; retry in {self.retry_after} s"


@attrs.frozen
class ProviderError(MynthError):
    """An upstream provider failed."""

    detail: str

    def __str__(self) -> str:
        return self.detail


@attrs.frozen
class ServiceUnavailableError(MynthError):
    """A dependency of ours (database, cache) does not answer."""

    detail: str

    def __str__(self) -> str:
        return self.detail


@attrs.frozen
class WebhookRejectedError(MynthError):
    """A webhook delivery failed signature or timestamp verification."""

    reason: str

    def __str__(self) -> str:
        return f"webhook rejected: {self.reason}"


@attrs.frozen
class ProviderUnavailableError(ProviderError):
    """A provider failed transiently (transport error, timeout, 408/5xx) past its retry budget."""


@attrs.frozen
class ProviderRateLimitedError(ProviderUnavailableError):
    """A provider asked us to wait (429) longer than the retry budget allows.

    `retry_after` is the provider's wait in whole seconds (rounded up, capped), or None when it
    named none, so an API caller can be given a `Retry-After` of its own.
    """

    retry_after: int | None = None


@attrs.frozen
class ProviderTimeoutError(ProviderUnavailableError):
    """A provider did not start answering (or finish) within the operation's time limit."""


@attrs.frozen
class ProviderRejectedError(ProviderError):
    """A provider refused the request itself (400, 404, 413, 422): retrying cannot help."""

    status: int | None = None


@attrs.frozen
class ProviderMisconfiguredError(ProviderError):
    """A provider refused our credentials or account (401, 402, 403): an operator must act."""

    status: int | None = None


@attrs.frozen
class ProviderBadResponseError(ProviderError):
    """A provider answered 2xx with a body mynth cannot use (not JSON, missing fields)."""


@attrs.frozen
class PaymentProviderError(ProviderError):
    """The payment provider failed to start a checkout after its retries."""

    retry_after: int | None = None


@attrs.frozen
class PaymentRejectedError(PaymentProviderError):
    """The payment provider refused a checkout request (a 4xx); it was not retried."""

    status: int | None = None


@attrs.frozen
class CheckoutUnavailableError(MynthError):
    """Checkout is not configured (no provider credentials, or no product for the pack)."""

    detail: str

    def __str__(self) -> str:
        return self.detail


@attrs.frozen
class MalformedWebhookError(MynthError):
    """A verified webhook whose body is not the JSON shape its sender documents."""

    detail: str

    def __str__(self) -> str:
        return f"malformed webhook payload: {self.detail}"


@attrs.frozen
class ContentRefusedError(ProviderError):
    """The provider refused the content (moderation 403, `finish_reason: content_filter`)."""


@attrs.frozen
class GenerationInvalidError(ProviderError):
    """The model's structured output did not parse or validate, even after one retry."""


@attrs.frozen
class GenerationEmptyError(ProviderError):
    """The model answered with nothing usable (no text)."""


@attrs.frozen
class UnknownModelError(MynthError):
    """A model id that is not in the catalogue of the operation."""

    model: str

    def __str__(self) -> str:
        return f"model {self.model!r} is not available for this operation"


@attrs.frozen
class GenerationInProgressError(ConflictError):
    """A generation already runs for this chat, or under this `Idempotency-Key`."""


@attrs.frozen
class PropertyMissingError(MynthError):
    """A property action that needs an existing property (expand, rewrite) found none."""

    property: str

    def __str__(self) -> str:
        return f"the persona has no {self.property!r} to change"


@attrs.frozen
class ImageDownloadError(ProviderError):
    """The generated image could not be downloaded or decoded."""


@attrs.frozen
class TooManyImageJobsError(MynthError):
    """The user already has the most image jobs in flight that one may."""

    limit: int
    retry_after: int = 10

    def __str__(self) -> str:
        return f"at most {self.limit} image jobs may be queued or running at once"
