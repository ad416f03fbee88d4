"""In-memory fakes of the core ports; they pass the same contract suite as the SQL adapters."""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

import attrs

from mynth_core.billing.ports import Checkout, CheckoutSession, CheckoutStatus
from mynth_core.errors import ConflictError, InvalidTokenError, MynthError, NotFoundError
from mynth_core.identity import Principal
from mynth_core.ids import PersonaId, UserId, VersionId
from mynth_core.ledger.model import Account, EntryKind, LedgerEntry, Reference
from mynth_core.pagination import Page, PageRequest, decode_cursor, encode_cursor
from mynth_core.personas.events import StoredEvent
from mynth_core.personas.model import Persona, PersonaVersion
from mynth_core.personas.writer import VERSION_REFERENCE
from mynth_core.pricing import Pack
from mynth_core.publishing.model import PublishStatus
from mynth_core.testing.catalog import InMemoryPublicCatalog
from mynth_core.testing.chats import ChatStore, InMemoryChatRepository
from mynth_core.testing.images import ImageStore, InMemoryImageJobRepository, RecordingJobQueue
from mynth_core.users import User

T = TypeVar("T")

if TYPE_CHECKING:
    from mynth_core.billing.ports import BillingProvider, CheckoutRepository
    from mynth_core.clock import Clock
    from mynth_core.identity import IdentityVerifier
    from mynth_core.ids import IdFactory
    from mynth_core.ledger.ports import TokenLedger
    from mynth_core.personas.ports import EventLog, PersonaRepository
    from mynth_core.uow import UnitOfWork, UnitOfWorkFactory
    from mynth_core.users import UserRepository
    from mynth_core.webhooks import WebhookDeliveryLog


@attrs.define
class FrozenClock:
    """A clock that only moves when told to."""

    at: datetime = datetime(2026, 1, 1, 12, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float = 0, **delta: float) -> None:
        """Move time forward: `advance(30)`, `advance(minutes=5)`."""
        self.at += timedelta(seconds=seconds, **delta)


@attrs.define
class SequentialIdFactory:
    """Readable, predictable ids: `prs_0001`, `prs_0002`, ..."""

    _counter: itertools.count[int] = attrs.field(factory=lambda: itertools.count(1))

    def new(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counter):04d}"


@attrs.define
class FakeIdentityVerifier:
    """Accepts exactly the tokens it was given, mapping each to its principal."""

    tokens: dict[str, Principal] = attrs.field(factory=dict)

    def issue(self, user_id: str) -> str:
        token = f"token-{user_id}"
        self.tokens[token] = Principal(user_id=UserId(user_id), session_id=f"sess_{user_id}")
        return token

    async def verify(self, token: str) -> Principal:
        try:
            return self.tokens[token]
        except KeyError:
            raise InvalidTokenError(reason="unknown-token") from None


@attrs.define
class FakeBillingProvider:
    """Opens numbered checkouts (`chk_0001` at `https://pay.example/chk_0001`) and records calls.

    Set `failure` to make every call raise it (a `PaymentProviderError`, say).
    """

    calls: list[tuple[UserId, Pack, str]] = attrs.field(factory=list)
    failure: MynthError | None = None

    async def create_checkout(self, user_id: UserId, pack: Pack, *, success_url: str) -> Checkout:
        self.calls.append((user_id, pack, success_url))
        if self.failure is not None:
            raise self.failure
        checkout_id = f"chk_{len(self.calls):04d}"
        return Checkout(id=checkout_id, url=f"https://pay.example/{checkout_id}")


@attrs.define
class InMemoryStore:
    """Everything the fakes persist; a unit of work edits a deep copy and swaps it in."""

    personas: dict[PersonaId, Persona] = attrs.field(factory=dict)
    versions: dict[VersionId, PersonaVersion] = attrs.field(factory=dict)
    events: list[StoredEvent] = attrs.field(factory=list)
    users: dict[UserId, User] = attrs.field(factory=dict)
    ledger: list[LedgerEntry] = attrs.field(factory=list)
    accounts: dict[UserId, Account] = attrs.field(factory=dict)
    checkouts: dict[str, CheckoutSession] = attrs.field(factory=dict)
    deliveries: dict[tuple[str, str], datetime] = attrs.field(factory=dict)
    chats: ChatStore = attrs.field(factory=ChatStore)
    images: ImageStore = attrs.field(factory=ImageStore)

    def snapshot(self) -> InMemoryStore:
        """A copy a unit of work may change: new containers, the same frozen values."""
        return InMemoryStore(
            **{
                field.name: copy.copy(getattr(self, field.name))
                for field in attrs.fields(InMemoryStore)
                if field.name not in {"chats", "images"}
            },
            chats=self.chats.snapshot(),
            images=self.images.snapshot(),
        )


@attrs.define
class InMemoryPersonaRepository:
    """Personas and versions in dictionaries."""

    store: InMemoryStore

    async def get(self, persona_id: PersonaId, *, owner: UserId | None = None) -> Persona:
        persona = self.store.personas.get(persona_id)
        if persona is None or persona.deleted_at is not None:
            raise NotFoundError("persona", persona_id)
        if owner is not None and persona.owner_id != owner:
            raise NotFoundError("persona", persona_id)
        return self._attributed(persona)

    def _attributed(self, persona: Persona) -> Persona:
        """`persona` with its clone source's slug while that source is public."""
        source = persona.cloned_from
        if source is None:
            return persona
        origin = self.store.personas.get(source.persona_id)
        slug = origin.publication.slug if origin is not None and origin.is_public else None
        return attrs.evolve(persona, cloned_from=attrs.evolve(source, slug=slug))

    async def get_for_update(self, persona_id: PersonaId, *, owner: UserId) -> Persona:
        return await self.get(persona_id, owner=owner)  # the unit of work holds the only lock

    async def add(self, persona: Persona) -> None:
        if persona.id in self.store.personas:
            raise ConflictError(detail=f"persona {persona.id} already exists")
        self.store.personas[persona.id] = persona
        self._add_version(persona.current_version)

    async def save(self, persona: Persona) -> None:
        if persona.current_version.id not in self.store.versions:
            self._add_version(persona.current_version)
        self.store.personas[persona.id] = persona

    def _add_version(self, version: PersonaVersion) -> None:
        taken = any(
            v.persona_id == version.persona_id and v.version_number == version.version_number
            for v in self.store.versions.values()
        )
        if taken:
            raise ConflictError(detail=f"version number {version.version_number} is taken")
        self.store.versions[version.id] = version

    async def list_owned(
        self, owner: UserId, *, query: str | None, page: PageRequest
    ) -> Page[Persona]:
        mine = [
            p
            for p in self.store.personas.values()
            if p.owner_id == owner and p.deleted_at is None and _matches(p, query)
        ]
        mine.sort(key=lambda p: (p.updated_at, p.id), reverse=True)
        if page.cursor is not None:
            at, last_id = decode_cursor(page.cursor, 2)
            mine = [p for p in mine if (p.updated_at.isoformat(), p.id) < (at, last_id)]
        items = tuple(self._attributed(p) for p in mine[: page.limit])
        more = len(mine) > page.limit
        cursor = encode_cursor(items[-1].updated_at.isoformat(), items[-1].id) if more else None
        return Page(items, cursor)

    async def versions(self, persona_id: PersonaId) -> tuple[PersonaVersion, ...]:
        found = [v for v in self.store.versions.values() if v.persona_id == persona_id]
        return tuple(sorted(found, key=lambda v: v.version_number))

    async def version(self, persona_id: PersonaId, version_id: VersionId) -> PersonaVersion:
        version = self.store.versions.get(version_id)
        if version is None or version.persona_id != persona_id:
            raise NotFoundError("version", version_id)
        return version

    async def find_version(self, version_id: VersionId) -> PersonaVersion | None:
        return self.store.versions.get(version_id)

    async def unpublish_all(self, owner: UserId, *, at: datetime) -> int:
        public = [
            p
            for p in self.store.personas.values()
            if p.owner_id == owner and p.public_version_id is not None
        ]
        for persona in public:
            hidden = attrs.evolve(persona.publication, status=PublishStatus.NONE)
            self.store.personas[persona.id] = attrs.evolve(
                persona, public_version_id=None, publication=hidden, updated_at=at
            )
        return len(public)

    async def stale_publishes(self, before: datetime, *, limit: int) -> tuple[PersonaId, ...]:
        stale = [
            p
            for p in self.store.personas.values()
            if p.publication.status is PublishStatus.PENDING
            and p.publication.requested_at is not None
            and p.publication.requested_at < before
            and p.deleted_at is None
        ]
        stale.sort(key=lambda p: p.publication.requested_at or before)
        return tuple(p.id for p in stale[:limit])

    async def slug_taken(self, slug: str) -> bool:
        return any(p.publication.slug == slug for p in self.store.personas.values())


def _matches(persona: Persona, query: str | None) -> bool:
    if not query:
        return True
    needle = query.casefold()
    name = persona.current_version.data.name
    return needle in persona.title.casefold() or needle in name.casefold()


def newest_first(log: Sequence[T], page: PageRequest, keep: Callable[[T], bool]) -> Page[T]:
    """A page of an append-only log, newest first; the cursor is the last item's position."""
    indexed = [(i, item) for i, item in enumerate(log) if keep(item)]
    indexed.reverse()
    if page.cursor is not None:
        (before,) = decode_cursor(page.cursor, 1)
        indexed = [(i, item) for i, item in indexed if i < int(before)]
    chosen = indexed[: page.limit]
    more = len(indexed) > page.limit
    return Page(
        tuple(item for _, item in chosen), encode_cursor(str(chosen[-1][0])) if more else None
    )


@attrs.define
class InMemoryEventLog:
    """Events in append order."""

    store: InMemoryStore

    async def append(self, events: Sequence[StoredEvent]) -> None:
        self.store.events.extend(events)

    async def list_for(self, persona_id: PersonaId, page: PageRequest) -> Page[StoredEvent]:
        return newest_first(self.store.events, page, lambda e: e.event.persona_id == persona_id)


@attrs.define
class InMemoryUserRepository:
    """Users in a dictionary."""

    store: InMemoryStore

    async def get(self, user_id: UserId) -> User | None:
        return self.store.users.get(user_id)

    async def add_if_absent(self, user: User) -> User:
        return self.store.users.setdefault(user.id, user)

    async def soft_delete(self, user_id: UserId, *, at: datetime) -> None:
        user = self.store.users.get(user_id)
        if user is not None and user.deleted_at is None:
            self.store.users[user_id] = attrs.evolve(user, deleted_at=at, updated_at=at)

    async def upsert(self, user: User) -> User:
        stored = self.store.users.setdefault(user.id, user)
        if stored is user or stored.deleted_at is not None:
            return stored
        newer = user.profile_updated_at
        if stored.profile_updated_at is not None and (
            newer is None or stored.profile_updated_at > newer
        ):
            return stored
        stored = attrs.evolve(
            stored,
            username=user.username,
            display_name=user.display_name,
            image_url=user.image_url,
            updated_at=user.updated_at,
            profile_updated_at=newer,
        )
        self.store.users[user.id] = stored
        return stored


@attrs.define
class InMemoryCheckoutRepository:
    """Checkout sessions in a dictionary."""

    store: InMemoryStore

    async def add(self, session: CheckoutSession) -> None:
        if session.id in self.store.checkouts:
            raise ConflictError(detail=f"checkout {session.id} is already recorded")
        self.store.checkouts[session.id] = session

    async def get(self, checkout_id: str) -> CheckoutSession | None:
        return self.store.checkouts.get(checkout_id)

    async def mark_paid(self, checkout_id: str, *, order_id: str, at: datetime) -> bool:
        session = self.store.checkouts.get(checkout_id)
        if session is None or session.status is not CheckoutStatus.OPEN:
            return False
        self.store.checkouts[checkout_id] = attrs.evolve(
            session, status=CheckoutStatus.PAID, order_id=order_id, paid_at=at
        )
        return True


@attrs.define
class InMemoryWebhookDeliveryLog:
    """Delivery ids per source, with the time they were first recorded."""

    store: InMemoryStore

    async def seen(self, source: str, delivery_id: str) -> bool:
        return (source, delivery_id) in self.store.deliveries

    async def record(self, source: str, delivery_id: str, *, at: datetime) -> bool:
        if (source, delivery_id) in self.store.deliveries:
            return False
        self.store.deliveries[source, delivery_id] = at
        return True


@attrs.define
class InMemoryTokenLedger:
    """Entries in append order plus one balance per user, checked like the SQL adapter."""

    store: InMemoryStore

    async def account(self, user: UserId, *, for_update: bool = False) -> Account:  # noqa: ARG002 - the unit of work holds the only lock
        return self.store.accounts.get(user) or Account(user_id=user)

    async def append(self, entry: LedgerEntry) -> LedgerEntry:
        if (stored := await self.find(entry.idempotency_key)) is not None:
            return stored
        if any(e.id == entry.id for e in self.store.ledger):
            raise ConflictError(detail=f"ledger entry {entry.id} already exists")
        account = await self.account(entry.user_id)
        if not account.admits(entry):
            raise ConflictError(detail="the entry does not follow from the stored balance")
        self.store.ledger.append(entry)
        self.store.accounts[entry.user_id] = account.apply(entry)
        return entry

    async def find(self, key: str) -> LedgerEntry | None:
        return next((e for e in self.store.ledger if e.idempotency_key == key), None)

    async def for_reference(self, user: UserId, reference: Reference) -> tuple[LedgerEntry, ...]:
        return tuple(e for e in self.store.ledger if e.user_id == user and e.reference == reference)

    async def list_for(self, user: UserId, page: PageRequest) -> Page[LedgerEntry]:
        return newest_first(self.store.ledger, page, lambda e: e.user_id == user)

    async def unsettled_spends(
        self,
        *,
        operations: Collection[str],
        before: datetime,
        limit: int,
        since: datetime | None = None,
    ) -> tuple[LedgerEntry, ...]:
        refunded = {e.refund_of for e in self.store.ledger if e.refund_of is not None}
        found = [
            e
            for e in self.store.ledger
            if e.kind is EntryKind.SPEND
            and e.operation in operations
            and (since is None or since <= e.created_at)
            and e.created_at < before
            and e.id not in refunded
            and not self._delivered(e.reference)
        ]
        found.sort(key=lambda e: e.created_at)  # stable: append order among equal times
        return tuple(found[: max(limit, 0)])

    def _delivered(self, reference: Reference | None) -> bool:
        return (
            reference is not None
            and reference.type == VERSION_REFERENCE
            and VersionId(reference.id) in self.store.versions
        )


@attrs.define
class FakeUnitOfWork:
    """Works on a private copy of the store; `commit` publishes the copy."""

    store: InMemoryStore
    personas: InMemoryPersonaRepository
    events: InMemoryEventLog
    users: InMemoryUserRepository
    ledger: InMemoryTokenLedger
    checkouts: InMemoryCheckoutRepository
    deliveries: InMemoryWebhookDeliveryLog
    chats: InMemoryChatRepository
    images: InMemoryImageJobRepository
    jobs: RecordingJobQueue
    catalog: InMemoryPublicCatalog
    read_only: bool = False
    committed: bool = False

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("commit() in a read-only unit of work")
        self.committed = True


@attrs.define
class FakeUnitOfWorkFactory:
    """Opens fake units of work, one at a time (like SQLite's single writer)."""

    store: InMemoryStore = attrs.field(factory=InMemoryStore)
    _lock: asyncio.Lock = attrs.field(factory=asyncio.Lock)
    commits: int = 0

    @asynccontextmanager
    async def __call__(self, *, read_only: bool = False) -> AsyncIterator[FakeUnitOfWork]:
        if read_only:  # reads see the latest committed store and never publish a copy
            yield self._open(self.store.snapshot(), read_only=True)
            return
        async with self._lock:
            work = self.store.snapshot()
            uow = self._open(work, read_only=False)
            yield uow
            if uow.committed:
                self.store = work
                self.commits += 1

    def _open(self, store: InMemoryStore, *, read_only: bool) -> FakeUnitOfWork:
        return FakeUnitOfWork(
            store=store,
            personas=InMemoryPersonaRepository(store),
            events=InMemoryEventLog(store),
            users=InMemoryUserRepository(store),
            ledger=InMemoryTokenLedger(store),
            checkouts=InMemoryCheckoutRepository(store),
            deliveries=InMemoryWebhookDeliveryLog(store),
            chats=InMemoryChatRepository(store.chats),
            images=InMemoryImageJobRepository(store.images),
            jobs=RecordingJobQueue(store.images),
            catalog=InMemoryPublicCatalog(store),
            read_only=read_only,
        )


def world_counts(factory: FakeUnitOfWorkFactory) -> Mapping[str, int]:
    """How many rows of each kind the fake store holds (for 'nothing changed' assertions)."""
    store = factory.store
    return {
        "personas": len(store.personas),
        "versions": len(store.versions),
        "events": len(store.events),
        "users": len(store.users),
        "ledger": len(store.ledger),
        "checkouts": len(store.checkouts),
        "deliveries": len(store.deliveries),
        "chats": len(store.chats.chats),
        "messages": len(store.chats.messages),
    }


if TYPE_CHECKING:
    _clock: type[Clock] = FrozenClock
    _ids: type[IdFactory] = SequentialIdFactory
    _verifier: type[IdentityVerifier] = FakeIdentityVerifier
    _billing: type[BillingProvider] = FakeBillingProvider
    _personas: type[PersonaRepository] = InMemoryPersonaRepository
    _events: type[EventLog] = InMemoryEventLog
    _users: type[UserRepository] = InMemoryUserRepository
    _ledger: type[TokenLedger] = InMemoryTokenLedger
    _checkouts: type[CheckoutRepository] = InMemoryCheckoutRepository
    _deliveries: type[WebhookDeliveryLog] = InMemoryWebhookDeliveryLog
    _uow: type[UnitOfWork] = FakeUnitOfWork
    _factory: type[UnitOfWorkFactory] = FakeUnitOfWorkFactory
