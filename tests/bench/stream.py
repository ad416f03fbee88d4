"""Mynth's streaming relay overhead: the time it adds before a generation's first `partial` event.

Setup: a `FakeOpenRouter` in this process (uvicorn in a thread) and the real `mynth serve` as a
subprocess (SQLite in a temp data dir, JSON logs to a file there) with
`MYNTH_OPENROUTER_API_KEY`/`MYNTH_OPENROUTER_BASE_URL` pointing at the fake. Every answer is
a persona JSON streamed in CHUNKS small pieces CHUNK_GAP apart, after FIRST_CONTENT_DELAY of
`: OPENROUTER PROCESSING` comments, so Mynth is idle when the first content arrives.

One client (sync httpx, keep-alive, one request in flight) alternates two kinds of request:

- mynth: a signed-in `POST /v1/personas/generate` with `Accept: text/event-stream`, read to
  its `done` event. Overhead = (when the first `partial` event had fully arrived) - (the
  fake's `first_content_at` for that request's upstream call).
- direct (the baseline, the harness's own floor): the same kind of chat request streamed
  straight from the fake. Floor = (when the first content event had fully arrived) -
  `first_content_at`: one loopback hop, a thread switch and this client's SSE parsing.

Both instants are `time.monotonic()` in this process. Requests are matched to upstream calls
by a unique marker: it is in the request's prompt (found in the body the fake recorded), and
the reply scripted for the request starts with `{"title": "<marker>`, so the first `partial`
event must carry exactly that title (and the first direct event that marker). Users are
spread so that none exceeds half its `creation` rate bucket; each has a high daily allowance.
Target: the overhead's p50 at most TARGET_P50_MS.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import attrs
import httpx

# The fake providers and the server kit live in tests/, imported from there as under pytest.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from e2e.serverkit import mynth_env, serving  # noqa: E402
from mynth_adapters.auth import LocalIssuer  # noqa: E402
from mynth_core.limits import CREATION  # noqa: E402
from providers.openrouter import FakeOpenRouter, Reply, Served, ok  # noqa: E402

TARGET_P50_MS: Final = 15.0
FIRST_CONTENT_DELAY: Final = 0.02  # seconds of comments before the first content event
CHUNK_GAP: Final = 0.001  # seconds between content chunks
CHUNK_CHARS: Final = 16
REQUESTS_PER_USER: Final = CREATION.limit // 2
TIMEOUT: Final = 10.0
UPSTREAM_SETTLE: Final = 1.0  # seconds for the fake to mark a call complete after its end
MODEL: Final = "anthropic/claude-haiku-4.5"
PERSONA: Final = {
    "note_for_user": "A weathered keeper with a secret; ask for her logbook next.",
    "name": "Aurora Vale",
    "age": "34",
    "gender": "female",
    "summary": "A lighthouse keeper who hears ships that sank a century ago.",
    "appearance": "Tall, storm-grey eyes, a salt-stained wool coat, ink on her fingers.",
    "personality": "Dry humour, fiercely loyal, talks to the lamp when nobody listens.",
    "background": "Keeps the last manned lighthouse since her brother drowned off the rocks.",
    "occupation": "lighthouse keeper",
    "extensions": [{"key": "fears", "value": "open water at night"}],
}


class BenchError(Exception):
    """The run went wrong (a failed request, an unmatched upstream call)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("stream suite")
    group.add_argument("--stream-requests", type=int, default=200, help="measured, per kind")
    group.add_argument("--stream-warmup", type=int, default=5, help="unmeasured, per kind")
    group.add_argument("--stream-out", type=Path, default=Path(".bench/stream.json"))


def answer_chunks(marker: str) -> tuple[str, ...]:
    """The scripted answer: `{"title": "<marker>` first, then CHUNK_CHARS-sized pieces."""
    text = json.dumps({"title": f"{marker} of Lantern Rock", **PERSONA})
    head = text.index(marker) + len(marker)
    rest = text[head:]
    return (text[:head], *(rest[i : i + CHUNK_CHARS] for i in range(0, len(rest), CHUNK_CHARS)))


def reply_for(marker: str) -> Reply:
    return ok(chunks=answer_chunks(marker), chunk_delay=CHUNK_GAP, comments_for=FIRST_CONTENT_DELAY)


def new_marker() -> str:
    """A unique marker of fixed length, so that no marker is part of another."""
    return f"mk{secrets.token_hex(6)}"


def sse_events(response: httpx.Response) -> Iterator[tuple[float, dict[str, str]]]:
    """Each SSE event of `response` (`event`/`data` fields; comment-only blocks skipped) with
    the `time.monotonic()` right after the read that completed it."""
    buffer = b""
    for chunk in response.iter_raw():
        at = time.monotonic()
        buffer += chunk
        while (end := buffer.find(b"\n\n")) >= 0:
            block, buffer = buffer[:end], buffer[end + 2 :]
            fields: dict[str, str] = {}
            for line in block.decode().splitlines():
                name, _, value = line.partition(":")
                if name in {"event", "data"}:
                    fields[name] = value.removeprefix(" ")
            if fields:
                yield at, fields


@attrs.frozen
class Sample:
    kind: str  # mynth | direct
    marker: str
    client_first_at: float  # the first partial (mynth) or content (direct) event arrived
    upstream_first_content_at: float
    total_ms: float  # the whole request, to its last byte

    @property
    def ms(self) -> float:
        return (self.client_first_at - self.upstream_first_content_at) * 1000


@attrs.define
class Harness:
    client: httpx.Client
    fake: FakeOpenRouter
    mynth: str
    tokens: list[str]
    sent: int = 0

    def through_mynth(self) -> Sample:
        """One signed-in streamed generate, read to its `done` event."""
        marker = new_marker()
        self.fake.script(reply_for(marker))
        token = self.tokens[self.sent // REQUESTS_PER_USER]
        self.sent += 1
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        body = {"prompt": f"a lighthouse keeper, bench request {marker}"}
        start = time.monotonic()
        first_at, last = None, None
        url = f"{self.mynth}/v1/personas/generate"
        with self.client.stream("POST", url, json=body, headers=headers) as response:
            if response.status_code != 200:
                raise BenchError(f"generate answered {response.status_code}: {response.read()!r}")
            for at, event in sse_events(response):
                last = event
                if event.get("event") == "partial" and first_at is None:
                    first_at = at
                    title = json.loads(event["data"]).get("title")
                    if title != marker:
                        raise BenchError(f"first partial of {marker} has title {title!r}")
        if first_at is None or last is None or last.get("event") != "done":
            raise BenchError(f"request {marker} ended without partial and done: {last}")
        return self._sample("mynth", marker, first_at, start)

    def direct(self) -> Sample:
        """The same kind of chat request streamed straight from the fake (the floor)."""
        marker = new_marker()
        self.fake.script(reply_for(marker))
        body = {
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "You design personas; answer with JSON."},
                {"role": "user", "content": f"a lighthouse keeper, bench request {marker}"},
            ],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        headers = {"Authorization": f"Bearer {self.fake.api_key}", "Accept": "text/event-stream"}
        start = time.monotonic()
        first_at = None
        url = f"{self.fake.base_url}/chat/completions"
        with self.client.stream("POST", url, json=body, headers=headers) as response:
            response.raise_for_status()
            for at, event in sse_events(response):
                if first_at is None and "data" in event:
                    first_at = at
                    if marker not in event["data"]:
                        raise BenchError(f"first direct event of {marker}: {event['data']}")
        if first_at is None:
            raise BenchError(f"direct request {marker} had no content")
        return self._sample("direct", marker, first_at, start)

    def _sample(self, kind: str, marker: str, first_at: float, start: float) -> Sample:
        total_ms = (time.monotonic() - start) * 1000
        upstream = self._upstream(marker)
        if upstream.first_content_at is None:
            raise BenchError(f"the upstream call of {marker} sent no content: {upstream}")
        return Sample(kind, marker, first_at, upstream.first_content_at, total_ms)

    def _upstream(self, marker: str) -> Served:
        """The one upstream call whose request carries `marker`, once it has completed.

        The fake marks a call complete just after its last write, so the client can have
        read the end of the body a moment before: poll for it, briefly.
        """
        needle = marker.encode()
        deadline = time.monotonic() + UPSTREAM_SETTLE
        while True:
            calls = [s for s in self.fake.served if needle in s.request.body]
            if len(calls) != 1:
                raise BenchError(f"{len(calls)} upstream calls carry {marker}, expected 1")
            if calls[0].completed:
                return calls[0]
            if time.monotonic() > deadline:
                raise BenchError(f"the upstream call of {marker} did not complete: {calls[0]}")
            time.sleep(0.0005)


def summary(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100)
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(cuts[98], 3),
        "mean_ms": round(statistics.fmean(samples), 3),
        "max_ms": round(max(samples), 3),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    n, warmup = args.stream_requests, args.stream_warmup
    users = math.ceil((n + warmup) / REQUESTS_PER_USER)
    with (
        tempfile.TemporaryDirectory() as scratch,
        FakeOpenRouter.running() as fake,
    ):
        data_dir, log = Path(scratch) / "data", Path(scratch) / "serve.log"
        env = mynth_env(
            data_dir,
            MYNTH_OPENROUTER_API_KEY=fake.api_key,
            MYNTH_OPENROUTER_BASE_URL=fake.base_url,
            MYNTH_DAILY_FREE_TOKENS=str(10 * (n + warmup)),
        )
        with serving(env, log) as mynth, httpx.Client(timeout=TIMEOUT) as client:
            issuer = LocalIssuer.load_or_create(data_dir)
            now = datetime.now(UTC)
            tokens = [issuer.mint(f"bench-{k}", ttl=3600, now=now) for k in range(users)]
            harness = Harness(client, fake, mynth.base, tokens)
            for _ in range(warmup):
                harness.through_mynth()
                harness.direct()
            samples: list[Sample] = []
            for _ in range(n):  # alternate, so drift and noise hit both kinds alike
                samples += [harness.through_mynth(), harness.direct()]
            problems = _log_problems(mynth.log_text(), expected=n + warmup)
        if problems:
            raise BenchError(f"mynth serve: {problems}\n{log.read_text()[-4000:]}")
    overhead = [s.ms for s in samples if s.kind == "mynth"]
    floor = [s.ms for s in samples if s.kind == "direct"]
    totals = [s.total_ms for s in samples if s.kind == "mynth"]
    return {
        "mynth_overhead": summary(overhead),
        "direct_floor": summary(floor),
        "mynth_request_total": summary(totals),
        "setup": {
            "requests_per_kind": n,
            "warmup_per_kind": warmup,
            "users": users,
            "first_content_delay_ms": FIRST_CONTENT_DELAY * 1000,
            "chunks": len(answer_chunks(new_marker())),
            "chunk_gap_ms": CHUNK_GAP * 1000,
        },
    }


def _log_problems(text: str, *, expected: int) -> str | None:
    """Why the server's log is not clean: a traceback, or not `expected` generations that
    succeeded."""
    if "Traceback" in text:
        return "a traceback in the log"
    outcomes = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if str(record.get("event", "")).startswith("generation."):
            outcomes.append(record.get("outcome"))
    if outcomes != ["success"] * expected:
        return f"expected {expected} successful generations, logged {outcomes[:5]}..."
    return None


def run(args: argparse.Namespace) -> bool:
    """Measure, print and store the result; whether the target was met."""
    results = measure(args)
    p50 = results["mynth_overhead"]["p50_ms"]
    floor = results["direct_floor"]["p50_ms"]
    ratio = p50 / floor if floor > 0 else math.inf
    met = bool(p50 <= TARGET_P50_MS)
    results["mynth_overhead_p50_over_floor_p50"] = round(ratio, 2)
    results["target"] = f"mynth overhead p50 <= {TARGET_P50_MS} ms"
    results["meets_target"] = met
    args.stream_out.parent.mkdir(parents=True, exist_ok=True)
    args.stream_out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))  # noqa: T201
    verdict = "meets" if met else "MISSES"
    print(  # noqa: T201
        f"relay overhead to the first partial: p50 {p50:.2f} ms ({ratio:.1f}x the harness "
        f"floor of {floor:.2f} ms): {verdict} the {TARGET_P50_MS:g} ms target"
    )
    return met


def main() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if not run(args) and args.check:
        sys.exit(1)


if __name__ == "__main__":
    main()
