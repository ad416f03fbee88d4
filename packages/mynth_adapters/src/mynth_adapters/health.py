"""Readiness checks: each dependency answers within its time limit, or the instance is not ready."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import attrs

CHECK_TIMEOUT_SECONDS = 2.0

Check = Callable[[], Awaitable[None]]  # raises (or times out) when the dependency is not usable


@attrs.frozen
class Readiness:
    """Named checks run concurrently; a check that raises or takes over 2 s fails."""

    checks: tuple[tuple[str, Check], ...] = ()

    async def __call__(self) -> Mapping[str, bool]:
        results = await asyncio.gather(*(_passes(check) for _, check in self.checks))
        return {name: ok for (name, _), ok in zip(self.checks, results, strict=True)}


async def _passes(check: Check) -> bool:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await check()
    except Exception:  # noqa: BLE001 - any failure means "not ready"; details go to the log
        return False
    return True
