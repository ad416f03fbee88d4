"""`OpenAICompatChatModel`: the `ChatModel` port over OpenRouter or any OpenAI-compatible server.

PROVIDERS §1 and PRODUCT §12: each model is tried with the text retry policy (3 attempts,
backoff 0.5 s then 1 s ±20 %, `Retry-After` honoured up to 10 s); OpenRouter falls back to the
other models server-side (`models`), any other server is asked for them one by one here.
A stream is retried only until its first content delta; after that an error is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
import httpx

from mynth_adapters.http_client import (
    RetryPolicy,
    decode_json,
    provider_client,
    transport_error,
)
from mynth_adapters.openrouter.sse import StreamState, sse_data
from mynth_adapters.openrouter.wire import (
    Answer,
    ErrorFactory,
    envelope_error,
    parse_answer,
    request_body,
    response_error,
)
from mynth_core.clock import Clock, SystemClock
from mynth_core.errors import (
    ProviderError,
    ProviderMisconfiguredError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from mynth_core.generation.ports import ChatModel, ChatRequest, Completion, TextDelta

_log = logging.getLogger(__name__)

T = TypeVar("T")

OPENROUTER: Final = "openrouter"
OPENAI_COMPATIBLE: Final = "openai_compatible"
OPENROUTER_HOST: Final = "openrouter.ai"
COMPLETIONS_PATH: Final = "/chat/completions"  # relative to the API root (`…/api/v1`)
# PROVIDERS §0.4 for both call kinds: a stream's read timeout is per gap between bytes
# (comments reset it); each call's overall limit is its `ChatRequest.timeout`.
CHAT_TIMEOUT: Final = httpx.Timeout(connect=5, read=60, write=10, pool=5)
# PRODUCT §12: up to 2 retries, 0.5 s then 1 s ±20 %, a Retry-After of at most 10 s. The
# budget is replaced by the time left of each call.
TEXT_RETRY: Final = RetryPolicy(
    attempts=3, budget=150, backoff_min=0.5, backoff_max=1.0, jitter=0.2, max_retry_after=10
)
ERROR_BODY_LIMIT: Final = 64 * 1024  # bytes of an error body worth reading
DRAIN_LIMIT: Final = 0.25  # seconds to wait for the body's end after `[DONE]`


def is_openrouter_url(url: str) -> bool:
    """Whether `url` is OpenRouter's API (its extras such as `models` may be sent)."""
    host = httpx.URL(url).host.lower()
    return host == OPENROUTER_HOST or host.endswith(f".{OPENROUTER_HOST}")


def chat_client(
    base_url: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The `AsyncClient` for a chat-completions API root (`https://openrouter.ai/api/v1`)."""
    return provider_client(base_url, CHAT_TIMEOUT, transport=transport)


@attrs.define
class _Calls:
    count: int = 0


@attrs.define
class _Live:
    """A stream that has started: its response stays open in `stack` until closed."""

    stack: contextlib.AsyncExitStack
    events: AsyncGenerator[str, None] | None  # None when the answer came as one JSON body
    state: StreamState
    first: str
    model: str
    generation_id: str | None


@attrs.frozen(kw_only=True)
class OpenAICompatChatModel:
    """Chat completions over `client` (its `base_url` is the API root, built by `chat_client`).

    `is_openrouter` enables OpenRouter's extras (`models`, `provider`, `usage`): use
    `is_openrouter_url(base_url)`. `referer` and `title` are OpenRouter's optional attribution
    headers. `retry` (its `sleep` included) and `clock` (for `Retry-After` dates) are test
    seams. An empty `api_key` sends no `Authorization` (local servers).
    """

    client: httpx.AsyncClient
    api_key: str = attrs.field(repr=False)
    is_openrouter: bool = True
    referer: str | None = None
    title: str | None = None
    retry: RetryPolicy = TEXT_RETRY
    clock: Clock = attrs.Factory(SystemClock)

    @property
    def provider(self) -> str:
        """`openrouter` or `openai_compatible`, as in `Completion.provider`."""
        return OPENROUTER if self.is_openrouter else OPENAI_COMPATIBLE

    async def complete(self, request: ChatRequest) -> Completion:
        calls = _Calls()
        attempt = functools.partial(self._complete_once, request, calls)
        return await self._across_models(request, _deadline(request.timeout), attempt)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[TextDelta | Completion, None]:
        calls, deadline = _Calls(), _deadline(request.timeout)
        attempt = functools.partial(self._open_stream, request, calls, deadline)
        live = await self._across_models(request, deadline, attempt)
        try:
            if live.first:
                yield TextDelta(live.first)
            while not live.state.done:
                data = await self._next_event(live, deadline, request.timeout)
                if data is None:
                    live.state.end_of_stream()
                    break
                if piece := live.state.feed(data):
                    yield TextDelta(piece)
            await _drain(live)
            yield self._completion(live.state, live.model, live.generation_id, calls)
        finally:  # also on `aclose()`: closing the response drops the upstream connection
            await live.stack.aclose()

    # --- retries and fallbacks ----------------------------------------------------------------

    async def _across_models(
        self,
        request: ChatRequest,
        deadline: float,
        attempt: Callable[[str, tuple[str, ...]], Awaitable[T]],
    ) -> T:
        """Run `attempt(model, fallbacks)` with retries, model after model, until one succeeds.

        Only a generic server is asked for each model in turn; a misconfigured key stops at
        once (it fails every model) and an expired deadline too. The last error is raised.
        """
        if self.is_openrouter:  # OpenRouter walks `models` itself
            plans = [(request.models[0], request.models[1:])]
        else:
            plans = [(model, ()) for model in request.models]
        failure: ProviderError = ProviderUnavailableError(f"{self.provider}: no model to try")
        for model, fallbacks in plans:
            remaining = deadline - _now()
            if remaining <= 0:
                raise ProviderTimeoutError(
                    f"{self.provider}: no answer within {request.timeout:g} s"
                ) from failure
            policy = attrs.evolve(self.retry, budget=remaining)
            try:
                return await policy.run(
                    functools.partial(attempt, model, fallbacks), provider=self.provider
                )
            except ProviderMisconfiguredError:  # the same key fails every model
                raise
            except ProviderError as exc:
                _log.warning("%s: model %s failed: %s", self.provider, model, exc)
                failure = exc
        raise failure

    # --- one call -----------------------------------------------------------------------------

    async def _complete_once(
        self, request: ChatRequest, calls: _Calls, model: str, fallbacks: tuple[str, ...]
    ) -> Completion:
        calls.count += 1
        body = request_body(
            request, model=model, fallbacks=fallbacks, openrouter=self.is_openrouter, stream=False
        )
        try:
            response = await self.client.post(
                COMPLETIONS_PATH, json=body, headers=self._headers(stream=False)
            )
        except httpx.TransportError as exc:
            raise self._transport(exc) from exc
        generation_id = response.headers.get("x-generation-id")
        if not response.is_success:
            self._log_refusal(response, generation_id)
            raise response_error(
                response,
                response.content[:ERROR_BODY_LIMIT],
                provider=self.provider,
                now=self.clock.now(),
            )
        document = decode_json(response, provider=self.provider)
        answer = parse_answer(document, provider=self.provider, error=self._embedded(response))
        state = _answered(self._state(response), answer)
        return self._completion(state, model, generation_id, calls)

    async def _open_stream(
        self,
        request: ChatRequest,
        calls: _Calls,
        deadline: float,
        model: str,
        fallbacks: tuple[str, ...],
    ) -> _Live:
        """Send the request and read up to the first content delta (all retried as one)."""
        calls.count += 1
        first_by = deadline
        if request.first_token_timeout is not None:  # per attempt: a stall is transient
            first_by = min(deadline, _now() + request.first_token_timeout)
        stack = contextlib.AsyncExitStack()
        try:
            async with asyncio.timeout_at(first_by):
                return await self._start(stack, request, model, fallbacks)
        except TimeoutError as exc:
            await stack.aclose()
            raise ProviderTimeoutError(f"{self.provider}: no first token in time") from exc
        except httpx.TransportError as exc:
            await stack.aclose()
            raise self._transport(exc) from exc
        except BaseException:
            await stack.aclose()
            raise

    async def _start(
        self,
        stack: contextlib.AsyncExitStack,
        request: ChatRequest,
        model: str,
        fallbacks: tuple[str, ...],
    ) -> _Live:
        body = request_body(
            request, model=model, fallbacks=fallbacks, openrouter=self.is_openrouter, stream=True
        )
        response = await stack.enter_async_context(
            self.client.stream(
                "POST", COMPLETIONS_PATH, json=body, headers=self._headers(stream=True)
            )
        )
        generation_id = response.headers.get("x-generation-id")
        if not response.is_success:
            self._log_refusal(response, generation_id)
            error_body = await _bounded_body(response, ERROR_BODY_LIMIT)
            raise response_error(response, error_body, provider=self.provider, now=self.clock.now())
        state = self._state(response)
        if "text/event-stream" not in response.headers.get("content-type", "").lower():
            # Plain JSON at 2xx: usually only `{"error": …}`, else the whole answer at once.
            await response.aread()
            document = decode_json(response, provider=self.provider)
            answer = parse_answer(document, provider=self.provider, error=self._embedded(response))
            state = _answered(state, answer)
            return _Live(stack, None, state, state.text, model, generation_id)
        events = sse_data(response.aiter_lines())
        stack.push_async_callback(events.aclose)
        live = _Live(stack, events, state, "", model, generation_id)
        while not state.done:
            data = await self._pull(live)
            if data is None:
                state.end_of_stream()
            elif piece := state.feed(data):
                live.first = piece
                break
        return live

    async def _next_event(self, live: _Live, deadline: float, limit: float) -> str | None:
        """The next event's data within the call's deadline; None at the end of the body."""
        try:
            async with asyncio.timeout_at(deadline):
                return await self._pull(live)
        except TimeoutError as exc:
            raise ProviderTimeoutError(
                f"{self.provider}: the stream did not finish within {limit:g} s"
            ) from exc

    async def _pull(self, live: _Live) -> str | None:
        if live.events is None:
            return None
        try:
            return await anext(live.events, None)
        except httpx.TransportError as exc:
            state = live.state
            if state.finish_reason is not None and state.usage is not None:
                return None  # cut after the answer was complete: accepted like an EOF
            raise self._transport(exc) from exc

    # --- helpers ------------------------------------------------------------------------------

    def _headers(self, *, stream: bool) -> dict[str, str]:
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        optional = {
            "Authorization": f"Bearer {self.api_key}" if self.api_key else None,
            "HTTP-Referer": self.referer,
            "X-OpenRouter-Title": self.title,
        }
        headers.update({k: v for k, v in optional.items() if v})
        return headers

    def _state(self, response: httpx.Response) -> StreamState:
        return StreamState(provider=self.provider, error=self._embedded(response))

    def _embedded(self, response: httpx.Response) -> ErrorFactory:
        now = self.clock.now()

        def error(document: Mapping[str, Any]) -> ProviderError:
            return envelope_error(
                document, provider=self.provider, headers=response.headers, now=now
            )

        return error

    def _transport(self, exc: httpx.TransportError) -> ProviderUnavailableError:
        if isinstance(exc, httpx.TimeoutException):
            return ProviderTimeoutError(f"{self.provider}: timed out ({type(exc).__name__})")
        return transport_error(exc, provider=self.provider)

    def _log_refusal(self, response: httpx.Response, generation_id: str | None) -> None:
        _log.info(
            "%s: HTTP %d from %s (generation %s)",
            self.provider,
            response.status_code,
            response.request.url.path,
            generation_id,
        )

    def _completion(
        self, state: StreamState, model: str, generation_id: str | None, calls: _Calls
    ) -> Completion:
        completion = Completion(
            text=state.text,
            model=state.model or model,
            provider=self.provider,
            finish_reason=state.finish_reason,
            usage=state.usage,
            cost_usd=state.cost_usd,
            generation_id=generation_id or state.generation_id,
            attempts=calls.count,
        )
        _log.info(
            "%s: %s answered (generation %s, %d attempt(s), finish %s, cost %s)",
            self.provider,
            completion.model,
            completion.generation_id,
            completion.attempts,
            completion.finish_reason,
            completion.cost_usd,
        )
        return completion


def _answered(state: StreamState, answer: Answer) -> StreamState:
    """`state` as if a whole non-streaming `answer` had been streamed."""
    state.parts = [answer.text] if answer.text else []
    state.model, state.finish_reason = answer.model, answer.finish_reason
    state.usage, state.cost_usd = answer.usage, answer.cost_usd
    state.generation_id, state.done = answer.generation_id, True
    return state


async def _drain(live: _Live) -> None:
    # Reading the body's end after `[DONE]` lets httpx keep the connection for the next call;
    # a server that holds the body open gets a moment, not a stalled reply.
    if live.events is None:
        return
    with contextlib.suppress(TimeoutError, httpx.TransportError):
        async with asyncio.timeout(DRAIN_LIMIT):
            async for _ in live.events:
                pass


async def _bounded_body(response: httpx.Response, limit: int) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) >= limit:
            break
    return bytes(body[:limit])


def _now() -> float:
    return asyncio.get_running_loop().time()


def _deadline(timeout: float) -> float:
    return _now() + timeout


if TYPE_CHECKING:
    _conforms: type[ChatModel] = OpenAICompatChatModel
