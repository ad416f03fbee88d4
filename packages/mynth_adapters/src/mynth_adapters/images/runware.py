"""`RunwareImageGenerator`: the `ImageGenerator` port over Runware's imageInference (PROVIDERS §2).

One image = one `imageInference` task (a JSON array body, `Authorization: Bearer`), one
download of its `imageURL` from an allowed host, then WebP + thumbnail encoding.

Retries (PRODUCT §12): the inference is retried on 429/503/504 and transport errors only, at
most twice, 1 s then 2 s (a `Retry-After` of up to 10 s is honoured), with the same
`taskUUID`; after a read timeout at most once more, because a retry re-runs and re-bills the
generation. 400/401/402/403 and every other answer are final. The whole inference, retries
included, is cut at the model's timeout. The download (no auth, ≤ 20 MiB, an image content
type) gets 3 attempts of 15 s each with 0.5 s·2ⁿ ± 20 % backoff on transport errors and
408/429/5xx: a download does not re-bill.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
import httpx

from mynth_adapters.http_client import (
    MISCONFIGURED_STATUSES,
    RetryPolicy,
    parse_retry_after,
    provider_client,
    transport_error,
)
from mynth_adapters.images.encode import WEBP_QUALITY, encode
from mynth_core.clock import Clock, SystemClock
from mynth_core.errors import (
    ContentRefusedError,
    ImageDownloadError,
    ProviderBadResponseError,
    ProviderError,
    ProviderMisconfiguredError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from mynth_core.images.ports import ImageRequest, RenderedImage
from mynth_core.images.registry import PROMPT_LIMIT, ImageModel

if TYPE_CHECKING:
    from mynth_core.images.ports import ImageGenerator

_log = logging.getLogger(__name__)

RUNWARE: Final = "runware"
RUNWARE_DOWNLOAD: Final = "runware download"
DEFAULT_DOWNLOAD_HOSTS: Final = frozenset({"im.runware.ai"})
# PROVIDERS §0.4. The inference's overall limit is the model's timeout (60 s / 90 s), which
# cuts it before the 120 s read timeout; the download's is the retry budget of 60 s.
INFERENCE_TIMEOUT: Final = httpx.Timeout(connect=5, read=120, write=10, pool=5)
DOWNLOAD_TIMEOUT: Final = httpx.Timeout(connect=5, read=30, write=10, pool=5)
# PRODUCT §12: 3 attempts, waits of exactly 1 s then 2 s. The budget is replaced by the
# model's timeout on each call.
IMAGE_RETRY: Final = RetryPolicy(
    attempts=3, budget=90, backoff_min=1.0, backoff_max=2.0, jitter=0.0, max_retry_after=10
)
# PRODUCT §7.4: 3 attempts, 0.5 s then 1 s, each ± 20 %, within 60 s overall.
DOWNLOAD_RETRY: Final = RetryPolicy(
    attempts=3, budget=60, backoff_min=0.5, backoff_max=8.0, jitter=0.2
)
DOWNLOAD_ATTEMPT_TIMEOUT: Final = 15.0
DOWNLOAD_LIMIT: Final = 20 * 1024 * 1024
RETRIED_STATUSES: Final = frozenset({429, 503, 504})
DOWNLOAD_RETRIED_STATUSES: Final = frozenset({408, 429})  # and every 5xx
MIN_PROMPT: Final = 2
MIN_SIDE, MAX_SIDE, SIDE_STEP = 128, 2048, 64
_TOO_MANY_REQUESTS: Final = 429
_REQUEST_TIMEOUT: Final = 408
_GATEWAY_TIMEOUT: Final = 504
_REFUSAL_STATUSES: Final = frozenset({400, 403, 422})
_MESSAGE_CHARS: Final = 200

# Runware's error codes are not standardised (§2.7): they are read by pattern, never matched
# exactly. The first pattern that matches names the category.
_CODE_CATEGORIES: Final = (
    (
        "refused",
        re.compile(
            r"nsfw|moderat|safety|censor|flagged|content_?(?:policy|filter|violation|blocked)"
            r"|(?:inappropriate|prohibited|unsafe|blocked)_?content",
            re.IGNORECASE,
        ),
    ),
    (
        "misconfigured",
        re.compile(
            r"credit|balance|insufficient_?funds|payment|api_?key|unauthori[sz]ed|permission",
            re.IGNORECASE,
        ),
    ),
    ("rate_limited", re.compile(r"rate_?limit|too_?many_?requests|queue_?full", re.IGNORECASE)),
    ("timeout", re.compile(r"^timeout|timed_?out", re.IGNORECASE)),
    (
        "transient",
        re.compile(
            r"^provider|inference_?error|no_?available_?server|unavailable|overload|capacity",
            re.IGNORECASE,
        ),
    ),
    ("rejected", re.compile(r"^(?:invalid|missing|unsupported)|not_?found", re.IGNORECASE)),
)


def runware_client(
    base_url: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The `AsyncClient` for Runware's REST API (`https://api.runware.ai/v1`).

    The task array is POSTed to `base_url` itself.
    """
    return provider_client(base_url, INFERENCE_TIMEOUT, transport=transport)


def download_client(*, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """The `AsyncClient` that fetches generated images: no base URL, no auth, no redirects."""
    return httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=False, transport=transport)


def request_size(model: ImageModel, width: int, height: int) -> tuple[int, int]:
    """The size to ask `model` for (§2.5).

    A model with fixed sizes gets the pair nearest in aspect (then in area); any other gets
    `width` x `height` snapped to multiples of 64 within 128-2048.
    """
    if model.fixed_sizes:
        aspect = math.log(width / height)
        return min(
            model.fixed_sizes,
            key=lambda s: (abs(math.log(s[0] / s[1]) - aspect), abs(s[0] * s[1] - width * height)),
        )
    return _snap(width), _snap(height)


def task_body(request: ImageRequest, width: int, height: int) -> dict[str, Any]:
    """The one `imageInference` task of a request.

    `steps`/`CFGScale` go only to models that take them; one result, a WebP URL at the
    quality we store (so it is kept as delivered, see `encode`), its cost.
    """
    model = request.model
    task: dict[str, Any] = {
        "taskType": "imageInference",
        "taskUUID": request.task_uuid,
        "model": model.provider_model,
        "positivePrompt": request.prompt[:PROMPT_LIMIT],
        "width": width,
        "height": height,
    }
    if model.steps is not None:
        task["steps"] = model.steps
    if model.cfg_scale is not None:
        task["CFGScale"] = model.cfg_scale
    task.update(
        numberResults=1,
        outputType="URL",
        outputFormat="WEBP",
        outputQuality=WEBP_QUALITY,
        includeCost=True,
    )
    return task


@attrs.frozen
class _Result:
    url: str
    cost_usd: float | None
    image_uuid: str | None


@attrs.define
class _Attempts:
    count: int = 0
    read_timeouts: int = 0


class _FinalError(Exception):
    """Carries an error the retry policy must not retry.

    `RetryPolicy` would otherwise retry any unavailable error, and a bad response once.
    """

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


@attrs.frozen(kw_only=True)
class RunwareImageGenerator:
    """Runware over `client` (its `base_url` is the API URL, built by `runware_client`).

    `download_client` fetches the result (built by `download_client()`), only from
    `download_hosts` (`host` or `host:port`, matched exactly): any other URL in a response is
    refused (SSRF). `retry` (its budget is replaced by the model's timeout), `download_retry`,
    `download_attempt_timeout` and `clock` (for `Retry-After` dates) are test seams.
    """

    client: httpx.AsyncClient
    api_key: str = attrs.field(repr=False)
    download_client: httpx.AsyncClient
    download_hosts: frozenset[str] = DEFAULT_DOWNLOAD_HOSTS
    retry: RetryPolicy = IMAGE_RETRY
    download_retry: RetryPolicy = DOWNLOAD_RETRY
    download_attempt_timeout: float = DOWNLOAD_ATTEMPT_TIMEOUT
    download_limit: int = DOWNLOAD_LIMIT
    clock: Clock = attrs.Factory(SystemClock)

    async def generate(self, request: ImageRequest) -> RenderedImage:
        if len(request.prompt.strip()) < MIN_PROMPT:
            raise ProviderRejectedError(f"{RUNWARE}: the prompt is shorter than {MIN_PROMPT}")
        width, height = request_size(request.model, request.width, request.height)
        result = await self._infer(request, [task_body(request, width, height)])
        data = await self._download(result.url, request.task_uuid)
        encoded = await encode(data, expect=(width, height))
        _log.info(
            "%s: task %s made image %s (%dx%d, cost %s)",
            RUNWARE,
            request.task_uuid,
            result.image_uuid,
            encoded.width,
            encoded.height,
            result.cost_usd,
        )
        return RenderedImage(
            webp=encoded.webp,
            thumbnail=encoded.thumbnail,
            width=encoded.width,
            height=encoded.height,
            model=request.model.id,
            cost_usd=result.cost_usd,
        )

    # --- the inference --------------------------------------------------------------------------

    async def _infer(self, request: ImageRequest, body: list[dict[str, Any]]) -> _Result:
        policy = attrs.evolve(self.retry, budget=request.model.timeout)
        attempt = functools.partial(self._infer_once, request.task_uuid, body, _Attempts())
        try:
            return await policy.run(attempt, provider=RUNWARE)
        except _FinalError as final:
            raise final.error from final.__cause__

    async def _infer_once(
        self, task_uuid: str, body: list[dict[str, Any]], attempts: _Attempts
    ) -> _Result:
        attempts.count += 1
        last_chance = attempts.read_timeouts > 0  # a read timeout allows one more attempt only
        try:
            response = await self.client.post(self._endpoint(), json=body, headers=self._headers())
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.ReadTimeout):
                attempts.read_timeouts += 1
            error: ProviderError = _transport(exc, RUNWARE)
            _log.warning("%s: task %s attempt %d: %s", RUNWARE, task_uuid, attempts.count, error)
            raise _final(error) if last_chance else error from exc
        document = _json(response)
        if not response.is_success:
            error = self._status_error(response, _errors_of(document, task_uuid))
            _log.warning(
                "%s: task %s attempt %d: HTTP %d %s",
                RUNWARE,
                task_uuid,
                attempts.count,
                response.status_code,
                response.text[:_MESSAGE_CHARS],
            )
            retried = response.status_code in RETRIED_STATUSES and not last_chance
            raise error if retried else _final(error)
        if not isinstance(document, dict):
            raise _final(ProviderBadResponseError(f"{RUNWARE}: the answer is not a JSON object"))
        if (result := _result_of(document, task_uuid)) is not None:
            return result
        errors = _errors_of(document, task_uuid)
        if not errors:
            raise _final(ProviderBadResponseError(f"{RUNWARE}: no result for task {task_uuid}"))
        category, error = _embedded_error(errors)
        _log.warning("%s: task %s failed: %s", RUNWARE, task_uuid, error)
        retried = category in {"rate_limited", "timeout", "transient"} and not last_chance
        raise error if retried else _final(error)

    def _status_error(
        self, response: httpx.Response, errors: Sequence[Mapping[str, Any]]
    ) -> ProviderError:
        """The core error of a non-2xx answer: by status, then by the errors' code pattern."""
        status = response.status_code
        where = f"{RUNWARE}: HTTP {status}{_describe(errors)}"
        if status == _TOO_MANY_REQUESTS:
            wait = parse_retry_after(response.headers.get("retry-after"), now=self.clock.now())
            return ProviderRateLimitedError(
                where, retry_after=None if wait is None else math.ceil(wait)
            )
        return _CATEGORY_ERRORS[_status_category(status, _category(errors))](where, status)

    # --- the download ---------------------------------------------------------------------------

    async def _download(self, raw_url: str, task_uuid: str) -> bytes:
        url = self._allowed(raw_url)
        try:
            return await self.download_retry.run(
                functools.partial(self._fetch_once, url), provider=RUNWARE_DOWNLOAD
            )
        except ImageDownloadError:
            raise
        except ProviderError as exc:  # the transient failures outlasted the attempts
            _log.warning("%s: image of task %s failed: %s", RUNWARE, task_uuid, exc)
            raise ImageDownloadError(f"{RUNWARE}: the image could not be downloaded") from exc

    def _allowed(self, raw_url: str) -> httpx.URL:
        """The image URL, if it points at an allowed host; never any other (SSRF guard)."""
        try:
            url = httpx.URL(raw_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ImageDownloadError(f"{RUNWARE}: the image URL is not a URL") from exc
        host = url.host.lower()
        where = host if url.port is None else f"{host}:{url.port}"
        if url.scheme not in {"https", "http"} or url.userinfo or where not in self.download_hosts:
            raise ImageDownloadError(f"{RUNWARE}: image host {where!r} is not allowed")
        return url

    async def _fetch_once(self, url: httpx.URL) -> bytes:
        try:
            async with asyncio.timeout(self.download_attempt_timeout):
                return await self._fetch(url)
        except TimeoutError as exc:
            raise ProviderTimeoutError(
                f"{RUNWARE_DOWNLOAD}: no image within {self.download_attempt_timeout:g} s"
            ) from exc
        except httpx.TransportError as exc:
            raise _transport(exc, RUNWARE_DOWNLOAD) from exc

    async def _fetch(self, url: httpx.URL) -> bytes:
        async with self.download_client.stream(
            "GET", url, headers={"Accept": "image/*"}, follow_redirects=False
        ) as response:
            status = response.status_code
            if httpx.codes.is_server_error(status) or status in DOWNLOAD_RETRIED_STATUSES:
                raise ProviderUnavailableError(f"{RUNWARE_DOWNLOAD}: HTTP {status}")
            if not response.is_success:
                raise ImageDownloadError(f"{RUNWARE_DOWNLOAD}: HTTP {status}")
            content_type = response.headers.get("content-type", "")
            if not content_type.lower().startswith("image/"):
                raise ImageDownloadError(
                    f"{RUNWARE_DOWNLOAD}: not an image ({content_type[:60]!r})"
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.download_limit:
                raise ImageDownloadError(f"{RUNWARE_DOWNLOAD}: the image is over the size cap")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > self.download_limit:
                    raise ImageDownloadError(f"{RUNWARE_DOWNLOAD}: the image is over the size cap")
            return bytes(body)

    # --- helpers --------------------------------------------------------------------------------

    def _endpoint(self) -> httpx.URL:
        """The API URL itself (httpx would add a trailing slash to a relative request)."""
        base = self.client.base_url
        return base.copy_with(path=base.path.rstrip("/") or "/")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}


def _status_category(status: int, category: str | None) -> str:
    """What a non-2xx, non-429 status means, refined by its errors' code category."""
    if status == _GATEWAY_TIMEOUT:  # maximum queue wait exceeded
        return "timeout"
    server_error = httpx.codes.is_server_error(status)
    if category == "refused" and (status in _REFUSAL_STATUSES or server_error):
        return "refused"
    if status in MISCONFIGURED_STATUSES or category == "misconfigured":
        return "misconfigured"
    if server_error or status == _REQUEST_TIMEOUT:
        return "transient"
    if httpx.codes.is_client_error(status):
        return category or "rejected"
    return "bad_response"  # a redirect or an informational status


def _snap(side: int) -> int:
    return min(MAX_SIDE, max(MIN_SIDE, round(side / SIDE_STEP) * SIDE_STEP))


def _transport(exc: httpx.TransportError, provider: str) -> ProviderUnavailableError:
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeoutError(f"{provider}: timed out ({type(exc).__name__})")
    return transport_error(exc, provider=provider)


def _final(error: ProviderError) -> _FinalError:
    return _FinalError(error)


def _json(response: httpx.Response) -> object:
    """The decoded JSON body, or None when there is none (any content type is tried)."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None


def _result_of(document: Mapping[str, Any], task_uuid: str) -> _Result | None:
    """The first image of `task_uuid` in `data` (other tasks' entries are ignored).

    Raises:
        _FinalError: an entry of ours without a usable `imageURL` (a bad response).
    """
    data = document.get("data")
    entries = [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []
    ours = [e for e in entries if e.get("taskUUID") == task_uuid]
    if not ours:
        return None
    entry = ours[0]
    url = entry.get("imageURL")
    if not isinstance(url, str) or not url:
        raise _final(ProviderBadResponseError(f"{RUNWARE}: task {task_uuid} has no imageURL"))
    cost = entry.get("cost")
    if not isinstance(cost, int | float) or isinstance(cost, bool) or not math.isfinite(cost):
        cost = None
    image_uuid = entry.get("imageUUID")
    return _Result(
        url=url,
        cost_usd=None if cost is None else float(cost),
        image_uuid=image_uuid if isinstance(image_uuid, str) else None,
    )


def _errors_of(document: object, task_uuid: str) -> list[Mapping[str, Any]]:
    """The errors about `task_uuid` or about no task in particular.

    Both `errors[]` entries and the generic `{"error": …}` form are read.
    """
    if not isinstance(document, dict):
        return []
    found: list[Mapping[str, Any]] = []
    errors = document.get("errors")
    if isinstance(errors, list):
        found.extend(e for e in errors if isinstance(e, dict))
    generic = document.get("error")
    if isinstance(generic, dict):
        found.append({"taskUUID": document.get("taskUUID"), **generic})
    elif isinstance(generic, str):
        found.append({"taskUUID": document.get("taskUUID"), "code": generic, "message": generic})
    return [e for e in found if e.get("taskUUID") in {None, task_uuid}]


def _code(error: Mapping[str, Any]) -> str:
    code = error.get("code")
    return code if isinstance(code, str) else ""


def _category(errors: Sequence[Mapping[str, Any]]) -> str | None:
    for name, pattern in _CODE_CATEGORIES:
        if any(pattern.search(_code(e)) for e in errors):
            return name
    return None


def _describe(errors: Sequence[Mapping[str, Any]]) -> str:
    if not errors:
        return ""
    first = errors[0]
    message = first.get("message")
    text = message[:_MESSAGE_CHARS] if isinstance(message, str) else ""
    return f" ({_code(first) or 'error'}: {text})" if text else f" ({_code(first) or 'error'})"


def _embedded_error(errors: Sequence[Mapping[str, Any]]) -> tuple[str | None, ProviderError]:
    """The category and core error of a 2xx answer that holds only errors for our task."""
    category = _category(errors)
    where = f"{RUNWARE}: the task failed{_describe(errors)}"
    factory = _CATEGORY_ERRORS.get(category or "")
    if factory is None:
        return category, ProviderBadResponseError(where)
    return category, factory(where, None)


def _rejected(where: str, status: int | None) -> ProviderError:
    return ProviderRejectedError(where, status=status)


_CATEGORY_ERRORS: Final[Mapping[str, Callable[[str, int | None], ProviderError]]] = {
    "refused": lambda where, _: ContentRefusedError(where),
    "misconfigured": lambda where, status: ProviderMisconfiguredError(where, status=status),
    "rate_limited": lambda where, _: ProviderRateLimitedError(where),
    "timeout": lambda where, _: ProviderTimeoutError(where),
    "transient": lambda where, _: ProviderUnavailableError(where),
    "rejected": _rejected,
    "bad_response": lambda where, _: ProviderBadResponseError(where),
}


if TYPE_CHECKING:
    _conforms: type[ImageGenerator] = RunwareImageGenerator
