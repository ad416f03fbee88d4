"""Ledger charges/s on Postgres against a bare `UPDATE counters SET n = n - 1` loop.

Both loops run in one process on one engine (the production pool settings, sized for the
32 clients), inside a private schema that this run creates, migrates and drops. Each client
is an asyncio task that runs one transaction after another: for the ledger a `Charge` of 1
with a fresh idempotency key (its own unit of work), for the baseline one single-row update.

Two scenarios, each timed for a fixed window after a warm-up:

- hot row: every client charges ONE user / updates ONE row (the worst case: every
  transaction queues on the same row lock). The target applies here: the ledger's rate
  must be at least half the bare rate, with zero lost or double charges.
- per-user rows: client k charges its own user k / updates row k (no shared lock).

Afterwards the ledger is checked exactly: successful charges == spend entries ==
funded - final balance (and likewise updates == the counters' total decrease).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import attrs
from sqlalchemy import NullPool, bindparam, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mynth_adapters.sql import migrate
from mynth_adapters.sql.engine import POSTGRES_POOL
from mynth_adapters.sql.uow import SqlUnitOfWorkFactory
from mynth_core.clock import SystemClock
from mynth_core.ids import RandomIdFactory, UserId
from mynth_core.ledger.model import TokenAmount
from mynth_core.ledger.services import Charge, CreditPurchase
from mynth_core.pricing import Pack, Price

URL_ENV: Final = "MYNTH_TEST_DATABASE_URL"
DEFAULT_URL: Final = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CLIENTS: Final = 32
TARGET_RATIO: Final = 0.5
FUNDING: Final = 50_000_000  # purchased tokens per user: never runs out, fits an int4 column
COUNTER_START: Final = 1_000_000_000
ONE: Final = TokenAmount(1)

Op = Callable[[int, int], Awaitable[None]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ledger suite")
    group.add_argument(
        "--database-url",
        default=os.environ.get(URL_ENV) or DEFAULT_URL,
        help=f"Postgres to measure on (default: ${URL_ENV}, else {DEFAULT_URL})",
    )
    group.add_argument("--clients", type=int, default=CLIENTS)
    group.add_argument("--ledger-seconds", type=float, default=5.0, help="timed window")
    group.add_argument("--ledger-warmup", type=float, default=1.0)
    group.add_argument("--ledger-out", type=Path, default=Path(".bench/ledger.json"))


@attrs.frozen
class FrozenClock:
    """The run's start time throughout, so no UTC midnight falls inside the run (a new day's
    `daily_free` entry would forfeit tokens and blur the exact verification)."""

    at: datetime = attrs.field(factory=SystemClock().now)

    def now(self) -> datetime:
        return self.at


@attrs.frozen
class Phase:
    """One timed loop: completions inside the window, and everything that ran at all."""

    rate: float
    window_done: int
    total_done: int
    failed: dict[str, int]
    client_cpu_ms: float  # this process's CPU time per operation, warm-up included
    latencies_ms: list[float] = attrs.field(repr=False)

    def report(self, unit: str) -> dict[str, object]:
        samples = self.latencies_ms
        enough = len(samples) >= 2  # quantiles need two samples
        return {
            f"{unit}_per_s": round(self.rate, 1),
            "p50_ms": round(statistics.median(samples), 2) if enough else None,
            "p99_ms": round(statistics.quantiles(samples, n=100)[98], 2) if enough else None,
            "in_window": self.window_done,
            "total_incl_warmup": self.total_done,
            "failed": self.failed,
            "client_cpu_ms_per_op": round(self.client_cpu_ms, 3),
        }


async def drive(op: Op, clients: int, warmup: float, seconds: float) -> Phase:
    """Run `op` back to back in `clients` tasks; count what completes inside the window."""
    now = time.perf_counter
    window_start = now() + warmup
    window_end = window_start + seconds
    window_done = total_done = 0
    failed: Counter[str] = Counter()
    latencies: list[float] = []
    cpu_start = time.process_time()

    async def client(k: int) -> None:
        nonlocal window_done, total_done
        i = 0
        while (start := now()) < window_end:
            try:
                await op(k, i)
            except Exception as exc:  # noqa: BLE001 - counted and reported, never hidden
                failed[f"{type(exc).__name__}: {exc}"[:120]] += 1
            else:
                total_done += 1
                end = now()
                if start >= window_start and end <= window_end:
                    window_done += 1
                    latencies.append((end - start) * 1000)
            i += 1

    await asyncio.gather(*(client(k) for k in range(clients)))
    ops = max(total_done + sum(failed.values()), 1)
    cpu_ms = (time.process_time() - cpu_start) * 1000 / ops
    # Only operations that both started and ended inside the window count, so the rate
    # slightly underestimates both loops alike (by about one latency out of the window).
    return Phase(window_done / seconds, window_done, total_done, dict(failed), cpu_ms, latencies)


@asynccontextmanager
async def private_schema(url: str) -> AsyncIterator[str]:
    """A fresh schema of our own, dropped with everything in it afterwards."""
    schema = f"mynth_bench_{secrets.token_hex(6)}"
    admin = create_async_engine(url, poolclass=NullPool)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield schema
        finally:
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def bench_engine(url: str, schema: str, clients: int) -> AsyncIterator[AsyncEngine]:
    """The production pool settings, with a pool of exactly one connection per client."""
    pool = {**POSTGRES_POOL, "pool_size": clients, "max_overflow": 0}
    engine = create_async_engine(url, **pool)

    def use_schema(dbapi_connection: Any, _record: object) -> None:
        # In autocommit, so the setting is not undone with the first rolled-back transaction.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute(f'SET search_path TO "{schema}"')
            cursor.close()
        finally:
            dbapi_connection.autocommit = autocommit

    event.listen(engine.sync_engine, "connect", use_schema)
    try:
        yield engine
    finally:
        await engine.dispose()


async def fund(factory: SqlUnitOfWorkFactory, clock: FrozenClock, users: list[UserId]) -> None:
    purchase = CreditPurchase(uow=factory, clock=clock, ids=RandomIdFactory())
    pack = Pack(id="bench", tokens=TokenAmount(FUNDING), price=Price(0))
    for user in users:
        posted = await purchase(user, pack, f"bench-{user}")
        if posted.duplicate:
            raise RuntimeError(f"{user} was funded twice")


async def verify_ledger(engine: AsyncEngine, users: list[UserId], charged: int) -> dict[str, Any]:
    """Successful charges, spend entries and funded - final balance must all agree."""
    entries = text(
        "SELECT count(*) FILTER (WHERE kind = 'spend') AS spends,"
        " coalesce(-sum(amount) FILTER (WHERE kind = 'spend'), 0) AS spent,"
        " coalesce(sum(amount) FILTER (WHERE amount > 0), 0) AS funded,"
        " count(*) FILTER (WHERE kind NOT IN ('spend', 'purchase', 'daily_free')) AS other,"
        " coalesce(sum(amount), 0) AS entry_sum"
        " FROM ledger_entries WHERE user_id IN :users"
    ).bindparams(bindparam("users", expanding=True))
    accounts = text(
        "SELECT coalesce(sum(free_remaining + purchased), 0) AS balance"
        " FROM token_accounts WHERE user_id IN :users"
    ).bindparams(bindparam("users", expanding=True))
    async with engine.connect() as conn:
        row = (await conn.execute(entries, {"users": users})).mappings().one()
        balance = (await conn.execute(accounts, {"users": users})).scalar_one()
    funded, spends = int(row["funded"]), int(row["spends"])
    result = {
        "successful_charges": charged,
        "spend_entries": spends,
        "tokens_spent": int(row["spent"]),
        "funded": funded,
        "final_balance": int(balance),
        "funded_minus_final": funded - int(balance),
        "sum_of_entries": int(row["entry_sum"]),
        "other_entries": int(row["other"]),
    }
    result["exact"] = (
        charged == spends == result["tokens_spent"] == funded - balance
        and int(row["entry_sum"]) == balance
        and row["other"] == 0
    )
    return result


async def verify_bare(engine: AsyncEngine, rows: int, updated: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        total = (
            await conn.execute(text("SELECT sum(n) FROM counters WHERE id <= :r"), {"r": rows})
        ).scalar_one()
    decrease = rows * COUNTER_START - int(total)
    return {
        "successful_updates": updated,
        "counter_decrease": decrease,
        "exact": decrease == updated,
    }


async def scenario(
    engine: AsyncEngine, args: argparse.Namespace, *, name: str, rows: int
) -> dict[str, Any]:
    """The bare loop, then the ledger, both over `rows` rows shared by all clients."""
    clients: int = args.clients
    run = secrets.token_hex(4)
    users = [UserId(f"usr_bench_{name}_{run}_{r}") for r in range(rows)]
    clock = FrozenClock()
    factory = SqlUnitOfWorkFactory(engine)
    charge = Charge(uow=factory, clock=clock, ids=RandomIdFactory())
    await fund(factory, clock, users)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE counters SET n = :n"), {"n": COUNTER_START})
    decrement = text("UPDATE counters SET n = n - 1 WHERE id = :id")

    async def bare(k: int, _i: int) -> None:
        async with engine.begin() as conn:
            if (await conn.execute(decrement, {"id": k % rows + 1})).rowcount != 1:
                raise RuntimeError("no counter row was updated")

    async def ledger(k: int, i: int) -> None:
        key = f"bench:{run}:{k}:{i}"
        if (await charge.post(users[k % rows], "bench", ONE, key=key)).duplicate:
            raise RuntimeError(f"fresh key {key} answered as a replay")

    base = await drive(bare, clients, args.ledger_warmup, args.ledger_seconds)
    led = await drive(ledger, clients, args.ledger_warmup, args.ledger_seconds)
    ratio = led.rate / base.rate if base.rate else 0.0
    return {
        "rows": rows,
        "bare_update": base.report("updates"),
        "ledger_charge": led.report("charges"),
        "ledger_over_bare": round(ratio, 3),
        "verification": {
            "ledger": await verify_ledger(engine, users, led.total_done),
            "bare": await verify_bare(engine, rows, base.total_done),
        },
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    async with (
        private_schema(args.database_url) as schema,
        bench_engine(args.database_url, schema, args.clients) as engine,
    ):
        await migrate(engine)
        async with engine.begin() as conn:
            await conn.execute(
                text("CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL)")
            )
            await conn.execute(
                text("INSERT INTO counters SELECT g, :n FROM generate_series(1, :rows) g"),
                {"n": COUNTER_START, "rows": args.clients},
            )
            version = (await conn.execute(text("SHOW server_version"))).scalar_one()
        hot = await scenario(engine, args, name="hot", rows=1)
        spread = await scenario(engine, args, name="spread", rows=args.clients)
    return {
        "setup": {
            "postgres": version,
            "clients": args.clients,
            "warmup_s": args.ledger_warmup,
            "window_s": args.ledger_seconds,
            "cpus": os.cpu_count(),
        },
        "hot_row": {"what": "all clients charge one user / update one row", **hot},
        "per_user_rows": {"what": "client k charges its own user k / updates row k", **spread},
    }


async def reachable(url: str) -> str | None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to reach Postgres reads the same
        return repr(exc)
    finally:
        await engine.dispose()
    return None


def run(args: argparse.Namespace, *, required: bool) -> bool:
    """Measure, print and store the result; whether the target was met.

    An unreachable Postgres skips the suite unless it was asked for (or under CI=true).
    """
    problem = asyncio.run(reachable(args.database_url))
    if problem is not None:
        if required or os.environ.get("CI", "").strip().lower() == "true":
            raise SystemExit(f"ledger bench: Postgres is unusable: {problem}")
        print(f"ledger bench skipped: Postgres is unusable: {problem}")  # noqa: T201
        return True
    results = asyncio.run(measure(args))
    hot, spread = results["hot_row"], results["per_user_rows"]
    exact = all(
        part["exact"]
        for result in (hot, spread)
        for part in result["verification"].values()
    )  # fmt: skip
    ratio = hot["ledger_over_bare"]
    met = exact and ratio >= TARGET_RATIO
    results["ledger_hot_over_bare_hot"] = ratio
    results["ledger_per_user_over_bare_per_row"] = spread["ledger_over_bare"]
    results["no_lost_or_double_charges"] = exact
    results["target"] = f">= {TARGET_RATIO} on the hot row, with exact verification"
    results["meets_target"] = met
    args.ledger_out.parent.mkdir(parents=True, exist_ok=True)
    args.ledger_out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))  # noqa: T201
    for label, result in (("hot row", hot), ("per-user rows", spread)):
        check = result["verification"]["ledger"]
        print(  # noqa: T201
            f"{label}: {result['ledger_charge']['charges_per_s']} charges/s vs "
            f"{result['bare_update']['updates_per_s']} bare updates/s = "
            f"{result['ledger_over_bare']:.2f}x; {check['successful_charges']} charges = "
            f"{check['spend_entries']} spend entries = {check['funded_minus_final']} "
            f"funded - final: {'exact' if check['exact'] else 'MISMATCH'}"
        )
    verdict = "meets" if met else "MISSES"
    target = f">= {TARGET_RATIO}x target"
    print(f"ledger hot-row rate is {ratio:.2f}x the bare update: {verdict} the {target}")  # noqa: T201
    return met


def main() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if not run(args, required=True) and args.check:
        sys.exit(1)


if __name__ == "__main__":
    main()
