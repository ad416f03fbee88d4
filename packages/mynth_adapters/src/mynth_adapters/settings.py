"""The frozen Settings tree and `load_settings`, the only reader of MYNTH_* variables."""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Final, TypeVar

import attrs

from mynth_core.pricing import Operation

T = TypeVar("T")

OPENROUTER_URL: Final = "https://openrouter.ai/api/v1"
RUNWARE_URL: Final = "https://api.runware.ai/v1"
POLAR_URL: Final = "https://api.polar.sh"
MIB: Final = 1024 * 1024
JOB_LEASE_SECONDS: Final = 600  # PRODUCT.md §7.4: a job running over 10 minutes stalled
MIN_JOB_LEASE_SECONDS: Final = 10


class SettingsError(Exception):
    """Configuration that cannot start the service; lists every problem at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n" + "\n".join(f"- {p}" for p in problems))
        self.problems = tuple(problems)


class Profile(enum.StrEnum):
    """`embedded`: one process, safe defaults; `production`: refuses the dev issuer."""

    EMBEDDED = "embedded"
    PRODUCTION = "production"


class LogFormat(enum.StrEnum):
    """How log lines are written."""

    JSON = "json"
    CONSOLE = "console"


@attrs.frozen(kw_only=True)
class DatabaseSettings:
    """Where durable state lives: SQLite (embedded) or Postgres."""

    url: str = attrs.field(repr=False)  # may carry a password

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


@attrs.frozen(kw_only=True)
class ClerkSettings:
    """Session-token verification. No JWKS URL and no PEM key selects the local issuer."""

    jwks_url: str | None = None
    jwt_key: str | None = attrs.field(default=None, repr=False)
    issuer: str | None = None
    authorized_parties: frozenset[str] = frozenset()
    webhook_secret: str | None = attrs.field(default=None, repr=False)
    jwks_ttl_seconds: int = 3600
    dev_token_ttl_seconds: int = 24 * 3600

    @property
    def uses_local_issuer(self) -> bool:
        return self.jwks_url is None and self.jwt_key is None


@attrs.frozen(kw_only=True)
class PolarSettings:
    """Polar checkout and webhooks; no access token means checkout answers 503."""

    access_token: str | None = attrs.field(default=None, repr=False)
    api_url: str = POLAR_URL
    webhook_secret: str | None = attrs.field(default=None, repr=False)
    products: tuple[tuple[str, str], ...] = ()  # (pack id, Polar product id)
    # Where Polar sends the buyer after paying; Polar fills in {CHECKOUT_ID}.
    success_url: str = "http://localhost:3000/checkout/success?checkout_id={CHECKOUT_ID}"


@attrs.frozen(kw_only=True)
class OpenRouterSettings:
    """Any OpenAI-compatible chat-completions server."""

    api_key: str | None = attrs.field(default=None, repr=False)  # None → offline generators
    base_url: str = OPENROUTER_URL


@attrs.frozen(kw_only=True)
class RunwareSettings:
    """The Runware image API."""

    api_key: str | None = attrs.field(default=None, repr=False)  # None → offline renderer
    base_url: str = RUNWARE_URL
    download_hosts: frozenset[str] = frozenset({"im.runware.ai"})  # never any other host


@attrs.frozen(kw_only=True)
class JobSettings:
    """Background jobs: the in-process worker of `mynth serve`, and `mynth worker`.

    `lease_seconds` is how long a claimed job stays its worker's: a job whose worker died is
    taken over by another (or the restarted one) only once its lease has expired. Each job
    must finish within half its lease, at most 5 minutes (no heartbeat renews a lease), so a
    lease below twice the slowest job's time fails jobs that would have succeeded.
    """

    embedded_worker: bool = True  # off when separate `mynth worker` processes run the jobs
    concurrency: int = 4
    lease_seconds: int = JOB_LEASE_SECONDS

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)


@attrs.frozen(kw_only=True)
class EconomySettings:
    """The configurable amounts of the token economy (PRODUCT.md §8); 0 disables either."""

    daily_free_allowance: int = 10
    welcome_grant: int = 20
    operation_costs: tuple[tuple[str, int], ...] = ()  # overrides of the price table


@attrs.frozen(kw_only=True)
class HttpSettings:
    """Request limits, proxy trust and logging of the HTTP edge."""

    max_body_bytes: int = MIB
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    log_format: LogFormat = LogFormat.JSON


@attrs.frozen(kw_only=True)
class Settings:
    """Everything configurable, one class per adapter."""

    profile: Profile = Profile.EMBEDDED
    data_dir: Path
    database: DatabaseSettings
    redis_url: str | None = attrs.field(default=None, repr=False)
    clerk: ClerkSettings = ClerkSettings()
    polar: PolarSettings = PolarSettings()
    openrouter: OpenRouterSettings = OpenRouterSettings()
    runware: RunwareSettings = RunwareSettings()
    economy: EconomySettings = EconomySettings()
    http: HttpSettings = HttpSettings()
    jobs: JobSettings = JobSettings()

    @classmethod
    def embedded(cls, data_dir: Path) -> Settings:
        """The embedded default rooted at `data_dir` (SQLite, local issuer, offline)."""
        return cls(data_dir=data_dir, database=DatabaseSettings(url=sqlite_url(data_dir)))


def sqlite_url(data_dir: Path) -> str:
    """The embedded database file inside `data_dir`."""
    return f"sqlite+aiosqlite:///{data_dir / 'mynth.db'}"


class _Reader:
    """Reads typed values from the environment and collects every problem."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def text(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def parsed(self, name: str, parse: Callable[[str], T], default: T) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return parse(raw)
        except ValueError as exc:
            self.problems.append(f"{name}: {exc}")
            return default

    def items(self, name: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in (self.text(name) or "").split(",") if p.strip())


def _positive(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(f"must be a positive integer, not {raw!r}")
    return value


def _lease(raw: str) -> int:
    value = int(raw)
    if value < MIN_JOB_LEASE_SECONDS:
        raise ValueError(f"must be at least {MIN_JOB_LEASE_SECONDS} seconds, not {raw!r}")
    return value


def _flag(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, not {raw!r}")


def _pairs(raw: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"expected key=value pairs, got {item!r}")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def _non_negative(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"must be 0 or more, not {raw!r}")
    return value


def _costs(raw: str) -> tuple[tuple[str, int], ...]:
    return tuple((key, _non_negative(value)) for key, value in _pairs(raw))


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in raw.split(",") if p.strip())


def _check(settings: Settings, problems: list[str]) -> None:
    clerk = settings.clerk
    if not clerk.uses_local_issuer and clerk.issuer is None:
        problems.append("MYNTH_CLERK_ISSUER: required when a JWKS URL or PEM key is set")
    if settings.profile is Profile.PRODUCTION and clerk.uses_local_issuer:
        problems.append(
            "MYNTH_PROFILE=production needs MYNTH_CLERK_JWKS_URL or MYNTH_CLERK_JWT_KEY "
            "(the local dev issuer is for the embedded profile only)"
        )
    known = {op.value for op in Operation}
    for name, _ in settings.economy.operation_costs:
        if name not in known:
            problems.append(f"MYNTH_OPERATION_COSTS: unknown operation {name!r}")
    url = settings.database.url
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        problems.append(
            "MYNTH_DATABASE_URL: use sqlite+aiosqlite:///path or postgresql+asyncpg://..."
        )


def load_settings(environ: Mapping[str, str], *, stdout_is_tty: bool = False) -> Settings:
    """Build Settings from MYNTH_* variables; a missing variable selects the embedded default.

    Raises:
        SettingsError: listing every bad value together.
    """
    env = _Reader(environ)
    data_dir = Path(env.text("MYNTH_DATA_DIR") or ".mynth")
    default_log = LogFormat.CONSOLE if stdout_is_tty else LogFormat.JSON
    settings = Settings(
        profile=env.parsed("MYNTH_PROFILE", Profile, Profile.EMBEDDED),
        data_dir=data_dir,
        database=DatabaseSettings(url=env.text("MYNTH_DATABASE_URL") or sqlite_url(data_dir)),
        redis_url=env.text("MYNTH_REDIS_URL"),
        clerk=ClerkSettings(
            jwks_url=env.text("MYNTH_CLERK_JWKS_URL"),
            jwt_key=env.text("MYNTH_CLERK_JWT_KEY"),
            issuer=env.text("MYNTH_CLERK_ISSUER"),
            authorized_parties=frozenset(env.items("MYNTH_CLERK_AUTHORIZED_PARTIES")),
            webhook_secret=env.text("MYNTH_CLERK_WEBHOOK_SECRET"),
            jwks_ttl_seconds=env.parsed("MYNTH_CLERK_JWKS_TTL", _positive, 3600),
            dev_token_ttl_seconds=env.parsed("MYNTH_DEV_TOKEN_TTL", _positive, 24 * 3600),
        ),
        polar=PolarSettings(
            access_token=env.text("MYNTH_POLAR_ACCESS_TOKEN"),
            api_url=env.text("MYNTH_POLAR_API_URL") or POLAR_URL,
            webhook_secret=env.text("MYNTH_POLAR_WEBHOOK_SECRET"),
            products=env.parsed("MYNTH_POLAR_PRODUCTS", _pairs, ()),
            success_url=env.text("MYNTH_POLAR_SUCCESS_URL") or PolarSettings().success_url,
        ),
        openrouter=OpenRouterSettings(
            api_key=env.text("MYNTH_OPENROUTER_API_KEY"),
            base_url=env.text("MYNTH_OPENROUTER_BASE_URL") or OPENROUTER_URL,
        ),
        runware=RunwareSettings(
            api_key=env.text("MYNTH_RUNWARE_API_KEY"),
            base_url=env.text("MYNTH_RUNWARE_BASE_URL") or RUNWARE_URL,
            download_hosts=frozenset(env.items("MYNTH_RUNWARE_DOWNLOAD_HOSTS"))
            or RunwareSettings().download_hosts,
        ),
        jobs=JobSettings(
            embedded_worker=env.parsed("MYNTH_EMBEDDED_WORKER", _flag, default=True),
            concurrency=env.parsed("MYNTH_WORKER_CONCURRENCY", _positive, 4),
            lease_seconds=env.parsed("MYNTH_JOB_LEASE_SECONDS", _lease, JOB_LEASE_SECONDS),
        ),
        economy=EconomySettings(
            daily_free_allowance=env.parsed("MYNTH_DAILY_FREE_TOKENS", _non_negative, 10),
            welcome_grant=env.parsed("MYNTH_WELCOME_GRANT_TOKENS", _non_negative, 20),
            operation_costs=env.parsed("MYNTH_OPERATION_COSTS", _costs, ()),
        ),
        http=HttpSettings(
            max_body_bytes=env.parsed("MYNTH_MAX_BODY_BYTES", _positive, MIB),
            trusted_proxies=env.parsed("MYNTH_TRUSTED_PROXIES", _networks, ()),
            log_format=env.parsed("MYNTH_LOG_FORMAT", LogFormat, default_log),
        ),
    )
    problems = env.problems
    _check(settings, problems)
    if problems:
        raise SettingsError(problems)
    return settings
