"""PublicCatalog contract: every backend lists, filters, pages and finds public personas alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from mynth_core.errors import NotFoundError, ValidationError
from mynth_core.ids import ImageId, PersonaId, UserId, VersionId
from mynth_core.pagination import Page, PageRequest, encode_cursor
from mynth_core.personas.fields import PersonaPatch
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
from mynth_core.publishing.ports import CatalogQuery, PublicPersona, PublicVersion
from mynth_core.testing import a_persona, persona_data
from mynth_core.uow import UnitOfWorkFactory
from mynth_core.users import User

T0 = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)
EVERYTHING = CatalogQuery(include_nsfw=True)
SFW, SUGGESTIVE, EXPLICIT = NsfwRating.SFW, NsfwRating.SUGGESTIVE, NsfwRating.EXPLICIT


def tagged(*names: str) -> tuple[Tag, ...]:
    return tuple(Tag(name, TagCategory.OTHER) for name in names)


def published(
    number: int,
    *,
    owner: str = "alice",
    minute: int | None = None,
    name: str = "Aurora Vale",
    headline: str = "She hears ships that sank a century ago",
    rating: NsfwRating = SFW,
    gender: Gender = Gender.FEMALE,
    tags: tuple[Tag, ...] = (),
    cloned_from: Persona | None = None,
) -> Persona:
    """Persona `prs_nnnn`, published at T0 + `minute` (default `number`) minutes."""
    source = None
    if cloned_from is not None:
        source = CloneSource(cloned_from.id, cloned_from.current_version_id)
    persona, _ = a_persona(persona_id=f"prs_{number:04d}", owner=owner, data=persona_data())
    persona = attrs.evolve(persona, cloned_from=source)
    at = T0 + timedelta(minutes=number if minute is None else minute)
    classification = Classification(
        headline=headline,
        nsfw_rating=rating,
        gender=gender,
        age_bucket=AgeBucket.ADULT_25,
        tags=tags,
    )
    publication = Publication(
        status=PublishStatus.PUBLISHED,
        slug=f"aurora-{number:04d}",
        public_name=name,
        classification=classification,
        published_at=at,
    )
    return attrs.evolve(
        persona,
        public_version_id=persona.current_version_id,
        profile_image_id=ImageId(f"img_{number:04d}"),
        publication=publication,
    )


def unpublished(persona: Persona) -> Persona:
    hidden = attrs.evolve(persona.publication, status=PublishStatus.NONE)
    return attrs.evolve(persona, public_version_id=None, publication=hidden)


def edited(persona: Persona) -> Persona:
    """The persona with a second version, current but not public."""
    draft = VersionDraft(
        id=VersionId(f"prv_{persona.id.removeprefix('prs_')}_2"),
        data=persona.current_version.data.apply(PersonaPatch.of({"age": "35"})),
        source=VersionSource.MANUAL,
    )
    changed, _ = persona.add_version(draft, at=T0 + timedelta(days=1))
    return changed


def card(persona: Persona) -> PublicPersona:
    """What the catalog shows of `persona` in a list."""
    publication = persona.publication
    classification = publication.classification
    assert classification is not None
    assert publication.published_at is not None
    return PublicPersona(
        id=persona.id,
        slug=publication.slug or "",
        name=publication.public_name or "",
        headline=classification.headline,
        nsfw_rating=classification.nsfw_rating,
        gender=classification.gender,
        age_bucket=classification.age_bucket,
        tags=classification.tags,
        profile_image_id=persona.profile_image_id,
        published_at=publication.published_at,
    )


async def store(uow_factory: UnitOfWorkFactory, *personas: Persona) -> None:
    async with uow_factory() as uow:
        for persona in personas:
            await uow.personas.add(persona)
        await uow.commit()


async def save(uow_factory: UnitOfWorkFactory, *personas: Persona) -> None:
    async with uow_factory() as uow:
        for persona in personas:
            await uow.personas.save(persona)
        await uow.commit()


async def search(
    uow_factory: UnitOfWorkFactory,
    query: CatalogQuery = EVERYTHING,
    page: PageRequest | None = None,
) -> Page[PublicPersona]:
    async with uow_factory(read_only=True) as uow:
        return await uow.catalog.search(query, page or PageRequest(limit=60))


async def ids(uow_factory: UnitOfWorkFactory, query: CatalogQuery = EVERYTHING) -> list[str]:
    return [item.id for item in (await search(uow_factory, query)).items]


async def by_slug(uow_factory: UnitOfWorkFactory, slug: str) -> PublicPersona:
    async with uow_factory(read_only=True) as uow:
        return await uow.catalog.get_by_slug(slug)


# --- the list ---------------------------------------------------------------------------------


async def test_the_list_shows_public_personas_newest_first_ties_by_id(uow_factory) -> None:
    await store(
        uow_factory,
        published(1),
        published(2, minute=5),
        published(3, minute=5),
        published(4, tags=tagged("sea", "brooding")),
    )

    page = await search(uow_factory)

    assert [item.id for item in page.items] == ["prs_0003", "prs_0002", "prs_0004", "prs_0001"]
    assert page.items[2] == card(published(4, tags=tagged("sea", "brooding")))
    assert page.next_cursor is None


async def test_only_sfw_personas_are_listed_unless_nsfw_is_included(uow_factory) -> None:
    await store(
        uow_factory,
        published(1, rating=SFW),
        published(2, rating=SUGGESTIVE),
        published(3, rating=EXPLICIT),
    )

    assert await ids(uow_factory, CatalogQuery()) == ["prs_0001"]
    assert await ids(uow_factory, EVERYTHING) == ["prs_0003", "prs_0002", "prs_0001"]


async def test_the_gender_filter_keeps_only_that_gender(uow_factory) -> None:
    await store(
        uow_factory,
        published(1, gender=Gender.FEMALE),
        published(2, gender=Gender.MALE),
        published(3, gender=Gender.OTHER),
        published(4, gender=Gender.MALE, rating=EXPLICIT),
    )

    assert await ids(uow_factory, CatalogQuery(gender=Gender.MALE)) == ["prs_0002"]
    male_any = CatalogQuery(gender=Gender.MALE, include_nsfw=True)
    assert await ids(uow_factory, male_any) == ["prs_0004", "prs_0002"]


async def test_tags_must_all_be_present_and_excluded_tags_absent(uow_factory) -> None:
    await store(
        uow_factory,
        published(1, tags=tagged("sea", "brooding")),
        published(2, tags=tagged("sea")),
        published(3, tags=tagged("brooding", "sea", "witty")),
        published(4),
    )

    def query(tags: str | None = None, exclude: str | None = None) -> CatalogQuery:
        return CatalogQuery.parse(tags=tags, exclude_tags=exclude, include_nsfw=True)

    assert await ids(uow_factory, query("sea")) == ["prs_0003", "prs_0002", "prs_0001"]
    assert await ids(uow_factory, query("sea,brooding")) == ["prs_0003", "prs_0001"]
    assert await ids(uow_factory, query("sea,brooding,witty")) == ["prs_0003"]
    assert await ids(uow_factory, query("sea,unknown")) == []
    assert await ids(uow_factory, query(exclude="witty")) == ["prs_0004", "prs_0002", "prs_0001"]
    assert await ids(uow_factory, query(exclude="brooding,witty")) == ["prs_0004", "prs_0002"]
    assert await ids(uow_factory, query(exclude="unknown")) == [
        "prs_0004",
        "prs_0003",
        "prs_0002",
        "prs_0001",
    ]
    assert await ids(uow_factory, query("sea", exclude="witty")) == ["prs_0002", "prs_0001"]


async def test_q_matches_public_name_headline_or_a_tag_in_any_case(uow_factory) -> None:
    await store(
        uow_factory,
        published(1, name="Captain Mora", headline="Sails the northern sea"),
        published(2, name="Aurora Vale", headline="Keeps the LIGHTHOUSE lit"),
        published(3, name="Ines", headline="Quiet", tags=tagged("lighthouse-keeper")),
        published(4, name="Noor", headline="Loud"),
    )

    def q(text: str) -> CatalogQuery:
        return CatalogQuery.parse(q=text, include_nsfw=True)

    assert await ids(uow_factory, q("captain")) == ["prs_0001"]
    assert await ids(uow_factory, q("NORTHERN")) == ["prs_0001"]
    assert await ids(uow_factory, q("Lighthouse")) == ["prs_0003", "prs_0002"]
    assert await ids(uow_factory, q("keeper")) == ["prs_0003"]
    assert await ids(uow_factory, q("nobody")) == []


async def test_wildcards_in_q_match_only_themselves(uow_factory) -> None:
    await store(
        uow_factory,
        published(1, name="100% Aurora"),
        published(2, name="Aurora_Vale"),
        published(3, name="Aurora Vale"),
    )

    assert await ids(uow_factory, CatalogQuery(q="%", include_nsfw=True)) == ["prs_0001"]
    assert await ids(uow_factory, CatalogQuery(q="a_v", include_nsfw=True)) == ["prs_0002"]


async def test_every_filter_applies_together(uow_factory) -> None:
    await store(
        uow_factory,
        published(1, gender=Gender.MALE, tags=tagged("sea", "pirate"), name="Mora"),
        published(2, gender=Gender.MALE, tags=tagged("sea"), name="Mora", rating=EXPLICIT),
        published(3, gender=Gender.FEMALE, tags=tagged("sea"), name="Mora"),
        published(4, gender=Gender.MALE, tags=tagged("sea", "ghost"), name="Mora"),
        published(5, gender=Gender.MALE, tags=tagged("sea"), name="Ines"),
    )
    query = CatalogQuery.parse(q="mor", tags="sea", exclude_tags="ghost", gender="male")

    assert await ids(uow_factory, query) == ["prs_0001"]


# --- paging -----------------------------------------------------------------------------------


async def walk(
    uow_factory: UnitOfWorkFactory, limit: int, between: list[Persona] | None = None
) -> list[list[str]]:
    """Every page of the catalog in order; `between` are published one after each page."""
    pages: list[list[str]] = []
    cursor: str | None = None
    pending = list(between or [])
    while True:
        page = await search(uow_factory, EVERYTHING, PageRequest(limit=limit, cursor=cursor))
        pages.append([item.id for item in page.items])
        if pending:
            await store(uow_factory, pending.pop(0))
        cursor = page.next_cursor
        if cursor is None:
            return pages


async def test_paging_visits_each_public_persona_once_in_order(uow_factory) -> None:
    personas = [published(n, minute=n // 2) for n in range(1, 12)]  # pairs share a minute
    await store(uow_factory, *personas)

    pages = await walk(uow_factory, limit=3)

    assert [len(page) for page in pages] == [3, 3, 3, 2]
    assert flat(pages) == await ids(uow_factory)
    assert flat(pages) == [p.id for p in sorted(personas, key=order_key, reverse=True)]


def flat(pages: list[list[str]]) -> list[str]:
    return [persona_id for page in pages for persona_id in page]


def order_key(persona: Persona) -> tuple[datetime, str]:
    assert persona.publication.published_at is not None
    return persona.publication.published_at, persona.id


async def test_an_exactly_full_last_page_has_no_next_cursor(uow_factory) -> None:
    await store(uow_factory, *(published(n) for n in range(1, 5)))

    assert [len(page) for page in await walk(uow_factory, limit=2)] == [2, 2]


async def test_personas_published_while_paging_neither_repeat_nor_shift_pages(
    uow_factory,
) -> None:
    old = [published(n) for n in range(1, 11)]
    await store(uow_factory, *old)
    newer = [published(100 + n) for n in range(1, 4)]  # newest of all, published mid-walk

    pages = await walk(uow_factory, limit=3, between=newer)

    seen = flat(pages)
    assert seen == [p.id for p in reversed(old)]  # each once, in order, none skipped
    assert len(set(seen)) == len(seen)
    assert (await ids(uow_factory))[:3] == ["prs_0103", "prs_0102", "prs_0101"]


@pytest.mark.parametrize("cursor", ["not-a-cursor", encode_cursor("one-part")])
async def test_a_cursor_the_catalog_did_not_make_is_a_validation_error(uow_factory, cursor) -> None:
    with pytest.raises(ValidationError) as caught:
        await search(uow_factory, EVERYTHING, PageRequest(cursor=cursor))
    assert caught.value.errors[0].field == "cursor"


async def test_a_sql_cursor_with_a_malformed_time_is_a_validation_error(sql_uow_factory) -> None:
    cursor = encode_cursor("yesterday", "prs_0001")
    with pytest.raises(ValidationError) as caught:
        await search(sql_uow_factory, EVERYTHING, PageRequest(cursor=cursor))
    assert caught.value.errors[0].field == "cursor"


# --- what is public ---------------------------------------------------------------------------


async def test_unpublished_pending_and_deleted_personas_are_not_public(uow_factory) -> None:
    never = published(1)
    never = attrs.evolve(
        never,
        public_version_id=None,
        publication=Publication(status=PublishStatus.PENDING, requested_at=T0),
    )
    failed = attrs.evolve(
        unpublished(published(2)),
        publication=attrs.evolve(
            published(2).publication,
            status=PublishStatus.FAILED,
            last_error=PublishError(code="timeout", message="too slow", at=T0),
        ),
    )
    failed = attrs.evolve(failed, public_version_id=None)
    republishing = published(3)  # pending again: the old public version stays live
    republishing = attrs.evolve(
        republishing,
        publication=attrs.evolve(republishing.publication, status=PublishStatus.PENDING),
    )
    await store(uow_factory, never, failed, republishing, published(4), published(5))
    gone, _ = published(4).delete(at=T0 + timedelta(days=1))
    await save(uow_factory, gone, unpublished(published(5)))

    assert await ids(uow_factory) == ["prs_0003"]
    for slug in ("aurora-0002", "aurora-0004", "aurora-0005", "unknown"):
        with pytest.raises(NotFoundError):
            await by_slug(uow_factory, slug)
    assert (await by_slug(uow_factory, "aurora-0003")).id == "prs_0003"


async def test_the_personas_of_a_deleted_user_vanish(uow_factory) -> None:
    await store(uow_factory, published(1, owner="alice"), published(2, owner="bob"))
    async with uow_factory() as uow:
        for user_id in ("alice", "bob"):
            await uow.users.add_if_absent(User(id=UserId(user_id), created_at=T0, updated_at=T0))
        await uow.users.soft_delete(UserId("bob"), at=T0 + timedelta(hours=1))
        await uow.commit()

    assert await ids(uow_factory) == ["prs_0001"]
    with pytest.raises(NotFoundError):
        await by_slug(uow_factory, "aurora-0002")
    assert (await by_slug(uow_factory, "aurora-0001")).id == "prs_0001"


# --- the detail -------------------------------------------------------------------------------


async def test_the_detail_carries_the_public_version_not_the_current_one(uow_factory) -> None:
    persona = published(1, rating=EXPLICIT, tags=tagged("sea"))  # a detail ignores the rating
    await store(uow_factory, persona)
    await save(uow_factory, edited(persona))

    detail = await by_slug(uow_factory, "aurora-0001")

    version = persona.current_version
    assert detail == attrs.evolve(
        card(persona),
        public_version=PublicVersion(
            id=version.id, version_number=version.version_number, data=version.data
        ),
        cloned_from_slug=None,
    )


async def test_cloned_from_slug_names_the_source_only_while_it_is_public(uow_factory) -> None:
    source = published(1)
    other_source = published(2)
    clone = published(3, cloned_from=source)
    second_clone = published(4, cloned_from=other_source)
    private_source, _ = a_persona(persona_id="prs_0005")
    third_clone = published(6, cloned_from=private_source)
    await store(uow_factory, source, other_source, clone, second_clone, private_source, third_clone)

    assert (await by_slug(uow_factory, "aurora-0003")).cloned_from_slug == "aurora-0001"
    assert (await by_slug(uow_factory, "aurora-0004")).cloned_from_slug == "aurora-0002"
    assert (await by_slug(uow_factory, "aurora-0006")).cloned_from_slug is None

    gone, _ = other_source.delete(at=T0 + timedelta(days=1))
    await save(uow_factory, unpublished(source), gone)

    assert (await by_slug(uow_factory, "aurora-0003")).cloned_from_slug is None
    assert (await by_slug(uow_factory, "aurora-0004")).cloned_from_slug is None


async def test_public_shapes_name_no_owner(uow_factory) -> None:
    persona = published(1, owner="usr_owner_secret", tags=tagged("sea"))
    await store(uow_factory, persona)

    listed = (await search(uow_factory)).items[0]
    detail = await by_slug(uow_factory, "aurora-0001")

    assert {f.name for f in attrs.fields(PublicPersona)} == {
        "id",
        "slug",
        "name",
        "headline",
        "nsfw_rating",
        "gender",
        "age_bucket",
        "tags",
        "profile_image_id",
        "published_at",
        "public_version",
        "cloned_from_slug",
    }
    assert {f.name for f in attrs.fields(PublicVersion)} == {"id", "version_number", "data"}
    for shape in (listed, detail):
        assert "usr_owner_secret" not in repr(shape)
    assert listed.id == PersonaId("prs_0001")
