"""PersonaRepository contract: every backend stores, finds, versions and lists alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from mynth_core.errors import ConflictError, NotFoundError, ValidationError
from mynth_core.ids import PersonaId, UserId, VersionId
from mynth_core.pagination import PageRequest, encode_cursor
from mynth_core.personas.fields import REQUIRED_FIELDS, PersonaData, PersonaPatch
from mynth_core.personas.model import CloneSource, Persona, VersionDraft, VersionSource
from mynth_core.publishing.model import (
    AgeBucket,
    Classification,
    Gender,
    NsfwRating,
    Publication,
    PublishError,
    PublishStatus,
    Tag,
    TagCategory,
)
from mynth_core.testing import a_persona, persona_data
from mynth_core.uow import UnitOfWorkFactory

T0 = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)  # millisecond precision, like the API
ALICE = UserId("alice")
BOB = UserId("bob")


def new_persona(number: int, *, owner: str = "alice", at: datetime = T0, **data: str) -> Persona:
    title = data.pop("title", None)
    persona, _ = a_persona(
        persona_id=f"prs_{number:04d}",
        owner=owner,
        data=persona_data(**data),
        title=title,
        at=at,
    )
    return persona


def edited(persona: Persona, *, at: datetime, tag: str = "", **fields: str) -> Persona:
    """The persona with one more version (a manual edit of `fields`)."""
    number = persona.next_version_number
    draft = VersionDraft(
        id=VersionId(f"prv_{persona.id.removeprefix('prs_')}_{number}{tag}"),
        data=persona.current_version.data.apply(PersonaPatch.of(fields or {"age": str(number)})),
        source=VersionSource.MANUAL,
        user_message=f"edit {number}",
    )
    changed, _ = persona.add_version(draft, at=at)
    return changed


async def store(uow_factory: UnitOfWorkFactory, *personas: Persona) -> None:
    async with uow_factory() as uow:
        for persona in personas:
            await uow.personas.add(persona)
        await uow.commit()


async def save(uow_factory: UnitOfWorkFactory, persona: Persona) -> None:
    async with uow_factory() as uow:
        await uow.personas.save(persona)
        await uow.commit()


async def get(
    uow_factory: UnitOfWorkFactory, persona_id: str, owner: UserId | None = None
) -> Persona:
    async with uow_factory() as uow:
        return await uow.personas.get(PersonaId(persona_id), owner=owner)


async def list_ids(
    uow_factory: UnitOfWorkFactory, query: str | None = None, owner: UserId = ALICE
) -> list[str]:
    async with uow_factory() as uow:
        page = await uow.personas.list_owned(owner, query=query, page=PageRequest(limit=100))
    return [persona.id for persona in page.items]


async def test_an_added_persona_reads_back_equal_with_aware_utc_times(uow_factory) -> None:
    persona = new_persona(1)
    await store(uow_factory, persona)

    async with uow_factory() as uow:
        found = await uow.personas.get(persona.id)
        locked = await uow.personas.get_for_update(persona.id, owner=ALICE)

    assert found == persona
    assert locked == persona
    for at in (found.created_at, found.updated_at, found.current_version.created_at):
        assert at.utcoffset() == timedelta(0)
        assert at == T0  # the milliseconds survive


async def test_extensions_an_occupation_and_a_clone_source_round_trip(uow_factory) -> None:
    data = PersonaData.parse(
        {**fields_of(persona_data()), "name": "Zoë Ångström", "occupation": "Cartographer"},
        {"top_5_movies": "Solaris, Stalker", "accent": "Faroese"},
    )
    draft = VersionDraft(
        id=VersionId("prv_clone_1"),
        data=data,
        title="The Mapmaker",
        source=VersionSource.CLONE,
        user_message="Cloned from Aurora v1",
    )
    persona, _ = Persona.create(
        PersonaId("prs_clone"),
        ALICE,
        draft,
        at=T0,
        cloned_from=CloneSource(PersonaId("prs_source"), VersionId("prv_source_1")),
    )
    await store(uow_factory, persona)

    assert await get(uow_factory, "prs_clone") == persona


def fields_of(data: PersonaData) -> dict[str, str | None]:
    return {name: getattr(data, name) for name in REQUIRED_FIELDS}


async def test_another_owners_persona_is_not_found(uow_factory) -> None:
    await store(uow_factory, new_persona(1))

    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.personas.get(PersonaId("prs_0001"), owner=BOB)
        with pytest.raises(NotFoundError):
            await uow.personas.get_for_update(PersonaId("prs_0001"), owner=BOB)
        assert (await uow.personas.get(PersonaId("prs_0001"), owner=ALICE)).owner_id == ALICE


async def test_an_unknown_persona_is_not_found(uow_factory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.personas.get(PersonaId("prs_nope"))


async def test_a_deleted_persona_is_not_found_and_leaves_the_owner_list(uow_factory) -> None:
    persona = new_persona(1)
    await store(uow_factory, persona, new_persona(2))
    deleted, _ = persona.delete(at=T0 + timedelta(minutes=1))
    await save(uow_factory, deleted)

    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.personas.get(persona.id)
        with pytest.raises(NotFoundError):
            await uow.personas.get_for_update(persona.id, owner=ALICE)
    assert await list_ids(uow_factory) == ["prs_0002"]


async def test_saving_a_new_version_makes_it_current(uow_factory) -> None:
    persona = new_persona(1)
    await store(uow_factory, persona)

    async with uow_factory() as uow:
        loaded = await uow.personas.get_for_update(persona.id, owner=ALICE)
        changed = edited(loaded, at=T0 + timedelta(seconds=5), summary="Now she sails.")
        await uow.personas.save(changed)
        await uow.commit()

    found = await get(uow_factory, persona.id)
    assert found == changed
    assert found.current_version.version_number == 2
    assert found.next_version_number == 3
    assert found.title == found.current_version.title


async def test_versions_are_listed_oldest_first(uow_factory) -> None:
    v1 = new_persona(1)
    v2 = edited(v1, at=T0 + timedelta(seconds=1))
    v3 = edited(v2, at=T0 + timedelta(seconds=2))
    await store(uow_factory, v1)
    await save(uow_factory, v2)
    await save(uow_factory, v3)

    async with uow_factory() as uow:
        versions = await uow.personas.versions(v1.id)
        unknown = await uow.personas.versions(PersonaId("prs_nope"))

    assert versions == (v1.current_version, v2.current_version, v3.current_version)
    assert unknown == ()


async def test_a_revert_moves_the_pointer_without_writing_a_version(uow_factory) -> None:
    v1 = new_persona(1)
    v2 = edited(v1, at=T0 + timedelta(seconds=1))
    await store(uow_factory, v1)
    await save(uow_factory, v2)
    reverted, _ = v2.revert_to(v1.current_version, at=T0 + timedelta(seconds=2))
    await save(uow_factory, reverted)

    found = await get(uow_factory, v1.id)
    assert found == reverted
    assert found.current_version == v1.current_version
    assert found.next_version_number == 3
    async with uow_factory() as uow:
        assert len(await uow.personas.versions(v1.id)) == 2


async def test_a_version_is_read_by_id_only_through_its_own_persona(uow_factory) -> None:
    first, second = new_persona(1), new_persona(2)
    await store(uow_factory, first, second)

    async with uow_factory() as uow:
        assert await uow.personas.version(first.id, first.current_version_id) == (
            first.current_version
        )
        with pytest.raises(NotFoundError):
            await uow.personas.version(first.id, second.current_version_id)
        with pytest.raises(NotFoundError):
            await uow.personas.version(first.id, VersionId("prv_nope"))


async def test_find_version_reads_any_version_by_id_alone(uow_factory) -> None:
    persona = new_persona(1)
    later = edited(persona, at=T0 + timedelta(minutes=1))
    await store(uow_factory, persona)
    await save(uow_factory, later)

    async with uow_factory() as uow:
        assert await uow.personas.find_version(persona.current_version_id) == (
            persona.current_version
        )
        assert await uow.personas.find_version(later.current_version_id) == later.current_version
        assert await uow.personas.find_version(VersionId("prv_nope")) is None


async def test_a_taken_version_number_is_a_conflict_not_an_overwrite(uow_factory) -> None:
    persona = new_persona(1)
    await store(uow_factory, persona)
    winner = edited(persona, at=T0 + timedelta(seconds=1), summary="First.", tag="a")
    loser = edited(persona, at=T0 + timedelta(seconds=1), summary="Second.", tag="b")
    await save(uow_factory, winner)

    with pytest.raises(ConflictError):
        await save(uow_factory, loser)

    assert await get(uow_factory, persona.id) == winner


async def test_adding_a_persona_id_twice_is_a_conflict(uow_factory) -> None:
    await store(uow_factory, new_persona(1))

    with pytest.raises(ConflictError):
        await store(uow_factory, new_persona(1, name="Someone Else"))


async def test_the_owner_list_shows_the_most_recently_updated_first(uow_factory) -> None:
    oldest, middle, newest = (new_persona(n, at=T0 + timedelta(minutes=n)) for n in (1, 2, 3))
    await store(uow_factory, oldest, middle, newest, new_persona(4, owner="bob"))
    await save(uow_factory, edited(oldest, at=T0 + timedelta(hours=1)))

    assert await list_ids(uow_factory) == ["prs_0001", "prs_0003", "prs_0002"]
    assert await list_ids(uow_factory, owner=BOB) == ["prs_0004"]


async def test_the_owner_list_searches_title_and_name_in_any_case(uow_factory) -> None:
    await store(
        uow_factory,
        new_persona(1, name="Aurora Vale", title="Keeper of Lights"),
        new_persona(2, name="Bram Holt", title="Night Writer"),
        new_persona(3, name="Élodie Brun", title="Élodie"),
    )

    assert await list_ids(uow_factory, "AURORA") == ["prs_0001"]
    assert await list_ids(uow_factory, "night w") == ["prs_0002"]
    assert await list_ids(uow_factory, "of lights") == ["prs_0001"]
    assert await list_ids(uow_factory, "éLODIE") == ["prs_0003"]
    assert await list_ids(uow_factory, "nobody") == []
    assert sorted(await list_ids(uow_factory, "")) == ["prs_0001", "prs_0002", "prs_0003"]


async def test_wildcards_in_a_query_match_only_themselves(uow_factory) -> None:
    await store(
        uow_factory,
        new_persona(1, name="100% Real"),
        new_persona(2, name="1000 Real"),
        new_persona(3, name="snake_case"),
        new_persona(4, name="snakeXcase"),
        new_persona(5, name="AC/DC Fan"),
        new_persona(6, name="Back\\Slash"),
    )

    assert await list_ids(uow_factory, "0%") == ["prs_0001"]
    assert await list_ids(uow_factory, "e_c") == ["prs_0003"]
    assert await list_ids(uow_factory, "c/d") == ["prs_0005"]
    assert await list_ids(uow_factory, "k\\s") == ["prs_0006"]
    assert await list_ids(uow_factory, "%") == ["prs_0001"]
    assert await list_ids(uow_factory, "_") == ["prs_0003"]


async def test_paging_the_owner_list_visits_each_persona_once_in_order(uow_factory) -> None:
    # Pairs share an updated_at, so the id must break ties without gaps or repeats.
    personas = [new_persona(n, at=T0 + timedelta(seconds=n // 2)) for n in range(1, 9)]
    await store(uow_factory, *personas)
    expected = [p.id for p in sorted(personas, key=lambda p: (p.updated_at, p.id), reverse=True)]

    seen: list[str] = []
    cursor = None
    async with uow_factory() as uow:
        for _ in range(3):
            page = await uow.personas.list_owned(
                ALICE, query=None, page=PageRequest(limit=3, cursor=cursor)
            )
            seen += [p.id for p in page.items]
            cursor = page.next_cursor
    assert seen == expected
    assert cursor is None


async def test_an_exactly_full_last_page_has_no_next_cursor(uow_factory) -> None:
    await store(uow_factory, *(new_persona(n) for n in range(1, 5)))

    async with uow_factory() as uow:
        first = await uow.personas.list_owned(ALICE, query=None, page=PageRequest(limit=2))
        second = await uow.personas.list_owned(
            ALICE, query=None, page=PageRequest(limit=2, cursor=first.next_cursor)
        )
    assert first.next_cursor is not None
    assert [p.id for p in second.items] == ["prs_0002", "prs_0001"]
    assert second.next_cursor is None


@pytest.mark.parametrize("cursor", ["not-a-cursor", encode_cursor("one-part")])
async def test_a_cursor_the_repository_did_not_make_is_a_validation_error(
    uow_factory, cursor
) -> None:
    async with uow_factory() as uow:
        with pytest.raises(ValidationError) as caught:
            await uow.personas.list_owned(ALICE, query=None, page=PageRequest(cursor=cursor))
    assert caught.value.errors[0].field == "cursor"


async def test_a_sql_cursor_with_a_malformed_time_is_a_validation_error(sql_uow_factory) -> None:
    cursor = encode_cursor("yesterday", "prs_0001")
    async with sql_uow_factory() as uow:
        with pytest.raises(ValidationError) as caught:
            await uow.personas.list_owned(ALICE, query=None, page=PageRequest(cursor=cursor))
    assert caught.value.errors[0].field == "cursor"


async def test_each_listed_persona_carries_its_current_version_and_ids(uow_factory) -> None:
    first = new_persona(1)
    second = edited(first, at=T0 + timedelta(seconds=1))
    await store(uow_factory, first, new_persona(2))
    await save(uow_factory, second)

    async with uow_factory() as uow:
        page = await uow.personas.list_owned(ALICE, query=None, page=PageRequest())
    repository_view = {p.id: p for p in page.items}
    assert repository_view[first.id] == second
    assert repository_view[PersonaId("prs_0002")] == new_persona(2)


async def test_unpublish_all_hides_only_the_owners_public_personas(uow_factory) -> None:
    mine = new_persona(1)
    public = published(new_persona(2))
    other = published(new_persona(3, owner="bob"))
    await store(uow_factory, mine, public, other)
    later = T0 + timedelta(days=1)

    async with uow_factory() as uow:
        assert await uow.personas.unpublish_all(ALICE, at=later) == 1
        assert await uow.personas.unpublish_all(ALICE, at=later) == 0
        await uow.commit()

    assert await get(uow_factory, public.id) == attrs.evolve(
        public, public_version_id=None, updated_at=later
    )
    assert await get(uow_factory, mine.id) == mine
    assert await get(uow_factory, other.id) == other


def published(persona: Persona) -> Persona:
    return attrs.evolve(persona, public_version_id=persona.current_version_id)


# --- the publication ---------------------------------------------------------------------------

TAGS = (
    Tag("sea", TagCategory.STYLE),  # not in name order: the classifier's order is kept
    Tag("brooding", TagCategory.PERSONALITY),
    Tag("lighthouse-keeper", TagCategory.OTHER),
)


def with_publication(persona: Persona, *, tags: tuple[Tag, ...] = TAGS, **changes: Any) -> Persona:
    """The persona published at T0 + 1 h with `tags` (a classification), and `changes`."""
    at = T0 + timedelta(hours=1)
    classification = Classification(
        headline="She hears ships that sank a century ago",
        nsfw_rating=NsfwRating.SUGGESTIVE,
        gender=Gender.FEMALE,
        age_bucket=AgeBucket.ADULT_25,
        tags=tags,
    )
    publication = Publication(
        status=PublishStatus.PUBLISHED,
        slug=f"aurora-{persona.id.removeprefix('prs_')}",
        public_name="Aurora Vale",
        classification=classification,
        published_at=at,
        last_error=PublishError(code="timeout", message="too slow", at=at),
    )
    return attrs.evolve(
        persona,
        public_version_id=persona.current_version_id,
        publication=attrs.evolve(publication, **changes),
    )


async def test_a_publication_round_trips_with_its_tags_in_order(uow_factory) -> None:
    persona = with_publication(new_persona(1))
    pending = with_publication(
        new_persona(2),
        status=PublishStatus.PENDING,
        requested_at=T0 + timedelta(hours=2),
        requested_version_id=VersionId("prv_0002_1"),
        last_error=None,
    )
    await store(uow_factory, persona, pending)

    async with uow_factory() as uow:
        assert await uow.personas.get(persona.id) == persona
        assert await uow.personas.get_for_update(pending.id, owner=ALICE) == pending
        page = await uow.personas.list_owned(ALICE, query=None, page=PageRequest())
    assert set(page.items) == {persona, pending}


async def test_saving_replaces_the_tags_or_clears_them(uow_factory) -> None:
    persona = with_publication(new_persona(1))
    await store(uow_factory, persona)
    retagged = with_publication(persona, tags=(Tag("brooding", TagCategory.STYLE), TAGS[0]))
    async with uow_factory() as uow:  # a locked read, then a save with other tags
        await uow.personas.get_for_update(persona.id, owner=ALICE)
        await uow.personas.save(retagged)
        assert await uow.personas.get(persona.id) == retagged
        await uow.commit()
    assert await get(uow_factory, persona.id) == retagged

    untagged = with_publication(persona, tags=())
    await save(uow_factory, untagged)  # a save without a read first
    assert await get(uow_factory, persona.id) == untagged

    cleared = attrs.evolve(persona, public_version_id=None, publication=Publication())
    await save(uow_factory, retagged)
    await save(uow_factory, cleared)
    assert await get(uow_factory, persona.id) == cleared


async def test_a_locked_persona_saved_again_keeps_its_tags(uow_factory) -> None:
    persona = with_publication(new_persona(1))
    await store(uow_factory, persona)

    async with uow_factory() as uow:
        locked = await uow.personas.get_for_update(persona.id, owner=ALICE)
        await uow.personas.save(edited(locked, at=T0 + timedelta(hours=3)))
        await uow.commit()

    assert (await get(uow_factory, persona.id)).publication == persona.publication


async def test_personas_sharing_a_tag_keep_their_own_category(uow_factory) -> None:
    one = with_publication(new_persona(1), tags=(Tag("tall", TagCategory.PHYSICAL),))
    two = with_publication(new_persona(2), tags=(Tag("tall", TagCategory.APPEARANCE),))
    await store(uow_factory, one, two)

    assert await get(uow_factory, one.id) == one
    assert await get(uow_factory, two.id) == two


async def test_slug_taken_counts_every_persona_ever_given_the_slug(uow_factory) -> None:
    persona = with_publication(new_persona(1))
    await store(uow_factory, persona, new_persona(2))
    deleted, _ = persona.delete(at=T0 + timedelta(days=1))
    await save(uow_factory, deleted)

    async with uow_factory() as uow:
        assert await uow.personas.slug_taken("aurora-0001")
        assert not await uow.personas.slug_taken("aurora-0002")
        assert not await uow.personas.slug_taken("AURORA-0001")


async def test_a_second_persona_with_a_taken_slug_is_a_conflict(sql_uow_factory) -> None:
    await store(sql_uow_factory, with_publication(new_persona(1)))

    with pytest.raises(ConflictError):
        await store(sql_uow_factory, with_publication(new_persona(2), slug="aurora-0001"))


async def test_unpublish_all_sets_the_status_to_none_and_keeps_the_rest(uow_factory) -> None:
    public = with_publication(new_persona(1))
    pending = with_publication(new_persona(2), status=PublishStatus.PENDING, last_error=None)
    pending = attrs.evolve(pending, public_version_id=None)
    await store(uow_factory, public, pending)
    later = T0 + timedelta(days=1)

    async with uow_factory() as uow:
        assert await uow.personas.unpublish_all(ALICE, at=later) == 1
        await uow.commit()

    hidden = attrs.evolve(public.publication, status=PublishStatus.NONE)
    assert await get(uow_factory, public.id) == attrs.evolve(
        public, public_version_id=None, publication=hidden, updated_at=later
    )
    assert await get(uow_factory, pending.id) == pending
