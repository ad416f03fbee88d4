"""THE composition root: `bootstrap(settings)` builds every adapter and the punq container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
import punq
from sqlalchemy.ext.asyncio import AsyncEngine

from mynth_adapters.auth import (
    LOCAL_ISSUER,
    JwksKeySource,
    JwtIdentityVerifier,
    KeySource,
    LocalIssuer,
    PemKeySource,
)
from mynth_adapters.auth.webhooks import StandardWebhookVerifier
from mynth_adapters.blobs import LocalBlobStore
from mynth_adapters.generation_log import LoggingGenerationLog
from mynth_adapters.health import Check, Readiness
from mynth_adapters.http_client import provider_client
from mynth_adapters.images import (
    OfflineImageGenerator,
    RunwareImageGenerator,
    download_client,
    runware_client,
)
from mynth_adapters.inbound import ClerkWebhooks, PolarWebhooks
from mynth_adapters.offline import OfflineChatModel
from mynth_adapters.openrouter import OpenAICompatChatModel, chat_client, is_openrouter_url
from mynth_adapters.polar import CHECKOUT_TIMEOUT, PolarBillingProvider
from mynth_adapters.prompts import JinjaPromptRenderer
from mynth_adapters.ratelimit import MemoryRateLimiter, RedisRateLimiter, redis_client
from mynth_adapters.settings import (
    ClerkSettings,
    EconomySettings,
    OpenRouterSettings,
    PolarSettings,
    RunwareSettings,
    Settings,
)
from mynth_adapters.sql.engine import sql_engine
from mynth_adapters.sql.migrate import is_at_head, migrate
from mynth_adapters.sql.uow import SqlUnitOfWorkFactory
from mynth_adapters.usecases import USE_CASES
from mynth_core.billing import BillingProvider, PackCatalogue, PackId, UnconfiguredBillingProvider
from mynth_core.billing.services import HandleOrderPaid, HandleOrderRefunded, StartCheckout
from mynth_core.chats.catalogue import ChatCatalogue
from mynth_core.chats.prompting import ChatWriter
from mynth_core.clock import Clock, SystemClock
from mynth_core.generation.ports import ChatModel, PromptRenderer
from mynth_core.generation.runs import GenerationLog
from mynth_core.identity import IdentityVerifier
from mynth_core.ids import IdFactory, RandomIdFactory
from mynth_core.images.ports import BlobStore, ImageGenerator
from mynth_core.images.registry import ImageRegistry
from mynth_core.images.services import ImageWork
from mynth_core.ledger.model import TokenAmount
from mynth_core.ledger.services import LedgerPolicy
from mynth_core.limits import RateLimiter
from mynth_core.personas.writer import PersonaModels, Writer
from mynth_core.pricing import Operation, PriceTable
from mynth_core.publishing.services import Classifier
from mynth_core.uow import UnitOfWorkFactory
from mynth_core.users import DeleteUser, RecentUsers, SyncClerkUser

# PROVIDERS.md §0.4: JWKS fetches are short; a slow endpoint must not stall every request.
JWKS_TIMEOUT = httpx.Timeout(connect=2.0, read=3.0, write=3.0, pool=2.0)


@asynccontextmanager
async def bootstrap(settings: Settings) -> AsyncIterator[punq.Container]:
    """Build the adapters `settings` selects and yield a container of ports and use cases.

    The embedded SQLite database is migrated here; Postgres is migrated by `mynth migrate`.
    Everything opened here (engine, HTTP clients) is closed when the context exits.
    """
    async with AsyncExitStack() as stack:
        engine = await stack.enter_async_context(sql_engine(settings.database))
        if settings.database.is_sqlite:
            await migrate(engine)
        clock = SystemClock()
        keys = await _key_source(settings, clock, stack)
        container = punq.Container()
        container.register(Clock, instance=clock)
        container.register(IdFactory, instance=RandomIdFactory())
        container.register(UnitOfWorkFactory, instance=SqlUnitOfWorkFactory(engine))
        container.register(
            IdentityVerifier, instance=identity_verifier(settings.clerk, keys, clock)
        )
        limiter, checks = await _rate_limiter(settings, clock, stack)
        container.register(RateLimiter, instance=limiter)
        container.register(
            Readiness, instance=Readiness((("database", database_check(engine)), *checks))
        )
        container.register(RecentUsers, instance=RecentUsers(clock))
        container.register(LedgerPolicy, instance=ledger_policy(settings.economy))
        container.register(PriceTable, instance=price_table(settings.economy))
        register_generation(container, await _chat_model(settings.openrouter, stack))
        register_images(
            container,
            generator=await _image_generator(settings.runware, stack),
            blobs=LocalBlobStore.in_data_dir(settings.data_dir),
        )
        for use_case in USE_CASES:
            container.register(use_case, scope=punq.Scope.singleton)
        catalogue = pack_catalogue(settings, container.resolve(PriceTable))
        billing = await _billing_provider(settings.polar, catalogue, stack)
        register_billing(container, settings, catalogue, billing)
        yield container


def register_generation(container: punq.Container, chat_model: ChatModel) -> None:
    """The chat model, the prompts, the model choices and the outcome log.

    The persona `Writer`, the `ChatWriter` and the publish `Classifier` are built on first
    use, so a test that re-registers the chat model (or the clock, the store) after
    `bootstrap` gets it in every generation use case.
    """
    container.register(ChatModel, instance=chat_model)
    container.register(PromptRenderer, instance=JinjaPromptRenderer())
    container.register(GenerationLog, instance=LoggingGenerationLog())
    container.register(PersonaModels, instance=PersonaModels())

    def writer() -> Writer:
        return Writer(
            model=container.resolve(ChatModel),
            renderer=container.resolve(PromptRenderer),
            models=container.resolve(PersonaModels),
            log=container.resolve(GenerationLog),
        )

    container.register(Writer, factory=writer, scope=punq.Scope.singleton)
    container.register(ChatCatalogue, instance=ChatCatalogue())

    def chat_writer() -> ChatWriter:
        return ChatWriter(
            uow=container.resolve(UnitOfWorkFactory),
            clock=container.resolve(Clock),
            model=container.resolve(ChatModel),
            renderer=container.resolve(PromptRenderer),
            catalogue=container.resolve(ChatCatalogue),
            log=container.resolve(GenerationLog),
        )

    container.register(ChatWriter, factory=chat_writer, scope=punq.Scope.singleton)

    def classifier() -> Classifier:
        return Classifier(
            model=container.resolve(ChatModel),
            renderer=container.resolve(PromptRenderer),
            log=container.resolve(GenerationLog),
        )

    container.register(Classifier, factory=classifier, scope=punq.Scope.singleton)


async def _image_generator(runware: RunwareSettings, stack: AsyncExitStack) -> ImageGenerator:
    """Runware with a key; else the offline renderer (`offline/image`)."""
    if runware.api_key is None:
        return OfflineImageGenerator()
    return RunwareImageGenerator(
        client=await stack.enter_async_context(runware_client(runware.base_url)),
        api_key=runware.api_key,
        download_client=await stack.enter_async_context(download_client()),
        download_hosts=runware.download_hosts,
    )


async def _chat_model(openrouter: OpenRouterSettings, stack: AsyncExitStack) -> ChatModel:
    """OpenRouter (or any OpenAI-compatible server) with a key; else the offline generator."""
    if openrouter.api_key is None:
        return OfflineChatModel()
    client = await stack.enter_async_context(chat_client(openrouter.base_url))
    return OpenAICompatChatModel(
        client=client,
        api_key=openrouter.api_key,
        is_openrouter=is_openrouter_url(openrouter.base_url),
    )


def register_images(
    container: punq.Container, *, generator: ImageGenerator, blobs: BlobStore
) -> None:
    """The image registry, generator and blob store behind the image use cases.

    `ImageWork` is built on first use (after `register_generation`), so a test that
    re-registers the generator, the chat model or the blob store gets them.
    """
    container.register(ImageRegistry, instance=ImageRegistry())
    container.register(ImageGenerator, instance=generator)
    container.register(BlobStore, instance=blobs)

    def image_work() -> ImageWork:
        return ImageWork(
            generator=container.resolve(ImageGenerator),
            blobs=container.resolve(BlobStore),
            registry=container.resolve(ImageRegistry),
            model=container.resolve(ChatModel),
            renderer=container.resolve(PromptRenderer),
            log=container.resolve(GenerationLog),
        )

    container.register(ImageWork, factory=image_work, scope=punq.Scope.singleton)


def pack_catalogue(settings: Settings, prices: PriceTable) -> PackCatalogue:
    """The price table's packs, each linked to its configured Polar product."""
    products = tuple((PackId(pack), product) for pack, product in settings.polar.products)
    return PackCatalogue(packs=prices.packs, products=products)


def register_billing(
    container: punq.Container,
    settings: Settings,
    catalogue: PackCatalogue,
    billing: BillingProvider,
) -> None:
    """Checkout and the two webhook endpoints, which punq cannot autowire.

    Each is built on first use, so a test that re-registers a port (the clock, say) after
    `bootstrap` gets it in these too.
    """
    container.register(PackCatalogue, instance=catalogue)
    container.register(BillingProvider, instance=billing)

    def start_checkout() -> StartCheckout:
        return StartCheckout(
            uow=container.resolve(UnitOfWorkFactory),
            billing=container.resolve(BillingProvider),
            catalogue=catalogue,
            clock=container.resolve(Clock),
            success_url=settings.polar.success_url,
        )

    def polar_webhooks() -> PolarWebhooks:
        secrets = _secrets(settings.polar.webhook_secret)
        return PolarWebhooks(
            verifier=StandardWebhookVerifier.for_polar(secrets, clock=container.resolve(Clock)),
            order_paid=container.resolve(HandleOrderPaid),
            order_refunded=container.resolve(HandleOrderRefunded),
        )

    def clerk_webhooks() -> ClerkWebhooks:
        secrets = _secrets(settings.clerk.webhook_secret)
        return ClerkWebhooks(
            verifier=StandardWebhookVerifier.for_clerk(secrets, clock=container.resolve(Clock)),
            sync_user=container.resolve(SyncClerkUser),
            delete_user=container.resolve(DeleteUser),
        )

    for service, factory in (
        (StartCheckout, start_checkout),
        (PolarWebhooks, polar_webhooks),
        (ClerkWebhooks, clerk_webhooks),
    ):
        container.register(service, factory=factory, scope=punq.Scope.singleton)


async def _rate_limiter(
    settings: Settings, clock: Clock, stack: AsyncExitStack
) -> tuple[RateLimiter, tuple[tuple[str, Check], ...]]:
    """In memory for one process; Redis (and its readiness check) when several share limits."""
    if settings.redis_url is None:
        return MemoryRateLimiter(clock), ()
    client = redis_client(settings.redis_url)
    stack.push_async_callback(client.aclose)

    async def ping() -> None:
        await client.ping()

    return RedisRateLimiter(client, clock), (("redis", ping),)


def _secrets(configured: str | None) -> tuple[str, ...]:
    # Several comma-separated secrets are accepted while a secret is being rotated.
    return tuple(part.strip() for part in (configured or "").split(",") if part.strip())


async def _billing_provider(
    polar: PolarSettings, catalogue: PackCatalogue, stack: AsyncExitStack
) -> BillingProvider:
    if polar.access_token is None:
        return UnconfiguredBillingProvider()
    client = await stack.enter_async_context(provider_client(polar.api_url, CHECKOUT_TIMEOUT))
    return PolarBillingProvider(client=client, access_token=polar.access_token, catalogue=catalogue)


def ledger_policy(economy: EconomySettings) -> LedgerPolicy:
    """The daily allowance and welcome grant from configuration."""
    return LedgerPolicy(
        daily_free_allowance=TokenAmount(economy.daily_free_allowance),
        welcome_grant=TokenAmount(economy.welcome_grant),
    )


def price_table(economy: EconomySettings) -> PriceTable:
    """The default price table with the configured operation costs laid over it."""
    costs = dict(PriceTable().operations)
    costs.update((Operation(name), TokenAmount(cost)) for name, cost in economy.operation_costs)
    return PriceTable(operations=tuple(costs.items()))


def database_check(engine: AsyncEngine) -> Check:
    """Ready when the database answers and its schema is at the newest migration."""

    async def check() -> None:
        if not await is_at_head(engine):
            raise RuntimeError("the database schema is not at the newest migration")

    return check


def identity_verifier(clerk: ClerkSettings, keys: KeySource, clock: Clock) -> JwtIdentityVerifier:
    """One verifier for Clerk and the local issuer; only the key source and issuer differ."""
    return JwtIdentityVerifier(
        keys=keys,
        issuer=clerk.issuer or LOCAL_ISSUER,
        authorized_parties=clerk.authorized_parties,
        clock=clock,
    )


async def _key_source(settings: Settings, clock: Clock, stack: AsyncExitStack) -> KeySource:
    clerk = settings.clerk
    if clerk.jwt_key is not None:
        return PemKeySource.from_pem(clerk.jwt_key)
    if clerk.jwks_url is not None:
        client = await stack.enter_async_context(
            httpx.AsyncClient(timeout=JWKS_TIMEOUT, follow_redirects=False)
        )
        return JwksKeySource(
            client=client, url=clerk.jwks_url, clock=clock, ttl=clerk.jwks_ttl_seconds
        )
    return LocalIssuer.load_or_create(settings.data_dir).key_source()
