"""Image jobs against the real `mynth serve` / `mynth worker` processes and a fake Runware.

A job survives the crash of the process running it (its lease expires, the restarted server
runs it again with the same taskUUID, the user is charged once); two worker processes on
Postgres share a queue without running any job twice; and the embedded default (no keys)
paints offline images end to end. Every wait is a deadline with polling.
"""

from __future__ import annotations

import asyncio
import io
import json
import signal
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import asyncpg
import httpx
import pytest
from PIL import Image
from sqlalchemy.engine import make_url

from e2e.serverkit import (
    DEADLINE,
    MYNTH,
    balance,
    dev_token,
    eventually,
    kill_hard,
    scratch_database,
    serving,
    working,
)
from mynth_adapters.auth import LocalIssuer
from providers.runware import FakeRunware
from sqlkit import postgres_url

pytestmark = pytest.mark.e2e

PERSONA: Final = {
    "name": "Aurora Vale",
    "age": "34",
    "gender": "female",
    "appearance": "Tall, storm-grey eyes, a salt-stained wool coat.",
    "personality": "Dry humour, fiercely loyal.",
    "background": "Keeps the last manned lighthouse.",
    "summary": "A lighthouse keeper who hears ships that sank a century ago.",
}
LEASE_SECONDS: Final = 10  # the least MYNTH_JOB_LEASE_SECONDS allows; jobs get 5 s each
CRASH_LATENCY: Final = 3.0  # seconds the fake takes per image while the server is killed
QUEUE_LATENCY: Final = 0.2
MEDIUM_COST: Final = 3
FINISHED: Final = frozenset({"succeeded", "failed"})
OFFLINE_MODEL: Final = "offline/image"
SIZES: Final = {"low": (512, 512), "medium": (896, 1152)}


def runware_env(env: dict[str, str], fake: FakeRunware) -> dict[str, str]:
    return env | {
        "MYNTH_RUNWARE_API_KEY": fake.api_key,
        "MYNTH_RUNWARE_BASE_URL": fake.base_url,
        "MYNTH_RUNWARE_DOWNLOAD_HOSTS": fake.download_host,
        # Only the welcome grant: a UTC midnight during the test cannot change the balance.
        "MYNTH_DAILY_FREE_TOKENS": "0",
    }


def auth(env: dict[str, str], user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev_token(env, user)}"}


def new_persona(http: httpx.Client, who: dict[str, str]) -> str:
    created = http.post("/v1/personas", json={"data": PERSONA}, headers=who)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def request_image(http: httpx.Client, who: dict[str, str], persona: str, quality: str) -> str:
    response = http.post(f"/v1/personas/{persona}/images", json={"quality": quality}, headers=who)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def image_job(http: httpx.Client, who: dict[str, str], job_id: str) -> dict[str, Any]:
    response = http.get(f"/v1/image-jobs/{job_id}", headers=who)
    assert response.status_code == 200, response.text
    return dict(response.json())


def finished(http: httpx.Client, who: dict[str, str], job_id: str) -> dict[str, Any] | None:
    job = image_job(http, who, job_id)
    return job if job["status"] in FINISHED else None


def content(http: httpx.Client, who: dict[str, str], image: dict[str, Any]) -> httpx.Response:
    response = http.get(f"/v1/images/{image['id']}/content", headers=who)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/webp"
    return response


def entries_of(http: httpx.Client, who: dict[str, str], job_id: str) -> list[dict[str, Any]]:
    """The caller's ledger entries about the image job: its charge and any refund of it."""
    items = http.get("/v1/me/ledger", params={"limit": 100}, headers=who).json()["items"]
    spends = {e["id"] for e in items if (e["reference"] or {}).get("id") == job_id}
    return [e for e in items if e["id"] in spends or e["refund_of"] in spends]


def clean_log(text: str) -> bool:
    """No traceback and no error-level line (the log is one JSON object a line)."""
    levels = []
    for line in text.splitlines():
        try:
            levels.append(json.loads(line).get("level"))
        except (ValueError, AttributeError):
            continue
    return "Traceback" not in text and "error" not in levels and "critical" not in levels


# --- (a) a crashed server's job runs again -------------------------------------------------


@pytest.fixture
def slow_runware() -> Iterator[FakeRunware]:
    with FakeRunware.running(latency=CRASH_LATENCY) as fake:
        yield fake


def jobs_row(data_dir: Path, ref: str) -> tuple[str, int]:
    """The (status, attempts) of the queue row of image job `ref`, read from the SQLite file."""
    with sqlite3.connect(data_dir / "mynth.db") as db:
        row = db.execute("SELECT status, attempts FROM jobs WHERE ref = ?", (ref,)).fetchone()
    return str(row[0]), int(row[1])


def test_a_job_whose_server_was_killed_runs_again_after_its_lease_and_is_charged_once(
    env, slow_runware, tmp_path
):
    env = runware_env(env, slow_runware) | {"MYNTH_JOB_LEASE_SECONDS": str(LEASE_SECONDS)}
    alice = auth(env, "alice")

    with (
        serving(env, tmp_path / "first.log") as first,
        httpx.Client(base_url=first.base, timeout=DEADLINE) as http,
    ):
        persona = new_persona(http, alice)
        before = balance(first.base, alice)
        job_id = request_image(http, alice, persona, "medium")  # its prompt is crafted first
        eventually(
            lambda: (
                image_job(http, alice, job_id)["status"] == "running"
                and slow_runware.inference_requests
            ),
            "the job runs and Runware got its inference request",
        )
        kill_hard(first)  # mid-inference: ~3 s before Runware answers
    assert first.process.returncode == -signal.SIGKILL
    (killed,) = slow_runware.inference_requests
    (task,) = killed.tasks

    with (
        serving(env, tmp_path / "second.log") as second,
        httpx.Client(base_url=second.base, timeout=DEADLINE) as http,
    ):
        done = eventually(
            lambda: finished(http, alice, job_id),
            "the restarted server settles the job",
            seconds=LEASE_SECONDS + 4 * CRASH_LATENCY,
        )
        after = balance(second.base, alice)
        entries = entries_of(http, alice, job_id)
        if done["status"] == "succeeded":
            image = done["image"]
            assert (image["width"], image["height"]) == SIZES["medium"]
            assert content(http, alice, image).content
    assert second.process.returncode == -signal.SIGTERM
    assert "Traceback" not in second.log_text()

    # The job ran twice, with the same taskUUID both times: Runware billed it at most twice.
    assert slow_runware.inferences == {task["taskUUID"]: 2}
    assert [r.tasks[0]["taskUUID"] for r in slow_runware.inference_requests] == [
        task["taskUUID"]
    ] * 2
    assert jobs_row(Path(env["MYNTH_DATA_DIR"]), job_id) == (
        {"succeeded": "done", "failed": "failed"}[done["status"]],
        2,
    )
    kinds = sorted(e["kind"] for e in entries)
    if done["status"] == "succeeded":
        assert (after, kinds) == (before - MEDIUM_COST, ["spend"])
    else:  # failed for good: refunded once
        assert (after, kinds) == (before, ["refund", "spend"])


# --- (b) two workers on Postgres, each job exactly once -------------------------------------

# Each user has two images in flight (its limit), twice over: 40 jobs. A round of 20 keeps
# one worker (2 at a time, ~0.25 s each) busy for 2.5 s, well past the other's 1 s poll.
USERS: Final = 10
ROUNDS: Final = 2


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A database of its own beside MYNTH_TEST_DATABASE_URL's, dropped after the test."""
    url = postgres_url()  # unset: skipped, or failed under CI=true
    with ExitStack() as stack:
        try:
            scratch = stack.enter_context(scratch_database(url))
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.fail(f"Postgres at MYNTH_TEST_DATABASE_URL is unusable: {exc!r}")
        yield scratch


@pytest.fixture
def fast_runware() -> Iterator[FakeRunware]:
    with FakeRunware.running(latency=QUEUE_LATENCY) as fake:
        yield fake


def queue_rows(url: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(plain, timeout=5)
        try:
            rows = await connection.fetch("SELECT ref, status, attempts, locked_by FROM jobs")
        finally:
            await connection.close()
        return [dict(row) for row in rows]

    return asyncio.run(read())


@pytest.mark.postgres
def test_two_worker_processes_on_postgres_run_every_job_exactly_once(
    env, fast_runware, postgres_database, tmp_path
):
    env = runware_env(env, fast_runware) | {
        "MYNTH_DATABASE_URL": postgres_database,
        "MYNTH_EMBEDDED_WORKER": "false",
    }
    migrated = subprocess.run([MYNTH, "migrate"], env=env, capture_output=True, check=False)  # noqa: S603
    assert migrated.returncode == 0, migrated.stderr
    # As `mynth dev-token` mints them, from the data dir's issuer: 10 commands would take ~6 s.
    issuer = LocalIssuer.load_or_create(Path(env["MYNTH_DATA_DIR"]))
    now = datetime.now(UTC)
    users = [
        {"Authorization": f"Bearer {issuer.mint(f'user-{n}', ttl=600, now=now)}"}
        for n in range(USERS)
    ]
    two = ("--concurrency", "2")

    with (
        serving(env, tmp_path / "serve.log") as server,
        working(env, tmp_path / "worker-1.log", *two) as one,
        working(env, tmp_path / "worker-2.log", *two) as other,
        httpx.Client(base_url=server.base, timeout=DEADLINE) as http,
    ):
        personas = [new_persona(http, who) for who in users]
        jobs: list[tuple[dict[str, str], str]] = []
        done: dict[str, dict[str, Any]] = {}
        for _ in range(ROUNDS):
            batch = [
                (who, request_image(http, who, persona, "low"))
                for who, persona in zip(users, personas, strict=True)
                for _ in range(2)  # each user's limit: two in flight
            ]
            for who, job_id in batch:
                done[job_id] = eventually(
                    lambda who=who, job_id=job_id: finished(http, who, job_id),
                    f"job {job_id} finishes",
                    seconds=30,
                )
            jobs += batch
        for who, job_id in jobs:
            job = done[job_id]
            assert job["status"] == "succeeded", job
            assert content(http, who, job["image"]).content
        assert server.process.poll() is None
    for process in (one, other):
        assert process.process.returncode == 0, process.log_text()
        assert clean_log(process.log_text()), process.log_text()
    assert clean_log(server.log_text()), server.log_text()

    # Runware ran each job's taskUUID exactly once: no job was generated twice.
    counts = fast_runware.inferences
    assert len(counts) == len(jobs) == USERS * 2 * ROUNDS
    assert set(counts.values()) == {1}
    rows = queue_rows(postgres_database)
    assert sorted(r["ref"] for r in rows) == sorted(job_id for _, job_id in jobs)
    assert {(r["status"], r["attempts"]) for r in rows} == {("done", 1)}
    # Both workers ran some jobs, and only they did (the server's worker is off).
    by_worker = Counter(r["locked_by"] for r in rows)
    assert set(by_worker) == {one.worker_id, other.worker_id}, by_worker


# --- (c) the embedded default paints offline images ------------------------------------------


def test_the_embedded_default_paints_offline_images_at_each_tiers_size(server, env):
    alice = auth(env, "alice")
    with httpx.Client(base_url=server, timeout=DEADLINE) as http:
        persona = new_persona(http, alice)
        asked = {quality: request_image(http, alice, persona, quality) for quality in SIZES}
        for quality, job_id in asked.items():
            job = eventually(lambda job_id=job_id: finished(http, alice, job_id), f"{quality} job")
            assert job["status"] == "succeeded", job
            image = job["image"]
            assert image["model"] == OFFLINE_MODEL
            assert (image["width"], image["height"]) == SIZES[quality]
            with Image.open(io.BytesIO(content(http, alice, image).content)) as picture:
                assert (picture.format, picture.size) == ("WEBP", SIZES[quality])
                picture.load()  # every byte decodes, not just the header
