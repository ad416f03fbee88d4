"""`load_settings`: MYNTH_* variables in, a frozen Settings tree out; bad values listed together."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

import pytest

from mynth_adapters.jobs import deadline_for
from mynth_adapters.settings import (
    LogFormat,
    Profile,
    Settings,
    SettingsError,
    load_settings,
)


def test_no_variables_select_the_embedded_default() -> None:
    settings = load_settings({})
    assert settings == Settings.embedded(Path(".mynth"))
    assert settings.database.url == "sqlite+aiosqlite:///.mynth/mynth.db"
    assert settings.clerk.uses_local_issuer
    assert settings.openrouter.api_key is None
    assert settings.http.max_body_bytes == 1024 * 1024
    assert settings.http.log_format is LogFormat.JSON


def test_the_log_format_defaults_to_console_on_a_terminal() -> None:
    assert load_settings({}, stdout_is_tty=True).http.log_format is LogFormat.CONSOLE


def test_every_documented_variable_is_read() -> None:
    settings = load_settings(
        {
            "MYNTH_PROFILE": "production",
            "MYNTH_DATA_DIR": "/srv/mynth",
            "MYNTH_DATABASE_URL": "postgresql+asyncpg://mynth@db/mynth",
            "MYNTH_REDIS_URL": "redis://cache:6379/0",
            "MYNTH_CLERK_JWKS_URL": "https://clerk.example.com/.well-known/jwks.json",
            "MYNTH_CLERK_ISSUER": "https://clerk.example.com",
            "MYNTH_CLERK_AUTHORIZED_PARTIES": "https://app.example.com, https://m.example.com",
            "MYNTH_CLERK_WEBHOOK_SECRET": "whsec_c2VjcmV0",
            "MYNTH_CLERK_JWKS_TTL": "600",
            "MYNTH_DEV_TOKEN_TTL": "60",
            "MYNTH_POLAR_ACCESS_TOKEN": "polar_oat_x",
            "MYNTH_POLAR_API_URL": "https://sandbox-api.polar.sh",
            "MYNTH_POLAR_WEBHOOK_SECRET": "whsec_cG9sYXI=",
            "MYNTH_POLAR_PRODUCTS": "pack_100=prod_a, pack_500=prod_b",
            "MYNTH_OPENROUTER_API_KEY": "sk-or-x",
            "MYNTH_OPENROUTER_BASE_URL": "http://127.0.0.1:8080/v1",
            "MYNTH_RUNWARE_API_KEY": "rw-x",
            "MYNTH_RUNWARE_BASE_URL": "http://127.0.0.1:8081/v1",
            "MYNTH_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7",
            "MYNTH_MAX_BODY_BYTES": "2048",
            "MYNTH_LOG_FORMAT": "console",
        }
    )
    assert settings.profile is Profile.PRODUCTION
    assert settings.data_dir == Path("/srv/mynth")
    assert not settings.database.is_sqlite
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.clerk.authorized_parties == {"https://app.example.com", "https://m.example.com"}
    assert (settings.clerk.jwks_ttl_seconds, settings.clerk.dev_token_ttl_seconds) == (600, 60)
    assert settings.polar.products == (("pack_100", "prod_a"), ("pack_500", "prod_b"))
    assert settings.polar.api_url == "https://sandbox-api.polar.sh"
    assert settings.openrouter.base_url == "http://127.0.0.1:8080/v1"
    assert settings.runware.api_key == "rw-x"
    assert settings.http.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.1.7/32"),
    )
    assert settings.http.max_body_bytes == 2048
    assert settings.http.log_format is LogFormat.CONSOLE


def test_every_bad_value_is_reported_together() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            {
                "MYNTH_PROFILE": "staging",
                "MYNTH_MAX_BODY_BYTES": "-1",
                "MYNTH_TRUSTED_PROXIES": "not-an-ip",
                "MYNTH_POLAR_PRODUCTS": "pack_100",
                "MYNTH_DATABASE_URL": "mysql://db/mynth",
            }
        )
    named = {problem.split(":")[0] for problem in caught.value.problems}
    assert named == {
        "MYNTH_PROFILE",
        "MYNTH_MAX_BODY_BYTES",
        "MYNTH_TRUSTED_PROXIES",
        "MYNTH_POLAR_PRODUCTS",
        "MYNTH_DATABASE_URL",
    }


def test_clerk_keys_need_an_issuer_to_compare_with() -> None:
    with pytest.raises(SettingsError, match="MYNTH_CLERK_ISSUER"):
        load_settings({"MYNTH_CLERK_JWT_KEY": "-----BEGIN PUBLIC KEY-----..."})


def test_production_refuses_the_local_dev_issuer() -> None:
    with pytest.raises(SettingsError, match="MYNTH_PROFILE=production"):
        load_settings({"MYNTH_PROFILE": "production"})


def test_secrets_never_appear_in_the_settings_repr() -> None:
    settings = load_settings(
        {
            "MYNTH_DATABASE_URL": "postgresql+asyncpg://mynth:hunter2@db/mynth",
            "MYNTH_CLERK_JWT_KEY": "pem-secret",
            "MYNTH_CLERK_ISSUER": "https://clerk.example.com",
            "MYNTH_CLERK_WEBHOOK_SECRET": "whsec_topsecret",
            "MYNTH_POLAR_ACCESS_TOKEN": "polar-secret",
            "MYNTH_OPENROUTER_API_KEY": "sk-or-secret",
            "MYNTH_REDIS_URL": "redis://:redispass@cache",
        }
    )
    text = repr(settings)
    for secret in (
        "hunter2",
        "pem-secret",
        "topsecret",
        "polar-secret",
        "sk-or-secret",
        "redispass",
    ):
        assert secret not in text


def test_the_economy_amounts_and_operation_costs_are_configurable() -> None:
    settings = load_settings(
        {
            "MYNTH_DAILY_FREE_TOKENS": "0",
            "MYNTH_WELCOME_GRANT_TOKENS": "50",
            "MYNTH_OPERATION_COSTS": "persona_generate=2, persona_enhance=0",
        }
    )
    assert settings.economy.daily_free_allowance == 0
    assert settings.economy.welcome_grant == 50
    assert settings.economy.operation_costs == (("persona_generate", 2), ("persona_enhance", 0))


def test_an_unknown_operation_or_a_negative_cost_is_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"MYNTH_OPERATION_COSTS": "teleport=1", "MYNTH_WELCOME_GRANT_TOKENS": "-5"})
    assert len(caught.value.problems) == 2


def test_the_job_lease_is_ten_minutes_unless_configured() -> None:
    default = load_settings({}).jobs
    assert (default.lease_seconds, default.lease) == (600, timedelta(minutes=10))
    assert deadline_for(default.lease) == timedelta(minutes=5)  # PRODUCT.md §7.4, unchanged

    short = load_settings({"MYNTH_JOB_LEASE_SECONDS": "10"}).jobs

    assert short.lease == timedelta(seconds=10)
    assert deadline_for(short.lease) == timedelta(seconds=5)  # a job ends before its lease
    assert deadline_for(timedelta(hours=1)) == timedelta(minutes=5)  # never longer than §7.4


@pytest.mark.parametrize("value", ["9", "0", "-600", "ten"])
def test_a_job_lease_under_ten_seconds_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="MYNTH_JOB_LEASE_SECONDS"):
        load_settings({"MYNTH_JOB_LEASE_SECONDS": value})
