"""`nox -s bench`: persona routes of a real `mynth serve` against a bare Litestar route.

`--suite http|ledger|stream|chat|images|catalog|all` (default all) picks the suites; the
ledger suite (Postgres charges against a bare single-row UPDATE loop) lives in
`tests/bench/ledger.py`, the stream suite (the SSE relay's overhead on the first `partial`
event of a generation, against a fake OpenRouter) in `tests/bench/stream.py`, the chat suite
(prompt size and server time per turn of a 1000-turn chat, against a fake OpenRouter) in
`tests/bench/chat.py`, the images suite (100 image jobs through the embedded worker and
through two `mynth worker` processes, against a fake Runware's 200 ms per image) in
`tests/bench/images.py`, the catalog suite (the public catalog's page 100 against page 1 over
10,000 published personas on Postgres) in `tests/bench/catalog.py`.

Both servers run as separate processes with the same uvicorn setup on loopback; one client
process drives them alternately, so machine noise hits both alike. Reported: p50/p99 latency
of sequential requests and requests/s with 8 concurrent clients; the target is the persona
GET p50 within 3x the bare route's p50.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from tests.bench import catalog, chat, images, ledger, stream

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]
TARGET_RATIO = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(args: list[str], port: int, env: dict[str, str]) -> Iterator[str]:
    proc = subprocess.Popen(  # noqa: S603 - our own commands
        args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/healthz" if "serve" in args else f"{base}/bare", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{args} did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def latencies(client: httpx.AsyncClient, request: Request, n: int) -> list[float]:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        response = await request(client, i)
        samples.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return samples


async def throughput(client: httpx.AsyncClient, request: Request, seconds: float) -> float:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        i = offset * 1_000_000
        while time.perf_counter() < stop:
            (await request(client, i)).raise_for_status()
            done += 1
            i += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(8)))
    return done / (time.perf_counter() - start)


def summary(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100)
    return {"p50_ms": round(statistics.median(samples), 3), "p99_ms": round(cuts[98], 3)}


async def measure(mynth: str, bare: str, token: str, n: int, seconds: float) -> dict[str, object]:
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10) as client:
        created = await client.post(f"{mynth}/v1/personas", json={"data": PERSONA}, headers=auth)
        created.raise_for_status()
        pid = created.json()["id"]

        def get_persona(c: httpx.AsyncClient, _i: int) -> Awaitable[httpx.Response]:
            return c.get(f"{mynth}/v1/personas/{pid}", headers=auth)

        def post_version(c: httpx.AsyncClient, i: int) -> Awaitable[httpx.Response]:
            body = {"data": {"age": f"{20 + i % 60} and {i}"}}
            return c.post(f"{mynth}/v1/personas/{pid}/versions", json=body, headers=auth)

        def get_bare(c: httpx.AsyncClient, _i: int) -> Awaitable[httpx.Response]:
            return c.get(f"{bare}/bare")

        routes = {
            "bare GET /bare": get_bare,
            "GET /v1/personas/{id}": get_persona,
            "POST /v1/personas/{id}/versions": post_version,
        }
        for request in routes.values():  # warm up connections, caches and the JIT-free paths
            await latencies(client, request, 50)
        samples: dict[str, list[float]] = {name: [] for name in routes}
        for _ in range(5):  # interleave rounds so drift affects every route alike
            for name, request in routes.items():
                samples[name] += await latencies(client, request, n // 5)
        results: dict[str, object] = {}
        for name, request in routes.items():
            rps = await throughput(client, request, seconds)
            results[name] = {**summary(samples[name]), "requests_per_s": round(rps, 1)}
    return results


PERSONA = {
    "name": "Aurora Vale",
    "age": "34",
    "gender": "female",
    "appearance": "Tall, storm-grey eyes, a salt-stained wool coat.",
    "personality": "Dry humour, fiercely loyal.",
    "background": "Keeps the last manned lighthouse.",
    "summary": "A lighthouse keeper who hears ships that sank a century ago.",
    "extensions": {"fears": "open water at night"},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--suite",
        choices=("http", "ledger", "stream", "chat", "images", "catalog", "all"),
        default="all",
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path(".bench/http.json"))
    parser.add_argument(
        "--check", action="store_true", help="exit non-zero when a target is missed"
    )
    ledger.add_arguments(parser)
    stream.add_arguments(parser)
    chat.add_arguments(parser)
    images.add_arguments(parser)
    catalog.add_arguments(parser)
    args = parser.parse_args()
    met = True
    if args.suite in {"http", "all"}:
        met = run_http(args) and met
    if args.suite in {"ledger", "all"}:
        met = ledger.run(args, required=args.suite == "ledger") and met
    if args.suite in {"stream", "all"}:
        met = stream.run(args) and met
    if args.suite in {"chat", "all"}:
        met = chat.run(args) and met
    if args.suite in {"images", "all"}:
        met = images.run(args) and met
    if args.suite in {"catalog", "all"}:
        met = catalog.run(args, required=args.suite == "catalog") and met
    if args.check and not met:
        sys.exit(1)


def run_http(args: argparse.Namespace) -> bool:
    """The HTTP suite; whether its target was met."""
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "MYNTH_DATA_DIR": data_dir, "MYNTH_LOG_FORMAT": "json"}
        token = subprocess.run(
            ["mynth", "dev-token", "--user", "bench"],  # noqa: S607
            env=env, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        mynth_port, bare_port = free_port(), free_port()
        serve = ["mynth", "serve", "--port", str(mynth_port)]
        bare = [sys.executable, "-m", "tests.bench.bare", "--port", str(bare_port)]
        with server(serve, mynth_port, env) as mynth, server(bare, bare_port, env) as baseline:
            results = asyncio.run(measure(mynth, baseline, token, args.requests, args.seconds))
    base = results["bare GET /bare"]["p50_ms"]  # type: ignore[index]
    ratio = results["GET /v1/personas/{id}"]["p50_ms"] / base  # type: ignore[index]
    results["persona_get_p50_over_bare_p50"] = round(ratio, 2)
    results["target"] = f"<= {TARGET_RATIO}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))  # noqa: T201
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"persona GET p50 is {ratio:.2f}x the bare route: {verdict} the {TARGET_RATIO}x target")  # noqa: T201
    return bool(ratio <= TARGET_RATIO)


if __name__ == "__main__":
    main()
