"""What every persona generation shares: the writer, prompts checks, charges and replays."""

from __future__ import annotations

import hashlib
from contextlib import AsyncExitStack
from typing import Final, TypeVar

import attrs

from mynth_core.clock import Clock
from mynth_core.errors import (
    GenerationInProgressError,
    ProviderError,
    ValidationError,
)
from mynth_core.generation.ports import (
    ChatModel,
    ChatRequest,
    JsonSchema,
    PromptRenderer,
    PromptSpec,
)
from mynth_core.generation.runs import (
    GenerationLog,
    Trace,
    WeightedModels,
)
from mynth_core.identity import Principal
from mynth_core.ids import IdFactory, PersonaId, UserId, VersionId
from mynth_core.ledger.holds import charged_amount, hold_charge
from mynth_core.ledger.model import Reference, refund_key
from mynth_core.ledger.services import Charged, ChargeGuard
from mynth_core.personas.fields import (
    check_text,
)
from mynth_core.personas.model import PersonaVersion, VersionDraft
from mynth_core.personas.services import record
from mynth_core.pricing import Operation, PriceTable
from mynth_core.uow import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")

PROMPT_LIMIT: Final = 2048
IDEMPOTENCY_KEY_LIMIT: Final = 255
MAX_OUTPUT_TOKENS: Final = 4000
PERSONA_GENERATION_WEIGHTS: Final = (
    ("moonshotai/kimi-k2-0905", 0.5),
    ("x-ai/grok-4-fast", 0.5),
    ("thedrummer/anubis-70b-v1.1", 0.5),
    ("x-ai/grok-3-mini", 0.3),
    ("sao10k/l3.3-euryale-70b", 0.3),
    ("meta-llama/llama-4-maverick", 0.2),
)
ENHANCE_MODELS: Final = ("moonshotai/kimi-k2", "openai/gpt-oss-20b")
VERSION_REFERENCE: Final = "version"


@attrs.frozen(kw_only=True)
class PersonaModels:
    """The models persona operations use *(config)*: a weighted set and the enhance chain."""

    generate: WeightedModels = attrs.Factory(lambda: WeightedModels(PERSONA_GENERATION_WEIGHTS))
    enhance: tuple[str, ...] = ENHANCE_MODELS


@attrs.frozen(kw_only=True)
class Writer:
    """What every persona generation needs: the model, the prompts, the model choice, the log."""

    model: ChatModel
    renderer: PromptRenderer
    models: PersonaModels
    log: GenerationLog

    def request(
        self,
        spec: PromptSpec,
        schema: JsonSchema,
        models: tuple[str, ...],
        *,
        timeout: float,
        user: UserId | None,
    ) -> ChatRequest:
        return ChatRequest(
            messages=self.renderer.render(spec),
            models=models,
            schema=schema,
            max_tokens=MAX_OUTPUT_TOKENS,
            timeout=timeout,
            user=None if user is None else end_user_hash(user),
        )


def end_user_hash(user: UserId) -> str:
    """The opaque, stable end-user id sent to providers for abuse detection."""
    return hashlib.sha256(f"mynth:{user}".encode()).hexdigest()[:24]


def check_prompt(field: str, prompt: str) -> None:
    """A prompt is 1-2048 characters, not blank, without NUL.

    Raises:
        ValidationError: naming `field`.
    """
    check_text(field, prompt, PROMPT_LIMIT)


def charge_key(
    operation: Operation, user: UserId, idempotency_key: str | None, ids: IdFactory
) -> str:
    """The ledger key of a charge: the caller's `Idempotency-Key`, or a fresh one."""
    if idempotency_key is None:
        return f"{operation}:{user}:{ids.new('req')}"
    if not idempotency_key.strip() or len(idempotency_key) > IDEMPOTENCY_KEY_LIMIT:
        raise ValidationError.single(
            "Idempotency-Key", f"must be 1-{IDEMPOTENCY_KEY_LIMIT} visible characters"
        )
    return f"{operation}:{user}:{idempotency_key}"


@attrs.frozen
class Replay:
    """The first request under an `Idempotency-Key` and the version it paid for.

    `version` is None when that request changed nothing (its charge was refunded as empty).
    """

    version: PersonaVersion | None


async def replayed(uow: UnitOfWork, key: str) -> Replay | None:
    """What the first charge under `key` produced, or None if no charge used `key`.

    Raises:
        GenerationInProgressError: the first request under the key is still running.
        ProviderError: it failed and was refunded (not because it changed nothing).
    """
    spend = await uow.ledger.find(key)
    if spend is None:
        return None
    if spend.reference is not None and spend.reference.type == VERSION_REFERENCE:
        version = await uow.personas.find_version(VersionId(spend.reference.id))
        if version is not None:
            return Replay(version)
    refund = await uow.ledger.find(refund_key(spend.id))
    if refund is None:
        raise GenerationInProgressError(detail="a request with this Idempotency-Key is running")
    if refund.reason == "empty":
        return Replay(None)
    msg = "the first request with this Idempotency-Key failed and was refunded; use a new key"
    raise ProviderError(msg)


async def charge_for_version(  # noqa: PLR0913 - one charge's facts
    guard: ChargeGuard,
    prices: PriceTable,
    *,
    user: UserId,
    operation: Operation,
    key: str,
    persona_id: PersonaId,
    version_id: VersionId,
    models: tuple[str, ...],
) -> tuple[AsyncExitStack, Charged, Trace]:
    """Charge `operation` for a version still to be written, and start the trace.

    The charge is held open in the returned stack until the generation closes it (refunded
    on failure, or when `Charged.empty()` was called).

    Raises:
        InsufficientTokensError: nothing was charged.
        GenerationInProgressError: a concurrent request holds the same key.
    """
    stack, held = await hold_charge(
        guard,
        user=user,
        operation=operation,
        cost=prices.cost_of(operation),
        key=key,
        reference=Reference(VERSION_REFERENCE, version_id),
    )
    trace = Trace(
        operation=operation,
        models=models,
        persona_id=persona_id,
        version_id=version_id,
        tokens_charged=charged_amount(held),
    )
    return stack, held, trace


async def store_version(  # noqa: PLR0913 - the ports and the facts of one version
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    ids: IdFactory,
    who: Principal,
    draft: VersionDraft,
    *,
    persona_id: PersonaId,
    base: VersionId,
) -> PersonaVersion:
    """Store `draft` as the persona's next version, if `base` is still current.

    Raises:
        VersionConflictError: the persona changed while the model was writing.
        NotFoundError: the persona was deleted meanwhile.
    """
    async with uow_factory() as uow:
        persona = await uow.personas.get_for_update(persona_id, owner=who.user_id)
        persona, events = persona.add_version(draft, at=clock.now(), base_version_id=base)
        await uow.personas.save(persona)
        await record(uow, ids, events)
        await uow.commit()
    return persona.current_version
