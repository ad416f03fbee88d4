"""Fixtures for the webhook verifier: a settable clock far from the wall clock."""

from __future__ import annotations

import pytest

from mynth_core.testing import FrozenClock
from providers.webhooks import T0


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)
