"""Persona generation use cases: generate and enhance (PRODUCT.md §4.5, §4.7).

Each use case checks its input, reads what it needs and charges *before* it returns a
`Generation`; nothing touches the provider until the caller iterates it. Iterating to the
end stores the result (a new persona or version, with its events) or refunds the charge.
No transaction stays open while the model writes. Rate limits are checked by the caller
before the use case runs (they are keyed by transport facts such as the client IP).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import AsyncExitStack, aclosing
from typing import Final

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import (
    AuthenticationRequiredError,
)
from mynth_core.generation.ports import (
    ChatRequest,
)
from mynth_core.generation.runs import (
    Generation,
    Outcome,
    Partial,
    StructuredStream,
    Trace,
    logged,
)
from mynth_core.identity import Principal
from mynth_core.ids import PERSONA, VERSION, IdFactory, PersonaId, UserId, VersionId
from mynth_core.ledger.services import Charged, ChargeGuard
from mynth_core.personas.fields import (
    NOTE_LIMIT,
    TITLE_LIMIT,
    PersonaData,
)
from mynth_core.personas.model import Persona, PersonaVersion, VersionDraft, VersionSource
from mynth_core.personas.normalise import (
    GeneratedPersona,
    clean_text,
    merge_changes,
    persona_from_output,
)
from mynth_core.personas.prompts import (
    PERSONA_CHANGES_SCHEMA,
    PERSONA_SCHEMA,
    PersonaEnhancePrompt,
    PersonaGenerationPrompt,
)
from mynth_core.personas.services import record
from mynth_core.personas.writer import (
    Writer,
    charge_for_version,
    charge_key,
    check_prompt,
    replayed,
    store_version,
)
from mynth_core.pricing import Operation, PriceTable
from mynth_core.uow import UnitOfWorkFactory

GENERATE_TIMEOUT: Final = 80.0  # seconds, §4.5
ENHANCE_TIMEOUT: Final = 50.0  # §4.7


@attrs.frozen(kw_only=True)
class GenerateRequest:
    """`POST /v1/personas/generate`: a prompt, optionally a persona to regenerate, a model."""

    prompt: str
    persona_id: PersonaId | None = None
    model: str | None = None


@attrs.frozen(kw_only=True)
class SketchedPersona:
    """An anonymous caller's generated persona: returned, never stored."""

    title: str
    data: PersonaData
    ai_note: str | None


@attrs.frozen(kw_only=True)
class GeneratedPersonaResult:
    """A signed-in generation: the persona and the version it wrote."""

    persona: Persona
    version: PersonaVersion


@attrs.frozen(kw_only=True)
class EnhanceResult:
    """An enhancement: the new version, or None when the model changed nothing (refunded)."""

    version: PersonaVersion | None
    ai_note: str | None = None

    @property
    def no_change(self) -> bool:
        return self.version is None


@attrs.frozen
class GeneratePersona:
    """Generate a persona from a prompt: anonymous (free, not stored) or signed in (charged)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    guard: ChargeGuard
    prices: PriceTable
    writer: Writer

    async def sketch(self, request: GenerateRequest) -> Generation[SketchedPersona]:
        """An anonymous caller's generation: free, never stored (rate limited by the caller).

        Raises:
            ValidationError: a bad prompt.
            UnknownModelError: `model` is not a persona-generation model.
            AuthenticationRequiredError: the request names a persona to regenerate.
        """
        check_prompt("prompt", request.prompt)
        if request.persona_id is not None:
            raise AuthenticationRequiredError
        models = self.writer.models.generate.choose(request.model)
        trace = Trace(operation=Operation.PERSONA_GENERATE, models=models)
        return Generation(logged(self.writer.log, trace, self._sketch(request, models, trace)))

    async def __call__(
        self,
        who: Principal,
        request: GenerateRequest,
        *,
        idempotency_key: str | None = None,
    ) -> Generation[GeneratedPersonaResult]:
        """Check, charge, and return the generation to run.

        Raises:
            ValidationError: a bad prompt or `Idempotency-Key`.
            UnknownModelError: `model` is not a persona-generation model.
            NotFoundError: the persona to regenerate is not the caller's.
            InsufficientTokensError: the balance cannot cover the charge.
            GenerationInProgressError: the `Idempotency-Key` is in use by a running request.
        """
        check_prompt("prompt", request.prompt)
        models = self.writer.models.generate.choose(request.model)
        user = who.user_id
        operation = Operation.PERSONA_GENERATE
        key = charge_key(operation, user, idempotency_key, self.ids)
        async with self.uow(read_only=True) as uow:
            if request.persona_id is not None:
                await uow.personas.get(request.persona_id, owner=user)
            replay = await replayed(uow, key) if idempotency_key is not None else None
            if replay is not None and replay.version is not None:
                persona = await uow.personas.get(replay.version.persona_id, owner=user)
                result = GeneratedPersonaResult(persona=persona, version=replay.version)
                return Generation.of(result, replayed=True)
        version_id = VersionId(self.ids.new(VERSION))
        persona_id = request.persona_id or PersonaId(self.ids.new(PERSONA))
        stack, _, trace = await charge_for_version(
            self.guard,
            self.prices,
            user=user,
            operation=operation,
            key=key,
            persona_id=persona_id,
            version_id=version_id,
            models=models,
        )
        body = self._stored(
            who=who,
            request=request,
            models=models,
            trace=trace,
            stack=stack,
            ids=(persona_id, version_id),
        )
        return Generation(logged(self.writer.log, trace, body))

    def _stream(
        self, request: GenerateRequest, models: tuple[str, ...], user: UserId | None, trace: Trace
    ) -> StructuredStream[GeneratedPersona]:
        spec = PersonaGenerationPrompt(prompt=request.prompt)
        chat = self.writer.request(
            spec, PERSONA_SCHEMA, models, timeout=GENERATE_TIMEOUT, user=user
        )
        return StructuredStream(self.writer.model, chat, persona_from_output, trace)

    async def _sketch(
        self, request: GenerateRequest, models: tuple[str, ...], trace: Trace
    ) -> AsyncGenerator[Partial | SketchedPersona, None]:
        stream = self._stream(request, models, None, trace)
        async with aclosing(stream.partials()) as partials:
            async for partial in partials:
                yield partial
        made = stream.done.value
        yield SketchedPersona(
            title=made.title or made.data.name, data=made.data, ai_note=made.ai_note
        )

    async def _stored(  # noqa: PLR0913 - the facts prepared by __call__
        self,
        *,
        who: Principal,
        request: GenerateRequest,
        models: tuple[str, ...],
        trace: Trace,
        stack: AsyncExitStack,
        ids: tuple[PersonaId, VersionId],
    ) -> AsyncGenerator[Partial | GeneratedPersonaResult, None]:
        persona_id, version_id = ids
        async with stack:
            stream = self._stream(request, models, who.user_id, trace)
            async with aclosing(stream.partials()) as partials:
                async for partial in partials:
                    yield partial
            made = stream.done
            draft = VersionDraft(
                id=version_id,
                data=made.value.data,
                title=made.value.title,
                source=VersionSource.GENERATE,
                user_message=request.prompt,
                ai_note=made.value.ai_note,
                model=made.completion.model,
            )
            at = self.clock.now()
            async with self.uow() as uow:
                if request.persona_id is None:
                    persona, events = Persona.create(persona_id, who.user_id, draft, at=at)
                    await uow.personas.add(persona)
                else:
                    persona = await uow.personas.get_for_update(persona_id, owner=who.user_id)
                    persona, events = persona.add_version(draft, at=at)
                    await uow.personas.save(persona)
                await record(uow, self.ids, events)
                await uow.commit()
        yield GeneratedPersonaResult(persona=persona, version=persona.current_version)


@attrs.frozen
class EnhancePersona:
    """Change a persona as a free-text instruction asks (charged; no change → refunded)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    guard: ChargeGuard
    prices: PriceTable
    writer: Writer

    async def __call__(
        self,
        who: Principal,
        persona_id: PersonaId,
        prompt: str,
        *,
        idempotency_key: str | None = None,
    ) -> Generation[EnhanceResult]:
        """Check, charge, and return the generation to run.

        Raises:
            ValidationError: a bad prompt or `Idempotency-Key`.
            NotFoundError: not the caller's persona.
            InsufficientTokensError: the balance cannot cover the charge.
            GenerationInProgressError: the `Idempotency-Key` is in use by a running request.
        """
        check_prompt("prompt", prompt)
        user = who.user_id
        operation = Operation.PERSONA_ENHANCE
        key = charge_key(operation, user, idempotency_key, self.ids)
        async with self.uow(read_only=True) as uow:
            persona = await uow.personas.get(persona_id, owner=user)
            replay = await replayed(uow, key) if idempotency_key is not None else None
            if replay is not None:
                return Generation.of(EnhanceResult(version=replay.version), replayed=True)
        version_id = VersionId(self.ids.new(VERSION))
        models = self.writer.models.enhance
        stack, held, trace = await charge_for_version(
            self.guard,
            self.prices,
            user=user,
            operation=operation,
            key=key,
            persona_id=persona_id,
            version_id=version_id,
            models=models,
        )
        spec = PersonaEnhancePrompt(
            current=persona.current_version.data, title=persona.title, instruction=prompt
        )
        chat = self.writer.request(
            spec, PERSONA_CHANGES_SCHEMA, models, timeout=ENHANCE_TIMEOUT, user=user
        )
        body = self._run(
            who=who,
            persona=persona,
            prompt=prompt,
            chat=chat,
            trace=trace,
            stack=stack,
            held=held,
            version_id=version_id,
        )
        return Generation(logged(self.writer.log, trace, body))

    async def _run(  # noqa: PLR0913 - the facts prepared by __call__
        self,
        *,
        who: Principal,
        persona: Persona,
        prompt: str,
        chat: ChatRequest,
        trace: Trace,
        stack: AsyncExitStack,
        held: Charged,
        version_id: VersionId,
    ) -> AsyncGenerator[Partial | EnhanceResult, None]:
        current = persona.current_version

        def parse(output: Mapping[str, object]) -> tuple[PersonaData, str | None, str | None]:
            return (
                merge_changes(current.data, output),
                clean_text(output.get("title"), TITLE_LIMIT),
                clean_text(output.get("note_for_user"), NOTE_LIMIT),
            )

        async with stack:
            stream = StructuredStream(self.writer.model, chat, parse, trace)
            async with aclosing(stream.partials()) as partials:
                async for partial in partials:
                    yield partial
            made = stream.done
            data, title, note = made.value
            if data == current.data and (title is None or title == current.title):
                held.empty()
                trace.outcome = Outcome.NO_CHANGE
                trace.tokens_refunded = trace.tokens_charged
                result = EnhanceResult(version=None, ai_note=note)
            else:
                draft = VersionDraft(
                    id=version_id,
                    data=data,
                    title=title,
                    source=VersionSource.ENHANCE,
                    user_message=prompt,
                    ai_note=note,
                    model=made.completion.model,
                )
                version = await store_version(
                    self.uow,
                    self.clock,
                    self.ids,
                    who,
                    draft,
                    persona_id=persona.id,
                    base=current.id,
                )
                result = EnhanceResult(version=version, ai_note=note)
        yield result
