"""Chats stay bounded (chats issue): prompt size and server time per turn as a chat grows.

Setup: a fake OpenRouter in this process (uvicorn in a thread) and the real `mynth serve` as a
subprocess pointed at it (`MYNTH_OPENROUTER_BASE_URL`), on the embedded default (SQLite in a
temp data dir) and then on Postgres (a database of its own, `mynth_bench_<hex>`, created next
to `--database-url`'s database, migrated with `mynth migrate` and dropped afterwards; skipped
with a note when Postgres is unreachable). One user (`MYNTH_DAILY_FREE_TOKENS` high enough
for every reply) creates a persona and a roleplay chat on the default model (1 token per
reply, so no zero-cost rate limit applies), warms the server up on a throwaway chat, then
sends TURNS user messages one after another through `POST /v1/chats/{id}/messages` (201,
the stored reply). Turn n's user message is 200-400 characters and carries the marker
`[turn nnnn]`; the fake answers the reply request that carries it with 600-1200 characters
(streamed word by word, no delay), a rolling-summary request with a 1,800-character account
(the longest the summary prompt allows, so the summary block is always at its ceiling), and
the roleplay summary with its default JSON. Texts are pseudo-random but fixed per turn.
On Postgres the bench runs `ANALYZE` between sends whenever autovacuum's default trigger
would (50 rows + 10 % added), as on a live database; this machine's Postgres runs with
autovacuum off, and without statistics the path query's cost grows with the chat
(`--no-chat-analyze` shows it; docs/performance.md).

Measured per turn, from what the fake recorded for that turn's upstream calls:

- tokens: the size of the reply's chat completion request, estimated the way Mynth's budget
  does (`mynth_core.chats.context.message_tokens`: ceil(chars / 3) + 4 per message), which
  is what the target uses; the fake's own `usage.prompt_tokens` (whitespace-separated
  words) is reported beside it. Rolling-summary requests (their system prompt starts with
  the first words of `rolling_summary.system.j2`) are counted separately, not in the turn's
  size.
- server time: the client's round trip of the send minus the time the fake spent on the
  turn's upstream calls (each from its request's arrival to its body's last write).

Reported at 10, 100, 300 and 1000 turns: the size of that turn's request, and the p50 /
max of the WINDOW turns ending there (1-20 for 10). Inside each window, every send is
preceded by one to a short reference chat (a new one every WINDOW sends, so always at its
turns 1-20): "server time at 10 turns" measured at the same moments as the long chat's, so
machine load hits both alike. Targets: the largest request in turns 981-1000 at most 1.1x
the largest in turns 81-100 (the prompt plateaus at the budget; a single turn's size
saw-tooths between folds, so the window's peak is compared) and at most the budget, and
the server time's p50 over turns 981-1000 at most 2x the reference sends' p50 beside them.
The p50 over the chat's own turns 1-20 is reported too (1000 / first 20), but not gated: it
was measured a minute earlier, under whatever else the machine was doing then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Final

import asyncpg
import attrs
import httpx
from sqlalchemy.engine import make_url
from tests.bench.ledger import DEFAULT_URL, URL_ENV

# The fake providers and the server kit live in tests/, imported from there as under pytest.
_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from e2e.serverkit import MYNTH, dev_token, mynth_env, serving  # noqa: E402
from mynth_core.chats.catalogue import ChatCatalogue, max_output_tokens  # noqa: E402
from mynth_core.chats.context import message_tokens, prompt_budget  # noqa: E402
from mynth_core.chats.prompting import ROLLING_SUMMARY_CHARS  # noqa: E402
from mynth_core.pricing import ChatMode  # noqa: E402
from providers.openrouter import FakeOpenRouter, Reply, Served  # noqa: E402

CHECKPOINTS: Final = (10, 100, 300, 1000)
TOKENS_TARGET: Final = 1.1  # peak request size, turns 981-1000 over turns 81-100
TIME_TARGET: Final = 2.0  # server time p50, turns 981-1000 over short chats' turns 1-20
BUDGET: Final = prompt_budget(  # the default model's: 16,000 (its window is 2 M)
    context_window=ChatCatalogue().entry(ChatCatalogue().default).context_window,
    max_output_tokens=max_output_tokens(ChatMode.ROLEPLAY),
    max_prompt_tokens=ChatCatalogue().max_prompt_tokens,
)
TIMEOUT: Final = 30.0
UPSTREAM_SETTLE: Final = 1.0  # seconds for the fake to mark a call complete after its end
MARKER: Final = re.compile(r"\[turn (\d{4})\]")
PERSONA: Final = {
    "name": "Aurora Vale",
    "age": "34",
    "gender": "female",
    "appearance": "Tall, storm-grey eyes, a salt-stained wool coat, ink on her fingers.",
    "personality": "Dry humour, fiercely loyal, talks to the lamp when nobody listens.",
    "background": "Keeps the last manned lighthouse since her brother drowned off the rocks.",
    "summary": "A lighthouse keeper who hears ships that sank a century ago.",
    "extensions": {"fears": "open water at night"},
}
_PROSE: Final = (
    "the lamp turns slowly over black water while Aurora counts the seconds between flashes "
    "a bell rings somewhere past the reef and the logbook falls open at a page of names "
    "salt crusts the railing wind pulls at her coat gulls argue on the gallery below "
    "she listens for engines that stopped a century ago and hears them anyway tonight "
    "you climb the spiral stairs with a lantern and ask about the wreck of the Meridian "
    "her brother drew charts of every rock and every current before the storm took him "
    "fog rolls in from the south the foghorn answers and the radio crackles with static"
)
WORDS: Final = tuple(_PROSE.split())


class BenchError(Exception):
    """The run went wrong (a failed request, an unexpected upstream call)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("chat suite")
    group.add_argument("--chat-turns", type=int, default=max(CHECKPOINTS))
    group.add_argument("--chat-window", type=int, default=20, help="turns per checkpoint")
    group.add_argument("--chat-warmup", type=int, default=5, help="turns on a throwaway chat")
    group.add_argument(
        "--chat-databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    group.add_argument(
        "--chat-analyze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="on Postgres, ANALYZE as autovacuum would (this machine's runs with it off)",
    )
    group.add_argument("--chat-out", type=Path, default=Path(".bench/chat.json"))


# --- the conversation ---------------------------------------------------------------------------


def seeded(seed: str) -> random.Random:
    """A generator of fixed texts (not of secrets): the same for the same seed."""
    return random.Random(seed)  # noqa: S311


def prose(rng: random.Random, low: int, high: int) -> str:
    """Sentences of WORDS, between `low` and `high` characters long."""
    size = rng.randint(low, high)
    sentences: list[str] = []
    length = 0
    while length < size:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 18))]
        sentence = " ".join(words).capitalize() + rng.choice((".", ".", "?", "!"))
        sentences.append(sentence)
        length += len(sentence) + 1
    return " ".join(sentences)[:size].rstrip()


def user_text(turn: int) -> str:
    """Turn `turn`'s user message: its marker, then 200-400 characters in all."""
    marker = f"[turn {turn:04d}]"
    return f"{marker} {prose(seeded(f'user {turn}'), 200 - 12, 400 - 12)}"


def reply_text(turn: int) -> str:
    """The reply to turn `turn`: 600-1200 characters that start with its reply marker."""
    return f"[reply {turn:04d}] {prose(seeded(f'reply {turn}'), 600 - 13, 1200 - 13)}"


def summary_text(count: int) -> str:
    """A rolling summary as long as the summary prompt allows (Mynth keeps that many chars)."""
    text = f"Account {count}: " + prose(seeded(f"summary {count}"), 4000, 4000)
    return text[:ROLLING_SUMMARY_CHARS].rstrip()


def _first_words(template: str) -> str:
    """The start of a prompt template's first line, up to its first placeholder."""
    text = resources.files("mynth_adapters.prompts").joinpath("templates", template).read_text()
    text = re.sub(r"\{#.*?#\}", "", text, flags=re.DOTALL).lstrip()
    words = text.splitlines()[0].split("{{")[0].strip()
    if len(words) < 20:  # too short to tell the prompt apart
        raise BenchError(f"{template} starts with {words!r}: no marker to recognise it by")
    return words


ROLLING_PREFIX: Final = _first_words("rolling_summary.system.j2")
ROLEPLAY_PREFIX: Final = _first_words("roleplay_summary.system.j2")


def kind_of(payload: Mapping[str, Any]) -> tuple[str, int | None]:
    """`rolling_summary`, `roleplay_summary` or `reply` (with its turn), else `other`."""
    messages = [m for m in payload.get("messages", []) if isinstance(m, dict)]
    system = next((str(m.get("content")) for m in messages if m.get("role") == "system"), "")
    if system.startswith(ROLLING_PREFIX):
        return "rolling_summary", None
    if system.startswith(ROLEPLAY_PREFIX) or "response_format" in payload:
        return "roleplay_summary", None
    if messages and messages[-1].get("role") == "user":
        found = MARKER.match(str(messages[-1].get("content")))
        if found:
            return "reply", int(found.group(1))
    return "other", None


class ChatFake(FakeOpenRouter):
    """The fake OpenRouter, answering replies and rolling summaries with realistic sizes."""

    summaries = 0

    def _serve(self, payload: Mapping[str, Any]) -> Reply:
        reply = super()._serve(payload)
        kind, turn = kind_of(payload)
        if kind == "reply" and turn is not None:
            return attrs.evolve(reply, text=reply_text(turn))
        if kind == "rolling_summary":
            self.summaries += 1
            return attrs.evolve(reply, text=summary_text(self.summaries))
        return reply


# --- measuring ----------------------------------------------------------------------------------


@attrs.frozen
class Turn:
    """One send and the upstream calls it made."""

    turn: int
    round_trip_ms: float
    upstream_ms: float
    tokens: int  # the reply request, by Mynth's budget estimate
    chars: int  # the reply request's message contents
    messages: int  # the reply request's messages
    fake_prompt_tokens: int  # the fake's `usage.prompt_tokens` (words)
    summaries: int  # rolling-summary requests of the turn
    summary_tokens: int  # their size, by the same estimate
    roleplay_summaries: int

    @property
    def server_ms(self) -> float:
        return self.round_trip_ms - self.upstream_ms


def request_size(payload: Mapping[str, Any]) -> tuple[int, int, int]:
    """(estimated tokens, characters, messages) of a chat completion request."""
    contents = [str(m.get("content") or "") for m in payload["messages"]]
    return sum(message_tokens(c) for c in contents), sum(map(len, contents)), len(contents)


@attrs.define
class Conversation:
    client: httpx.Client
    fake: ChatFake
    base: str
    headers: dict[str, str]

    def chat(
        self, turns: int, *, warmup: int, size: int, between: AutoAnalyze
    ) -> tuple[list[Turn], list[tuple[int, Turn]]]:
        """A persona, `warmup` turns on a throwaway chat, then `turns` on the measured one.

        Inside each checkpoint's window every send is preceded by one to a reference chat
        that is at most `size` turns long (a new one every `size` sends): the short chat's
        server time measured at the same moments, so machine load hits both alike. Returns
        the measured chat's turns and the reference sends with the turn they preceded.
        """
        persona = self.client.post(
            f"{self.base}/v1/personas", json={"data": PERSONA}, headers=self.headers
        )
        persona.raise_for_status()
        persona_id = persona.json()["id"]
        scratch = self.new_chat(persona_id)
        for turn in range(1, warmup + 1):
            self.send(scratch, turn)
        chat = self.new_chat(persona_id)
        windows = [window_of(c, size) for c in CHECKPOINTS if c <= turns]
        done: list[Turn] = []
        references: list[tuple[int, Turn]] = []
        reference = ""
        for turn in range(1, turns + 1):
            between(2 * (warmup + turn - 1 + len(references)))  # messages so far; not timed
            if any(first <= turn <= last for first, last in windows):
                step = len(references) % size + 1
                reference = self.new_chat(persona_id) if step == 1 else reference
                references.append((turn, self.send(reference, step)))
            done.append(self.send(chat, turn))
        return done, references

    def new_chat(self, persona_id: str) -> str:
        created = self.client.post(
            f"{self.base}/v1/chats", json={"persona_id": persona_id}, headers=self.headers
        )
        if created.status_code != 201:
            raise BenchError(f"create chat answered {created.status_code}: {created.text}")
        return str(created.json()["id"])

    def send(self, chat_id: str, turn: int) -> Turn:
        seen = len(self.fake.served)
        url = f"{self.base}/v1/chats/{chat_id}/messages"
        start = time.perf_counter()
        response = self.client.post(url, json={"content": user_text(turn)}, headers=self.headers)
        round_trip = (time.perf_counter() - start) * 1000
        if response.status_code != 201:
            raise BenchError(f"turn {turn} answered {response.status_code}: {response.text}")
        if response.json()["reply"]["content"] != reply_text(turn):
            raise BenchError(f"turn {turn}: the stored reply is not the one the fake sent")
        return self._turn(turn, round_trip, self._calls(seen))

    def _calls(self, seen: int) -> Sequence[Served]:
        """The upstream chat calls since `seen`, once all of them have completed."""
        deadline = time.monotonic() + UPSTREAM_SETTLE
        while True:
            calls = self.fake.served[seen:]
            if all(c.completed_at is not None for c in calls):
                return calls
            if time.monotonic() > deadline:
                raise BenchError(f"an upstream call did not complete: {calls}")
            time.sleep(0.0005)

    def _turn(self, turn: int, round_trip: float, calls: Sequence[Served]) -> Turn:
        replies, summaries, roleplay = [], [], 0
        for call in calls:
            payload = call.request.json()
            kind, marked = kind_of(payload)
            if kind == "reply" and marked == turn:
                replies.append(call)
            elif kind == "rolling_summary":
                summaries.append(request_size(payload)[0])
            elif kind == "roleplay_summary":
                roleplay += 1
            else:
                raise BenchError(f"turn {turn}: unexpected upstream call {payload}")
        if len(replies) != 1 or replies[0].status != 200:
            raise BenchError(f"turn {turn}: {len(replies)} reply calls upstream, expected 1")
        reply = replies[0]
        tokens, chars, messages = request_size(reply.request.json())
        generation = self.fake.generation(reply.generation_id or "") or {}
        upstream = sum(c.completed_at - c.request.at for c in calls if c.completed_at)
        return Turn(
            turn=turn,
            round_trip_ms=round_trip,
            upstream_ms=upstream * 1000,
            tokens=tokens,
            chars=chars,
            messages=messages,
            fake_prompt_tokens=int(generation.get("tokens_prompt", 0)),
            summaries=len(summaries),
            summary_tokens=sum(summaries),
            roleplay_summaries=roleplay,
        )


def converse(
    args: argparse.Namespace, database_url: str | None, analyze: AutoAnalyze | None = None
) -> dict[str, Any]:
    """One server on `database_url` (None: the embedded SQLite), one long chat."""
    turns, warmup = args.chat_turns, args.chat_warmup
    analyze = analyze or AutoAnalyze(None)
    with tempfile.TemporaryDirectory() as scratch, ChatFake.running() as fake:
        data_dir, log = Path(scratch) / "data", Path(scratch) / "serve.log"
        settings = {
            "MYNTH_OPENROUTER_API_KEY": fake.api_key,
            "MYNTH_OPENROUTER_BASE_URL": fake.base_url,
            "MYNTH_DAILY_FREE_TOKENS": str(10 * (turns + warmup)),
        }
        if database_url is not None:
            settings["MYNTH_DATABASE_URL"] = database_url
        env = mynth_env(data_dir, **settings)
        subprocess.run([MYNTH, "migrate"], env=env, check=True, capture_output=True)  # noqa: S603
        headers = {"Authorization": f"Bearer {dev_token(env, 'bench-chat')}"}
        started = time.monotonic()
        with serving(env, log) as mynth, httpx.Client(timeout=TIMEOUT) as client:
            talk = Conversation(client, fake, mynth.base, headers)
            try:
                done, references = talk.chat(
                    turns, warmup=warmup, size=args.chat_window, between=analyze
                )
            except (BenchError, httpx.HTTPError) as exc:
                tail = mynth.log_text()[-4000:]
                raise BenchError(f"{exc}\nmynth serve's log ends:\n{tail}") from exc
            elapsed = time.monotonic() - started
            text = mynth.log_text()
        if "Traceback" in text or "chat.summary_failed" in text:
            raise BenchError(f"mynth serve logged a problem:\n{text[-4000:]}")
    result = report(done, references, args.chat_window, elapsed)
    if analyze.url is not None:
        result["analyze_runs"] = analyze.runs
    return result


def window_of(checkpoint: int, size: int) -> tuple[int, int]:
    """The first and last of the `size` turns ending at `checkpoint` (1 to `size` for an
    early one)."""
    first = max(1, checkpoint - size + 1)
    return first, first + size - 1


def report(
    done: Sequence[Turn], references: Sequence[tuple[int, Turn]], size: int, elapsed: float
) -> dict[str, Any]:
    checkpoints: dict[str, Any] = {}
    for checkpoint in (c for c in CHECKPOINTS if c <= len(done)):
        first, last = window_of(checkpoint, size)
        turns = done[first - 1 : last]
        beside = [r.server_ms for at, r in references if first <= at <= last]
        server = statistics.median(t.server_ms for t in turns)
        at = done[checkpoint - 1]
        checkpoints[str(checkpoint)] = {
            "window": f"{turns[0].turn}-{turns[-1].turn}",
            "tokens": at.tokens,
            "tokens_window_max": max(t.tokens for t in turns),
            "tokens_window_p50": statistics.median(t.tokens for t in turns),
            "fake_prompt_tokens": at.fake_prompt_tokens,
            "messages": at.messages,
            "summaries_in_window": sum(t.summaries for t in turns),
            "server_p50_ms": _ms(server),
            "reference_server_p50_ms": _ms(statistics.median(beside)),
            "server_over_reference": round(server / statistics.median(beside), 2),
            "round_trip_p50_ms": _ms(statistics.median(t.round_trip_ms for t in turns)),
            "upstream_p50_ms": _ms(statistics.median(t.upstream_ms for t in turns)),
        }
    first, last = str(CHECKPOINTS[0]), str(CHECKPOINTS[-1])
    folds = [t for t in done if t.summaries]
    result: dict[str, Any] = {
        "checkpoints": checkpoints,
        "turns": len(done),
        "seconds": round(elapsed, 1),
        "budget": BUDGET,
        "max_tokens": max(t.tokens for t in done),
        "summary_calls": sum(t.summaries for t in done),
        "first_fold_turn": folds[0].turn if folds else None,
        "summary_request_tokens_p50": statistics.median(t.summary_tokens for t in folds)
        if folds
        else None,
        "roleplay_summary_calls": sum(t.roleplay_summaries for t in done),
        "per_turn": {
            "tokens": [t.tokens for t in done],
            "server_ms": [_ms(t.server_ms) for t in done],
            "summaries": [t.summaries for t in done],
        },
    }
    if last in checkpoints:
        peak = checkpoints[last]["tokens_window_max"] / checkpoints["100"]["tokens_window_max"]
        speed = checkpoints[last]["server_over_reference"]
        result["tokens_1000_over_100"] = round(peak, 3)
        result["server_p50_1000_over_reference"] = speed
        result["server_p50_1000_over_first_20"] = round(
            checkpoints[last]["server_p50_ms"] / checkpoints[first]["server_p50_ms"], 2
        )
        result["meets_tokens_target"] = bool(
            peak <= TOKENS_TARGET and result["max_tokens"] <= BUDGET
        )
        result["meets_time_target"] = bool(speed <= TIME_TARGET)
    return result


def _ms(value: float) -> float:
    return round(value, 2)


# --- Postgres -----------------------------------------------------------------------------------


@contextmanager
def bench_database(url: str) -> Iterator[str | None]:
    """A fresh database beside `url`'s (its URL), dropped afterwards; None if unreachable."""
    base = make_url(url)
    name = f"mynth_bench_{secrets.token_hex(4)}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(admin, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    try:
        asyncio.run(run(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"chat suite: Postgres at {base.render_as_string()} unreachable, skipped ({exc})")  # noqa: T201
        yield None
        return
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@attrs.define
class AutoAnalyze:
    """`ANALYZE` on the bench database when autovacuum's default trigger would fire: once
    more than 50 rows + 10 % of the messages counted at the last one were added. Postgres
    plans the path query well only with statistics (see docs/performance.md)."""

    url: str | None  # None: do nothing
    analyzed_rows: int = 0
    runs: int = 0

    def __call__(self, rows: int) -> None:
        if self.url is None or rows - self.analyzed_rows <= 50 + self.analyzed_rows // 10:
            return

        async def analyze(url: str) -> None:
            connection = await asyncpg.connect(url, timeout=5)
            try:
                await connection.execute("ANALYZE")
            finally:
                await connection.close()

        asyncio.run(analyze(self.url))
        self.analyzed_rows, self.runs = rows, self.runs + 1


# --- the suite ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> bool:
    """Measure, print and store the result; whether every target was met."""
    databases = [d.strip() for d in args.chat_databases.split(",") if d.strip()]
    results: dict[str, Any] = {}
    if "sqlite" in databases:
        results["sqlite"] = converse(args, None)
    if "postgres" in databases:
        with bench_database(args.database_url) as url:
            if url is not None:
                plain = make_url(url).set(drivername="postgresql")
                analyze = AutoAnalyze(plain.render_as_string(hide_password=False))
                results["postgres"] = converse(args, url, analyze if args.chat_analyze else None)
    results["setup"] = {
        "turns": args.chat_turns,
        "window": args.chat_window,
        "warmup_turns": args.chat_warmup,
        "user_message_chars": "200-400",
        "reply_chars": "600-1200",
        "summary_chars": ROLLING_SUMMARY_CHARS,
        "tokens": "ceil(chars / 3) + 4 per message (Mynth's budget estimate)",
    }
    results["target"] = (
        f"peak tokens of turns 981-1000 <= {TOKENS_TARGET} x those of 81-100 and <= {BUDGET}; "
        f"server p50 of turns 981-1000 <= {TIME_TARGET} x that of the reference sends "
        "interleaved with them (turns 1-20 of short chats)"
    )
    met = all(
        r.get("meets_tokens_target", True) and r.get("meets_time_target", True)
        for k, r in results.items()
        if k in {"sqlite", "postgres"}
    )
    results["meets_target"] = met
    args.chat_out.parent.mkdir(parents=True, exist_ok=True)
    args.chat_out.write_text(json.dumps(results, indent=2) + "\n")
    for database in ("sqlite", "postgres"):
        if database in results:
            print_table(database, results[database])
    return met


def print_table(database: str, result: Mapping[str, Any]) -> None:
    lines = [
        (
            f"chat suite, {database}: {result['turns']} turns in {result['seconds']} s, "
            f"{result['summary_calls']} rolling summaries (first at turn "
            f"{result['first_fold_turn']})"
        ),
        (
            "| turns (window) | tokens | window peak | fake prompt_tokens | server p50 "
            "| trip p50 | reference p50 | ratio |"
        ),
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for checkpoint, row in result["checkpoints"].items():
        lines.append(
            f"| {checkpoint} ({row['window']}) | {row['tokens']} | {row['tokens_window_max']} | "
            f"{row['fake_prompt_tokens']} | {row['server_p50_ms']} ms | "
            f"{row['round_trip_p50_ms']} ms | {row['reference_server_p50_ms']} ms | "
            f"{row['server_over_reference']} |"
        )
    if "tokens_1000_over_100" in result:
        tokens_ok = "meets" if result["meets_tokens_target"] else "MISSES"
        time_ok = "meets" if result["meets_time_target"] else "MISSES"
        lines.append(
            f"peak tokens 1000/100 = {result['tokens_1000_over_100']} (max {result['max_tokens']}"
            f" of {BUDGET}): {tokens_ok} the {TOKENS_TARGET}x target; server p50 1000 / "
            f"interleaved short chats = {result['server_p50_1000_over_reference']}: {time_ok} "
            f"the {TIME_TARGET}x target (over turns 1-20 of this chat: "
            f"{result['server_p50_1000_over_first_20']})"
        )
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
