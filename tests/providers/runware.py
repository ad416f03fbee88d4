"""A fake Runware API on a real 127.0.0.1 socket (PROVIDERS §2.10).

`POST /v1` takes a JSON array of tasks, authenticated by `Authorization: Bearer <key>` or by a
first `{"taskType": "authentication", "apiKey": …}` element (401 `invalidApiKey` otherwise; 400
for a body that is not an array). Each `imageInference` task is validated (a known AIR id of
the default registry, sizes per §2.5 with `bfl:2@2`'s fixed pairs, no `steps`/`CFGScale`/
`negativePrompt` for BFL and ByteDance models, steps 1-100, numberResults 1-20, a prompt of
2-3000 characters): broken tasks get `errors[]` entries with `parameter` and `taskUUID` (400
when no task succeeded). A valid task gets one `data` entry per image, `cost` only with
`includeCost`, `NSFWContent` only with `safety`; the image itself (a small Pillow-made picture
of the asked size and format, made once per size) is served at the `imageURL`
(`http://127.0.0.1:<port>/image/<imageUUID>.webp`), without auth.

Faults are scripted in two FIFOs, one for inference requests (`script`) and one for image
downloads (`script_images`); when a FIFO is empty the answer is the happy path. `latency`
delays every inference by that many seconds per image, with an async sleep, so concurrent
requests overlap. Every request is recorded with its arrival time, and each inference run is
counted per `taskUUID` (`inferences`): that is what Runware would bill.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import io
import itertools
import json
import threading
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import attrs
from PIL import Image

from mynth_core.images.registry import DEFAULT_IMAGE_MODELS, ULTRA_SIZES
from providers.server import FakeServer, LoopbackServer, RecordedRequest, record_request

FAKE_API_KEY: Final = "rw-fake-api-key-for-tests-0000000000"
API: Final = "/v1"
IMAGE_PREFIX: Final = "/image/"
MODELS: Final = frozenset(m.provider_model for m in DEFAULT_IMAGE_MODELS)
FIXED_SIZES: Final[Mapping[str, frozenset[tuple[int, int]]]] = {"bfl:2@2": frozenset(ULTRA_SIZES)}
PROVIDER_DEFAULTS_ONLY: Final = ("bfl:", "bytedance:")  # no steps / CFGScale / negativePrompt
COSTS: Final[Mapping[str, float]] = {
    "runware:100@1": 0.0013,
    "runware:101@1": 0.0038,
    "bfl:1@1": 0.04,
    "bytedance:3@1": 0.03,
    "bfl:2@2": 0.06,
}
OUTPUT_TYPES: Final = frozenset({"URL", "base64Data", "dataURI"})
OUTPUT_FORMATS: Final[Mapping[str, tuple[str, str]]] = {
    "WEBP": ("WEBP", "image/webp"),
    "PNG": ("PNG", "image/png"),
    "JPG": ("JPEG", "image/jpeg"),
    "JPEG": ("JPEG", "image/jpeg"),
}
DEFAULT_QUALITY: Final = 95  # `outputQuality` when a task leaves it out
OVERSIZED: Final = 21 * 1024 * 1024  # past mynth's 20 MiB download cap

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
Task = Mapping[str, Any]


# --- scripted replies -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Reply:
    """One scripted answer to an inference request; the defaults give the happy path.

    A non-200 `status`, a `body` or `errors` is a fault sent as is (`errors` entries get the
    request's `taskUUID` and `taskType` filled in). Otherwise the request is authenticated,
    validated and answered, shaped by the other fields. Only a happy-path answer counts as an
    inference (`malformed` ones too: the image was made, the answer got lost).
    """

    status: int = 200
    body: bytes | None = None
    errors: tuple[Mapping[str, Any], ...] = ()
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds before the status line (slow first byte)
    no_response: bool = False  # close the connection without any response
    other_task: bool = False  # answer with data for another taskUUID
    also_errors: tuple[Mapping[str, Any], ...] = ()  # mixed: data plus these errors
    generic_error: Mapping[str, Any] | None = None  # the `{"error": …}` form, at `status`
    malformed: bool = False  # the happy answer's JSON, cut mid-object
    image_url: str | None = None  # serve this imageURL instead of the fake's own


def ok(**shape: Any) -> Reply:
    return Reply(**shape)


def slow(seconds: float) -> Reply:
    """The happy path after `seconds` of silence before the status line."""
    return Reply(delay=seconds)


def fault(
    status: int,
    code: str,
    message: str = "",
    *,
    parameter: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> Reply:
    """`status` with one `errors[]` entry about the request's task."""
    error: dict[str, Any] = {"code": code, "message": message or code}
    if parameter is not None:
        error["parameter"] = parameter
    return Reply(status=status, errors=(error,), headers=headers)


def insufficient_credits() -> Reply:
    return fault(402, "insufficientCredits", "Insufficient credits to run this task.")


def queue_full(retry_after: str | None = None) -> Reply:
    headers = () if retry_after is None else (("retry-after", retry_after),)
    return fault(429, "tooManyRequests", "The queue is full.", headers=headers)


def no_capacity() -> Reply:
    return fault(503, "noAvailableServer", "No server is available right now.")


def queue_timeout() -> Reply:
    return fault(504, "timeoutExceeded", "Maximum queue wait exceeded.")


def invalid(parameter: str = "positivePrompt") -> Reply:
    return fault(400, f"invalid{parameter[0].upper()}{parameter[1:]}", parameter=parameter)


def no_permission() -> Reply:
    return fault(403, "modelAccessDenied", "Your account may not use this model.")


def refused() -> Reply:
    return fault(400, "contentModerationFlagged", "The prompt was flagged by the safety check.")


def html_bad_gateway() -> Reply:
    body = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    return Reply(status=502, body=body, content_type="text/html")


def malformed() -> Reply:
    return Reply(malformed=True)


def mixed(code: str = "invalidModel") -> Reply:
    """The happy data, plus an error about some other task."""
    other = {"code": code, "message": "Another task failed.", "taskUUID": str(uuid.uuid4())}
    return Reply(also_errors=(other,))


def other_task() -> Reply:
    return Reply(other_task=True)


def generic_error(code: str, message: str = "", *, status: int = 200) -> Reply:
    """The generic `{"error": {…}, "taskUUID", "taskType"}` form."""
    return Reply(status=status, generic_error={"code": code, "message": message or code})


def connection_closed() -> Reply:
    return Reply(no_response=True)


def foreign_image(url: str = "http://169.254.169.254/latest/meta-data/") -> Reply:
    """A happy answer whose `imageURL` points elsewhere (an SSRF attempt)."""
    return Reply(image_url=url)


@attrs.frozen(kw_only=True)
class ImageReply:
    """One scripted answer to an image download; the default serves the image."""

    status: int = 200
    body: bytes | None = None  # None → the image
    content_type: str | None = None  # None → the image's type
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    truncate_at: int | None = None  # declare the full length, send this many bytes, close
    size: int | None = None  # stream this many filler bytes instead (chunked, no length)
    declare_length: bool = False  # with `size`: declare it in Content-Length


def image_missing() -> ImageReply:
    return ImageReply(status=404, body=b"Not Found", content_type="text/plain")


def image_truncated(at: int = 20) -> ImageReply:
    return ImageReply(truncate_at=at)


def image_not_image() -> ImageReply:
    return ImageReply(body=b"<html><body>Access denied</body></html>", content_type="text/html")


def image_garbage() -> ImageReply:
    """An image content type over bytes no decoder reads."""
    return ImageReply(body=b"RIFF\x00\x00\x00\x00WEBPVP8 garbage" * 4, content_type="image/webp")


def image_oversized(size: int = OVERSIZED, *, declare_length: bool = False) -> ImageReply:
    return ImageReply(size=size, declare_length=declare_length, content_type="image/webp")


def image_unavailable(status: int = 503) -> ImageReply:
    return ImageReply(status=status, body=b"busy", content_type="text/plain")


def image_slow(seconds: float) -> ImageReply:
    return ImageReply(delay=seconds)


def image_redirect(location: str) -> ImageReply:
    return ImageReply(
        status=302, body=b"", content_type="text/plain", headers=(("location", location),)
    )


# --- records ----------------------------------------------------------------------------------


@attrs.frozen
class RunwareRequest(RecordedRequest):
    """A request to the fake Runware, with its tasks read out."""

    @property
    def tasks(self) -> list[dict[str, Any]]:
        """The `imageInference` tasks of an inference request."""
        with contextlib.suppress(ValueError):
            body = self.json()
            if isinstance(body, list):
                return [
                    t for t in body if isinstance(t, dict) and t.get("taskType") != "authentication"
                ]
        return []


@attrs.frozen
class _Image:
    width: int
    height: int
    format: str  # an OUTPUT_FORMATS key
    quality: int  # the task's `outputQuality` (JPG and WEBP)


# --- the server -------------------------------------------------------------------------------


class FakeRunware(FakeServer):
    """Runware's REST API served by uvicorn in a thread on 127.0.0.1:<port 0>.

    Use `with FakeRunware.running() as fake:` (or `start()`/`stop()`) and point a client at
    `fake.base_url` with `fake.api_key`; allow downloads from `fake.download_host`.
    """

    def __init__(self, *, api_key: str = FAKE_API_KEY, latency: float = 0.0) -> None:
        self.api_key, self.latency = api_key, latency
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._image_script: deque[ImageReply] = deque()
        self._requests: list[RunwareRequest] = []
        self._inferences: Counter[str] = Counter()
        self._images: dict[str, _Image] = {}
        self._pictures: dict[_Image, bytes] = {}
        self._seeds = itertools.count(1894412033)
        self._loopback = LoopbackServer(self._app, name="fake-runware", log_level="critical")

    @property
    def download_host(self) -> str:
        """`127.0.0.1:<port>`, for the generator's `download_hosts`."""
        return self.address

    @property
    def base_url(self) -> str:
        """The API URL, as in `MYNTH_RUNWARE_BASE_URL` (`http://127.0.0.1:<port>/v1`)."""
        return f"http://{self.download_host}{API}"

    def image_url(self, image_uuid: str) -> str:
        return f"http://{self.download_host}{IMAGE_PREFIX}{image_uuid}.webp"

    # scripting and inspection

    def reset(self) -> None:
        """Drop scripted replies, records, counts and served images; latency back to 0."""
        with self._lock:
            self._script.clear()
            self._image_script.clear()
            self._requests.clear()
            self._inferences.clear()
            self._images.clear()
            self.latency = 0.0

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next inference requests, in order (then the happy path)."""
        with self._lock:
            self._script.extend(replies)

    def script_images(self, *replies: ImageReply) -> None:
        """Queue replies for the next image downloads, in order (then the image)."""
        with self._lock:
            self._image_script.extend(replies)

    @property
    def requests(self) -> tuple[RunwareRequest, ...]:
        with self._lock:
            return tuple(self._requests)

    @property
    def inference_requests(self) -> tuple[RunwareRequest, ...]:
        return tuple(r for r in self.requests if r.method == "POST")

    @property
    def image_requests(self) -> tuple[RunwareRequest, ...]:
        return tuple(r for r in self.requests if r.path.startswith(IMAGE_PREFIX))

    @property
    def inferences(self) -> Mapping[str, int]:
        """How many times each taskUUID was run (and would have been billed)."""
        with self._lock:
            return dict(self._inferences)

    # the ASGI app

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> object:
        if scope["type"] != "http":
            return None
        request = await record_request(scope, receive, RunwareRequest)
        with self._lock:
            self._requests.append(request)
        if request.method == "POST" and request.path.rstrip("/") == API:
            return await self._inference(request, send)
        if request.method == "GET" and request.path.startswith(IMAGE_PREFIX):
            return await self._image(request, send)
        await _respond(send, 404, _errors_body([_error("notFound", "No such route.")]))
        return None

    async def _inference(self, request: RunwareRequest, send: Send) -> object:
        with self._lock:
            reply = self._script.popleft() if self._script else Reply()
        tasks = _tasks(request)
        first = next((t for t in tasks or [] if isinstance(t, dict) and not _is_auth(t)), {})
        fault = reply.body is not None or reply.errors or reply.generic_error is not None
        if reply.no_response or fault or reply.status != 200:
            await self._pause(reply.delay)
            if reply.no_response:
                return "drop"  # uvicorn closes the connection when an app returns a value early
            return await self._fault(reply, first, send)
        # The work is done (and counted) on arrival; a slow reply only delays the answer.
        status, document = self._answer(request, tasks, reply)
        images = len(document.get("data", [])) if status == 200 else 0
        await self._pause(reply.delay + self.latency * images)
        body = json.dumps(document).encode()
        if reply.malformed:
            body = body[: len(body) // 2]
        await _respond(send, status, body, headers=reply.headers)
        return None

    async def _fault(self, reply: Reply, first: Task, send: Send) -> None:
        """A scripted status fault: `body` as is, else the generic or the `errors[]` form."""
        body = reply.body
        if body is None and reply.generic_error is not None:
            body = json.dumps(_generic(reply.generic_error, first)).encode()
        if body is None:
            body = _errors_body([_about(dict(e), first) for e in reply.errors])
        await _respond(send, reply.status, body, reply.content_type, reply.headers)

    def _answer(
        self, request: RunwareRequest, tasks: list[Any] | None, reply: Reply
    ) -> tuple[int, dict[str, Any]]:
        if tasks is None:
            error = _error("invalidPayload", "The request body must be a JSON array of tasks.")
            return 400, {"errors": [error]}
        if not self._authenticated(request, tasks):
            error = _error("invalidApiKey", "Invalid API key.", parameter="apiKey")
            return 401, {"errors": [error | {"taskType": "authentication"}]}
        work = [t for t in tasks if not _is_auth(t)]
        if not work:
            return 400, {"errors": [_error("missingTask", "No task to run.")]}
        data: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = [dict(e) for e in reply.also_errors]
        for task in work:
            problems = _validate(task)
            if problems:
                errors.extend(problems)
                continue
            data.extend(self._run(task, reply))
        document: dict[str, Any] = {"data": data}
        if errors:
            document["errors"] = errors
        return (200 if data else 400), document

    def _run(self, task: Task, reply: Reply) -> list[dict[str, Any]]:
        task_uuid = str(task["taskUUID"])
        with self._lock:
            self._inferences[task_uuid] += 1
        shown_uuid = str(uuid.uuid4()) if reply.other_task else task_uuid
        entries = []
        output_format = str(task.get("outputFormat", "JPG")).upper()
        for _ in range(int(task.get("numberResults", 1))):
            image_uuid = str(uuid.uuid4())
            image = _Image(
                int(task["width"]),
                int(task["height"]),
                output_format,
                int(task.get("outputQuality", DEFAULT_QUALITY)),
            )
            with self._lock:
                self._images[image_uuid] = image
            entry: dict[str, Any] = {
                "taskType": "imageInference",
                "taskUUID": shown_uuid,
                "imageUUID": image_uuid,
                "seed": next(self._seeds),
            }
            output_type = task.get("outputType", "URL")
            if output_type == "URL":
                entry["imageURL"] = reply.image_url or self.image_url(image_uuid)
            else:
                encoded = base64.b64encode(self._picture(image)).decode()
                if output_type == "base64Data":
                    entry["imageBase64Data"] = encoded
                else:
                    entry["imageDataURI"] = (
                        f"data:{OUTPUT_FORMATS[output_format][1]};base64,{encoded}"
                    )
            if task.get("includeCost") is True:
                entry["cost"] = COSTS.get(str(task["model"]), 0.001)
            if isinstance(task.get("safety"), dict):
                entry["NSFWContent"] = False
            entries.append(entry)
        return entries

    def _authenticated(self, request: RunwareRequest, tasks: list[Any]) -> bool:
        authorization = request.header("authorization") or ""
        if hmac.compare_digest(authorization.encode(), f"Bearer {self.api_key}".encode()):
            return True
        first = tasks[0] if tasks else None
        if isinstance(first, dict) and _is_auth(first):
            key = first.get("apiKey")
            return isinstance(key, str) and hmac.compare_digest(key.encode(), self.api_key.encode())
        return False

    async def _image(self, request: RunwareRequest, send: Send) -> object:
        with self._lock:
            reply = self._image_script.popleft() if self._image_script else ImageReply()
        image_uuid = request.path.removeprefix(IMAGE_PREFIX).rsplit(".", 1)[0]
        with self._lock:
            image = self._images.get(image_uuid)
        if reply.delay > 0:
            await self._pause(reply.delay)
        if reply.size is not None:
            return await _stream_filler(send, reply)
        if reply.body is not None:
            content_type = reply.content_type or "application/octet-stream"
            await _respond(send, reply.status, reply.body, content_type, reply.headers)
            return None
        if image is None:
            await _respond(send, 404, b"Not Found", "text/plain")
            return None
        body = await asyncio.to_thread(self._picture, image)  # a new size takes ~50 ms
        content_type = reply.content_type or OUTPUT_FORMATS[image.format][1]
        if reply.truncate_at is not None:
            headers = [
                (b"content-type", content_type.encode()),
                (b"content-length", b"%d" % len(body)),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send(
                {"type": "http.response.body", "body": body[: reply.truncate_at], "more_body": True}
            )
            return None  # returning mid-body makes uvicorn close the connection
        await _respond(send, reply.status, body, content_type, reply.headers)
        return None

    def _picture(self, image: _Image) -> bytes:
        """The image's bytes: a flat colour at its size, made once per size, format and quality.

        Pillow writes a lossy WebP in the simple format (one `VP8 ` chunk), as Runware does.
        """
        with self._lock:
            found = self._pictures.get(image)
        if found is None:
            pillow_format = OUTPUT_FORMATS.get(image.format, OUTPUT_FORMATS["JPG"])[0]
            buffer = io.BytesIO()
            picture = Image.new("RGB", (image.width, image.height), (70, 110, 160))
            options: dict[str, int] = {}
            if pillow_format in {"WEBP", "JPEG"}:
                options["quality"] = image.quality
            if pillow_format == "WEBP":
                options["method"] = 0
            picture.save(buffer, pillow_format, **options)
            found = buffer.getvalue()
            with self._lock:
                self._pictures[image] = found
        return found

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds` without blocking other requests, cut short by `stop()`."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            if self._loopback.stopping.is_set():
                return
            await asyncio.sleep(min(left, 0.05))


# --- helpers ----------------------------------------------------------------------------------


def _is_auth(task: object) -> bool:
    return isinstance(task, dict) and task.get("taskType") == "authentication"


def _tasks(request: RunwareRequest) -> list[Any] | None:
    """The request's task array, or None when the body is no JSON array."""
    try:
        body = request.json()
    except ValueError:
        return None
    return body if isinstance(body, list) else None


def _error(code: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **fields}


def _about(error: dict[str, Any], task: Task) -> dict[str, Any]:
    error.setdefault("taskType", task.get("taskType", "imageInference"))
    if "taskUUID" in task:
        error.setdefault("taskUUID", task["taskUUID"])
    return error


def _generic(error: Mapping[str, Any], task: Task) -> dict[str, Any]:
    return {
        "error": dict(error),
        "taskUUID": task.get("taskUUID"),
        "taskType": task.get("taskType", "imageInference"),
    }


def _errors_body(errors: list[dict[str, Any]]) -> bytes:
    return json.dumps({"errors": errors}).encode()


def _validate(task: Mapping[str, Any]) -> list[dict[str, Any]]:  # noqa: C901, PLR0912 - one check a line
    """The `errors[]` entries for a task Runware would refuse (400)."""
    task_uuid = task.get("taskUUID")
    problems: list[tuple[str, str, str]] = []  # (code, parameter, message)

    def bad(code: str, parameter: str, message: str) -> None:
        problems.append((code, parameter, message))

    if task.get("taskType") != "imageInference":
        bad("unsupportedTaskType", "taskType", "Only imageInference is supported here.")
    if not isinstance(task_uuid, str) or not _is_uuid(task_uuid):
        bad("invalidTaskUUID", "taskUUID", "taskUUID must be a UUID v4 string.")
    model = task.get("model")
    if model not in MODELS:
        bad("invalidModel", "model", f"Unknown model {model!r}.")
    prompt = task.get("positivePrompt")
    if not isinstance(prompt, str):
        bad("missingPositivePrompt", "positivePrompt", "positivePrompt is required.")
    elif not 2 <= len(prompt) <= 3000:
        bad("invalidPositivePrompt", "positivePrompt", "positivePrompt must be 2-3000 chars.")
    width, height = task.get("width"), task.get("height")
    fixed = FIXED_SIZES.get(str(model))
    if fixed is not None:
        if (width, height) not in fixed:
            bad("unsupportedDimensions", "width", "This model takes only its fixed sizes.")
    else:
        for name, side in (("width", width), ("height", height)):
            if not _int(side) or not 128 <= side <= 2048 or side % 64:
                bad(f"invalid{name.title()}", name, f"{name} must be 128-2048, a multiple of 64.")
    if isinstance(model, str) and model.startswith(PROVIDER_DEFAULTS_ONLY):
        for name in ("steps", "CFGScale", "negativePrompt"):
            if name in task:
                bad("unsupportedParameter", name, f"{name} is not supported by {model}.")
    steps = task.get("steps")
    if "steps" in task and (not _int(steps) or not 1 <= steps <= 100):
        bad("invalidSteps", "steps", "steps must be 1-100.")
    cfg = task.get("CFGScale")
    if "CFGScale" in task and (
        not isinstance(cfg, int | float) or isinstance(cfg, bool) or not 0 <= cfg <= 50
    ):
        bad("invalidCFGScale", "CFGScale", "CFGScale must be 0-50.")
    results = task.get("numberResults", 1)
    if not _int(results) or not 1 <= results <= 20:
        bad("invalidNumberResults", "numberResults", "numberResults must be 1-20.")
    if task.get("outputType", "URL") not in OUTPUT_TYPES:
        bad("invalidOutputType", "outputType", "outputType must be URL, base64Data or dataURI.")
    if str(task.get("outputFormat", "JPG")).upper() not in OUTPUT_FORMATS:
        bad("invalidOutputFormat", "outputFormat", "outputFormat must be JPG, PNG or WEBP.")
    quality = task.get("outputQuality", DEFAULT_QUALITY)
    if not _int(quality) or not 20 <= quality <= 99:
        bad("invalidOutputQuality", "outputQuality", "outputQuality must be 20-99.")
    return [
        {
            "code": code,
            "message": message,
            "parameter": parameter,
            "taskType": "imageInference",
            "taskUUID": task_uuid,
        }
        for code, parameter, message in problems
    ]


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    headers: tuple[tuple[str, str], ...] = (),
) -> None:
    raw = [
        (b"content-type", content_type.encode()),
        (b"content-length", b"%d" % len(body)),
        *((k.encode(), v.encode()) for k, v in headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _stream_filler(send: Send, reply: ImageReply) -> object:
    """`reply.size` filler bytes in 1 MiB chunks; stops early if the client goes away."""
    size = reply.size or 0
    headers = [(b"content-type", (reply.content_type or "image/webp").encode())]
    if reply.declare_length:
        headers.append((b"content-length", b"%d" % size))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    chunk = b"\x00" * (1024 * 1024)
    sent = 0
    try:
        while sent < size:
            piece = chunk[: min(len(chunk), size - sent)]
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            sent += len(piece)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except OSError:  # the client hung up at its cap
        return None
    return None
