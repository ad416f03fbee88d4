"""Image jobs (images issue): how close the job pipeline gets to the provider's own pace.

Setup: a `FakeRunware` in this process (uvicorn in a thread) answering every inference after
LATENCY seconds (per image, an async sleep, so concurrent requests overlap), and the real
`mynth` processes pointed at it (`MYNTH_RUNWARE_API_KEY`/`_BASE_URL`/`_DOWNLOAD_HOSTS`):

- embedded: one `mynth serve` on SQLite (temp data dir) whose in-process worker runs
  `MYNTH_WORKER_CONCURRENCY` jobs at once (left at its default, 4);
- workers: `mynth serve` with `MYNTH_EMBEDDED_WORKER=false` and two `mynth worker
  --concurrency 4` processes (8 at once), on Postgres: a database of its own beside
  `--database-url`'s, migrated with `mynth migrate` and dropped afterwards; skipped with a
  note when Postgres is unreachable.

JOBS / 2 users (50; dev tokens minted from the data dir's local issuer) each own a persona
and ask for two `low` images (no prompt crafting: the job pipeline itself is measured), all
at once from SENDERS concurrent requests, since each user may have two jobs in flight. A few
warm-up jobs run first (the fake paints its picture once per size; each process's first job
pays for its imports). Wall time = the last job's `finished_at` minus the first job's
`created_at` (both stamped by Mynth, so the polling cadence does not enter); the client polls
the newest pending job every POLL seconds, and sweeps all of them once it is done. Ideal =
jobs x LATENCY / total concurrency. Target: wall <= 1.5 x ideal. Every job must succeed,
once: the fake must have run each taskUUID exactly once. Also reported: the CPU time of the
mynth processes (from /proc, Linux only) and of this process (the client and the fake) over
the timed part, and the machine's load average before the run, since all of it shares the
machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
import attrs
import httpx
from tests.bench.ledger import DEFAULT_URL, URL_ENV

# The fake providers and the server kit live in tests/, imported from there as under pytest.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from e2e.serverkit import MYNTH, mynth_env, scratch_database, serving, working  # noqa: E402
from mynth_adapters.auth import LocalIssuer  # noqa: E402
from mynth_adapters.settings import JobSettings  # noqa: E402
from providers.runware import FakeRunware  # noqa: E402

TARGET_RATIO: Final = 1.5
JOBS: Final = 100
LATENCY: Final = 0.2
PER_USER: Final = 2  # the in-flight limit per user
WORKERS: Final = 2
WORKER_CONCURRENCY: Final = 4
WARMUP_USERS: Final = 4  # x 2 jobs, before the timed run
SENDERS: Final = 16  # concurrent enqueue requests
POLL: Final = 0.1  # seconds between polls of the newest pending job
TIMEOUT: Final = 30.0
FINISHED: Final = frozenset({"succeeded", "failed"})
PERSONA: Final = {
    "name": "Aurora Vale",
    "age": "34",
    "gender": "female",
    "appearance": "Tall, storm-grey eyes, a salt-stained wool coat.",
    "personality": "Dry humour, fiercely loyal.",
    "background": "Keeps the last manned lighthouse.",
    "summary": "A lighthouse keeper who hears ships that sank a century ago.",
}


class BenchError(Exception):
    """The run went wrong (a failed request or job, a job run twice)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("images suite")
    group.add_argument("--images-jobs", type=int, default=JOBS)
    group.add_argument("--images-latency", type=float, default=LATENCY, help="seconds/image")
    group.add_argument(
        "--images-setups", default="embedded,workers", help="comma-separated: embedded, workers"
    )
    group.add_argument("--images-out", type=Path, default=Path(".bench/images.json"))


@attrs.frozen
class User:
    headers: Mapping[str, str]
    persona: str


@attrs.frozen
class Job:
    id: str
    user: User


def stamp(text: str) -> float:
    """An API timestamp (RFC 3339, ms) as seconds since the epoch."""
    return datetime.fromisoformat(text).timestamp()


class Driver:
    """One client of a running `mynth serve`: users, enqueues and polls."""

    def __init__(self, client: httpx.AsyncClient, base: str, data_dir: Path) -> None:
        self.client, self.base = client, base
        self.issuer = LocalIssuer.load_or_create(data_dir)

    async def users(self, prefix: str, count: int) -> list[User]:
        now = datetime.now(UTC)
        made = []
        for k in range(count):
            token = self.issuer.mint(f"{prefix}-{k}", ttl=3600, now=now)
            headers = {"Authorization": f"Bearer {token}"}
            created = await self.client.post(
                f"{self.base}/v1/personas", json={"data": PERSONA}, headers=headers
            )
            if created.status_code != 201:
                raise BenchError(f"create persona answered {created.status_code}: {created.text}")
            made.append(User(headers, str(created.json()["id"])))
        return made

    async def enqueue(self, users: Sequence[User]) -> list[Job]:
        """Each user's PER_USER low images, SENDERS requests at a time, in user order."""
        slots = asyncio.Semaphore(SENDERS)

        async def one(user: User) -> Job:
            async with slots:
                response = await self.client.post(
                    f"{self.base}/v1/personas/{user.persona}/images",
                    json={"quality": "low"},
                    headers=dict(user.headers),
                )
            if response.status_code != 202:
                raise BenchError(f"image request answered {response.status_code}: {response.text}")
            return Job(str(response.json()["id"]), user)

        return list(await asyncio.gather(*(one(u) for u in users for _ in range(PER_USER))))

    async def job(self, job: Job) -> dict[str, Any]:
        response = await self.client.get(
            f"{self.base}/v1/image-jobs/{job.id}", headers=dict(job.user.headers)
        )
        if response.status_code != 200:
            raise BenchError(f"poll answered {response.status_code}: {response.text}")
        return dict(response.json())

    async def settle(self, jobs: Sequence[Job]) -> dict[str, dict[str, Any]]:
        """Every job's final state. Jobs are claimed oldest first, so only the newest pending
        job is polled; when it is done, the rest are swept (and polled again if pending)."""
        pending, done = list(jobs), {}
        deadline = time.monotonic() + TIMEOUT + len(jobs)
        while pending:
            if time.monotonic() > deadline:
                raise BenchError(f"{len(pending)} jobs did not finish")
            state = await self.job(pending[-1])
            if state["status"] not in FINISHED:
                await asyncio.sleep(POLL)
                continue
            for job in list(pending):
                state = await self.job(job)
                if state["status"] in FINISHED:
                    done[job.id] = state
                    pending.remove(job)
        return done


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """The CPU time (user + system) the processes used so far; None off Linux."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def drive(base: str, data_dir: Path, jobs: int, pids: Sequence[int]) -> dict[str, Any]:
    """Warm up, then enqueue `jobs` jobs from jobs/2 users and wait for all of them.

    `pids` are the mynth processes, whose CPU time over the timed part is reported.
    """
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        driver = Driver(client, base, data_dir)
        warmup = await driver.users("warmup", WARMUP_USERS)
        await driver.settle(await driver.enqueue(warmup))
        users = await driver.users("bench", -(-jobs // PER_USER))
        cpu_before, own_before = cpu_seconds(pids), time.process_time()
        sent = time.time()
        queued = await driver.enqueue(users)
        enqueued = time.time()
        done = await driver.settle(queued)
        seen = time.time()
        cpu_after, own_after = cpu_seconds(pids), time.process_time()
    states = [done[j.id] for j in queued]
    failed = [s for s in states if s["status"] != "succeeded"]
    if failed:
        raise BenchError(f"{len(failed)} jobs failed, e.g. {failed[0]}")
    created = [stamp(s["created_at"]) for s in states]
    started = [stamp(s["started_at"]) for s in states]
    finished = [stamp(s["finished_at"]) for s in states]
    return {
        "jobs": len(states),
        "users": len(users),
        "wall_s": round(max(finished) - min(created), 3),
        "client_wall_s": round(seen - sent, 3),
        "enqueue_s": round(enqueued - sent, 3),
        "first_start_ms": _ms(min(started) - min(created)),
        "last_created_ms": _ms(max(created) - min(created)),
        "wait_p50_ms": _ms(statistics.median(s - c for s, c in zip(started, created, strict=True))),
        "run_p50_ms": _ms(statistics.median(f - s for f, s in zip(finished, started, strict=True))),
        "run_max_ms": _ms(max(f - s for f, s in zip(finished, started, strict=True))),
        "attempts": sorted({int(s["attempts"]) for s in states}),
        "cpu_s": {
            "mynth": None
            if cpu_before is None or cpu_after is None
            else round(cpu_after - cpu_before, 2),
            "bench": round(own_after - own_before, 2),  # the client and the fake
        },
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def check_once(fake: FakeRunware, expected: int) -> None:
    counts = fake.inferences
    if len(counts) != expected or set(counts.values()) != {1}:
        runs = sorted(set(counts.values()))
        raise BenchError(
            f"the fake ran {len(counts)} taskUUIDs (runs each: {runs}), not {expected}"
        )


def problems_in(*logs: str) -> str | None:
    for text in logs:
        if "Traceback" in text or '"level":"error"' in text:
            return text[-4000:]
    return None


@contextmanager
def fake_runware(latency: float) -> Iterator[FakeRunware]:
    with FakeRunware.running(latency=latency) as fake:
        yield fake


def runware_settings(fake: FakeRunware, jobs: int) -> dict[str, str]:
    return {
        "MYNTH_RUNWARE_API_KEY": fake.api_key,
        "MYNTH_RUNWARE_BASE_URL": fake.base_url,
        "MYNTH_RUNWARE_DOWNLOAD_HOSTS": fake.download_host,
        "MYNTH_DAILY_FREE_TOKENS": str(jobs),
    }


def embedded(args: argparse.Namespace) -> dict[str, Any]:
    """One `mynth serve` on SQLite running the jobs itself."""
    jobs = args.images_jobs
    with tempfile.TemporaryDirectory() as scratch, fake_runware(args.images_latency) as fake:
        data_dir = Path(scratch) / "data"
        env = mynth_env(data_dir, **runware_settings(fake, jobs))
        with serving(env, Path(scratch) / "serve.log") as mynth:
            result = asyncio.run(drive(mynth.base, data_dir, jobs, [mynth.process.pid]))
            problem = problems_in(mynth.log_text())
        if problem:
            raise BenchError(f"mynth serve logged a problem:\n{problem}")
        check_once(fake, jobs + WARMUP_USERS * PER_USER)
    concurrency = JobSettings().concurrency  # MYNTH_WORKER_CONCURRENCY's default
    return result | {"processes": "mynth serve (embedded worker)", "concurrency": concurrency}


def separate_workers(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    """`mynth serve` without a worker and WORKERS `mynth worker` processes, on Postgres."""
    jobs = args.images_jobs
    with tempfile.TemporaryDirectory() as scratch, fake_runware(args.images_latency) as fake:
        data_dir, logs = Path(scratch) / "data", Path(scratch)
        env = mynth_env(
            data_dir,
            **runware_settings(fake, jobs),
            MYNTH_DATABASE_URL=database_url,
            MYNTH_EMBEDDED_WORKER="false",
        )
        subprocess.run([MYNTH, "migrate"], env=env, check=True, capture_output=True)  # noqa: S603
        with ExitStack() as stack:
            mynth = stack.enter_context(serving(env, logs / "serve.log"))
            workers = [
                stack.enter_context(
                    working(env, logs / f"worker-{n}.log", "--concurrency", str(WORKER_CONCURRENCY))
                )
                for n in range(WORKERS)
            ]
            pids = [mynth.process.pid, *(w.process.pid for w in workers)]
            result = asyncio.run(drive(mynth.base, data_dir, jobs, pids))
            texts = [mynth.log_text(), *(w.log_text() for w in workers)]
        if problem := problems_in(*texts):
            raise BenchError(f"a mynth process logged a problem:\n{problem}")
        check_once(fake, jobs + WARMUP_USERS * PER_USER)
    return result | {
        "processes": f"mynth serve + {WORKERS} x mynth worker --concurrency {WORKER_CONCURRENCY}",
        "concurrency": WORKERS * WORKER_CONCURRENCY,
    }


def judged(result: dict[str, Any], latency: float) -> dict[str, Any]:
    """The result with its ideal, ratio and verdict, and what one job cost on average."""
    jobs, concurrency = result["jobs"], result["concurrency"]
    ideal = jobs * latency / concurrency
    ratio = result["wall_s"] / ideal
    cpu = result["cpu_s"]["mynth"]
    return result | {
        "ideal_s": round(ideal, 3),
        "ratio": round(ratio, 2),
        "meets_target": bool(ratio <= TARGET_RATIO),
        # How long each slot spent per job (the latency is LATENCY of it), and the CPU time
        # the mynth processes spent per job (its request and polls included).
        "slot_ms_per_job": _ms(result["wall_s"] * concurrency / jobs),
        "cpu_ms_per_job": None if cpu is None else _ms(cpu / jobs),
    }


def run(args: argparse.Namespace) -> bool:
    """Measure, print and store the result; whether every target was met."""
    setups = {s.strip() for s in args.images_setups.split(",") if s.strip()}
    load = os.getloadavg()[0]  # before the run: what else the machine is doing
    results: dict[str, Any] = {}
    if "embedded" in setups:
        results["embedded_sqlite"] = judged(embedded(args), args.images_latency)
    if "workers" in setups:
        with ExitStack() as stack:
            try:
                url = stack.enter_context(scratch_database(args.database_url, "mynth_bench"))
            except (OSError, asyncpg.PostgresError) as exc:
                print(f"images suite: Postgres unreachable, workers setup skipped ({exc})")  # noqa: T201
                results["workers_postgres"] = {"skipped": f"Postgres unreachable: {exc}"}
            else:
                result = separate_workers(args, url)
                results["workers_postgres"] = judged(result, args.images_latency)
    measured = [r for r in results.values() if "ratio" in r]
    met = all(r["meets_target"] for r in measured)
    results["setup"] = {
        "cores": os.cpu_count(),
        "load_average_1m_before": round(load, 2),
        "jobs": args.images_jobs,
        "latency_s": args.images_latency,
        "quality": "low",
        "users": -(-args.images_jobs // PER_USER),
        "warmup_jobs": WARMUP_USERS * PER_USER,
    }
    results["target"] = f"wall <= {TARGET_RATIO} x ideal (jobs x latency / concurrency)"
    results["meets_target"] = met
    args.images_out.parent.mkdir(parents=True, exist_ok=True)
    args.images_out.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    return met


def print_table(results: Mapping[str, Any]) -> None:
    setup = results["setup"]
    lines = [
        (
            f"images suite: {setup['jobs']} low-quality jobs from {setup['users']} users, "
            f"fake Runware at {setup['latency_s'] * 1000:g} ms per image"
        ),
        (
            "| setup | concurrency | wall | ideal | ratio | enqueue | wait p50 | run p50 "
            "| client wall | CPU mynth / bench |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("embedded_sqlite", "workers_postgres"):
        row = results.get(name)
        if row is None:
            continue
        if "skipped" in row:
            lines.append(f"| {name} | skipped: {row['skipped']} | | | | | | | | |")
            continue
        lines.append(
            f"| {name} | {row['concurrency']} | {row['wall_s']} s | {row['ideal_s']} s | "
            f"{row['ratio']} | {row['enqueue_s']} s | {row['wait_p50_ms']} ms | "
            f"{row['run_p50_ms']} ms | {row['client_wall_s']} s | "
            f"{row['cpu_s']['mynth']} s / {row['cpu_s']['bench']} s |"
        )
    verdict = "meets" if results["meets_target"] else "MISSES"
    lines.append(f"wall / ideal: {verdict} the {TARGET_RATIO}x target")
    print("\n".join(lines))  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--database-url", default=os.environ.get(URL_ENV) or DEFAULT_URL)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if not run(args) and args.check:
        sys.exit(1)


if __name__ == "__main__":
    main()
