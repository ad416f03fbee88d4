"""Property actions: expand, rewrite or create one property of a persona (PRODUCT.md §4.8)."""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any, Final

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import (
    GenerationInvalidError,
    PropertyMissingError,
    ValidationError,
)
from mynth_core.generation.ports import (
    ChatRequest,
)
from mynth_core.generation.runs import (
    Generation,
    Partial,
    StructuredStream,
    Trace,
    logged,
)
from mynth_core.identity import Principal
from mynth_core.ids import VERSION, IdFactory, PersonaId, VersionId
from mynth_core.personas.fields import (
    EXTENSION_KEY,
    FIELD_LIMITS,
    MAX_EXTENSION_VALUE,
    MAX_EXTENSIONS,
    PersonaData,
)
from mynth_core.personas.model import PersonaVersion, VersionDraft, VersionSource
from mynth_core.personas.normalise import (
    clean_text,
    fit,
)
from mynth_core.personas.prompts import (
    BUILT_IN_PROPERTIES,
    PropertyAction,
    PropertyActionPrompt,
    property_schema,
)
from mynth_core.personas.writer import Writer, store_version
from mynth_core.pricing import Operation
from mynth_core.uow import UnitOfWorkFactory

PROPERTY_TIMEOUT: Final = 40.0  # §4.8
FIXED_PROPERTIES: Final = frozenset({"name", "age", "gender", "summary", "extensions"})


SUGGESTIONS: Final = (
    "hobbies",
    "top_5_movies",
    "favorite_foods",
    "skills",
    "fears",
    "goals",
    "relationships",
    "quirks",
    "favorite_music",
    "favorite_books",
    "favorite_places",
    "daily_routine",
    "secrets",
    "catchphrases",
    "strengths",
    "weaknesses",
    "values",
    "habits",
)
SUGGESTED: Final = 3


def suggested_properties(version: PersonaVersion) -> tuple[str, ...]:
    """Three custom properties the version lacks, drawn at random (§4.8).

    The draw is seeded by the version id, so a persona shows the same suggestions until it
    changes.
    """
    missing = [name for name in SUGGESTIONS if name not in version.data.extensions]
    rng = random.Random(version.id)  # noqa: S311 - a stable shuffle, not a secret
    return tuple(rng.sample(missing, min(SUGGESTED, len(missing))))


def property_target(data: PersonaData, name: str, action: PropertyAction) -> PropertyAction:
    """Check a property action against the persona; return the action to run.

    `create` on an existing property behaves as `rewrite`.

    Raises:
        ValidationError: a fixed field, a malformed name, or a 51st extension (`property`).
        PropertyMissingError: expand or rewrite of a property the persona lacks.
    """
    if name in FIXED_PROPERTIES:
        raise ValidationError.single("property", "cannot be changed by a property action")
    if not EXTENSION_KEY.fullmatch(name):
        raise ValidationError.single("property", "must be 1-64 characters of a-z, 0-9 and _")
    exists = (
        getattr(data, name) if name in BUILT_IN_PROPERTIES else data.extensions.get(name)
    ) is not None
    if not exists:
        if action is not PropertyAction.CREATE:
            raise PropertyMissingError(name)
        if name not in BUILT_IN_PROPERTIES and len(data.extension_items) >= MAX_EXTENSIONS:
            raise ValidationError.single(
                "property", f"the persona already has {MAX_EXTENSIONS} extensions"
            )
        return action
    return PropertyAction.REWRITE if action is PropertyAction.CREATE else action


def with_property(data: PersonaData, name: str, text: str) -> PersonaData:
    """`data` with one property set: a built-in field, or an extension."""
    if name in BUILT_IN_PROPERTIES:
        changes: dict[str, Any] = {name: text}  # one of the text fields
        return attrs.evolve(data, **changes)
    extensions = dict(data.extension_items)
    extensions[name] = text
    return fit(attrs.evolve(data, extension_items=tuple(sorted(extensions.items()))))


@attrs.frozen
class RunPropertyAction:
    """Expand, rewrite or create one property as a new version (free)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    writer: Writer

    async def __call__(
        self, who: Principal, persona_id: PersonaId, name: str, action: PropertyAction
    ) -> Generation[PersonaVersion]:
        """Check and return the generation to run.

        Raises:
            ValidationError: a property that cannot be changed this way.
            PropertyMissingError: expand or rewrite of a missing property.
            NotFoundError: not the caller's persona.
        """
        async with self.uow(read_only=True) as uow:
            persona = await uow.personas.get(persona_id, owner=who.user_id)
        current = persona.current_version
        action = property_target(current.data, name, action)
        models = self.writer.models.generate.choose()
        trace = Trace(operation=Operation.PROPERTY_ACTION, models=models, persona_id=persona_id)
        spec = PropertyActionPrompt(current=current.data, property=name, action=action)
        chat = self.writer.request(
            spec, property_schema(name), models, timeout=PROPERTY_TIMEOUT, user=who.user_id
        )
        body = self._run(who=who, current=current, name=name, action=action, chat=chat, trace=trace)
        return Generation(logged(self.writer.log, trace, body))

    async def _run(  # noqa: PLR0913 - the facts prepared by __call__
        self,
        *,
        who: Principal,
        current: PersonaVersion,
        name: str,
        action: PropertyAction,
        chat: ChatRequest,
        trace: Trace,
    ) -> AsyncGenerator[Partial | PersonaVersion, None]:
        limit = FIELD_LIMITS.get(name, MAX_EXTENSION_VALUE)

        def parse(output: Mapping[str, object]) -> str:
            text = clean_text(output.get(name), limit)
            if text is None:
                raise GenerationInvalidError(f"the output has no text for {name!r}")
            return text

        stream = StructuredStream(self.writer.model, chat, parse, trace)
        async with aclosing(stream.partials()) as partials:
            async for partial in partials:
                yield partial
        made = stream.done
        version_id = VersionId(self.ids.new(VERSION))
        trace.version_id = version_id
        draft = VersionDraft(
            id=version_id,
            data=with_property(current.data, name, made.value),
            source=VersionSource.PROPERTY,
            user_message=f"{action.value.capitalize()} {name.replace('_', ' ')}",
            model=made.completion.model,
        )
        yield await store_version(
            self.uow,
            self.clock,
            self.ids,
            who,
            draft,
            persona_id=current.persona_id,
            base=current.id,
        )
