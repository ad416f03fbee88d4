"""The `mynth` command: serve, worker, migrate, dev-token."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from mynth_adapters.settings import Settings, SettingsError, load_settings

# Each command imports what it needs when it runs: `dev-token` must not pay for the web
# server and the database stack.


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `mynth` console script."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(os.environ, stdout_is_tty=sys.stdout.isatty())
    except SettingsError as exc:
        print(exc, file=sys.stderr)  # noqa: T201 - the CLI's own output
        return 2
    return int(args.run(settings, args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mynth", description="Mynth Persona backend")
    commands = parser.add_subparsers(required=True, metavar="command")
    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=_serve)
    worker = commands.add_parser("worker", help="run background jobs until SIGTERM or SIGINT")
    worker.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="jobs run at once (default: MYNTH_WORKER_CONCURRENCY, else 4)",
    )
    worker.add_argument(
        "--grace",
        type=float,
        default=30.0,
        help="seconds running jobs get to finish on shutdown (default: 30)",
    )
    worker.set_defaults(run=_worker)
    commands.add_parser("migrate", help="apply database migrations and exit").set_defaults(
        run=_migrate
    )
    token = commands.add_parser("dev-token", help="print a session token from the local issuer")
    token.add_argument("--user", required=True, help="the user id (the token's sub)")
    token.add_argument("--ttl", type=int, default=None, help="lifetime in seconds")
    token.set_defaults(run=_dev_token)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415

    from mynth_adapters.bootstrap import bootstrap  # noqa: PLC0415
    from mynth_http.app import create_app  # noqa: PLC0415

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings, bootstrap=bootstrap)
    config = uvicorn.Config(
        app, host=args.host, port=args.port, log_config=None, access_log=False, lifespan="on"
    )
    uvicorn.Server(config).run()
    return 0


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from mynth_adapters.bootstrap import bootstrap  # noqa: PLC0415
    from mynth_adapters.jobs import job_worker  # noqa: PLC0415
    from mynth_http.logging import configure_logging  # noqa: PLC0415

    concurrency = settings.jobs.concurrency if args.concurrency is None else args.concurrency
    if concurrency < 1 or args.grace < 0:
        print("--concurrency must be at least 1 and --grace not negative", file=sys.stderr)  # noqa: T201
        return 2
    configure_logging(settings.http.log_format)

    async def run() -> None:
        # The first signal stops claiming and lets running jobs finish within the grace
        # period; jobs still running then are abandoned to their leases and run again later.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        if settings.database.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        async with bootstrap(settings) as container:
            worker = job_worker(container, concurrency=concurrency, lease=settings.jobs.lease)
            await worker.serve(stop, grace=args.grace)

    asyncio.run(run())
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from mynth_adapters.sql.engine import sql_engine  # noqa: PLC0415
    from mynth_adapters.sql.migrate import migrate  # noqa: PLC0415

    async def run() -> None:
        if settings.database.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        async with sql_engine(settings.database) as engine:
            await migrate(engine)

    asyncio.run(run())
    print("database is at the newest migration")  # noqa: T201
    return 0


def _dev_token(settings: Settings, args: argparse.Namespace) -> int:
    if not settings.clerk.uses_local_issuer:
        print("dev-token only works with the local issuer; Clerk is configured", file=sys.stderr)  # noqa: T201
        return 1
    ttl = args.ttl if args.ttl is not None else settings.clerk.dev_token_ttl_seconds
    if ttl <= 0:
        print("--ttl must be a positive number of seconds", file=sys.stderr)  # noqa: T201
        return 2
    from mynth_adapters.auth import LocalIssuer  # noqa: PLC0415

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    issuer = LocalIssuer.load_or_create(settings.data_dir)
    print(issuer.mint(args.user, ttl=ttl, now=datetime.now(UTC)))  # noqa: T201
    return 0


def run() -> None:
    """Console-script wrapper: exit with `main`'s status."""
    sys.exit(main())
