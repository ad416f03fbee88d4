"""HTTP tests run the real app over `fake_container()`; every response is scanned for user ids."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from mynth_adapters.health import Readiness
from mynth_adapters.settings import Settings
from mynth_adapters.testing import fake_bootstrap, fake_container
from mynth_core.testing import FakeIdentityVerifier, FakeUnitOfWorkFactory, FrozenClock
from mynth_http.app import create_app

ALICE = "user_alice_5e1f"
BOB = "user_bob_9c2d"
USER_IDS = (ALICE, BOB)
FORBIDDEN_KEYS = frozenset({"owner", "owner_id", "user_id", "user", "users"})

Headers = dict[str, str]
NewPersona = Callable[..., Awaitable[dict[str, Any]]]


def persona_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Aurora Vale",
        "age": "34",
        "gender": "female",
        "appearance": "Tall, storm-grey eyes, a salt-stained wool coat.",
        "personality": "Dry humour, fiercely loyal, distrusts easy answers.",
        "background": "Raised on a northern island; keeps the last manned lighthouse.",
        "summary": "A lighthouse keeper who hears ships that sank a century ago.",
    }
    fields.update(overrides)
    return fields


def leaks(value: Any, path: str = "$") -> list[str]:
    """Every place in a decoded JSON body that names a user or carries an owner key."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in FORBIDDEN_KEYS:
                found.append(f"{path}.{key}")
            found += leaks(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += leaks(item, f"{path}[{index}]")
    return found


class ScanTally:
    """How many responses the guard has looked at (a test proves it runs)."""

    scanned = 0
    leaks = staticmethod(leaks)


async def assert_no_user_ids(response: httpx.Response) -> None:
    """The suite-wide guard: no response body names a user id or carries an owner key."""
    body = (await response.aread()).decode(errors="replace")
    for user_id in USER_IDS:
        assert user_id not in body, f"{response.request.url} leaks a user id"
    if "json" in response.headers.get("content-type", "") and body:
        assert leaks(json.loads(body)) == [], f"{response.request.url} leaks owner keys"
    ScanTally.scanned += 1


@pytest.fixture
def leak_guard() -> type[ScanTally]:
    return ScanTally


@pytest.fixture
def verifier() -> FakeIdentityVerifier:
    return FakeIdentityVerifier()


@pytest.fixture
def uow() -> FakeUnitOfWorkFactory:
    return FakeUnitOfWorkFactory()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.embedded(tmp_path)


@pytest.fixture
def app(settings, uow, clock, verifier, readiness) -> Litestar:
    container = fake_container(uow=uow, clock=clock, verifier=verifier, readiness=readiness)
    return create_app(settings, bootstrap=lambda _: fake_bootstrap(container))


@asynccontextmanager
async def scanned_client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A test client over `app` (lifespan included) whose every response is scanned."""
    async with AsyncTestClient(app) as client:
        client.event_hooks = {"request": [], "response": [assert_no_user_ids]}
        yield client


@pytest.fixture
def client_for() -> Callable[[Litestar], AbstractAsyncContextManager[AsyncTestClient[Litestar]]]:
    """For tests that build their own app: the same scanned client."""
    return scanned_client


@pytest.fixture
async def client(app) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with scanned_client(app) as scanned:
        yield scanned


@pytest.fixture
def alice_id() -> str:
    return ALICE


@pytest.fixture
def alice(verifier) -> Headers:
    return {"Authorization": f"Bearer {verifier.issue(ALICE)}"}


@pytest.fixture
def bob(verifier) -> Headers:
    return {"Authorization": f"Bearer {verifier.issue(BOB)}"}


@pytest.fixture
def new_persona(client, clock) -> NewPersona:
    """Create a persona through the API (the clock moves a second first) and return it."""

    async def create(who: Headers, title: str | None = None, **fields: Any) -> dict[str, Any]:
        clock.advance(seconds=1)
        body: dict[str, Any] = {"data": persona_fields(**fields)}
        if title is not None:
            body["title"] = title
        response = await client.post("/v1/personas", json=body, headers=who)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return create
