"""Settling abandoned generation charges over the core fakes: refunded once, used ones kept."""

from __future__ import annotations

import asyncio
import logging

import attrs
import pytest

from ledgerkit import ALICE, BOB, LedgerWorld
from mynth_core.ids import UserId
from mynth_core.ledger.model import EntryKind, LedgerEntry, Reference, TokenAmount
from mynth_core.personas.settlement import (
    ABANDON_AFTER,
    LOOKBACK,
    SettleAbandonedGenerations,
)
from mynth_core.testing import a_persona


@attrs.define
class World(LedgerWorld):
    @property
    def settle(self) -> SettleAbandonedGenerations:
        return SettleAbandonedGenerations(self.uow, self.clock, self.refund)

    async def generation_charge(
        self,
        key: str,
        *,
        operation: str = "persona_generate",
        version: str | None = None,
        user: UserId = ALICE,
    ) -> LedgerEntry:
        """The spend a generation writes before it runs: one token for the version to be."""
        reference = Reference("version", version or f"prv_{key}")
        entry = await self.charge(user, operation, TokenAmount(1), key=key, reference=reference)
        assert entry is not None
        return entry

    async def store_version(self, persona_id: str = "prs_0001") -> str:
        """Store a persona; return the id of its version (what a finished generation wrote)."""
        persona, _ = a_persona(persona_id=persona_id)
        async with self.uow() as uow:
            await uow.personas.add(persona)
            await uow.commit()
        return persona.current_version.id

    def after_abandon_time(self) -> None:
        self.clock.advance(ABANDON_AFTER.total_seconds() + 1)


@pytest.fixture
def world() -> World:
    return World()


def refunds(entries: list[LedgerEntry]) -> list[tuple[str | None, str | None]]:
    return [(e.refund_of, e.reason) for e in entries if e.kind is EntryKind.REFUND]


async def test_an_abandoned_charge_is_refunded_once_and_the_balance_restored(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    spend = await world.generation_charge("persona_generate:alice:k1")
    assert (await world.balance()).total == 9
    world.after_abandon_time()

    with caplog.at_level(logging.INFO, logger="mynth_core.personas.settlement"):
        assert await world.settle() == 1
    assert await world.settle() == 0

    assert refunds(await world.entries()) == [(spend.id, "abandoned")]
    assert (await world.balance()).total == 10
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            "mynth_core.personas.settlement",
            logging.INFO,
            "abandoned generation charges refunded: 1",
        )
    ]


async def test_two_sweeps_running_at_once_refund_a_charge_once(world: World) -> None:
    spend = await world.generation_charge("persona_generate:alice:k1")
    world.after_abandon_time()

    await asyncio.gather(world.settle(), world.settle())

    assert refunds(await world.entries()) == [(spend.id, "abandoned")]
    assert (await world.balance()).total == 10


async def test_abandoned_enhance_charges_are_refunded_for_every_user(world: World) -> None:
    alices = await world.generation_charge("persona_enhance:alice:k1", operation="persona_enhance")
    bobs = await world.generation_charge("persona_generate:bob:k1", user=BOB)
    world.after_abandon_time()

    assert await world.settle() == 2

    assert refunds(await world.entries()) == [(alices.id, "abandoned")]
    assert refunds(await world.entries(BOB)) == [(bobs.id, "abandoned")]


async def test_a_charge_whose_version_was_stored_is_kept(world: World) -> None:
    version = await world.store_version()
    await world.generation_charge("persona_generate:alice:k1", version=version)
    world.after_abandon_time()

    assert await world.settle() == 0

    assert refunds(await world.entries()) == []
    assert (await world.balance()).total == 9


async def test_a_recent_charge_is_kept_until_it_is_old_enough(world: World) -> None:
    spend = await world.generation_charge("persona_generate:alice:k1")
    world.clock.advance(ABANDON_AFTER.total_seconds() - 1)

    assert await world.settle() == 0
    assert refunds(await world.entries()) == []

    world.clock.advance(2)
    assert await world.settle() == 1
    assert refunds(await world.entries()) == [(spend.id, "abandoned")]


async def test_a_charge_its_generation_refunded_already_is_untouched(world: World) -> None:
    spend = await world.generation_charge("persona_generate:alice:k1")
    await world.refund("persona_generate:alice:k1", reason="failed")
    before = await world.entries()
    world.after_abandon_time()

    assert await world.settle() == 0

    assert await world.entries() == before
    assert refunds(before) == [(spend.id, "failed")]


async def test_charges_of_other_operations_are_left_alone(world: World) -> None:
    await world.buy(10, "ord_1")
    await world.generation_charge("chat_reply:alice:k1", operation="chat_reply")
    await world.generation_charge("property_action:alice:k1", operation="property_action")
    await world.spend(1, "image_generate:alice:k1")
    world.after_abandon_time()

    assert await world.settle() == 0

    assert refunds(await world.entries()) == []


async def test_a_generation_charge_without_a_version_reference_is_left_alone(
    world: World,
) -> None:
    await world.charge(ALICE, "persona_generate", TokenAmount(1), key="persona_generate:a:k1")
    lost = await world.generation_charge("persona_generate:alice:k2")
    await world.charge(
        ALICE,
        "persona_generate",
        TokenAmount(1),
        key="persona_generate:a:k3",
        reference=Reference("persona", "prs_1"),
    )
    world.after_abandon_time()

    assert await world.settle() == 1

    assert refunds(await world.entries()) == [(lost.id, "abandoned")]


async def test_each_sweep_refunds_at_most_limit_charges_oldest_first(world: World) -> None:
    spends = []
    for n in range(3):
        spends.append(await world.generation_charge(f"persona_generate:alice:k{n}"))
        world.clock.advance(1)
    world.after_abandon_time()

    assert await world.settle(limit=2) == 2
    assert refunds(await world.entries()) == [(s.id, "abandoned") for s in spends[:2]]
    assert await world.settle(limit=2) == 1
    assert (await world.balance()).total == 10


async def test_a_shorter_older_than_settles_sooner(world: World) -> None:
    await world.generation_charge("persona_generate:alice:k1")
    world.clock.advance(61)

    assert await world.settle() == 0
    assert await world.settle(older_than=ABANDON_AFTER / 5) == 1


async def test_a_charge_older_than_the_lookback_is_no_longer_looked_at(world: World) -> None:
    await world.generation_charge("persona_generate:alice:k1")
    world.clock.advance((ABANDON_AFTER + LOOKBACK).total_seconds() + 1)

    assert await world.settle() == 0

    assert refunds(await world.entries()) == []
