"""Settle persona generation charges that their process abandoned (PRODUCT.md §12).

A generation charges first and, when it ends, either stores the version it paid for or
refunds the charge. A process killed mid-generation does neither, so the charge stays open.
`SettleAbandonedGenerations` finds such charges once they are older than any generation can
run and refunds them. Every instance may run it at once: `Refund` refunds a spend at most
once, so a charge is never refunded twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Final

import attrs

from mynth_core.clock import Clock
from mynth_core.ids import VersionId
from mynth_core.ledger.model import LedgerEntry
from mynth_core.ledger.services import Refund
from mynth_core.personas.writer import VERSION_REFERENCE
from mynth_core.pricing import Operation
from mynth_core.uow import UnitOfWork, UnitOfWorkFactory

# Well above the longest generation (80 s generate, 50 s enhance, a second attempt when the
# output does not decode) plus the 30 s shutdown grace; a charge this old has ended or died.
ABANDON_AFTER: Final = timedelta(minutes=5)
# How far back from the cut-off the sweep looks, so it stays cheap: only an outage of every
# instance for longer than this leaves a charge open.
LOOKBACK: Final = timedelta(days=1)
ABANDONED_REASON: Final = "abandoned"
GENERATION_OPERATIONS: Final = (Operation.PERSONA_GENERATE, Operation.PERSONA_ENHANCE)

_log = logging.getLogger(__name__)


@attrs.frozen
class SettleAbandonedGenerations:
    """Refund the persona generation charges whose generation died before it ended."""

    uow: UnitOfWorkFactory
    clock: Clock
    refund: Refund

    async def __call__(self, *, older_than: timedelta = ABANDON_AFTER, limit: int = 100) -> int:
        """Refund up to `limit` abandoned charges older than `older_than`; return how many.

        A charge whose version was stored was used and is kept; one already refunded (the
        generation failed) is settled. A charge refunded meanwhile by another instance's
        sweep may be counted by both.
        """
        before = self.clock.now() - older_than
        async with self.uow(read_only=True) as uow:
            spends = await uow.ledger.unsettled_spends(
                operations=GENERATION_OPERATIONS,
                before=before,
                since=before - LOOKBACK,
                limit=limit,
            )
            abandoned = [spend for spend in spends if await _abandoned(uow, spend)]
        refunded = 0
        for spend in abandoned:
            entry = await self.refund(spend.idempotency_key, reason=ABANDONED_REASON)
            if entry.reason == ABANDONED_REASON:  # not the generation's own (late) refund
                refunded += 1
        if refunded:
            _log.info("abandoned generation charges refunded: %d", refunded)
        return refunded


async def _abandoned(uow: UnitOfWork, spend: LedgerEntry) -> bool:
    """Whether `spend` paid for a version that was never stored."""
    reference = spend.reference
    if reference is None or reference.type != VERSION_REFERENCE:
        return False  # not a generation's charge: nothing here can tell what it paid for
    return await uow.personas.find_version(VersionId(reference.id)) is None
