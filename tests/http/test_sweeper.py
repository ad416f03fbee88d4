"""The sweep loop: runs at once and then on its interval, survives failures, stops on cancel.

The app runs it from its lifespan: a charge a dead process abandoned is refunded at startup.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import attrs
import pytest

from ledgerkit import ALICE, LedgerWorld
from mynth_adapters.settings import LogFormat
from mynth_adapters.testing import fake_bootstrap, fake_container
from mynth_core.chats.model import Chat, ChatSettings, Lease, Pin
from mynth_core.chats.replies import LEASE_TTL
from mynth_core.ids import ChatId, PersonaId, VersionId
from mynth_core.ledger.model import EntryKind, LedgerEntry, Reference, TokenAmount
from mynth_core.personas.settlement import ABANDON_AFTER
from mynth_core.testing import FakeUnitOfWorkFactory, FrozenClock, SequentialIdFactory
from mynth_http.app import create_app
from mynth_http.logging import configure_logging
from mynth_http.sweeper import sweep_forever

EVERY = 0.001


@attrs.define
class Sweep:
    """A fake sweep: answers from `results` (an exception is raised), then 0; counts calls."""

    results: list[int | Exception] = attrs.Factory(list)
    calls: int = 0
    reached: dict[int, asyncio.Event] = attrs.Factory(dict)

    async def __call__(self) -> int:
        self.calls += 1
        if (event := self.reached.get(self.calls)) is not None:
            event.set()
        result = self.results.pop(0) if self.results else 0
        if isinstance(result, Exception):
            raise result
        return result

    async def wait_for_call(self, n: int) -> None:
        event = self.reached.setdefault(n, asyncio.Event())
        if self.calls < n:
            await asyncio.wait_for(event.wait(), timeout=5)


def log_lines(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


@pytest.fixture(autouse=True)
def json_logs() -> None:
    configure_logging(LogFormat.JSON)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_sweep_runs_at_once_and_then_again_on_its_interval() -> None:
    sweep = Sweep()
    task = asyncio.create_task(sweep_forever(sweep, every=EVERY))

    await sweep.wait_for_call(3)
    await stop(task)

    assert sweep.calls >= 3


async def test_the_first_run_does_not_wait_for_the_interval() -> None:
    sweep = Sweep()
    task = asyncio.create_task(sweep_forever(sweep, every=3600))

    await sweep.wait_for_call(1)
    await asyncio.sleep(0.01)
    await stop(task)

    assert sweep.calls == 1


async def test_a_failed_run_is_logged_and_the_loop_goes_on(capsys) -> None:
    sweep = Sweep([RuntimeError("database is down"), 2])
    capsys.readouterr()
    task = asyncio.create_task(sweep_forever(sweep, every=EVERY))

    await sweep.wait_for_call(3)
    await stop(task)

    lines = log_lines(capsys.readouterr().err)
    failed, settled = lines[0], lines[1]
    assert (failed["event"], failed["level"]) == ("generations.settle_failed", "error")
    error = failed["error"]
    assert isinstance(error, dict)
    assert error["type"] == "RuntimeError"
    assert "database is down" in str(error["traceback"])
    assert (settled["event"], settled["level"], settled["refunded"]) == (
        "generations.settled",
        "info",
        2,
    )
    assert len(lines) == 2  # runs that settled nothing log nothing


async def test_cancelling_stops_the_loop_even_in_the_middle_of_a_run() -> None:
    started = asyncio.Event()
    never = asyncio.Event()

    async def slow() -> int:
        started.set()
        await never.wait()
        return 1

    task = asyncio.create_task(sweep_forever(slow, every=EVERY))
    await asyncio.wait_for(started.wait(), timeout=5)

    await stop(task)

    assert task.cancelled()


# Fake-only: the charge must be in the store before the app starts (the startup sweep is the
# one under test), and what the sweep does per backend is the contract suite's business.
async def refunds_once_an_app_started(
    world: LedgerWorld, client_for, settings
) -> list[LedgerEntry]:
    """Start an app over `world`'s store; the refunds its startup sweep made (5 s at most)."""
    container = fake_container(uow=world.uow, clock=world.clock, ids=world.ids, settings=settings)
    app = create_app(settings, bootstrap=lambda _: fake_bootstrap(container))
    async with client_for(app):
        for _ in range(500):
            if any(e.kind is EntryKind.REFUND for e in await world.entries()):
                break
            await asyncio.sleep(0.01)
    return [e for e in await world.entries() if e.kind is EntryKind.REFUND]


async def charged(world: LedgerWorld, operation: str, reference: Reference) -> LedgerEntry:
    spend = await world.charge(
        ALICE, operation, TokenAmount(1), key=f"{operation}:alice:k1", reference=reference
    )
    assert spend is not None
    return spend


async def an_abandoned_generation(world: LedgerWorld) -> tuple[LedgerEntry, timedelta]:
    """A generation's charge whose version was never stored; how long until it is abandoned."""
    spend = await charged(world, "persona_generate", Reference("version", "prv_never_stored"))
    return spend, ABANDON_AFTER


async def an_abandoned_chat_reply(world: LedgerWorld) -> tuple[LedgerEntry, timedelta]:
    """What a reply wrote before its process died: the chat's lease and the charge."""
    chat = Chat(
        id=ChatId("pch_1"),
        owner_id=ALICE,
        title="Aurora",
        pin=Pin(PersonaId("prs_1"), VersionId("prv_1"), 1, "Aurora Vale"),
        settings=ChatSettings(model="x-ai/grok-4-fast"),
        created_at=world.clock.now(),
        updated_at=world.clock.now(),
    )
    async with world.uow() as uow:
        await uow.chats.add(chat)
        lease = Lease("msg_reply", world.clock.now() + LEASE_TTL)
        await uow.chats.claim_generation(chat.id, lease, at=world.clock.now())
        await uow.commit()
    spend = await charged(world, "chat_reply", Reference("message", "msg_reply"))
    return spend, LEASE_TTL


@pytest.mark.parametrize("abandoned", [an_abandoned_generation, an_abandoned_chat_reply])
async def test_an_app_refunds_what_a_dead_process_abandoned_when_it_starts(
    client_for, settings, abandoned
) -> None:
    world = LedgerWorld(uow=FakeUnitOfWorkFactory(), clock=FrozenClock(), ids=SequentialIdFactory())
    spend, wait = await abandoned(world)
    world.clock.advance(wait.total_seconds() + 1)

    refunds = await refunds_once_an_app_started(world, client_for, settings)

    assert [(e.refund_of, e.reason) for e in refunds] == [(spend.id, "abandoned")]
    assert (await world.balance()).total == 10
