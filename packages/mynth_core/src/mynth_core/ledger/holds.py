"""Charges held open across a generation: charged before it starts, settled when it ends."""

from __future__ import annotations

from contextlib import AsyncExitStack

from mynth_core.errors import GenerationInProgressError
from mynth_core.ids import UserId
from mynth_core.ledger.model import Reference, TokenAmount
from mynth_core.ledger.services import Charged, ChargeGuard


async def hold_charge(  # noqa: PLR0913 - one charge's facts
    guard: ChargeGuard,
    *,
    user: UserId,
    operation: str,
    cost: TokenAmount,
    key: str,
    reference: Reference,
) -> tuple[AsyncExitStack, Charged]:
    """Charge `cost` and hold the charge open in a stack the generation closes.

    Closing the stack after an exception (or a `Charged.empty()` result) refunds the charge.

    Raises:
        InsufficientTokensError: nothing was charged.
        GenerationInProgressError: a concurrent request holds the same key.
    """
    stack = AsyncExitStack()
    held = await stack.enter_async_context(
        guard.charged(user, operation, cost, key=key, reference=reference)
    )
    if held.replayed:
        await stack.aclose()
        raise GenerationInProgressError(detail="a request with this Idempotency-Key is running")
    return stack, held


def charged_amount(held: Charged) -> int:
    """The tokens a held charge took (0 for a free operation)."""
    return -held.entry.amount if held.entry is not None else 0
