"""A background loop the app runs while it serves: the sweep for abandoned charges.

A generation or chat reply interrupted by a dead process (`kill -9`, a lost machine) leaves
its charge open; every instance runs the sweep at startup and then every minute, so such a
charge is refunded minutes after it is old enough (`SettleAbandonedGenerations`,
`SettleAbandonedReplies`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from mynth_http.logging import log_event

SWEEP_EVERY_SECONDS: Final = 60.0
_log = logging.getLogger("mynth.http")


async def sweep_forever(run: Callable[[], Awaitable[int]], *, every: float) -> None:
    """Await `run()` now and then every `every` seconds, until cancelled.

    A run that raises is logged and the loop goes on; a run that settled something logs
    how many (`run` returns that number).
    """
    while True:
        try:
            settled = await run()
        except Exception:  # noqa: BLE001 - a failed sweep must never stop the next one
            _log.exception("generations.settle_failed")
        else:
            if settled:
                log_event(_log, "generations.settled", refunded=settled)
        await asyncio.sleep(every)
