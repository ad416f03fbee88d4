"""UserRepository contract: idempotent first sight, soft delete keeps a tombstone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from mynth_core.ids import UserId
from mynth_core.uow import UnitOfWorkFactory
from mynth_core.users import User

T0 = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)
ALICE = UserId("user_alice")


def a_user(**changes) -> User:
    fields = {"id": ALICE, "created_at": T0, "updated_at": T0, **changes}
    return User(**fields)


async def add_if_absent(uow_factory: UnitOfWorkFactory, user: User) -> User:
    async with uow_factory() as uow:
        stored = await uow.users.add_if_absent(user)
        await uow.commit()
    return stored


async def get(uow_factory: UnitOfWorkFactory, user_id: UserId = ALICE) -> User | None:
    async with uow_factory() as uow:
        return await uow.users.get(user_id)


async def test_an_unknown_user_is_none(uow_factory) -> None:
    assert await get(uow_factory) is None


async def test_a_first_sight_stores_the_user_with_every_field(uow_factory) -> None:
    user = a_user(username="alice", display_name="Alice A.", image_url="https://img/a.png")

    assert await add_if_absent(uow_factory, user) == user
    found = await get(uow_factory)
    assert found == user
    assert found is not None
    assert found.created_at.utcoffset() == timedelta(0)


async def test_a_second_sight_returns_the_stored_user_unchanged(uow_factory) -> None:
    first = a_user(username="alice")
    await add_if_absent(uow_factory, first)

    again = await add_if_absent(
        uow_factory, a_user(username="impostor", created_at=T0 + timedelta(hours=1))
    )

    assert again == first
    assert await get(uow_factory) == first


async def test_concurrent_first_sights_store_one_user_and_both_see_it(uow_factory) -> None:
    one = a_user(username="one")
    two = a_user(username="two", created_at=T0 + timedelta(seconds=1))

    results = await asyncio.gather(add_if_absent(uow_factory, one), add_if_absent(uow_factory, two))

    stored = await get(uow_factory)
    assert stored in (one, two)
    assert results == [stored, stored]


async def test_soft_delete_keeps_a_tombstone_with_the_first_deletion_time(uow_factory) -> None:
    await add_if_absent(uow_factory, a_user())
    gone_at = T0 + timedelta(days=1)

    async with uow_factory() as uow:
        await uow.users.soft_delete(ALICE, at=gone_at)
        await uow.users.soft_delete(ALICE, at=gone_at + timedelta(days=1))
        await uow.users.soft_delete(UserId("user_nobody"), at=gone_at)
        await uow.commit()

    assert await get(uow_factory) == a_user(deleted_at=gone_at, updated_at=gone_at)
    assert await get(uow_factory, UserId("user_nobody")) is None
    assert await add_if_absent(uow_factory, a_user()) == a_user(
        deleted_at=gone_at, updated_at=gone_at
    )


def profile(at: datetime, **changes) -> User:
    return a_user(profile_updated_at=at, updated_at=at, **changes)


async def upsert(uow_factory: UnitOfWorkFactory, user: User) -> User:
    async with uow_factory() as uow:
        stored = await uow.users.upsert(user)
        await uow.commit()
    return stored


async def test_upsert_stores_an_unknown_user(uow_factory) -> None:
    user = profile(T0, username="ada", display_name="Ada", image_url="https://img/a")

    assert await upsert(uow_factory, user) == user
    assert await get(uow_factory) == user


async def test_upsert_applies_a_newer_profile_but_keeps_the_creation_time(uow_factory) -> None:
    await upsert(uow_factory, profile(T0, username="old"))
    later = T0 + timedelta(minutes=1)

    stored = await upsert(
        uow_factory, profile(later, username="new", image_url="i", created_at=later)
    )

    assert stored == profile(later, username="new", image_url="i")
    assert stored.created_at == T0
    assert await get(uow_factory) == stored


async def test_upsert_ignores_an_older_profile(uow_factory) -> None:
    newer = await upsert(uow_factory, profile(T0 + timedelta(seconds=1), username="new"))

    assert await upsert(uow_factory, profile(T0, username="old")) == newer


async def test_upsert_fills_in_a_user_that_was_never_synced(uow_factory) -> None:
    await add_if_absent(uow_factory, a_user(created_at=T0, updated_at=T0 + timedelta(hours=1)))

    stored = await upsert(uow_factory, profile(T0 + timedelta(seconds=1), username="ada"))

    assert stored.username == "ada"


async def test_upsert_never_revives_a_tombstone(uow_factory) -> None:
    await add_if_absent(uow_factory, a_user(deleted_at=T0))

    stored = await upsert(uow_factory, profile(T0 + timedelta(days=1), username="again"))

    assert stored == a_user(deleted_at=T0)
    assert await get(uow_factory) == a_user(deleted_at=T0)
