"""Lazy provisioning and the recent-users cache."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from mynth_core.errors import AccountDeletedError
from mynth_core.identity import Principal
from mynth_core.ids import UserId
from mynth_core.testing import FakeUnitOfWorkFactory, FrozenClock, SequentialIdFactory
from mynth_core.testing.fakes import InMemoryUserRepository, world_counts
from mynth_core.users import ProvisionUser, RecentUsers, User

ALICE = Principal(UserId("alice"))


@attrs.define
class World:
    clock: FrozenClock = attrs.Factory(FrozenClock)
    uow: FakeUnitOfWorkFactory = attrs.Factory(FakeUnitOfWorkFactory)
    recent: RecentUsers = attrs.field()

    @recent.default
    def _recent(self) -> RecentUsers:
        return RecentUsers(self.clock)

    @property
    def provision(self) -> ProvisionUser:
        return ProvisionUser(self.uow, self.clock, self.recent, SequentialIdFactory())

    async def delete(self, user_id: str) -> None:
        await InMemoryUserRepository(self.uow.store).soft_delete(
            UserId(user_id), at=self.clock.now()
        )


@pytest.fixture
def world() -> World:
    return World()


async def test_the_first_request_creates_the_user_once(world: World) -> None:
    first = await world.provision(ALICE)
    again = await world.provision(ALICE)
    assert first == again == world.uow.store.users[UserId("alice")]
    assert world_counts(world.uow)["users"] == 1
    assert world.uow.commits == 1


async def test_a_deleted_user_is_refused(world: World) -> None:
    await world.provision(ALICE)
    await world.delete("alice")
    world.recent.forget(UserId("alice"))
    with pytest.raises(AccountDeletedError):
        await world.provision(ALICE)


async def test_a_recent_user_is_served_without_reading_the_store_until_it_expires(
    world: World,
) -> None:
    await world.provision(ALICE)
    await world.delete("alice")
    await world.provision(ALICE)  # still recent: no read
    world.clock.advance(seconds=10)
    with pytest.raises(AccountDeletedError):
        await world.provision(ALICE)


def test_the_recent_users_cache_keeps_at_most_its_capacity_dropping_the_least_recent() -> None:
    clock = FrozenClock()
    recent = RecentUsers(clock, capacity=2)
    users = [User(id=UserId(n), created_at=clock.now(), updated_at=clock.now()) for n in "abc"]
    recent.remember(users[0])
    recent.remember(users[1])
    assert recent.get(UserId("a")) == users[0]  # a is now the most recent
    recent.remember(users[2])
    assert recent.get(UserId("b")) is None
    assert recent.get(UserId("a")) == users[0]
    assert recent.get(UserId("c")) == users[2]


def test_a_deleted_user_is_never_remembered() -> None:
    clock = FrozenClock()
    recent = RecentUsers(clock, ttl=timedelta(seconds=10))
    gone = User(
        id=UserId("a"), created_at=clock.now(), updated_at=clock.now(), deleted_at=clock.now()
    )
    recent.remember(gone)
    assert recent.get(UserId("a")) is None
