"""Fixtures for the webhook verifier: a settable clock far from the wall clock."""

from __future__ import annotations

import pytest

from providers.webhooks import SettableClock


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock()
