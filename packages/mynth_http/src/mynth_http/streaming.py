"""Running generations for HTTP: in tasks of their own, relayed as JSON or Server-Sent Events.

A generation runs in a task owned by the app's `GenerationRunner`, never in the request's own
task, so a client that disconnects cannot stop a signed-in generation half-way: it is still
stored (or refunded on failure). An anonymous generation is `detached=False`: it stops with
its client, and nothing of it is kept. At shutdown the runner gives running generations a
grace period, then cancels them (a cancelled generation refunds its charge).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any, Final, Generic, TypeVar

import attrs
import msgspec
from litestar import Request
from litestar.response import Stream

from mynth_core.generation.runs import Generation, Progress
from mynth_http.logging import RequestContext, current_request
from mynth_http.problems import problem_body

T = TypeVar("T")

EVENT_STREAM: Final = "text/event-stream"
KEEP_ALIVE_SECONDS: Final = 15.0  # a comment line keeps idle proxies from closing the stream
SHUTDOWN_GRACE_SECONDS: Final = 30.0
_log = logging.getLogger("mynth.http")


def wants_event_stream(request: Request[Any, Any, Any]) -> bool:
    """Whether the client asked for Server-Sent Events (`Accept: text/event-stream`)."""
    return EVENT_STREAM in request.headers.get("accept", "")


def sse(event: str, data: object) -> bytes:
    """One SSE event: `event: <name>` and one `data:` line of JSON."""
    return b"event: " + event.encode() + b"\ndata: " + msgspec.json.encode(data) + b"\n\n"


@attrs.frozen
class Shapes(Generic[T]):
    """How a generation's events look on the wire.

    `progress` gives `(event name, data)` for a progress event (None leaves it out); `done`
    gives the body of the result's `done` event.
    """

    progress: Callable[[Progress], tuple[str, object] | None]
    done: Callable[[T], object]


@attrs.define
class GenerationRunner:
    """Owns the tasks that run generations; `drain()` ends them at shutdown."""

    grace_seconds: float = SHUTDOWN_GRACE_SECONDS
    _tasks: set[asyncio.Task[Any]] = attrs.field(factory=set)

    def spawn(self, work: Any) -> asyncio.Task[Any]:  # noqa: ANN401 - any coroutine
        """Run `work` in a task that outlives the request, with the request's log context."""
        context = current_request.get()
        task = asyncio.get_running_loop().create_task(_with_context(work, context))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def result(self, generation: Generation[T]) -> T:
        """The generation's result; the request may go away, the generation still finishes."""
        task: asyncio.Task[T] = self.spawn(generation.result())
        return await asyncio.shield(task)

    def stream(self, generation: Generation[T], shapes: Shapes[T], *, detached: bool) -> Stream:
        """An SSE response: `partial` events, then exactly one `done` or `error` event.

        A `detached` generation keeps running when the client goes away; otherwise it is
        cancelled with the stream.
        """
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        task = self.spawn(_relay(generation, shapes, queue))

        async def body() -> AsyncGenerator[bytes, None]:
            try:
                while True:
                    try:
                        chunk = await asyncio.wait_for(queue.get(), KEEP_ALIVE_SECONDS)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    if chunk is None:
                        return
                    yield chunk
            finally:
                if not detached and not task.done():
                    task.cancel()

        return Stream(
            body(),
            status_code=200,  # the outcome travels in the `done` or `error` event
            media_type=EVENT_STREAM,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait up to the grace period for running generations, then cancel the rest."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self.grace_seconds)
        for task in pending:
            task.cancel()
        if pending:
            _log.warning("generations cancelled at shutdown: %d", len(pending))
            await asyncio.wait(pending)


async def _with_context(work: Any, context: RequestContext | None) -> Any:  # noqa: ANN401
    current_request.set(context)
    return await work


async def _relay(
    generation: Generation[T], shapes: Shapes[T], queue: asyncio.Queue[bytes | None]
) -> None:
    """Copy the generation's events into `queue` as SSE bytes, then `None` to end it."""
    try:
        async with contextlib.aclosing(generation.events) as events:
            async for event in events:
                if isinstance(event, Progress):
                    if (shaped := shapes.progress(event)) is not None:
                        queue.put_nowait(sse(*shaped))
                else:
                    queue.put_nowait(sse("done", shapes.done(event)))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes the stream's `error` event
        queue.put_nowait(sse("error", problem_body(exc)))
    finally:
        queue.put_nowait(None)
