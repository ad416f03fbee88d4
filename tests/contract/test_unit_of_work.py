"""UnitOfWork contract: all or nothing, and concurrent edits of one persona serialise."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from mynth_core.clock import SystemClock
from mynth_core.errors import NotFoundError
from mynth_core.identity import Principal
from mynth_core.ids import EventId, PersonaId, RandomIdFactory, UserId
from mynth_core.pagination import PageRequest
from mynth_core.personas.events import StoredEvent
from mynth_core.personas.fields import PersonaPatch
from mynth_core.personas.services import CreatePersona, EditPersona, EditRequest
from mynth_core.testing import a_persona, persona_data
from mynth_core.uow import UnitOfWork, UnitOfWorkFactory
from mynth_core.users import User

T0 = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)
ALICE = Principal(UserId("alice"))
PERSONA = PersonaId("prs_0001")


async def write_everything(uow: UnitOfWork) -> None:
    persona, events = a_persona(at=T0)
    await uow.personas.add(persona)
    await uow.events.append([StoredEvent(EventId(f"pev_{n}"), e) for n, e in enumerate(events)])
    await uow.users.add_if_absent(User(id=ALICE.user_id, created_at=T0, updated_at=T0))


async def assert_nothing_stored(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.personas.get(PERSONA)
        assert (await uow.events.list_for(PERSONA, PageRequest())).items == ()
        assert await uow.users.get(ALICE.user_id) is None


async def test_committed_work_is_seen_by_the_next_unit_of_work(uow_factory) -> None:
    async with uow_factory() as uow:
        await write_everything(uow)
        await uow.commit()

    async with uow_factory() as uow:
        assert (await uow.personas.get(PERSONA)).id == PERSONA
        assert len((await uow.events.list_for(PERSONA, PageRequest())).items) == 1
        assert await uow.users.get(ALICE.user_id) is not None


async def test_leaving_without_commit_stores_nothing(uow_factory) -> None:
    async with uow_factory() as uow:
        await write_everything(uow)

    await assert_nothing_stored(uow_factory)


async def test_an_exception_inside_rolls_everything_back(uow_factory) -> None:
    async def fail_midway() -> None:
        async with uow_factory() as uow:
            await write_everything(uow)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_midway()

    await assert_nothing_stored(uow_factory)


async def test_a_cancelled_unit_of_work_stores_nothing(uow_factory) -> None:
    written = asyncio.Event()

    async def work() -> None:
        async with uow_factory() as uow:
            await write_everything(uow)
            written.set()
            await asyncio.sleep(60)
            await uow.commit()

    task = asyncio.create_task(work())
    await written.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    await assert_nothing_stored(uow_factory)


async def test_a_lock_waiter_cancelled_mid_wait_leaves_the_database_usable(
    sql_uow_factory,
) -> None:
    async with sql_uow_factory() as uow:
        await uow.personas.add(a_persona(at=T0)[0])
        await uow.commit()
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold_the_lock() -> None:
        async with sql_uow_factory() as uow:
            await uow.personas.get_for_update(PERSONA, owner=ALICE.user_id)
            holding.set()
            await release.wait()

    async def wait_for_the_lock() -> None:
        async with sql_uow_factory() as uow:
            await uow.personas.get_for_update(PERSONA, owner=ALICE.user_id)

    holder = asyncio.create_task(hold_the_lock())
    await holding.wait()
    waiter = asyncio.create_task(wait_for_the_lock())
    await asyncio.sleep(0.2)
    assert not waiter.done()
    waiter.cancel()
    release.set()
    await holder
    with pytest.raises(asyncio.CancelledError):
        await waiter

    async with sql_uow_factory() as uow:
        assert (await uow.personas.get_for_update(PERSONA, owner=ALICE.user_id)).id == PERSONA


async def test_twenty_concurrent_edits_get_consecutive_version_numbers(uow_factory) -> None:
    clock, ids = SystemClock(), RandomIdFactory()
    persona = await CreatePersona(uow_factory, clock, ids)(ALICE, persona_data(), None)
    edit = EditPersona(uow_factory, clock, ids)

    made = await asyncio.gather(
        *(
            edit(ALICE, persona.id, EditRequest(patch=PersonaPatch.of({"age": f"{30 + n}"})))
            for n in range(20)
        )
    )

    assert sorted(v.version_number for v in made) == list(range(2, 22))
    async with uow_factory() as uow:
        stored = await uow.personas.get(persona.id)
        versions = await uow.personas.versions(persona.id)
        events = await uow.events.list_for(persona.id, PageRequest(limit=100))
    assert [v.version_number for v in versions] == list(range(1, 22))
    assert stored.next_version_number == 22
    assert stored.current_version == versions[-1]
    assert len(events.items) == 21
