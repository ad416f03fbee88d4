"""HTTP tests run the real app once per backend; every response is scanned for user ids.

The `app` fixture (through `backend`) runs each test over `fake_container()` (`[fake]`), over
the real `bootstrap()` with the SQLite database it migrates (`[sqlite]`), and over the real
`bootstrap()` with its unit of work moved to this session's Postgres schema from
`tests/sqlkit.py` (`[postgres]`, marked `postgres`). Over the real bootstrap only the clock, the
identity verifier and the readiness checks are test doubles. Tests look at what is stored only
through `backend`, never through a fake store. Tests that build an app of their own say why
they run over the fakes only.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import attrs
import httpx
import punq
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

# `sqlkit` lives in tests/; putting it on sys.path here lets this directory run on its own.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from mynth_adapters.auth import LocalIssuer  # noqa: E402
from mynth_adapters.auth.local import KEY_DIR, KEY_FILE  # noqa: E402
from mynth_adapters.bootstrap import bootstrap  # noqa: E402
from mynth_adapters.health import Readiness  # noqa: E402
from mynth_adapters.offline import OfflineChatModel  # noqa: E402
from mynth_adapters.settings import (  # noqa: E402
    JobSettings,
    PolarSettings,
    Settings,
)
from mynth_adapters.sql import SqlUnitOfWorkFactory, sql_engine  # noqa: E402
from mynth_adapters.sql.tables import (  # noqa: E402
    chats,
    ledger_entries,
    persona_events,
    persona_versions,
    personas,
    users,
)
from mynth_adapters.sql.users import SqlUserRepository  # noqa: E402
from mynth_adapters.testing import fake_bootstrap, fake_container  # noqa: E402
from mynth_core.billing import BillingProvider  # noqa: E402
from mynth_core.chats.model import Lease  # noqa: E402
from mynth_core.clock import Clock  # noqa: E402
from mynth_core.generation.ports import ChatModel  # noqa: E402
from mynth_core.identity import IdentityVerifier  # noqa: E402
from mynth_core.ids import ChatId, ImageJobId, PersonaId, UserId  # noqa: E402
from mynth_core.images.model import JobStatus  # noqa: E402
from mynth_core.images.ports import BlobStore, ImageGenerator  # noqa: E402
from mynth_core.images.services import RunImageJob  # noqa: E402
from mynth_core.limits import RateLimiter  # noqa: E402
from mynth_core.publishing.model import PublishStatus  # noqa: E402
from mynth_core.publishing.services import RunPublishJob  # noqa: E402
from mynth_core.testing import (  # noqa: E402
    FakeBillingProvider,
    FakeIdentityVerifier,
    FakeRateLimiter,
    FakeUnitOfWorkFactory,
    FrozenClock,
    InMemoryUserRepository,
    ScriptedChatModel,
)
from mynth_core.testing.fakes import world_counts  # noqa: E402
from mynth_core.testing.images import InMemoryBlobStore, ScriptedImageGenerator  # noqa: E402
from mynth_core.uow import UnitOfWorkFactory  # noqa: E402
from mynth_core.users import RecentUsers  # noqa: E402
from mynth_http.app import Bootstrap, create_app  # noqa: E402
from providers.polar import PRODUCTS  # noqa: E402
from providers.webhooks import CLERK_SECRET, POLAR_SECRET  # noqa: E402
from sqlkit import (  # noqa: E402
    PostgresSchema,
    postgres_engine,
    postgres_engine_in,
    postgres_schema,
)

__all__ = ["postgres_engine", "postgres_schema"]

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
    if response.request.url.path == "/v1/me" and response.status_code == 200:
        # The one shape that names a user: the caller's own id, as API.md specifies.
        me = json.loads(body)
        assert me.pop("id") in USER_IDS
        body = json.dumps(me)
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
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
def recent_users(clock) -> RecentUsers:
    return RecentUsers(clock)


@pytest.fixture
def billing() -> FakeBillingProvider:
    return FakeBillingProvider()


@pytest.fixture(scope="session")
def local_issuer_key(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One local-issuer key for the session: making an RSA key costs more than a whole test."""
    data_dir = tmp_path_factory.mktemp("local-issuer")
    LocalIssuer.load_or_create(data_dir)
    return (data_dir / KEY_DIR / KEY_FILE).read_bytes()


@pytest.fixture
def settings(tmp_path, local_issuer_key) -> Settings:
    """The embedded profile in a data directory that already holds its local-issuer key.

    The real bootstrap loads that key instead of generating one (as on every start after the
    first); the tests sign in through `FakeIdentityVerifier` either way.
    """
    key_file = tmp_path / KEY_DIR / KEY_FILE
    key_file.parent.mkdir(mode=0o700)
    key_file.touch(mode=0o600)
    key_file.write_bytes(local_issuer_key)
    embedded = Settings.embedded(tmp_path)
    return attrs.evolve(
        embedded,
        # Tests run jobs themselves (`backend.run_jobs`, `run_publish_jobs`), one at a time.
        jobs=JobSettings(embedded_worker=False),
        polar=PolarSettings(webhook_secret=POLAR_SECRET, products=tuple(PRODUCTS.items())),
        clerk=attrs.evolve(embedded.clerk, webhook_secret=CLERK_SECRET),
    )


@attrs.frozen
class Doubles:
    """The test doubles every backend keeps: tokens stay fake (fast) and time stays frozen."""

    clock: FrozenClock
    verifier: FakeIdentityVerifier
    readiness: Readiness
    recent_users: RecentUsers
    billing: FakeBillingProvider
    chat_model: ScriptedChatModel
    limiter: FakeRateLimiter
    images: ScriptedImageGenerator
    blobs: InMemoryBlobStore


@asynccontextmanager
async def bootstrap_with_doubles(
    settings: Settings, doubles: Doubles, *, uow: UnitOfWorkFactory | None = None
) -> AsyncIterator[punq.Container]:
    """The real `bootstrap(settings)`, then the doubles (and `uow`, if given) registered over it.

    punq resolves a type to its last registration, and the use cases are singletons built on
    first use, so this must (and does) happen before the app resolves anything. Readiness is a
    double too: the real check would watch the bootstrap's own engine, which is not the store
    in use on Postgres; `/readyz` has fake-only tests of its own in `test_system.py`.
    """
    async with bootstrap(settings) as container:
        container.register(Clock, instance=doubles.clock)
        container.register(IdentityVerifier, instance=doubles.verifier)
        container.register(Readiness, instance=doubles.readiness)
        container.register(RecentUsers, instance=doubles.recent_users)
        container.register(BillingProvider, instance=doubles.billing)
        container.register(ChatModel, instance=doubles.chat_model)
        container.register(RateLimiter, instance=doubles.limiter)
        container.register(ImageGenerator, instance=doubles.images)
        container.register(BlobStore, instance=doubles.blobs)
        if uow is not None:
            container.register(UnitOfWorkFactory, instance=uow)
        yield container


class Backend(Protocol):
    """Where the app under test keeps its data, and a look at it from outside the API."""

    def bootstrap(self, doubles: Doubles) -> Bootstrap: ...

    async def counts(self) -> dict[str, int]:
        """How many rows of each kind are stored (for 'nothing changed' assertions)."""
        ...

    async def user_ids(self) -> list[str]: ...

    async def soft_delete_user(self, user_id: str, *, at: datetime) -> None: ...

    async def make_public(self, persona_id: str) -> None:
        """Make the persona's current version public at once, without a classification.

        A shortcut for tests about what being public allows (anonymous image reads,
        clones); the publication routes and `run_publish_jobs` publish for real.
        """
        ...

    async def hold_generation(self, chat_id: str, *, until: datetime) -> None:
        """Hold the chat's generation slot, as a running (or crashed) generation does."""
        ...

    async def queued_image_jobs(self) -> list[str]:
        """The ids of image jobs waiting to run."""
        ...

    async def run_jobs(self, client: AsyncTestClient[Litestar]) -> None:
        """Run every queued image job with the app's own handler, as its worker would."""
        ...

    async def pending_publishes(self) -> list[str]:
        """The ids of personas whose publish waits for its job."""
        ...

    async def run_publish_jobs(self, client: AsyncTestClient[Litestar]) -> None:
        """Run the publish job of every pending persona with the app's own handler."""
        ...


@attrs.define
class FakeBackend:
    """`fake_container()` over an in-memory store."""

    uow: FakeUnitOfWorkFactory = attrs.Factory(FakeUnitOfWorkFactory)

    def bootstrap(self, doubles: Doubles) -> Bootstrap:
        def build(settings: Settings) -> AbstractAsyncContextManager[punq.Container]:
            container = fake_container(
                uow=self.uow,
                clock=doubles.clock,
                verifier=doubles.verifier,
                readiness=doubles.readiness,
                recent_users=doubles.recent_users,
                settings=settings,
                billing=doubles.billing,
                chat_model=doubles.chat_model,
                limiter=doubles.limiter,
                images=doubles.images,
                blobs=doubles.blobs,
            )
            return fake_bootstrap(container)

        return build

    async def counts(self) -> dict[str, int]:
        return dict(world_counts(self.uow))

    async def user_ids(self) -> list[str]:
        return list(self.uow.store.users)

    async def soft_delete_user(self, user_id: str, *, at: datetime) -> None:
        await InMemoryUserRepository(self.uow.store).soft_delete(UserId(user_id), at=at)

    async def queued_image_jobs(self) -> list[str]:
        jobs = self.uow.store.images.jobs.values()
        return [j.id for j in jobs if j.status is JobStatus.QUEUED]

    async def run_jobs(self, client: AsyncTestClient[Litestar]) -> None:
        await run_queued(self, client)

    async def pending_publishes(self) -> list[str]:
        personas = self.uow.store.personas.values()
        return [p.id for p in personas if p.publication.status is PublishStatus.PENDING]

    async def run_publish_jobs(self, client: AsyncTestClient[Litestar]) -> None:
        await run_pending_publishes(self, client)

    async def hold_generation(self, chat_id: str, *, until: datetime) -> None:
        stored = self.uow.store.chats.chats[ChatId(chat_id)]
        self.uow.store.chats.chats[ChatId(chat_id)] = attrs.evolve(
            stored, generation=Lease("held-by-test", until)
        )

    async def make_public(self, persona_id: str) -> None:
        stored = self.uow.store.personas[persona_id]
        self.uow.store.personas[persona_id] = attrs.evolve(
            stored,
            public_version_id=stored.current_version_id,
            publication=attrs.evolve(stored.publication, status=PublishStatus.PUBLISHED),
        )


COUNTED_TABLES = {
    "personas": personas,
    "versions": persona_versions,
    "events": persona_events,
    "users": users,
    "ledger": ledger_entries,
}


@attrs.define
class SqlBackend:
    """The real `bootstrap()` over SQLite, or over Postgres when `schema` is given.

    The app runs in the test client's own event loop (another thread), and an async engine's
    connections belong to the loop that opened them. So the app's engines are opened inside
    its lifespan, and the test looks at the same database through `look`, an engine of its
    own loop: on the SQLite file the bootstrap migrates, or on this session's Postgres schema.
    """

    look: AsyncEngine
    schema: PostgresSchema | None = None

    def bootstrap(self, doubles: Doubles) -> Bootstrap:
        @asynccontextmanager
        async def start(settings: Settings) -> AsyncIterator[punq.Container]:
            async with AsyncExitStack() as stack:
                uow = None
                if self.schema is not None:
                    engine = await stack.enter_async_context(
                        postgres_engine_in(self.schema.url, self.schema.name)
                    )
                    uow = SqlUnitOfWorkFactory(engine)
                yield await stack.enter_async_context(
                    bootstrap_with_doubles(settings, doubles, uow=uow)
                )

        return start

    async def counts(self) -> dict[str, int]:
        async with self.look.connect() as conn:
            return {
                kind: (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                for kind, table in COUNTED_TABLES.items()
            }

    async def user_ids(self) -> list[str]:
        async with self.look.connect() as conn:
            return list((await conn.execute(select(users.c.id).order_by(users.c.id))).scalars())

    async def soft_delete_user(self, user_id: str, *, at: datetime) -> None:
        async with self.look.begin() as conn:
            await SqlUserRepository(conn).soft_delete(UserId(user_id), at=at)

    async def queued_image_jobs(self) -> list[str]:
        stmt = text("SELECT id FROM image_jobs WHERE status = 'queued' ORDER BY created_at")
        async with self.look.connect() as conn:
            return list((await conn.execute(stmt)).scalars())

    async def run_jobs(self, client: AsyncTestClient[Litestar]) -> None:
        await run_queued(self, client)

    async def pending_publishes(self) -> list[str]:
        stmt = select(personas.c.id).where(personas.c.publish_status == "pending")
        async with self.look.connect() as conn:
            return list((await conn.execute(stmt.order_by(personas.c.id))).scalars())

    async def run_publish_jobs(self, client: AsyncTestClient[Litestar]) -> None:
        await run_pending_publishes(self, client)

    async def hold_generation(self, chat_id: str, *, until: datetime) -> None:
        stmt = (
            update(chats)
            .where(chats.c.id == chat_id)
            .values(generation_id="held-by-test", generation_expires_at=until)
        )
        async with self.look.begin() as conn:
            assert (await conn.execute(stmt)).rowcount == 1

    async def make_public(self, persona_id: str) -> None:
        stmt = (
            update(personas)
            .where(personas.c.id == persona_id)
            .values(public_version_id=personas.c.current_version_id, publish_status="published")
        )
        async with self.look.begin() as conn:
            assert (await conn.execute(stmt)).rowcount == 1


async def run_queued(backend: Backend, client: AsyncTestClient[Litestar]) -> None:
    """Run the queued image jobs one by one, in the app's own event loop (its database
    connections live there), as its worker would; tests run no background worker."""
    run = client.app.state.container.resolve(RunImageJob)
    for job_id in await backend.queued_image_jobs():
        await asyncio.to_thread(client.blocking_portal.call, run, ImageJobId(job_id))


async def run_pending_publishes(backend: Backend, client: AsyncTestClient[Litestar]) -> None:
    """Run the publish job of each pending persona in the app's own event loop, as its
    worker would (the job's `ref` is the persona id)."""
    run = client.app.state.container.resolve(RunPublishJob)
    for persona_id in await backend.pending_publishes():
        await asyncio.to_thread(client.blocking_portal.call, run, PersonaId(persona_id))


BACKENDS = [
    pytest.param("fake_backend", id="fake"),
    pytest.param("sqlite_backend", id="sqlite"),
    pytest.param("postgres_backend", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture
def fake_backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
async def sqlite_backend(settings: Settings) -> AsyncIterator[SqlBackend]:
    # Opening the engine connects to nothing yet; the app's bootstrap creates and migrates
    # the file before the test first looks.
    async with sql_engine(settings.database) as look:
        yield SqlBackend(look=look)


@pytest.fixture
def postgres_backend(postgres_schema: PostgresSchema, postgres_engine: AsyncEngine) -> SqlBackend:
    # `postgres_engine` empties the session's migrated schema, so every test starts clean.
    return SqlBackend(look=postgres_engine, schema=postgres_schema)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """The store behind `app`: every test that uses the app runs once per backend."""
    chosen: Backend = request.getfixturevalue(request.param)
    return chosen


@pytest.fixture
def chat_model() -> ScriptedChatModel:
    """Scripted replies where a test queues them; the offline generator otherwise."""
    return ScriptedChatModel(fallback=OfflineChatModel())


@pytest.fixture
def image_generator() -> ScriptedImageGenerator:
    return ScriptedImageGenerator()


@pytest.fixture
def limiter(clock) -> FakeRateLimiter:
    """The memory store's exact sliding windows on the frozen clock, with a switchable outage."""
    return FakeRateLimiter(clock)


@pytest.fixture
def app(
    settings,
    backend,
    clock,
    verifier,
    readiness,
    recent_users,
    billing,
    chat_model,
    limiter,
    image_generator,
) -> Litestar:
    """The real app over `backend` (so once per backend), with the shared test doubles."""
    doubles = Doubles(
        clock=clock,
        verifier=verifier,
        readiness=readiness,
        recent_users=recent_users,
        billing=billing,
        chat_model=chat_model,
        limiter=limiter,
        images=image_generator,
        blobs=InMemoryBlobStore(),
    )
    return create_app(settings, bootstrap=backend.bootstrap(doubles))


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
