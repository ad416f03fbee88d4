"""Root fixtures: hypothesis profiles. Imports only pytest, hypothesis and mynth_core."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("fast", max_examples=30)
settings.register_profile("dev", max_examples=100)
settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("MYNTH_HYPOTHESIS_PROFILE", "dev"))
