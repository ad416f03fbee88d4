"""A fake OpenRouter API on a real 127.0.0.1 socket (PROVIDERS §1.12).

`POST /api/v1/chat/completions` answers in JSON or SSE (`"stream": true`) with an
`X-Generation-Id`; `GET /api/v1/models` (no auth), `/api/v1/key` and `/api/v1/generation?id=`
are served too. Unscripted chat requests get the happy path: text derived from the last user
message, or a valid JSON object for a `json_schema` response format. Scripted `Reply`s
(PROVIDERS §0.5 faults and stream shapes) answer the next chat requests in order; `fail_model`
makes a model fail until `reset()`, which exercises `models` fallbacks. Every request is
recorded, and every chat response as a `Served` with the monotonic times its first content
event was written and its body ended (for relay-overhead and per-turn benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import parse_qs

import attrs

from providers.server import FakeServer, LoopbackServer, RecordedRequest, record_request

FAKE_API_KEY: Final = "sk-or-v1-fake0api0key0for0tests"
API: Final = "/api/v1"
COMPLETIONS_PATH: Final = f"{API}/chat/completions"
PRIMARY: Final = "anthropic/claude-haiku-4.5"
FALLBACK: Final = "openai/gpt-4o-mini"
CATALOGUE: Final = (PRIMARY, FALLBACK, "meta-llama/llama-3.3-70b-instruct")
PROVIDER_KEYS: Final = frozenset(
    {"order", "allow_fallbacks", "require_parameters", "data_collection", "zdr", "only"}
    | {"ignore", "quantizations", "sort", "max_price"}
)
PROCESSING: Final = b": OPENROUTER PROCESSING\n\n"

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
UsageChunk = Literal["empty", "repeated", "inline", "none"]


# --- scripted replies -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Reply:
    """One scripted answer to a chat request. Defaults give the happy path in either mode.

    A non-200 `status` or a `body` is sent as is (a status fault). Otherwise the answer is
    shaped by the other fields; stream-only fields are ignored by a JSON answer.
    """

    status: int = 200
    body: bytes | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds before the status line (slow first byte)
    no_response: bool = False  # close the connection without any response
    text: str | None = None  # the content; None → derived from the request
    null_content: bool = False  # `message.content: null` (JSON mode)
    model: str | None = None  # the served model; None → the requested one (or a fallback)
    finish_reason: str = "stop"  # stop | length | content_filter | error
    error_code: int | str = 502  # of `finish_reason: "error"` and of a mid-stream error
    # stream shape (counts are of `data:` events unless named otherwise)
    chunks: tuple[str, ...] | None = None  # content pieces; None → the text word by word
    chunk_delay: float | None = None  # between content chunks; None → the fake's default
    comments_for: float = 0.0  # only `: OPENROUTER PROCESSING` comments this long at first
    gap: float = 0.0  # silence after the first content chunk
    usage_chunk: UsageChunk = "empty"  # choices: [] | the choice repeated | on the finish chunk
    done: bool = True  # end with `data: [DONE]`
    error_after: int | None = None  # a mid-stream error event after this many content chunks
    done_after_error: bool = False
    truncate_after: int | None = None  # end the body after this many events
    abrupt: bool = False  # truncate by dropping the connection, not ending the body
    malformed_at: int | None = None  # this event's JSON is cut in half


def ok(text: str | None = None, **shape: Any) -> Reply:
    """The happy path, optionally with fixed `text` or another stream shape."""
    return Reply(text=text, **shape)


def error_envelope(code: int | str, message: str, **metadata: Any) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if metadata:
        error["metadata"] = metadata
    return json.dumps({"error": error}).encode()


def status_fault(
    status: int, message: str, *, headers: tuple[tuple[str, str], ...] = (), **metadata: Any
) -> Reply:
    """Any status with OpenRouter's error envelope (`error.code` = the status)."""
    return Reply(status=status, body=error_envelope(status, message, **metadata), headers=headers)


def rate_limited(retry_after: str | None = "1", *, reset_ms: int = 1767225660000) -> Reply:
    """429 with `Retry-After` (seconds or an HTTP-date) and the platform's `X-RateLimit-*`."""
    headers = [("x-ratelimit-limit", "20"), ("x-ratelimit-remaining", "0")]
    headers.append(("x-ratelimit-reset", str(reset_ms)))
    if retry_after is not None:
        headers.append(("retry-after", retry_after))
    return status_fault(
        429,
        "Rate limit exceeded",
        headers=tuple(headers),
        error_type="rate_limit_exceeded",
        provider_code="rate_limited",
    )


def payment_required(retry_after: str | None = None) -> Reply:
    """402: out of credits, or (with `Retry-After`) the in-flight budget, the retryable one."""
    if retry_after is None:
        return status_fault(402, "Insufficient credits", error_type="payment_required")
    return status_fault(
        402,
        "In-flight budget exceeded",
        headers=(("retry-after", retry_after),),
        error_type="payment_required",
        limit_source="openrouter_in_flight_budget",
    )


def no_endpoints(model: str = PRIMARY) -> Reply:
    return status_fault(404, f"No endpoints found for {model}.")


def bad_gateway() -> Reply:
    return status_fault(502, "Provider returned error", error_type="provider_unavailable")


def overloaded(retry_after: str | None = None) -> Reply:
    headers = () if retry_after is None else (("retry-after", retry_after),)
    return status_fault(
        503,
        "No available provider meets your routing requirements",
        headers=headers,
        error_type="provider_overloaded",
    )


def moderation() -> Reply:
    """403 from the moderation layer, with `reasons` and `flagged_input`."""
    return status_fault(
        403,
        "Input was flagged by moderation",
        error_type="content_policy_violation",
        reasons=["violence"],
        flagged_input="…",
        provider_name="OpenAI",
    )


def html_bad_gateway() -> Reply:
    """A proxy's HTML 502 page: not JSON at all."""
    body = b"<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"
    return Reply(status=502, body=body, content_type="text/html")


def error_only(code: int | str = 502, message: str = "Provider returned error") -> Reply:
    """A 200 whose JSON body is only `{"error": …}` (also to a streaming request)."""
    return Reply(body=error_envelope(code, message))


def finish_error(code: int | str = 502, partial: str = "The lamp") -> Reply:
    """A 200 whose choice ends with `finish_reason: "error"` after `partial` content."""
    return Reply(text=partial, finish_reason="error", error_code=code)


def mid_stream_error(after: int = 2, code: int | str = 502, *, done: bool = False) -> Reply:
    """An SSE error event after `after` content chunks (integer or string `code`)."""
    return Reply(error_after=after, error_code=code, done_after_error=done)


def truncated(after: int = 2, *, abrupt: bool = False) -> Reply:
    """An SSE body that ends (or, `abrupt`, whose connection drops) after `after` events."""
    return Reply(truncate_after=after, abrupt=abrupt)


def malformed(at: int = 1) -> Reply:
    """An SSE stream whose event number `at` (from 0) carries JSON cut mid-object."""
    return Reply(malformed_at=at)


def invalid_json() -> Reply:
    """A schema request answered with JSON that does not parse."""
    return Reply(text='{"name": "Ada Varga", "age": ')


def slow(seconds: float) -> Reply:
    """The happy path after `seconds` of silence before the status line."""
    return Reply(delay=seconds)


def connection_closed() -> Reply:
    """The connection closes without a response (`RemoteProtocolError` in httpx)."""
    return Reply(no_response=True)


def http_date(at: datetime) -> str:
    """`at` as an RFC 9110 HTTP-date (`Wed, 01 Jan 2026 00:00:07 GMT`)."""
    return at.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


# --- records ----------------------------------------------------------------------------------


@attrs.define
class Served:
    """One chat response as it went out; times are `time.monotonic()` (None: never happened)."""

    request: RecordedRequest
    status: int = 200  # 0: the connection was closed with no response
    stream: bool = False
    model: str | None = None
    generation_id: str | None = None
    first_byte_at: float | None = None  # the status line
    first_content_at: float | None = None  # the first content event (or the JSON body)
    events: int = 0  # `data:` events written
    completed: bool = False  # the body ended as scripted
    completed_at: float | None = None  # right after the body's last write
    disconnected: bool = False  # the client went away before the end


# --- the server -------------------------------------------------------------------------------


class _CutError(Exception):
    """The scripted stream stops here (a truncation or a client that went away)."""


class FakeOpenRouter(FakeServer):
    """OpenRouter's chat API served by uvicorn in a thread on 127.0.0.1:<port 0>.

    Use `with FakeOpenRouter.running() as fake:` (or `start()`/`stop()`) and point a client at
    `fake.base_url` with `fake.api_key`. `chunk_delay` paces streamed content chunks.
    """

    def __init__(self, *, api_key: str = FAKE_API_KEY, chunk_delay: float = 0.0) -> None:
        self.api_key, self.chunk_delay = api_key, chunk_delay
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._failing: dict[str, Reply] = {}
        self._requests: list[RecordedRequest] = []
        self._served: list[Served] = []
        self._generations: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._loopback = LoopbackServer(self._app, name="fake-openrouter", log_level="critical")

    @property
    def base_url(self) -> str:
        """The API root, as in `MYNTH_OPENROUTER_BASE_URL` (`http://127.0.0.1:<port>/api/v1`)."""
        return f"http://{self.address}{API}"

    # scripting and inspection

    def reset(self) -> None:
        """Drop scripted replies, failing models, records and generations."""
        with self._lock:
            self._script.clear()
            self._failing.clear()
            self._requests.clear()
            self._served.clear()
            self._generations.clear()

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next chat requests, in order (then the happy path again)."""
        with self._lock:
            self._script.extend(replies)

    def fail_model(self, model: str, reply: Reply | None = None) -> None:
        """Make `model` fail (default: 404 no endpoints) until `reset()`; `models` fall back."""
        with self._lock:
            self._failing[model] = reply or no_endpoints(model)

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        with self._lock:
            return tuple(self._requests)

    @property
    def chat_requests(self) -> tuple[RecordedRequest, ...]:
        return tuple(r for r in self.requests if r.path == COMPLETIONS_PATH)

    @property
    def served(self) -> tuple[Served, ...]:
        """The chat responses, in arrival order (a streamed one is updated as it goes)."""
        with self._lock:
            return tuple(self._served)

    def generation(self, generation_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._generations.get(generation_id)
            return None if found is None else dict(found)

    # the ASGI app

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> object:
        if scope["type"] != "http":
            return None
        request = await record_request(scope, receive, RecordedRequest)
        with self._lock:
            self._requests.append(request)
        gone = asyncio.Event()
        watcher = asyncio.create_task(_watch(receive, gone))
        try:
            if request.path == COMPLETIONS_PATH and request.method == "POST":
                return await self._chat(request, send, gone)
            await _respond(send, self._route(request))
            return None
        finally:
            watcher.cancel()

    def _route(self, request: RecordedRequest) -> Reply:
        if request.method == "GET" and request.path == f"{API}/models":
            return Reply(body=json.dumps({"data": [_model_entry(m) for m in CATALOGUE]}).encode())
        if (refused := self._unauthorized(request)) is not None:
            return refused
        if request.method == "GET" and request.path == f"{API}/key":
            with self._lock:
                spent = sum(g["total_cost"] for g in self._generations.values())
            key = {"label": "sk-or-v1-fak...", "limit": None, "limit_remaining": None}
            key |= {"usage": spent, "is_free_tier": False, "rate_limit": {"requests": 20}}
            return Reply(body=json.dumps({"data": key}).encode())
        if request.method == "GET" and request.path == f"{API}/generation":
            found = self.generation(parse_qs(request.query).get("id", [""])[0])
            if found is None:
                return status_fault(404, "Generation not found")
            return Reply(body=json.dumps({"data": found}).encode())
        return status_fault(404, "Not Found")

    def _unauthorized(self, request: RecordedRequest) -> Reply | None:
        authorization = request.header("authorization")
        if not authorization:
            return status_fault(401, "No cookie auth credentials found")
        if not hmac.compare_digest(authorization, f"Bearer {self.api_key}"):
            return status_fault(401, "User not found.")
        return None

    async def _chat(self, request: RecordedRequest, send: Send, gone: asyncio.Event) -> object:
        with self._lock:
            reply = self._script.popleft() if self._script else None
        payload: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            decoded = request.json()
            payload = decoded if isinstance(decoded, dict) else {}
        if reply is None:
            reply = self._unauthorized(request) or _invalid(payload) or self._serve(payload)
        served = Served(request=request, stream=payload.get("stream") is True)
        with self._lock:
            self._served.append(served)
        if reply.delay > 0:
            await self._pause(reply.delay, gone)
        if reply.no_response or gone.is_set():
            # uvicorn drops the connection, sending nothing, when an app returns a value
            # before starting its response: the only way to close a connection through ASGI.
            served.status, served.disconnected = 0, gone.is_set()
            return "drop"
        served.status = reply.status
        if reply.status != 200 or reply.body is not None:
            served.first_byte_at = time.monotonic()
            await _respond(send, reply)
            served.completed = True
            served.completed_at = time.monotonic()
            return None
        answer = self._answer(payload, reply, served)
        if served.stream:
            return await self._stream(answer, reply, served, send, gone)
        served.first_byte_at = served.first_content_at = time.monotonic()
        await _respond(send, Reply(body=json.dumps(answer.document()).encode()), answer.headers)
        served.completed = True
        served.completed_at = time.monotonic()
        return None

    def _serve(self, payload: Mapping[str, Any]) -> Reply:
        """The happy path, or the failure of every model in `model` + `models` (the last one)."""
        candidates = [payload["model"], *payload.get("models", [])]
        with self._lock:
            for model in candidates:
                if model not in self._failing:
                    return Reply(model=model)
            return self._failing[candidates[-1]]

    def _answer(self, payload: Mapping[str, Any], reply: Reply, served: Served) -> _Answer:
        text = _default_text(payload) if reply.text is None else reply.text
        text = text if reply.chunks is None else "".join(reply.chunks)
        generation_id = f"gen-{int(time.time())}-{next(self._ids):06d}"
        model = reply.model or str(payload.get("model") or PRIMARY)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in _messages(payload))
        answer = _Answer(
            id=generation_id,
            model=model,
            text=None if reply.null_content else text,
            finish_reason=reply.finish_reason,
            error_code=reply.error_code,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(text.split()),
        )
        served.model, served.generation_id = model, generation_id
        with self._lock:
            self._generations[generation_id] = answer.generation(streamed=served.stream)
        return answer

    async def _stream(
        self, answer: _Answer, reply: Reply, served: Served, send: Send, gone: asyncio.Event
    ) -> object:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        headers += [(k.encode(), v.encode()) for k, v in answer.headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        served.first_byte_at = time.monotonic()
        delay = self.chunk_delay if reply.chunk_delay is None else reply.chunk_delay
        writer = _SseWriter(send, reply, served, gone, self._pause)
        try:
            await writer.play(answer, delay)
        except _CutError:
            if gone.is_set():
                served.disconnected = True
                return None
            if reply.abrupt:
                return None  # uvicorn closes the connection mid-body
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        served.completed = True
        served.completed_at = time.monotonic()
        return None

    async def _pause(self, seconds: float, gone: asyncio.Event) -> None:
        """Sleep `seconds`, cut short by a client that went away or by `stop()`."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0 and not gone.is_set():
            if self._loopback.stopping.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gone.wait(), min(left, 0.05))


@attrs.frozen(kw_only=True)
class _Answer:
    id: str
    model: str
    text: str | None
    finish_reason: str
    error_code: int | str
    prompt_tokens: int
    completion_tokens: int

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return (("x-generation-id", self.id),)

    def usage(self) -> dict[str, Any]:
        total = self.prompt_tokens + self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": total,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
            "cost": self.cost,
            "is_byok": False,
        }

    @property
    def cost(self) -> float:
        return round((self.prompt_tokens + 2 * self.completion_tokens) * 1e-6, 9)

    def envelope(self, **fields: Any) -> dict[str, Any]:
        base = {"id": self.id, "created": int(time.time()), "model": self.model}
        return base | {"provider": "FakeProvider"} | fields

    def choice(self, **fields: Any) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, **fields}
        if fields.get("finish_reason") == "error":
            choice["error"] = {"code": self.error_code, "message": "Provider disconnected"}
        return choice

    def document(self) -> dict[str, Any]:
        message = {"role": "assistant", "content": self.text}
        choice = self.choice(
            finish_reason=self.finish_reason,
            native_finish_reason=self.finish_reason,
            message=message,
        )
        return self.envelope(object="chat.completion", choices=[choice], usage=self.usage())

    def chunk(self, *choices: dict[str, Any], **fields: Any) -> dict[str, Any]:
        return self.envelope(object="chat.completion.chunk", choices=list(choices), **fields)

    def error_event(self) -> dict[str, Any]:
        error = {"code": self.error_code, "message": "Provider disconnected unexpectedly"}
        error["metadata"] = {"error_type": "provider_unavailable"}
        choice = self.choice(delta={"content": ""}, finish_reason="error")
        return self.chunk(choice, error=error)

    def generation(self, *, streamed: bool) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "streamed": streamed,
            "total_cost": self.cost,
            "tokens_prompt": self.prompt_tokens,
            "tokens_completion": self.completion_tokens,
            "finish_reason": self.finish_reason,
            "created_at": datetime.now(UTC).isoformat(),
            "provider_name": "FakeProvider",
        }


@attrs.define
class _SseWriter:
    """Writes one scripted SSE body; raises `_CutError` where the script (or the client) ends it."""

    send: Send
    reply: Reply
    served: Served
    gone: asyncio.Event
    pause: Callable[[float, asyncio.Event], Awaitable[None]]

    async def play(self, answer: _Answer, delay: float) -> None:
        reply = self.reply
        await self._write(PROCESSING)
        if reply.comments_for > 0:
            await self._comments(reply.comments_for)
        pieces = reply.chunks if reply.chunks is not None else _words(answer.text or "")
        for index, piece in enumerate(pieces):
            if reply.error_after == index:
                return await self._error(answer)
            if index == 1:
                await self._write(PROCESSING)  # comments come between chunks too
            delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
            await self.data(
                answer.chunk(answer.choice(delta=delta, finish_reason=None)), content=True
            )
            if index == 0 and reply.gap > 0:
                await self.pause(reply.gap, self.gone)
            elif delay > 0:
                await self.pause(delay, self.gone)
        if reply.error_after is not None:
            return await self._error(answer)
        return await self._finish(answer)

    async def _finish(self, answer: _Answer) -> None:
        finish = answer.choice(delta={"content": ""}, finish_reason=answer.finish_reason)
        usage_chunk = self.reply.usage_chunk
        if usage_chunk == "inline":
            await self.data(answer.chunk(finish, usage=answer.usage()))
        else:
            await self.data(answer.chunk(finish))
        if usage_chunk == "empty":
            await self.data(answer.chunk(usage=answer.usage()))
        elif usage_chunk == "repeated":
            repeated = answer.choice(delta={}, finish_reason=answer.finish_reason)
            await self.data(answer.chunk(repeated, usage=answer.usage()))
        if self.reply.done:
            await self.data("[DONE]")

    async def _error(self, answer: _Answer) -> None:
        await self.data(answer.error_event())
        if self.reply.done_after_error:
            await self.data("[DONE]")

    async def _comments(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await self.pause(min(0.05, end - time.monotonic()), self.gone)
            await self._write(PROCESSING)

    async def data(self, event: dict[str, Any] | str, *, content: bool = False) -> None:
        reply, served = self.reply, self.served
        if reply.truncate_after is not None and served.events >= reply.truncate_after:
            raise _CutError
        text = event if isinstance(event, str) else json.dumps(event)
        if reply.malformed_at == served.events:
            text = text[: len(text) // 2]
        await self._write(f"data: {text}\n\n".encode())
        served.events += 1
        if content and served.first_content_at is None:
            served.first_content_at = time.monotonic()

    async def _write(self, chunk: bytes) -> None:
        if self.gone.is_set():
            raise _CutError
        await self.send({"type": "http.response.body", "body": chunk, "more_body": True})


# --- helpers ----------------------------------------------------------------------------------


async def _watch(receive: Receive, gone: asyncio.Event) -> None:
    """Set `gone` on `http.disconnect` (also sent once the response is complete)."""
    message = await receive()
    if message["type"] == "http.disconnect":
        gone.set()


async def _respond(send: Send, reply: Reply, extra: tuple[tuple[str, str], ...] = ()) -> None:
    body = reply.body or b""
    headers = [
        (b"content-type", reply.content_type.encode()),
        (b"content-length", b"%d" % len(body)),
        *((k.encode(), v.encode()) for k, v in (*reply.headers, *extra)),
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _invalid(payload: Mapping[str, Any]) -> Reply | None:
    """400 for a body OpenRouter would refuse (the checks mynth could get wrong)."""
    if not isinstance(payload.get("model"), str) or not _messages(payload):
        return status_fault(400, "Input required: specify model and messages")
    models = payload.get("models", [])
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        return status_fault(400, "models must be an array of model ids")
    provider = payload.get("provider", {})
    unknown = sorted(set(provider) - PROVIDER_KEYS) if isinstance(provider, dict) else []
    if unknown:
        keys = ", ".join(f"'{k}'" for k in unknown)
        return status_fault(400, f"Unrecognized key(s) in object: {keys}")
    return None


def _messages(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    messages = payload.get("messages")
    if not isinstance(messages, list):
        return []
    return [m for m in messages if isinstance(m, dict)]


def _default_text(payload: Mapping[str, Any]) -> str:
    response_format = payload.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema", {}).get("schema", {})
        return json.dumps(example_for(schema))
    users = [m for m in _messages(payload) if m.get("role") == "user"]
    last = str(users[-1].get("content", "")) if users else ""
    return f"You said: {last}" if last else "Hello from the fake OpenRouter."


def example_for(schema: Mapping[str, Any], name: str = "value") -> Any:
    """A value valid for a JSON Schema: each required property filled, enums' first value,
    nullable → a string, arrays → one item (`{key, value}` pairs get a real-looking pair)."""
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = "string" if "string" in kind else next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        if set(properties) == {"key", "value"}:
            return {"key": "favourite_colour", "value": "teal"}
        required = schema.get("required", list(properties))
        return {key: example_for(properties.get(key, {}), key) for key in required}
    if kind == "array":
        return [example_for(schema.get("items", {}), name)]
    samples: dict[str, Any] = {"integer": 42, "number": 1.5, "boolean": True, "null": None}
    return samples.get(kind, f"Fake {name.replace('_', ' ')}")


def _words(text: str) -> tuple[str, ...]:
    """`text` in word-sized pieces that join back to it."""
    pieces, current = [], ""
    for char in text:
        current += char
        if char == " ":
            pieces.append(current)
            current = ""
    return (*pieces, current) if current else tuple(pieces)


def _model_entry(model: str) -> dict[str, Any]:
    return {
        "id": model,
        "canonical_slug": model,
        "name": model.rsplit("/", maxsplit=1)[-1],
        "context_length": 128000,
        "architecture": {"modality": "text->text"},
        "pricing": {"prompt": "0.000001", "completion": "0.000002", "request": "0", "image": "0"},
        "top_provider": {"context_length": 128000, "max_completion_tokens": 16384},
        "supported_parameters": [
            "max_tokens",
            "temperature",
            "response_format",
            "structured_outputs",
            "seed",
        ],
    }
