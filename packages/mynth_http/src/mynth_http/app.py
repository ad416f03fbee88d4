"""`create_app(settings, bootstrap=...)`: the Litestar application and its lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import punq
from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin

from mynth_adapters.jobs import job_worker
from mynth_adapters.settings import JobSettings, Settings
from mynth_core.chats.settlement import SettleAbandonedReplies
from mynth_core.personas.settlement import SettleAbandonedGenerations
from mynth_core.publishing.services import FailStalePublishes
from mynth_http.controllers import CONTROLLERS
from mynth_http.di import DEPENDENCIES
from mynth_http.logging import configure_logging
from mynth_http.middleware import EdgeMiddleware, JsonOnlyRequest
from mynth_http.problems import EXCEPTION_HANDLERS
from mynth_http.streaming import GenerationRunner
from mynth_http.sweeper import SWEEP_EVERY_SECONDS, sweep_forever

Bootstrap = Callable[[Settings], AbstractAsyncContextManager[punq.Container]]


def create_app(settings: Settings, *, bootstrap: Bootstrap) -> Litestar:
    """The HTTP API over the container that `bootstrap(settings)` yields while it runs."""
    configure_logging(settings.http.log_format)

    @asynccontextmanager
    async def container_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with bootstrap(settings) as container:
            app.state.container = container
            app.state.runner = runner = GenerationRunner()
            # Charges of generations and chat replies a dead process abandoned: refunded at
            # startup, then every minute (every instance sweeps; a spend is refunded at most
            # once). The same loop fails publishes pending for over 10 minutes (PRODUCT §5.3).
            settle = container.resolve(SettleAbandonedGenerations)
            settle_replies = container.resolve(SettleAbandonedReplies)
            fail_stale = container.resolve(FailStalePublishes)

            async def sweep() -> int:
                return await settle() + await settle_replies() + await fail_stale()

            sweeper = asyncio.create_task(sweep_forever(sweep, every=SWEEP_EVERY_SECONDS))
            try:
                async with embedded_worker(container, settings.jobs):
                    yield
            finally:  # generations still running get their grace period, then a refund
                sweeper.cancel()
                await asyncio.wait([sweeper])  # without raising the sweeper's cancellation
                await runner.drain()

    app = Litestar(
        route_handlers=list(CONTROLLERS),
        dependencies=dict(DEPENDENCIES),
        exception_handlers=dict(EXCEPTION_HANDLERS),
        request_class=JsonOnlyRequest,
        lifespan=[container_lifespan],
        state=State({"settings": settings}),
        request_max_body_size=settings.http.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Mynth API",
            version="1.0.0",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
            use_handler_docstrings=True,
        ),
        logging_config=None,
    )
    # Outermost, around routing too: 404/405 answers also get a request id and a log line.
    app.asgi_handler = EdgeMiddleware(
        app.asgi_handler,
        max_body_bytes=settings.http.max_body_bytes,
        trusted_proxies=settings.http.trusted_proxies,
    )
    return app


@asynccontextmanager
async def embedded_worker(container: punq.Container, jobs: JobSettings) -> AsyncIterator[None]:
    """Run background jobs in this process, unless separate `mynth worker` processes do."""
    if not jobs.embedded_worker:
        yield
        return
    worker = job_worker(container, concurrency=jobs.concurrency, lease=jobs.lease)
    async with worker.running(grace=10):
        yield
