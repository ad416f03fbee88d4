"""Persona use cases over the core fakes: ownership, versions, clone, delete, events."""

from __future__ import annotations

import attrs
import pytest

from mynth_core.errors import NoChangeError, NotFoundError, ValidationError, VersionConflictError
from mynth_core.identity import Principal
from mynth_core.ids import PersonaId, UserId, VersionId
from mynth_core.pagination import PageRequest
from mynth_core.personas.events import event_type
from mynth_core.personas.fields import PersonaPatch
from mynth_core.personas.services import (
    ClonePersona,
    CreatePersona,
    DeletePersona,
    EditPersona,
    EditRequest,
    GetPersona,
    GetVersion,
    ListPersonaEvents,
    ListPersonas,
    ListVersions,
    RevertPersona,
)
from mynth_core.testing import FakeUnitOfWorkFactory, FrozenClock, SequentialIdFactory, persona_data
from mynth_core.testing.fakes import world_counts

ALICE = Principal(UserId("alice"))
BOB = Principal(UserId("bob"))


@attrs.define
class World:
    uow: FakeUnitOfWorkFactory = attrs.Factory(FakeUnitOfWorkFactory)
    clock: FrozenClock = attrs.Factory(FrozenClock)
    ids: SequentialIdFactory = attrs.Factory(SequentialIdFactory)

    def __getattr__(self, name: str):  # world.create, world.edit, ...
        cls = USE_CASES[name]
        fields = {f.name: getattr(self, f.name) for f in attrs.fields(cls)}
        return cls(**fields)

    async def a_persona(self, who: Principal = ALICE, **data: str):
        return await self.create(who, persona_data(**data), None)

    async def edit_age(self, who: Principal, persona_id: PersonaId, age: str, **kw):
        self.clock.advance(seconds=1)
        return await self.edit(
            who, persona_id, EditRequest(patch=PersonaPatch.of({"age": age}), **kw)
        )


USE_CASES = {
    "create": CreatePersona,
    "get": GetPersona,
    "list": ListPersonas,
    "edit": EditPersona,
    "versions": ListVersions,
    "version": GetVersion,
    "revert": RevertPersona,
    "clone": ClonePersona,
    "delete": DeletePersona,
    "events": ListPersonaEvents,
}


@pytest.fixture
def world() -> World:
    return World()


async def test_edits_write_consecutive_versions_and_move_the_pointer(world: World) -> None:
    persona = await world.a_persona()
    v2 = await world.edit_age(ALICE, persona.id, "35")
    v3 = await world.edit_age(ALICE, persona.id, "36", note="older")
    assert (v2.version_number, v3.version_number) == (2, 3)
    assert v3.user_message == "older"
    assert (await world.get(ALICE, persona.id)).current_version == v3
    assert [v.version_number for v in await world.versions(ALICE, persona.id)] == [1, 2, 3]
    assert await world.version(ALICE, persona.id, "current") == v3


async def test_a_stale_base_version_writes_nothing(world: World) -> None:
    persona = await world.a_persona()
    await world.edit_age(ALICE, persona.id, "35")
    before = world_counts(world.uow)
    with pytest.raises(VersionConflictError):
        await world.edit_age(ALICE, persona.id, "36", base_version_id=persona.current_version_id)
    assert world_counts(world.uow) == before


async def test_an_over_long_note_or_title_is_refused_before_anything_is_written(
    world: World,
) -> None:
    persona = await world.a_persona()
    before = world_counts(world.uow)
    with pytest.raises(ValidationError):
        await world.edit_age(ALICE, persona.id, "35", note="n" * 501)
    with pytest.raises(ValidationError):
        await world.edit_age(ALICE, persona.id, "35", title="t" * 101)
    assert world_counts(world.uow) == before


async def test_a_revert_records_both_ends(world: World) -> None:
    persona = await world.a_persona()
    await world.edit_age(ALICE, persona.id, "35")
    reverted = await world.revert(ALICE, persona.id, persona.current_version_id)
    assert reverted.current_version_id == persona.current_version_id
    page = await world.events(ALICE, persona.id, PageRequest())
    assert [event_type(e.event) for e in page.items] == [
        "persona.reverted",
        "persona.version_created",
        "persona.created",
    ]
    with pytest.raises(NoChangeError):
        await world.revert(ALICE, persona.id, persona.current_version_id)


async def test_every_route_of_anothers_persona_reads_as_not_found(world: World) -> None:
    persona = await world.a_persona()
    pid, vid = persona.id, persona.current_version_id
    calls = [
        world.get(BOB, pid),
        world.versions(BOB, pid),
        world.version(BOB, pid, vid),
        world.edit_age(BOB, pid, "99"),
        world.revert(BOB, pid, vid),
        world.clone(BOB, pid),
        world.delete(BOB, pid),
        world.events(BOB, pid, PageRequest()),
    ]
    for call in calls:
        with pytest.raises(NotFoundError):
            await call


async def test_a_clone_copies_the_current_version_and_keeps_attribution(world: World) -> None:
    persona = await world.a_persona()
    latest = await world.edit_age(ALICE, persona.id, "35")
    clone = await world.clone(ALICE, persona.id)
    assert clone.id != persona.id
    assert clone.current_version.data == latest.data
    assert clone.current_version.source == "clone"
    assert clone.current_version.user_message == "Cloned from Aurora Vale v2"
    assert (clone.cloned_from.persona_id, clone.cloned_from.version_id) == (persona.id, latest.id)
    events = await world.events(ALICE, clone.id, PageRequest())
    assert [event_type(e.event) for e in events.items] == ["persona.cloned", "persona.created"]


async def test_anyone_can_clone_a_public_persona_which_copies_its_public_version(
    world: World,
) -> None:
    persona = await world.a_persona()
    await world.edit_age(ALICE, persona.id, "35")
    store = world.uow.store
    store.personas[persona.id] = attrs.evolve(
        store.personas[persona.id], public_version_id=persona.current_version_id
    )
    clone = await world.clone(BOB, persona.id)
    assert clone.owner_id == "bob"
    assert clone.current_version.data == persona.current_version.data
    assert clone.public_version_id is None


async def test_a_deleted_persona_is_gone_even_for_its_owner(world: World) -> None:
    persona = await world.a_persona()
    await world.delete(ALICE, persona.id)
    with pytest.raises(NotFoundError):
        await world.get(ALICE, persona.id)
    with pytest.raises(NotFoundError):
        await world.delete(ALICE, persona.id)
    assert (await world.list(ALICE, None, PageRequest())).items == ()


async def test_the_owner_list_is_newest_first_searchable_and_paged(world: World) -> None:
    made = []
    for i in range(5):
        world.clock.advance(seconds=1)
        made.append(await world.a_persona(name=f"Nova {i}" if i % 2 else f"Rex {i}"))
    await world.a_persona(BOB, name="Nova bob")
    first = await world.list(ALICE, None, PageRequest(limit=2))
    second = await world.list(ALICE, None, PageRequest(limit=2, cursor=first.next_cursor))
    third = await world.list(ALICE, None, PageRequest(limit=2, cursor=second.next_cursor))
    seen = [p.id for page in (first, second, third) for p in page.items]
    assert seen == [p.id for p in reversed(made)]
    assert third.next_cursor is None
    novas = await world.list(ALICE, "nOvA", PageRequest())
    assert {p.current_version.data.name for p in novas.items} == {"Nova 1", "Nova 3"}


async def test_a_version_id_of_another_persona_is_not_found(world: World) -> None:
    mine = await world.a_persona()
    other = await world.a_persona()
    with pytest.raises(NotFoundError):
        await world.version(ALICE, mine.id, other.current_version_id)
    with pytest.raises(NotFoundError):
        await world.revert(ALICE, mine.id, VersionId("prv_missing"))
