"""The Clerk webhook's use cases over the fakes (PRODUCT §3.5, PROVIDERS §3.6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from mynth_core.errors import AccountDeletedError
from mynth_core.identity import Principal
from mynth_core.identity_events import ClerkUserDeleted, ClerkUserUpserted
from mynth_core.ids import UserId
from mynth_core.ledger.model import EntryKind
from mynth_core.testing import (
    FakeUnitOfWorkFactory,
    FrozenClock,
    InMemoryPersonaRepository,
    SequentialIdFactory,
    a_persona,
)
from mynth_core.users import DeleteUser, ProvisionUser, RecentUsers, SyncClerkUser, User
from mynth_core.webhooks import CLERK, WebhookOutcome

ADA = UserId("user_ada")
CLERK_T0 = datetime(2026, 1, 1, 11, tzinfo=UTC)


def upserted(at: datetime = CLERK_T0, **profile: str | None) -> ClerkUserUpserted:
    fields: dict[str, str | None] = {"first_name": "Ada", "last_name": "Varga", **profile}
    return ClerkUserUpserted(user_id=ADA, updated_at=at, **fields)


@attrs.define
class World:
    clock: FrozenClock = attrs.Factory(FrozenClock)
    uow: FakeUnitOfWorkFactory = attrs.Factory(FakeUnitOfWorkFactory)
    ids: SequentialIdFactory = attrs.Factory(SequentialIdFactory)
    recent: RecentUsers = attrs.field()

    @recent.default
    def _recent(self) -> RecentUsers:
        return RecentUsers(self.clock)

    async def sync(self, delivery: str, event: ClerkUserUpserted) -> WebhookOutcome:
        return await SyncClerkUser(self.uow, self.clock, self.recent, self.ids)(delivery, event)

    async def delete(self, delivery: str, user: UserId = ADA) -> WebhookOutcome:
        return await DeleteUser(self.uow, self.clock, self.recent)(delivery, ClerkUserDeleted(user))

    def user(self, user: UserId = ADA) -> User:
        return self.uow.store.users[user]

    def kinds(self, user: UserId = ADA) -> list[EntryKind]:
        return [e.kind for e in self.uow.store.ledger if e.user_id == user]


@pytest.fixture
def world() -> World:
    return World()


async def test_user_created_stores_the_profile_and_credits_the_welcome_grant(
    world: World,
) -> None:
    assert (
        await world.sync("msg_1", upserted(username="ada", image_url="https://img/a"))
        is WebhookOutcome.PROCESSED
    )

    user = world.user()
    assert (user.username, user.display_name, user.image_url) == (
        "ada", "Ada Varga", "https://img/a",
    )  # fmt: skip
    assert user.created_at == world.clock.now()
    assert user.profile_updated_at == CLERK_T0
    assert world.kinds() == [EntryKind.DAILY_FREE, EntryKind.GRANT]
    assert (CLERK, "msg_1") in world.uow.store.deliveries


async def test_the_display_name_falls_back_to_the_username(world: World) -> None:
    await world.sync("msg_1", upserted(first_name=None, last_name=None, username="ada"))
    assert world.user().display_name == "ada"


async def test_the_display_name_is_the_first_name_alone_when_there_is_no_last(
    world: World,
) -> None:
    await world.sync("msg_1", upserted(last_name=None, username="ada"))
    assert world.user().display_name == "Ada"


async def test_user_updated_changes_the_profile_but_not_the_creation_time(world: World) -> None:
    await world.sync("msg_1", upserted())
    created = world.user().created_at
    world.clock.advance(minutes=5)

    outcome = await world.sync("msg_2", upserted(CLERK_T0 + timedelta(minutes=5), username="av"))

    assert outcome is WebhookOutcome.PROCESSED
    assert (world.user().username, world.user().created_at) == ("av", created)
    assert world.user().updated_at == world.clock.now()
    assert world.kinds().count(EntryKind.GRANT) == 1


async def test_an_update_before_the_created_event_upserts_and_grants_once(world: World) -> None:
    later = CLERK_T0 + timedelta(minutes=1)
    await world.sync("msg_2", upserted(later, username="new"))

    assert await world.sync("msg_1", upserted(CLERK_T0, username="old")) is WebhookOutcome.IGNORED

    assert world.user().username == "new"
    assert world.kinds().count(EntryKind.GRANT) == 1


async def test_a_stale_update_is_ignored_and_not_remembered(world: World) -> None:
    await world.sync("msg_2", upserted(CLERK_T0 + timedelta(seconds=1), username="new"))

    assert await world.sync("msg_1", upserted(CLERK_T0, username="old")) is WebhookOutcome.IGNORED

    assert world.user().username == "new"
    assert (CLERK, "msg_1") not in world.uow.store.deliveries


async def test_a_replayed_delivery_id_is_a_duplicate(world: World) -> None:
    await world.sync("msg_1", upserted(username="ada"))

    outcome = await world.sync("msg_1", upserted(CLERK_T0 + timedelta(hours=1), username="x"))

    assert outcome is WebhookOutcome.DUPLICATE
    assert world.user().username == "ada"


async def test_a_lazily_provisioned_user_takes_the_profile_without_a_second_grant(
    world: World,
) -> None:
    await ProvisionUser(world.uow, world.clock, world.recent, world.ids)(Principal(ADA))
    world.clock.advance(seconds=2)  # the webhook is late: its updated_at precedes our row's

    assert await world.sync("msg_1", upserted(username="ada")) is WebhookOutcome.PROCESSED

    assert world.user().display_name == "Ada Varga"
    assert world.kinds().count(EntryKind.GRANT) == 1


async def test_a_sync_forgets_the_cached_user(world: World) -> None:
    await ProvisionUser(world.uow, world.clock, world.recent, world.ids)(Principal(ADA))

    await world.sync("msg_1", upserted(username="ada"))

    assert world.recent.get(ADA) is None


async def test_delete_soft_deletes_unpublishes_and_forgets_the_user(world: World) -> None:
    await ProvisionUser(world.uow, world.clock, world.recent, world.ids)(Principal(ADA))
    persona, _ = a_persona(owner=ADA)
    public = attrs.evolve(persona, public_version_id=persona.current_version_id)
    await InMemoryPersonaRepository(world.uow.store).add(public)
    world.clock.advance(hours=1)

    assert await world.delete("msg_d") is WebhookOutcome.PROCESSED

    assert world.user().deleted_at == world.clock.now()
    assert world.uow.store.personas[persona.id].public_version_id is None
    assert world.recent.get(ADA) is None
    assert world.kinds() == [EntryKind.DAILY_FREE, EntryKind.GRANT]  # ledger entries are kept
    with pytest.raises(AccountDeletedError):
        await ProvisionUser(world.uow, world.clock, world.recent, world.ids)(Principal(ADA))


async def test_a_replayed_delete_is_a_duplicate(world: World) -> None:
    await world.delete("msg_d")
    assert await world.delete("msg_d") is WebhookOutcome.DUPLICATE


async def test_a_late_created_after_deleted_is_ignored(world: World) -> None:
    await world.sync("msg_1", upserted(username="ada"))
    await world.delete("msg_d")

    late = upserted(CLERK_T0 + timedelta(days=1), username="again")
    assert await world.sync("msg_2", late) is WebhookOutcome.IGNORED

    assert world.user().deleted_at is not None
    assert world.user().username == "ada"


async def test_a_delete_of_an_unseen_user_leaves_a_tombstone_that_stops_a_late_created(
    world: World,
) -> None:
    await world.delete("msg_d")

    assert await world.sync("msg_1", upserted(username="ada")) is WebhookOutcome.IGNORED

    assert world.user().deleted_at is not None
    assert world.kinds() == []
