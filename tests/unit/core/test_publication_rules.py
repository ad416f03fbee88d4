"""Publishing over the core fakes: the rules, the state machine, timeouts and late results."""

from __future__ import annotations

import asyncio
import json

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ledgerkit import LedgerWorld
from mynth_core.identity import Principal
from mynth_core.ids import ImageId, ImageJobId, UserId
from mynth_core.images.model import StoredImage
from mynth_core.pagination import PageRequest
from mynth_core.personas.events import event_type
from mynth_core.personas.services import CreatePersona
from mynth_core.publishing.model import (
    PENDING_TIMEOUT,
    AgeBucket,
    Classification,
    Gender,
    MinorWithNsfwImageError,
    NotPublishedError,
    NsfwRating,
    PublishInProgressError,
    PublishStatus,
    apply_rules,
    normalise_tag,
    normalise_tags,
    slugify,
)
from mynth_core.publishing.services import (
    Classifier,
    FailStalePublishes,
    RequestPublish,
    RunPublishJob,
    Unpublish,
)
from mynth_core.testing import (
    PlainPromptRenderer,
    RecordingGenerationLog,
    ScriptedChatModel,
    persona_data,
)

ALICE = Principal(UserId("alice"))
RESULT = {
    "headline": "A keeper of the last light",
    "nsfw_rating": "sfw",
    "gender": "female",
    "age_bucket": "25-34",
    "tags": [
        {"name": "Sea Faring", "category": "style"},
        {"name": "kind", "category": "personality"},
    ],
}


def classification(**changes: object) -> Classification:
    base = Classification(
        headline="h",
        nsfw_rating=NsfwRating.SFW,
        gender=Gender.FEMALE,
        age_bucket=AgeBucket.ADULT_25,
    )
    return attrs.evolve(base, **changes)


def test_an_nsfw_profile_image_makes_the_rating_explicit() -> None:
    assert apply_rules(classification(), nsfw_image=True).nsfw_rating is NsfwRating.EXPLICIT


@pytest.mark.parametrize("bucket", [AgeBucket.TODDLER, AgeBucket.CHILD, AgeBucket.TEEN])
def test_a_minor_is_always_sfw_and_cannot_have_an_nsfw_image(bucket) -> None:
    minor = classification(age_bucket=bucket, nsfw_rating=NsfwRating.EXPLICIT)

    assert apply_rules(minor, nsfw_image=False).nsfw_rating is NsfwRating.SFW
    with pytest.raises(MinorWithNsfwImageError):
        apply_rules(minor, nsfw_image=True)


@given(st.lists(st.tuples(st.text(max_size=70), st.sampled_from(["style", "nope", "age"]))))
def test_tags_are_normalised_unique_and_at_most_twenty(pairs) -> None:
    tags = normalise_tags(pairs)

    names = [t.name for t in tags]
    assert len(tags) <= 20
    assert len(names) == len(set(names))
    assert all(0 < len(n) <= 50 and n == normalise_tag(n) for n in names)


def test_tag_normalisation_lowercases_and_hyphenates() -> None:
    assert normalise_tag("  Sea  Faring!! ") == "sea-faring"
    assert normalise_tag("Élan Vital") == "elan-vital"
    assert normalise_tag("!!!") is None


def test_a_slug_is_ascii_with_a_ten_character_suffix() -> None:
    slug = slugify("Aurora Vále", "The keeper — of light", suffix="abc123xyz0")

    assert slug == "aurora-vale-the-keeper-of-light-abc123xyz0"
    assert len(slugify("x" * 200, "y")) == 80 + 1 + 10


@pytest.mark.parametrize(
    ("headline", "expected"),
    [
        ("Aurora Vale: keeper of the light.", "aurora-vale-keeper-of-the-light"),
        ("AURORA VÁLE", "aurora-vale"),
        ("Aurora Valentine, a namesake", "aurora-vale-aurora-valentine-a-namesake"),
        ("", "aurora-vale"),
    ],
)
def test_a_headline_that_begins_with_the_name_does_not_repeat_it(headline, expected) -> None:
    assert slugify("Aurora Vale", headline, suffix="s") == f"{expected}-s"


@attrs.define
class World(LedgerWorld):
    model: ScriptedChatModel = attrs.Factory(ScriptedChatModel)

    @property
    def run(self) -> RunPublishJob:
        classifier = Classifier(
            model=self.model, renderer=PlainPromptRenderer(), log=RecordingGenerationLog()
        )
        return RunPublishJob(self.uow, self.clock, self.ids, classifier)

    async def publishable(self):
        persona = await CreatePersona(self.uow, self.clock, self.ids)(ALICE, persona_data(), None)
        async with self.uow() as uow:
            stored = await uow.personas.get_for_update(persona.id, owner=ALICE.user_id)
            image = StoredImage(
                id=ImageId("img_1"),
                owner_id=ALICE.user_id,
                persona_id=persona.id,
                job_id=ImageJobId("igj_1"),
                width=512,
                height=512,
                model="offline/image",
                nsfw=False,
                prompt="tall",
                created_at=self.clock.now(),
            )
            await uow.images.add_image(image)
            await uow.personas.save(attrs.evolve(stored, profile_image_id=image.id))
            await uow.commit()
        return persona

    async def persona(self, persona_id):
        async with self.uow(read_only=True) as uow:
            return await uow.personas.get(persona_id)

    async def events(self, persona_id) -> list[str]:
        async with self.uow(read_only=True) as uow:
            page = await uow.events.list_for(persona_id, PageRequest())
        return [event_type(e.event) for e in page.items]


@pytest.fixture
def world() -> World:
    return World()


async def test_a_pending_publish_older_than_ten_minutes_is_failed_by_the_sweep(world) -> None:
    persona = await world.publishable()
    await RequestPublish(world.uow, world.clock, world.ids)(ALICE, persona.id)
    world.clock.advance(minutes=11)

    failed = await FailStalePublishes(world.uow, world.clock, world.ids)()
    again = await FailStalePublishes(world.uow, world.clock, world.ids)()

    stored = (await world.persona(persona.id)).publication
    assert (failed, again) == (1, 0)
    assert stored.status is PublishStatus.FAILED
    assert stored.last_error is not None
    assert stored.last_error.code == "timeout"
    assert (await world.events(persona.id))[0] == "persona.publish_failed"


async def test_a_result_arriving_after_the_timeout_is_discarded(world) -> None:
    persona = await world.publishable()
    await RequestPublish(world.uow, world.clock, world.ids)(ALICE, persona.id)
    world.clock.advance(minutes=11)
    world.model.script(json.dumps(RESULT))

    await world.run(persona.id)

    stored = await world.persona(persona.id)
    assert stored.public_version_id is None
    assert stored.publication.status is PublishStatus.PENDING  # the sweep records the timeout
    assert stored.publication.seen_at(world.clock.now()).status is PublishStatus.FAILED


async def test_a_timely_result_publishes_with_normalised_tags(world) -> None:
    persona = await world.publishable()
    await RequestPublish(world.uow, world.clock, world.ids)(ALICE, persona.id)
    world.clock.advance(minutes=1)
    world.model.script(json.dumps(RESULT))

    assert await world.run(persona.id) is PublishStatus.PUBLISHED

    stored = await world.persona(persona.id)
    assert stored.public_version_id == persona.current_version_id
    assert [t.name for t in stored.publication.classification.tags] == ["sea-faring", "kind"]
    world.clock.advance(minutes=20)
    assert await FailStalePublishes(world.uow, world.clock, world.ids)() == 0


# --- the publication state machine, driven at random --------------------------------------


class PublicationMachine(RuleBasedStateMachine):
    """Publish, classify (success or failure), time out, unpublish and re-publish at random.

    After every step: the state is one of §5.3's; the persona is public exactly when it is
    published (or a failed re-publish left the old version live); a slug, once given, never
    changes; a pending publish is never seen older than 10 minutes; the public version is one
    of the versions that were requested.
    """

    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.persona_id = None
        self.slug: str | None = None
        self.requested: set[object] = set()

    @initialize()
    def create(self) -> None:
        persona = asyncio.run(self.world.publishable())
        self.persona_id = persona.id

    def _persona(self):
        return asyncio.run(self.world.persona(self.persona_id))

    @rule()
    def request(self) -> None:
        try:
            asyncio.run(
                RequestPublish(self.world.uow, self.world.clock, self.world.ids)(
                    ALICE, self.persona_id
                )
            )
        except PublishInProgressError:
            assert self._persona().publication.seen_at(self.world.clock.now()).status is (
                PublishStatus.PENDING
            )
            return
        self.requested.add(self._persona().publication.requested_version_id)

    @rule(outcome=st.sampled_from(["ok", "minor_nsfw", "invalid"]))
    def run_job(self, outcome: str) -> None:
        if outcome == "ok":
            self.world.model.script(json.dumps(RESULT))
        elif outcome == "invalid":
            self.world.model.script("not json", "still not json")
        else:
            self.world.model.script(json.dumps(RESULT | {"age_bucket": "13-17"}))
            asyncio.run(self._flag_image_nsfw())
        asyncio.run(self.world.run(self.persona_id))
        self.world.model.replies.clear()

    async def _flag_image_nsfw(self) -> None:
        async with self.world.uow() as uow:
            image = await uow.images.image(ImageId("img_1"))
            await uow.images.add_image(attrs.evolve(image, nsfw=True))
            await uow.commit()

    @rule(minutes=st.integers(min_value=1, max_value=15))
    def wait(self, minutes: int) -> None:
        self.world.clock.advance(minutes=minutes)

    @rule()
    def sweep(self) -> None:
        asyncio.run(FailStalePublishes(self.world.uow, self.world.clock, self.world.ids)())

    @rule()
    def unpublish(self) -> None:
        try:
            asyncio.run(
                Unpublish(self.world.uow, self.world.clock, self.world.ids)(ALICE, self.persona_id)
            )
        except NotPublishedError:
            assert self._persona().public_version_id is None

    @invariant()
    def consistent(self) -> None:
        if self.persona_id is None:
            return
        persona = self._persona()
        publication = persona.publication
        seen = publication.seen_at(self.world.clock.now())
        assert seen.status in set(PublishStatus)
        if seen.status is PublishStatus.PENDING:
            assert self.world.clock.now() - publication.requested_at <= PENDING_TIMEOUT
        if persona.public_version_id is not None:
            assert persona.public_version_id in self.requested
            assert publication.status in {PublishStatus.PUBLISHED, PublishStatus.PENDING}
        if publication.status is PublishStatus.PUBLISHED:
            assert persona.public_version_id is not None
        if publication.slug is not None:
            assert self.slug in {None, publication.slug}
            self.slug = publication.slug


PublicationMachine.TestCase.settings = settings(deadline=None, max_examples=40)
TestPublicationMachine = PublicationMachine.TestCase
