"""The rate-limit rules, decisions, store-failure policy and the in-process sliding log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mynth_core.errors import RateLimitedError, ServiceUnavailableError
from mynth_core.limits import (
    CHAT_REPLY_ZERO_COST,
    CREATION,
    PERSONA_GENERATE_ANONYMOUS,
    PUBLISH,
    RULES,
    RateDecision,
    RateLimit,
    SlidingLog,
    StoreFailure,
    check,
    client_key,
    decide,
    decision_for,
    enforce,
    epoch_ms,
)
from mynth_core.testing import FrozenClock
from mynth_core.testing.limits import FakeRateLimiter

START = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_the_buckets_are_those_of_the_product_spec() -> None:
    assert {(r.bucket, r.limit, r.window, r.on_store_failure) for r in RULES} == {
        ("persona_generate_anonymous", 10, timedelta(hours=1), StoreFailure.CLOSED),
        ("creation", 100, timedelta(hours=1), StoreFailure.OPEN),
        ("publish", 5, timedelta(hours=1), StoreFailure.OPEN),
        ("chat_reply_zero_cost", 120, timedelta(hours=2), StoreFailure.OPEN),
    }
    assert RULES == (PERSONA_GENERATE_ANONYMOUS, CREATION, PUBLISH, CHAT_REPLY_ZERO_COST)


def test_the_policy_header_names_limit_and_window_in_seconds() -> None:
    assert PERSONA_GENERATE_ANONYMOUS.policy == "10;w=3600"
    assert CHAT_REPLY_ZERO_COST.policy == "120;w=7200"
    assert CREATION.window_ms == 3_600_000


@pytest.mark.parametrize(
    ("limit", "window"), [(0, timedelta(hours=1)), (-1, timedelta(hours=1)), (1, timedelta(0))]
)
def test_a_rule_needs_a_positive_limit_and_window(limit: int, window: timedelta) -> None:
    with pytest.raises(ValueError, match="must be >"):
        RateLimit("broken", limit, window)


def test_epoch_milliseconds_are_exact() -> None:
    assert epoch_ms(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert epoch_ms(START + timedelta(microseconds=999_999)) == epoch_ms(START) + 999


def test_a_decision_rounds_the_reset_up_and_sets_retry_after_only_on_rejection() -> None:
    rule = RateLimit("r", 2, timedelta(seconds=10))

    admitted = decision_for(rule, allowed=True, admitted=1, oldest_ms=1_000, now_ms=1_000)
    rejected = decision_for(rule, allowed=False, admitted=2, oldest_ms=1_000, now_ms=10_999)

    assert admitted == RateDecision(
        allowed=True, limit=2, remaining=1, reset_after_seconds=10, retry_after_seconds=None
    )
    assert rejected == RateDecision(
        allowed=False, limit=2, remaining=0, reset_after_seconds=1, retry_after_seconds=1
    )


def test_enforce_raises_rate_limited_naming_the_bucket_and_the_wait() -> None:
    rejected = RateDecision(
        allowed=False, limit=5, remaining=0, reset_after_seconds=42, retry_after_seconds=42
    )
    admitted = RateDecision(allowed=True, limit=5, remaining=4, reset_after_seconds=3600)

    with pytest.raises(RateLimitedError) as caught:
        enforce(rejected, PUBLISH)

    assert (caught.value.bucket, caught.value.retry_after) == ("publish", 42)
    assert enforce(admitted, PUBLISH) is admitted


async def test_check_admits_then_raises_once_the_bucket_is_exhausted() -> None:
    limiter = FakeRateLimiter(FrozenClock())
    for _ in range(5):
        await check(limiter, "alice", PUBLISH)

    with pytest.raises(RateLimitedError) as caught:
        await check(limiter, "alice", PUBLISH)

    assert caught.value.retry_after == 3600
    assert limiter.hits == [("publish", "alice")] * 6


@pytest.mark.parametrize("rule", [CREATION, PUBLISH, CHAT_REPLY_ZERO_COST])
async def test_a_fail_open_bucket_admits_and_logs_when_the_store_is_down(
    rule: RateLimit, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = FakeRateLimiter(FrozenClock(), unreachable=True)

    with caplog.at_level(logging.WARNING, logger="mynth_core.limits"):
        decision = await check(limiter, "alice", rule)

    assert decision == RateDecision.unchecked(rule)
    assert decision.allowed
    assert rule.bucket in caplog.text


async def test_the_anonymous_bucket_fails_closed_when_the_store_is_down() -> None:
    limiter = FakeRateLimiter(FrozenClock(), unreachable=True)

    with pytest.raises(ServiceUnavailableError):
        await decide(limiter, "203.0.113.7", PERSONA_GENERATE_ANONYMOUS)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
    ],
)
def test_the_anonymous_key_is_the_ipv4_address_or_the_ipv6_slash_64(address: str, key: str) -> None:
    assert client_key(address) == key


def test_the_sliding_log_forgets_keys_whose_hits_all_left_the_window() -> None:
    log = SlidingLog(sweep_every=10)
    rule = RateLimit("r", 3, timedelta(seconds=60))
    for i in range(9):
        log.hit(f"user{i}", rule, START)
    assert len(log) == 9

    log.hit("late", rule, START + timedelta(seconds=60))

    assert len(log) == 1


def _reference(admitted: list[int], now_ms: int, limit: int, window_ms: int) -> bool:
    return sum(1 for at in admitted if at > now_ms - window_ms) < limit


@given(
    limit=st.integers(1, 5),
    window_ms=st.integers(1, 5_000),
    steps=st.lists(st.tuples(st.integers(0, 2_000), st.sampled_from("ab")), max_size=60),
)
def test_the_sliding_log_admits_exactly_as_the_definition_says(
    limit: int, window_ms: int, steps: list[tuple[int, str]]
) -> None:
    rule = RateLimit("r", limit, timedelta(milliseconds=window_ms))
    log = SlidingLog(sweep_every=7)
    admitted: dict[str, list[int]] = {"a": [], "b": []}
    now = START
    for advance_ms, key in steps:
        now += timedelta(milliseconds=advance_ms)
        now_ms = epoch_ms(now)
        expected = _reference(admitted[key], now_ms, limit, window_ms)

        decision = log.hit(key, rule, now)

        assert decision.allowed == expected
        if expected:
            admitted[key].append(now_ms)
        in_window = [at for at in admitted[key] if at > now_ms - window_ms]
        assert decision.remaining == limit - len(in_window)
