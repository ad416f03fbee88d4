"""Running a generation: model choice, structured streaming, and the outcome record.

A use case checks and charges first, then hands the caller a `Generation`: an async
iterator of `Partial` objects that ends with exactly one result (or raises). The caller
either relays it (SSE) or awaits `result()`. Every generation ends with one
`GenerationRecord` for the `GenerationLog` port (PRODUCT.md §11.1).
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from typing import Generic, Protocol, TypeVar

import attrs

from mynth_core.errors import (
    GenerationEmptyError,
    GenerationInvalidError,
    MynthError,
    ProviderError,
    ProviderMisconfiguredError,
    ProviderRejectedError,
    ProviderTimeoutError,
    UnknownModelError,
)
from mynth_core.generation.partial import PartialObject, loads_object
from mynth_core.generation.ports import ChatModel, ChatRequest, Completion, Usage

T = TypeVar("T")
R = TypeVar("R")

STRUCTURED_ATTEMPTS = 2  # "a structured output that fails to parse or validate is retried once"


class Progress:
    """Base of the events a generation yields before its result."""

    __slots__ = ()


@attrs.frozen
class Partial(Progress):
    """The structured object generated so far (fields fill in as the model writes)."""

    fields: Mapping[str, object]


@attrs.frozen
class Generation(Generic[T]):
    """A started generation: `events` yields `Progress`, then exactly one `T` as the last item.

    Iterate it to the end (or close it): finishing is what stores the result or refunds the
    charge. `replayed` marks the answer to a repeated `Idempotency-Key`.
    """

    events: AsyncGenerator[Progress | T, None]
    replayed: bool = False

    async def result(self) -> T:
        """Run to the end and return the result, ignoring the partial objects."""
        results = [event async for event in self.events if not isinstance(event, Progress)]
        if len(results) != 1:
            msg = "a generation must end with exactly one result"
            raise AssertionError(msg)
        return results[0]

    @classmethod
    def of(cls, value: T, *, replayed: bool = False) -> Generation[T]:
        """A generation that is already finished (a replay)."""

        async def once() -> AsyncGenerator[Progress | T, None]:
            yield value

        return cls(once(), replayed=replayed)


@attrs.frozen
class WeightedModels:
    """A model set drawn by weight: one primary plus up to `fallbacks` others, in draw order.

    The random source is injected so tests are deterministic.
    """

    weights: tuple[tuple[str, float], ...]
    fallbacks: int = 2
    rng: random.Random = attrs.field(factory=random.Random, eq=False)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(model for model, _ in self.weights)

    def choose(self, explicit: str | None = None) -> tuple[str, ...]:
        """`(explicit,)` alone, or a weighted draw without replacement.

        Raises:
            UnknownModelError: `explicit` is not in the set.
        """
        if explicit is not None:
            if explicit not in self.ids:
                raise UnknownModelError(explicit)
            return (explicit,)
        pool = list(self.weights)
        chosen: list[str] = []
        while pool and len(chosen) <= self.fallbacks:
            pick = self.rng.choices(range(len(pool)), weights=[w for _, w in pool])[0]
            chosen.append(pool.pop(pick)[0])
        return tuple(chosen)


class Outcome(enum.StrEnum):
    """How one generation ended (the `outcome` of its log event)."""

    SUCCESS = "success"
    FAILED = "failed"
    EMPTY = "empty"
    NO_CHANGE = "no_change"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


@attrs.frozen(kw_only=True)
class GenerationRecord:
    """Everything §11.1 logs about one generation; None where it does not apply."""

    operation: str
    outcome: Outcome
    provider: str | None = None
    model_requested: str | None = None
    model: str | None = None
    attempts: int = 0
    usage: Usage | None = None
    provider_cost_usd: float | None = None
    tokens_charged: int = 0
    tokens_refunded: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    persona_id: str | None = None
    version_id: str | None = None
    chat_id: str | None = None
    message_id: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    provider_status: int | None = None


class GenerationLog(Protocol):
    """**Port**: where generation outcomes go (a structured log event each)."""

    def record(self, record: GenerationRecord) -> None: ...


@attrs.define(kw_only=True)
class Trace:
    """Collects the facts of one generation while it runs, then writes its record."""

    operation: str
    models: tuple[str, ...] = ()
    persona_id: str | None = None
    version_id: str | None = None
    chat_id: str | None = None
    message_id: str | None = None
    tokens_charged: int = 0
    tokens_refunded: int = 0
    completion: Completion | None = None
    attempts: int = 0
    ttft_ms: float | None = None
    outcome: Outcome = Outcome.SUCCESS
    started: float = attrs.field(factory=time.perf_counter)

    def first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = self._elapsed_ms()

    def finish(self, error: BaseException | None = None) -> GenerationRecord:
        """The record of the generation: its `outcome`, or how `error` ended it."""
        completion = self.completion
        outcome = self.outcome if error is None else outcome_of(error)
        return GenerationRecord(
            operation=self.operation,
            outcome=outcome,
            provider=completion.provider if completion else None,
            model_requested=self.models[0] if self.models else None,
            model=completion.model if completion else None,
            attempts=self.attempts,
            usage=completion.usage if completion else None,
            provider_cost_usd=completion.cost_usd if completion else None,
            tokens_charged=self.tokens_charged,
            tokens_refunded=self.tokens_refunded,
            latency_ms=round(self._elapsed_ms(), 1),
            ttft_ms=None if self.ttft_ms is None else round(self.ttft_ms, 1),
            persona_id=self.persona_id,
            version_id=self.version_id,
            chat_id=self.chat_id,
            message_id=self.message_id,
            error_type=type(error).__name__ if error is not None else None,
            error_message=str(error)[:300] if error is not None else None,
            provider_status=_status(error),
        )

    def _elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


def outcome_of(error: BaseException) -> Outcome:
    """The log outcome for a generation that ended with `error`."""
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return Outcome.CANCELLED
    if isinstance(error, ProviderTimeoutError):
        return Outcome.TIMEOUT
    if isinstance(error, GenerationEmptyError):
        return Outcome.EMPTY
    return Outcome.FAILED


def _status(error: BaseException | None) -> int | None:
    if isinstance(error, ProviderRejectedError | ProviderMisconfiguredError):
        return error.status
    return None


@attrs.frozen
class Structured(Generic[R]):
    """A structured output that parsed and validated, with the completion that produced it."""

    value: R
    completion: Completion


@attrs.define
class StructuredStream(Generic[R]):
    """One structured generation: `partials()` streams it, then `done` holds the value.

    An output that does not decode or that `parse` rejects (raising `GenerationInvalidError`
    or `ValueError`) is generated once more; the whole run, retry included, must finish
    within `request.timeout` seconds. Close `partials()` (or run it to the end): closing it
    early closes the upstream call.
    """

    model: ChatModel
    request: ChatRequest
    parse: Callable[[Mapping[str, object]], R]
    trace: Trace
    _done: Structured[R] | None = None

    @property
    def done(self) -> Structured[R]:
        """The parsed value; only after `partials()` ended without an error."""
        if self._done is None:
            msg = "the structured stream has not finished"
            raise AssertionError(msg)
        return self._done

    async def partials(self) -> AsyncGenerator[Partial, None]:
        """Yield the object as it fills in; afterwards `done` holds the parsed value.

        Raises:
            ProviderTimeoutError: the time limit passed.
            GenerationInvalidError: the output was unusable twice.
            GenerationEmptyError: the last output was empty.
            ProviderError: whatever the model raised.
        """
        problem: MynthError | None = None
        try:
            async with asyncio.timeout(self.request.timeout):
                for _ in range(STRUCTURED_ATTEMPTS):
                    parser = PartialObject()
                    completion: Completion | None = None
                    async with aclosing(self.model.stream(self.request)) as items:
                        async for item in items:
                            if isinstance(item, Completion):
                                completion = item
                                continue
                            self.trace.first_token()
                            if (snapshot := parser.feed(item.text)) is not None:
                                yield Partial(snapshot)
                    problem = self._finish(completion)
                    if problem is None:
                        return
        except TimeoutError as exc:
            msg = f"no complete answer within {self.request.timeout:g} s"
            raise ProviderTimeoutError(msg) from exc
        raise problem or GenerationInvalidError("unusable structured output")

    def _finish(self, completion: Completion | None) -> MynthError | None:
        """Parse one attempt's output into `done`; return why it is unusable, if it is."""
        if completion is None:  # pragma: no cover - the port promises one
            return ProviderError("the model stream ended without a completion")
        self.trace.completion = completion
        self.trace.attempts += completion.attempts
        if not completion.text.strip():
            return GenerationEmptyError("the model returned no output")
        try:
            self._done = Structured(self.parse(loads_object(completion.text)), completion)
        except (ValueError, GenerationInvalidError) as exc:
            return GenerationInvalidError(f"unusable structured output: {exc}")
        return None


async def logged(
    log: GenerationLog, trace: Trace, body: AsyncGenerator[Progress | T, None]
) -> AsyncGenerator[Progress | T, None]:
    """Relay `body`; log the outcome in one record when the result or an error comes."""
    try:
        async with aclosing(body) as events:
            async for event in events:
                if not isinstance(event, Progress):
                    log.record(trace.finish())
                yield event
    except BaseException as exc:
        trace.tokens_refunded = trace.tokens_charged
        log.record(trace.finish(exc))
        raise
