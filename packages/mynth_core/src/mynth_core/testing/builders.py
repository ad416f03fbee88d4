"""Builders for core objects with sensible defaults; override only what a test is about."""

from __future__ import annotations

from datetime import UTC, datetime

from mynth_core.billing.orders import Order
from mynth_core.ids import PersonaId, UserId, VersionId
from mynth_core.personas.events import PersonaEvent
from mynth_core.personas.fields import PersonaData
from mynth_core.personas.model import Persona, VersionDraft, VersionSource

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def persona_data(**overrides: str | None) -> PersonaData:
    """Valid persona data (Aurora, a lighthouse keeper) with `overrides` applied."""
    fields: dict[str, str | None] = {
        "name": "Aurora Vale",
        "age": "34",
        "gender": "female",
        "appearance": "Tall, storm-grey eyes, a salt-stained wool coat.",
        "personality": "Dry humour, fiercely loyal, distrusts easy answers.",
        "background": "Raised on a northern island; keeps the last manned lighthouse.",
        "summary": "A lighthouse keeper who hears ships that sank a century ago.",
    }
    fields.update(overrides)
    return PersonaData.parse(fields)


def a_persona(
    *,
    persona_id: str = "prs_0001",
    owner: str = "alice",
    data: PersonaData | None = None,
    title: str | None = None,
    at: datetime = T0,
) -> tuple[Persona, tuple[PersonaEvent, ...]]:
    """A freshly created persona (version 1, source manual) and its creation events."""
    draft = VersionDraft(
        id=VersionId(f"prv_{persona_id.removeprefix('prs_')}_1"),
        data=data or persona_data(),
        title=title,
        source=VersionSource.MANUAL,
    )
    return Persona.create(PersonaId(persona_id), UserId(owner), draft, at=at)


def an_order(  # noqa: PLR0913 - every field a test may be about
    order_id: str = "ord_1",
    *,
    product_id: str | None = "prod_500",
    customer: str | None = "alice",
    user_id: str | None = "alice",
    pack_id: str | None = "pack_500",
    checkout_id: str | None = "chk_0001",
    total_amount: int = 699,
    refunded_amount: int = 0,
) -> Order:
    """A paid Polar order for pack_500 bought by alice, as `parse_polar_event` returns it."""
    return Order(
        id=order_id,
        product_id=product_id,
        customer_external_id=customer,
        user_id=user_id,
        pack_id=pack_id,
        checkout_id=checkout_id,
        total_amount=total_amount,
        refunded_amount=refunded_amount,
        currency="usd",
    )
