"""EventLog contract: append-only, newest first, pages that later appends never shift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mynth_core.errors import ValidationError
from mynth_core.ids import EventId, PersonaId, VersionId
from mynth_core.pagination import PageRequest, encode_cursor
from mynth_core.personas.events import (
    PersonaCloned,
    PersonaCreated,
    PersonaDeleted,
    PersonaEvent,
    PersonaReverted,
    PersonaVersionCreated,
    StoredEvent,
)
from mynth_core.personas.model import VersionSource
from mynth_core.uow import UnitOfWorkFactory

T0 = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)
AURORA = PersonaId("prs_aurora")
BRAM = PersonaId("prs_bram")


def version_created(n: int, persona_id: PersonaId = AURORA) -> StoredEvent:
    event = PersonaVersionCreated(
        persona_id=persona_id,
        at=T0 + timedelta(seconds=n),
        version_id=VersionId(f"prv_{persona_id}_{n}"),
        version_number=n,
        source=VersionSource.MANUAL,
    )
    return StoredEvent(EventId(f"pev_{persona_id}_{n}"), event)


async def append(uow_factory: UnitOfWorkFactory, *events: StoredEvent) -> None:
    async with uow_factory() as uow:
        await uow.events.append(events)
        await uow.commit()


async def list_all(uow_factory: UnitOfWorkFactory, persona_id: PersonaId = AURORA):
    async with uow_factory() as uow:
        page = await uow.events.list_for(persona_id, PageRequest(limit=100))
    return page.items


async def test_events_are_listed_newest_first(uow_factory) -> None:
    first, second, third = (version_created(n) for n in (1, 2, 3))
    await append(uow_factory, first, second)
    await append(uow_factory, third)

    assert await list_all(uow_factory) == (third, second, first)


async def test_every_event_type_reads_back_equal(uow_factory) -> None:
    at = T0
    events: list[PersonaEvent] = [
        PersonaCreated(persona_id=AURORA, at=at, version_id=VersionId("prv_1"), source="clone"),
        PersonaCloned(
            persona_id=AURORA,
            at=at,
            source_persona_id=PersonaId("prs_src"),
            source_version_id=VersionId("prv_src"),
        ),
        PersonaVersionCreated(
            persona_id=AURORA, at=at, version_id=VersionId("prv_2"), version_number=2, source="x"
        ),
        PersonaReverted(
            persona_id=AURORA,
            at=at,
            from_version_id=VersionId("prv_2"),
            to_version_id=VersionId("prv_1"),
        ),
        PersonaDeleted(persona_id=AURORA, at=at),
    ]
    stored = [StoredEvent(EventId(f"pev_{n}"), e) for n, e in enumerate(events)]
    await append(uow_factory, *stored)

    found = await list_all(uow_factory)
    assert found == tuple(reversed(stored))
    assert all(s.event.at.utcoffset() == timedelta(0) for s in found)


async def test_only_the_asked_personas_events_are_listed(uow_factory) -> None:
    await append(uow_factory, version_created(1), version_created(1, BRAM))

    assert await list_all(uow_factory) == (version_created(1),)
    assert await list_all(uow_factory, PersonaId("prs_nobody")) == ()


async def test_paging_visits_every_event_once_newest_first(uow_factory) -> None:
    events = [version_created(n) for n in range(1, 8)]
    await append(uow_factory, *events)

    seen: list[StoredEvent] = []
    cursor = None
    async with uow_factory() as uow:
        for _ in range(3):
            page = await uow.events.list_for(AURORA, PageRequest(limit=3, cursor=cursor))
            seen += page.items
            cursor = page.next_cursor
    assert seen == events[::-1]
    assert cursor is None


async def test_an_event_appended_later_never_shifts_an_earlier_page(uow_factory) -> None:
    await append(uow_factory, *(version_created(n) for n in range(1, 6)))
    async with uow_factory() as uow:
        first = await uow.events.list_for(AURORA, PageRequest(limit=2))

    await append(uow_factory, version_created(6))

    async with uow_factory() as uow:
        second = await uow.events.list_for(AURORA, PageRequest(limit=2, cursor=first.next_cursor))
    assert [e.id for e in first.items] == ["pev_prs_aurora_5", "pev_prs_aurora_4"]
    assert [e.id for e in second.items] == ["pev_prs_aurora_3", "pev_prs_aurora_2"]


async def test_appending_nothing_is_harmless(uow_factory) -> None:
    await append(uow_factory)

    assert await list_all(uow_factory) == ()


@pytest.mark.parametrize("cursor", ["%%%", encode_cursor("1", "2")])
async def test_a_foreign_event_cursor_is_a_validation_error(uow_factory, cursor) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ValidationError) as caught:
            await uow.events.list_for(AURORA, PageRequest(cursor=cursor))
    assert caught.value.errors[0].field == "cursor"


async def test_a_sql_event_cursor_that_is_not_a_number_is_a_validation_error(
    sql_uow_factory,
) -> None:
    async with sql_uow_factory() as uow:
        with pytest.raises(ValidationError):
            await uow.events.list_for(AURORA, PageRequest(cursor=encode_cursor("seven")))
