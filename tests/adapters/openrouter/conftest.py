"""Fixtures for the OpenRouter adapter: one fake OpenRouter per session, fast clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import attrs
import httpx
import pytest

from mynth_adapters.http_client import provider_client
from mynth_adapters.openrouter import TEXT_RETRY, OpenAICompatChatModel
from mynth_core.generation.ports import ChatRequest, Completion, PromptMessage, Role, TextDelta
from mynth_core.testing import FrozenClock
from providers.openrouter import FALLBACK, PRIMARY, FakeOpenRouter
from providers.server import Sleeps
from providers.webhooks import T0

# Short phases so a scripted stall fails fast; the real ones are CHAT_TIMEOUT.
TIMEOUT = httpx.Timeout(connect=1, read=0.3, write=1, pool=1)
QUESTION = "Tell me about the lighthouse keeper who paints storms"


@pytest.fixture(scope="session")
def openrouter_server() -> Iterator[FakeOpenRouter]:
    with FakeOpenRouter.running() as fake:
        yield fake


@pytest.fixture
def openrouter(openrouter_server: FakeOpenRouter) -> FakeOpenRouter:
    """The session's fake OpenRouter with no script, no failing model and no history."""
    openrouter_server.reset()
    return openrouter_server


@pytest.fixture
async def http(openrouter: FakeOpenRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with provider_client(openrouter.base_url, TIMEOUT) as client:
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def make_model(
    http: httpx.AsyncClient, openrouter: FakeOpenRouter, sleeps: Sleeps, clock: FrozenClock
) -> Callable[..., OpenAICompatChatModel]:
    """An OpenAICompatChatModel on the fake (as OpenRouter), instant retry waits."""

    def make(**fields: object) -> OpenAICompatChatModel:
        defaults: dict[str, object] = {
            "client": http,
            "api_key": openrouter.api_key,
            "is_openrouter": True,
            "retry": attrs.evolve(TEXT_RETRY, sleep=sleeps),
            "clock": clock,
        }
        return OpenAICompatChatModel(**(defaults | fields))  # type: ignore[arg-type]

    return make


@pytest.fixture
def model(make_model: Callable[..., OpenAICompatChatModel]) -> OpenAICompatChatModel:
    return make_model()


def chat_request(**fields: object) -> ChatRequest:
    """A two-message request for PRIMARY with FALLBACK; keywords override any field."""
    defaults: dict[str, object] = {
        "messages": (
            PromptMessage(Role.SYSTEM, "You are a helpful storyteller."),
            PromptMessage(Role.USER, QUESTION),
        ),
        "models": (PRIMARY, FALLBACK),
        "timeout": 5.0,
    }
    return ChatRequest(**(defaults | fields))  # type: ignore[arg-type]


@pytest.fixture
def a_request() -> Callable[..., ChatRequest]:
    return chat_request


async def drain(model: OpenAICompatChatModel, request: ChatRequest) -> tuple[list[str], Completion]:
    """Every delta's text and the final completion of a stream (checks the protocol's shape)."""
    pieces: list[str] = []
    completions: list[Completion] = []
    async for item in model.stream(request):
        assert not completions, "nothing may follow the completion"
        if isinstance(item, TextDelta):
            pieces.append(item.text)
        else:
            completions.append(item)
    (completion,) = completions
    return pieces, completion


async def partial(
    model: OpenAICompatChatModel, request: ChatRequest, error: type[Exception]
) -> tuple[list[str], Exception]:
    """The deltas a stream yielded before it raised `error`."""
    pieces: list[str] = []

    async def consume() -> None:
        async for item in model.stream(request):
            assert isinstance(item, TextDelta), "a failing stream never completes"
            pieces.append(item.text)

    with pytest.raises(error) as caught:
        await consume()
    return pieces, caught.value


@pytest.fixture
def stream_all() -> Callable[..., object]:
    return drain


@pytest.fixture
def stream_until() -> Callable[..., object]:
    return partial
