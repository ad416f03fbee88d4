"""Generate, enhance and property actions over the core fakes: charges, refunds, versions, logs."""

from __future__ import annotations

import json
import random

import attrs
import pytest

from ledgerkit import LedgerWorld
from mynth_core.errors import (
    AuthenticationRequiredError,
    GenerationInProgressError,
    GenerationInvalidError,
    InsufficientTokensError,
    NotFoundError,
    PropertyMissingError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    UnknownModelError,
    ValidationError,
    VersionConflictError,
)
from mynth_core.generation.runs import Generation, Outcome, Partial, WeightedModels
from mynth_core.identity import Principal
from mynth_core.ids import PersonaId, UserId
from mynth_core.ledger.model import EntryKind
from mynth_core.pagination import PageRequest
from mynth_core.personas.events import event_type
from mynth_core.personas.fields import PersonaPatch
from mynth_core.personas.generation import (
    EnhancePersona,
    GeneratePersona,
    GenerateRequest,
    SketchedPersona,
)
from mynth_core.personas.model import VersionSource
from mynth_core.personas.prompts import PropertyAction
from mynth_core.personas.properties import SUGGESTIONS, RunPropertyAction, suggested_properties
from mynth_core.personas.services import CreatePersona, EditPersona, EditRequest
from mynth_core.personas.writer import PERSONA_GENERATION_WEIGHTS, PersonaModels, Writer
from mynth_core.pricing import PriceTable
from mynth_core.testing import (
    PlainPromptRenderer,
    RecordingGenerationLog,
    Reply,
    ScriptedChatModel,
    a_persona,
    persona_data,
)
from mynth_core.testing.fakes import world_counts

ALICE = Principal(UserId("alice"))
BOB = Principal(UserId("bob"))
PERSONA = {
    "title": "The Keeper",
    "note_for_user": "Try giving her a rival.",
    "name": "Aurora Vale",
    "age": "34",
    "gender": "female",
    "summary": "A lighthouse keeper who hears drowned ships.",
    "appearance": "Tall, storm-grey eyes.",
    "personality": "Dry humour.",
    "background": "Raised on a northern island.",
    "occupation": None,
    "extensions": [],
}
NO_CHANGES = dict.fromkeys(PERSONA, None) | {"note_for_user": "Nothing to do.", "extensions": []}


@attrs.define
class World(LedgerWorld):
    model: ScriptedChatModel = attrs.Factory(ScriptedChatModel)
    log: RecordingGenerationLog = attrs.Factory(RecordingGenerationLog)

    @property
    def writer(self) -> Writer:
        generate = WeightedModels(PERSONA_GENERATION_WEIGHTS, rng=random.Random(4))  # noqa: S311 - seeded
        return Writer(
            model=self.model,
            renderer=PlainPromptRenderer(),
            models=PersonaModels(generate=generate),
            log=self.log,
        )

    @property
    def generate(self) -> GeneratePersona:
        return GeneratePersona(
            self.uow, self.clock, self.ids, self.guard, PriceTable(), self.writer
        )

    @property
    def enhance(self) -> EnhancePersona:
        return EnhancePersona(self.uow, self.clock, self.ids, self.guard, PriceTable(), self.writer)

    @property
    def property_action(self) -> RunPropertyAction:
        return RunPropertyAction(self.uow, self.clock, self.ids, self.writer)

    async def a_persona(self, who: Principal = ALICE, **extensions: str):
        data = persona_data().apply(PersonaPatch.of(extensions=extensions))
        return await CreatePersona(self.uow, self.clock, self.ids)(who, data, None)

    async def events(self, persona_id: PersonaId) -> list[str]:
        async with self.uow(read_only=True) as uow:
            page = await uow.events.list_for(persona_id, PageRequest())
        return [event_type(e.event) for e in page.items]

    def counts(self) -> dict[str, int]:
        return dict(world_counts(self.uow))


async def run_all(generation: Generation) -> list[object]:
    return [event async for event in generation.events]


@pytest.fixture
def world() -> World:
    return World()


async def test_an_anonymous_generation_streams_partials_and_stores_nothing(world) -> None:
    world.model.script(PERSONA)
    before = world.counts()

    events = await run_all(await world.generate.sketch(GenerateRequest(prompt="a keeper")))

    *partials, result = events
    assert partials
    assert all(isinstance(p, Partial) for p in partials)
    assert partials[-1].fields["name"] == "Aurora Vale"
    assert result == SketchedPersona(
        title="The Keeper",
        data=result.data,
        ai_note="Try giving her a rival.",
    )
    assert result.data.summary == PERSONA["summary"]
    assert world.counts() == before
    assert [(r.operation, r.outcome, r.tokens_charged) for r in world.log.records] == [
        ("persona_generate", Outcome.SUCCESS, 0)
    ]


async def test_an_anonymous_caller_cannot_regenerate_a_persona(world) -> None:
    with pytest.raises(AuthenticationRequiredError):
        await world.generate.sketch(GenerateRequest(prompt="x", persona_id=PersonaId("prs_1")))


async def test_a_signed_in_generation_charges_one_token_and_stores_version_one(world) -> None:
    world.model.script(attrs.evolve(Reply(json.dumps(PERSONA)), model="x-ai/grok-3-mini"))

    result = await (await world.generate(ALICE, GenerateRequest(prompt="a keeper"))).result()

    version = result.version
    assert result.persona.current_version == version
    assert version.version_number == 1
    assert version.source is VersionSource.GENERATE
    assert version.title == "The Keeper"
    assert version.user_message == "a keeper"
    assert version.ai_note == "Try giving her a rival."
    assert version.model == "x-ai/grok-3-mini"
    assert (await world.balance()).total == 9
    spend = (await world.entries())[-1]
    assert spend.operation == "persona_generate"
    assert spend.reference is not None
    assert spend.reference.id == version.id
    assert await world.events(result.persona.id) == ["persona.created"]
    record = world.log.records[-1]
    assert (record.outcome, record.tokens_charged, record.model) == (
        Outcome.SUCCESS,
        1,
        "x-ai/grok-3-mini",
    )
    assert record.version_id == version.id


async def test_regenerating_adds_a_version_to_the_callers_persona(world) -> None:
    persona = await world.a_persona()
    world.model.script(PERSONA)

    result = await (
        await world.generate(ALICE, GenerateRequest(prompt="again", persona_id=persona.id))
    ).result()

    assert result.persona.id == persona.id
    assert result.version.version_number == 2
    assert await world.events(persona.id) == ["persona.version_created", "persona.created"]


async def test_regenerating_someone_elses_persona_is_not_found_and_charges_nothing(world) -> None:
    persona = await world.a_persona(BOB)

    with pytest.raises(NotFoundError):
        await world.generate(ALICE, GenerateRequest(prompt="x", persona_id=persona.id))
    assert await world.entries() == []
    assert world.model.requests == []


async def test_without_tokens_the_model_is_never_called(world) -> None:
    await world.spend(10, "all-of-it")

    with pytest.raises(InsufficientTokensError):
        await world.generate(ALICE, GenerateRequest(prompt="x"))
    assert world.model.requests == []


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailableError("down"),
        ProviderTimeoutError("slow"),
    ],
)
async def test_a_provider_failure_refunds_and_stores_nothing(world, error) -> None:
    world.model.script(Reply(error=error))
    before = world.counts()["personas"]

    generation = await world.generate(ALICE, GenerateRequest(prompt="x"))
    with pytest.raises(type(error)):
        await generation.result()

    assert (await world.balance()).total == 10
    kinds = [e.kind for e in await world.entries()]
    assert kinds[-2:] == [EntryKind.SPEND, EntryKind.REFUND]
    assert world.counts()["personas"] == before
    record = world.log.records[-1]
    assert record.outcome == (
        Outcome.TIMEOUT if isinstance(error, ProviderTimeoutError) else Outcome.FAILED
    )
    assert (record.tokens_charged, record.tokens_refunded) == (1, 1)
    assert record.error_type == type(error).__name__


async def test_a_failure_after_partials_were_streamed_still_refunds(world) -> None:
    world.model.script(
        Reply(json.dumps(PERSONA), error=ProviderUnavailableError("cut"), fail_after=5)
    )

    generation = await world.generate(ALICE, GenerateRequest(prompt="x"))
    delivered = 0

    async def consume() -> None:
        nonlocal delivered
        async for _ in generation.events:
            delivered += 1

    with pytest.raises(ProviderUnavailableError):
        await consume()
    assert delivered > 0
    assert (await world.balance()).total == 10


async def test_an_invalid_output_is_generated_once_more(world) -> None:
    world.model.script({"name": "only a name"}, PERSONA)

    result = await (await world.generate(ALICE, GenerateRequest(prompt="x"))).result()

    assert result.version.data.name == "Aurora Vale"
    assert len(world.model.requests) == 2
    assert world.log.records[-1].attempts == 2


async def test_invalid_output_twice_fails_and_refunds(world) -> None:
    world.model.script("not json", {"name": "only a name"})

    with pytest.raises(GenerationInvalidError):
        await (await world.generate(ALICE, GenerateRequest(prompt="x"))).result()
    assert (await world.balance()).total == 10


async def test_closing_a_generation_early_refunds_it(world) -> None:
    world.model.script(PERSONA)
    generation = await world.generate(ALICE, GenerateRequest(prompt="x"))

    async for _ in generation.events:
        break
    await generation.events.aclose()

    assert (await world.balance()).total == 10
    assert world.log.records[-1].outcome == Outcome.CANCELLED


async def test_a_repeated_idempotency_key_returns_the_first_result_and_charges_once(world) -> None:
    world.model.script(PERSONA)
    first = await (
        await world.generate(ALICE, GenerateRequest(prompt="x"), idempotency_key="k1")
    ).result()

    again = await world.generate(ALICE, GenerateRequest(prompt="x"), idempotency_key="k1")

    assert again.replayed
    assert (await again.result()).version == first.version
    assert (await world.balance()).total == 9
    assert len(world.model.requests) == 1


async def test_a_key_whose_first_request_is_still_running_is_a_conflict(world) -> None:
    world.model.script(PERSONA)
    running = await world.generate(ALICE, GenerateRequest(prompt="x"), idempotency_key="k1")

    with pytest.raises(GenerationInProgressError):
        await world.generate(ALICE, GenerateRequest(prompt="x"), idempotency_key="k1")
    await running.result()


async def test_a_key_whose_first_request_failed_answers_with_the_failure(world) -> None:
    world.model.script(Reply(error=ProviderUnavailableError("down")))
    with pytest.raises(ProviderUnavailableError):
        await (
            await world.generate(ALICE, GenerateRequest(prompt="x"), idempotency_key="k1")
        ).result()

    with pytest.raises(ProviderError, match="refunded"):
        await world.generate(ALICE, GenerateRequest(prompt="x"), idempotency_key="k1")
    assert (await world.balance()).total == 10


async def test_an_explicit_model_is_used_alone(world) -> None:
    world.model.script(PERSONA)

    await (
        await world.generate.sketch(GenerateRequest(prompt="x", model="x-ai/grok-3-mini"))
    ).result()

    assert world.model.requests[0].models == ("x-ai/grok-3-mini",)


async def test_an_unknown_model_is_refused_before_anything_happens(world) -> None:
    with pytest.raises(UnknownModelError):
        await world.generate(ALICE, GenerateRequest(prompt="x", model="openai/gpt-5"))
    assert await world.entries() == []


async def test_without_a_model_one_primary_and_two_fallbacks_are_drawn(world) -> None:
    world.model.script(PERSONA)

    await (await world.generate.sketch(GenerateRequest(prompt="x"))).result()

    models = world.model.requests[0].models
    assert len(models) == len(set(models)) == 3
    assert set(models) <= {m for m, _ in PERSONA_GENERATION_WEIGHTS}


def test_the_weighted_draw_follows_the_weights() -> None:
    rng = random.Random(1)  # noqa: S311 - a seeded draw, not a secret
    draw = WeightedModels((("a", 0.9), ("b", 0.1)), fallbacks=0, rng=rng)

    primaries = [draw.choose()[0] for _ in range(1000)]

    assert 850 < primaries.count("a") < 950


@pytest.mark.parametrize("prompt", ["", "   ", "x" * 2049, "a\x00b"])
async def test_a_bad_prompt_is_a_validation_error(world, prompt) -> None:
    with pytest.raises(ValidationError) as caught:
        await world.generate(ALICE, GenerateRequest(prompt=prompt))
    assert caught.value.errors[0].field == "prompt"


async def test_enhance_merges_the_changed_fields_into_a_new_version(world) -> None:
    persona = await world.a_persona(fears="the dark")
    world.model.script(
        NO_CHANGES
        | {
            "background": "A retired pilot.",
            "note_for_user": "Made her a pilot.",
            "extensions": [{"key": "callsign", "value": "Gull"}],
        }
    )

    result = await (await world.enhance(ALICE, persona.id, "make her a pilot")).result()

    version = result.version
    assert version is not None
    assert version.source is VersionSource.ENHANCE
    assert version.data.background == "A retired pilot."
    assert version.data.name == persona.current_version.data.name
    assert version.data.extensions == {"fears": "the dark", "callsign": "Gull"}
    assert (version.user_message, version.ai_note) == ("make her a pilot", "Made her a pilot.")
    assert version.title == persona.title
    assert (await world.balance()).total == 9


async def test_enhance_without_an_effective_change_refunds_and_writes_nothing(world) -> None:
    persona = await world.a_persona()
    world.model.script(NO_CHANGES | {"background": persona.current_version.data.background})
    versions_before = world.counts()["versions"]

    result = await (
        await world.enhance(ALICE, persona.id, "change nothing", idempotency_key="k")
    ).result()

    assert result.no_change
    assert result.ai_note == "Nothing to do."
    assert world.counts()["versions"] == versions_before
    assert (await world.balance()).total == 10
    assert world.log.records[-1].outcome == Outcome.NO_CHANGE
    replay = await world.enhance(ALICE, persona.id, "change nothing", idempotency_key="k")
    assert replay.replayed
    assert (await replay.result()).no_change


async def test_enhance_refunds_when_the_persona_changed_meanwhile(world) -> None:
    persona = await world.a_persona()
    world.model.script(NO_CHANGES | {"background": "New."})
    generation = await world.enhance(ALICE, persona.id, "x")
    await EditPersona(world.uow, world.clock, world.ids)(
        ALICE, persona.id, EditRequest(patch=PersonaPatch.of({"age": "35"}))
    )

    with pytest.raises(VersionConflictError):
        await generation.result()
    assert (await world.balance()).total == 10


async def test_a_property_action_writes_one_property_as_a_free_version(world) -> None:
    persona = await world.a_persona()
    world.model.script({"appearance": "Tall, with a scar across one brow."})

    version = await (
        await world.property_action(ALICE, persona.id, "appearance", PropertyAction.EXPAND)
    ).result()

    assert version.data.appearance == "Tall, with a scar across one brow."
    assert version.source is VersionSource.PROPERTY
    assert version.user_message == "Expand appearance"
    assert version.data.personality == persona.current_version.data.personality
    assert await world.entries() == []


async def test_creating_a_custom_property_sets_an_extension(world) -> None:
    persona = await world.a_persona()
    world.model.script({"daily_routine": "Up at five."})

    version = await (
        await world.property_action(ALICE, persona.id, "daily_routine", PropertyAction.CREATE)
    ).result()

    assert version.data.extensions == {"daily_routine": "Up at five."}
    assert version.user_message == "Create daily routine"


async def test_creating_an_existing_property_rewrites_it(world) -> None:
    persona = await world.a_persona(fears="the dark")
    world.model.script({"fears": "Deep water."})

    version = await (
        await world.property_action(ALICE, persona.id, "fears", PropertyAction.CREATE)
    ).result()

    assert version.user_message == "Rewrite fears"


async def test_expanding_a_missing_property_is_refused(world) -> None:
    persona = await world.a_persona()

    with pytest.raises(PropertyMissingError):
        await world.property_action(ALICE, persona.id, "fears", PropertyAction.EXPAND)


@pytest.mark.parametrize("name", ["name", "age", "gender", "summary", "extensions", "Bad-Key", ""])
async def test_fixed_or_malformed_properties_are_refused(world, name) -> None:
    persona = await world.a_persona()

    with pytest.raises(ValidationError) as caught:
        await world.property_action(ALICE, persona.id, name, PropertyAction.CREATE)
    assert caught.value.errors[0].field == "property"


async def test_a_fifty_first_extension_cannot_be_created(world) -> None:
    persona = await world.a_persona(**{f"k{i:02d}": "v" for i in range(50)})

    with pytest.raises(ValidationError, match="50"):
        await world.property_action(ALICE, persona.id, "hobbies", PropertyAction.CREATE)


async def test_a_property_answer_without_the_property_fails_after_one_retry(world) -> None:
    persona = await world.a_persona()
    world.model.script({"other": "x"}, {"appearance": "  "})

    with pytest.raises(GenerationInvalidError):
        await (
            await world.property_action(ALICE, persona.id, "appearance", PropertyAction.REWRITE)
        ).result()
    assert len(world.model.requests) == 2


def test_three_stable_suggestions_name_properties_the_persona_lacks() -> None:
    persona, _ = a_persona(data=persona_data().apply(PersonaPatch.of(extensions={"fears": "x"})))

    suggested = suggested_properties(persona.current_version)

    assert len(set(suggested)) == 3
    assert set(suggested) <= set(SUGGESTIONS) - {"fears"}
    assert suggested_properties(persona.current_version) == suggested
