"""ChatRepository contract: every backend stores chats, message trees and summaries alike."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from mynth_adapters.sql import SqlUnitOfWorkFactory
from mynth_adapters.sql.chats import _path
from mynth_core.chats.model import (
    Chapter,
    Chat,
    ChatSettings,
    Lease,
    Message,
    NsfwLevel,
    Pin,
    ReplyKind,
    Role,
    UserPersona,
)
from mynth_core.chats.ports import RollingSummary, Siblings
from mynth_core.errors import ConflictError, NotFoundError, ValidationError
from mynth_core.generation.ports import Usage
from mynth_core.ids import ChatId, MessageId, PersonaId, UserId, VersionId
from mynth_core.pagination import PageRequest, encode_cursor
from mynth_core.pricing import ChatMode
from mynth_core.uow import UnitOfWorkFactory

T0 = datetime(2026, 3, 1, 9, 30, 15, 123000, tzinfo=UTC)  # millisecond precision, like the API
TTL = timedelta(seconds=150)
ALICE = UserId("alice")
BOB = UserId("bob")
CHAT = ChatId("pch_0001")


def a_chat(
    number: int = 1,
    *,
    owner: str = "alice",
    at: datetime = T0,
    title: str | None = None,
    persona: str = "prs_0001",
) -> Chat:
    return Chat(
        id=ChatId(f"pch_{number:04d}"),
        owner_id=UserId(owner),
        title=title or f"Chat {number}",
        pin=Pin(
            PersonaId(persona),
            VersionId(f"prv_{persona.removeprefix('prs_')}_1"),
            1,
            "Aurora Vale",
        ),
        settings=ChatSettings(model="x-ai/grok-4-fast"),
        created_at=at,
        updated_at=at,
    )


def a_message(
    name: str,
    parent: str | None = None,
    *,
    at: datetime = T0,
    chat_id: ChatId = CHAT,
    role: Role = Role.USER,
) -> Message:
    return Message(
        id=MessageId(f"msg_{name}"),
        chat_id=chat_id,
        parent_id=None if parent is None else MessageId(f"msg_{parent}"),
        role=role,
        content=f"says {name}",
        created_at=at,
    )


def mid(name: str) -> MessageId:
    return MessageId(f"msg_{name}")


async def store(uow_factory: UnitOfWorkFactory, *chats: Chat) -> None:
    async with uow_factory() as uow:
        for chat in chats:
            await uow.chats.add(chat)
        await uow.commit()


async def store_messages(uow_factory: UnitOfWorkFactory, *messages: Message) -> None:
    async with uow_factory() as uow:
        for message in messages:
            await uow.chats.add_message(message)
        await uow.commit()


async def get(
    uow_factory: UnitOfWorkFactory, chat_id: ChatId = CHAT, owner: UserId = ALICE
) -> Chat:
    async with uow_factory(read_only=True) as uow:
        return await uow.chats.get(chat_id, owner=owner)


async def save(uow_factory: UnitOfWorkFactory, chat: Chat) -> None:
    async with uow_factory() as uow:
        await uow.chats.save(chat)
        await uow.commit()


async def list_ids(
    uow_factory: UnitOfWorkFactory,
    query: str | None = None,
    *,
    owner: UserId = ALICE,
    persona: str | None = None,
) -> list[str]:
    async with uow_factory(read_only=True) as uow:
        page = await uow.chats.list_owned(
            owner,
            query=query,
            persona_id=None if persona is None else PersonaId(persona),
            page=PageRequest(limit=100),
        )
    return [chat.id for chat in page.items]


async def claim(uow_factory: UnitOfWorkFactory, lease_id: str, *, at: datetime = T0) -> bool:
    async with uow_factory() as uow:
        won = await uow.chats.claim_generation(CHAT, Lease(lease_id, at + TTL), at=at)
        await uow.commit()
    return won


async def release(uow_factory: UnitOfWorkFactory, lease_id: str) -> None:
    async with uow_factory() as uow:
        await uow.chats.release_generation(CHAT, lease_id)
        await uow.commit()


async def a_tree(uow_factory: UnitOfWorkFactory) -> None:
    """Chat 1 with the tree below (letters are message ids, created in alphabetical order).

    a ─ b ─ c ─ d
        │   └ e ─ f
        └ g
    h (a second root)
    """
    await store(uow_factory, a_chat())
    links = {"a": None, "b": "a", "c": "b", "d": "c", "e": "c", "f": "e", "g": "a", "h": None}
    await store_messages(
        uow_factory,
        *(
            a_message(name, parent, at=T0 + timedelta(seconds=n))
            for n, (name, parent) in enumerate(links.items())
        ),
    )


# -- chats --------------------------------------------------------------------------------


async def test_an_added_chat_reads_back_equal_with_aware_utc_times(uow_factory) -> None:
    chat = attrs.evolve(
        a_chat(),
        mode=ChatMode.STORY,
        settings=ChatSettings(
            model="mistralai/mistral-small",
            user_persona=UserPersona("Zoë", "A cartographer from Tórshavn."),
            scenario="A storm over {{char}}'s lighthouse.",
            nsfw=NsfwLevel.EXPLICIT_NATURAL,
            author_note="Keep it short.",
        ),
        leaf_id=mid("x"),
        updated_at=T0 + timedelta(minutes=5),
    )
    await store(uow_factory, chat)

    found = await get(uow_factory)

    assert found == chat
    for at in (found.created_at, found.updated_at):
        assert at.utcoffset() == timedelta(0)
    assert found.created_at == T0  # the milliseconds survive


async def test_default_settings_and_a_lease_round_trip(uow_factory) -> None:
    chat = attrs.evolve(a_chat(), generation=Lease("gen_1", T0 + TTL))
    await store(uow_factory, chat)

    found = await get(uow_factory)

    assert found == chat
    assert found.settings == ChatSettings(model="x-ai/grok-4-fast")
    assert found.generation is not None
    assert found.generation.expires_at.utcoffset() == timedelta(0)


async def test_another_owners_chat_and_an_unknown_chat_are_not_found(uow_factory) -> None:
    await store(uow_factory, a_chat())

    async with uow_factory(read_only=True) as uow:
        with pytest.raises(NotFoundError):
            await uow.chats.get(CHAT, owner=BOB)
        with pytest.raises(NotFoundError):
            await uow.chats.get(ChatId("pch_nope"), owner=ALICE)
        assert (await uow.chats.get(CHAT, owner=ALICE)).owner_id == ALICE


async def test_adding_a_chat_id_twice_is_a_conflict(uow_factory) -> None:
    await store(uow_factory, a_chat())

    with pytest.raises(ConflictError):
        await store(uow_factory, a_chat(title="Another"))


async def test_save_stores_the_changes_but_keeps_the_lease(uow_factory) -> None:
    chat = a_chat()
    await store(uow_factory, chat)
    assert await claim(uow_factory, "gen_1")
    changed = chat.changed(
        {
            "title": "Renamed",
            "mode": ChatMode.STORY,
            "pin": Pin(PersonaId("prs_0001"), VersionId("prv_0001_2"), 2, "Aurora North"),
            "settings": ChatSettings(model="other/model", nsfw=NsfwLevel.OFF),
        },
        at=T0 + timedelta(minutes=1),
    )
    changed = attrs.evolve(changed, leaf_id=mid("leaf"))  # loaded before the claim: no lease

    await save(uow_factory, changed)

    assert await get(uow_factory) == attrs.evolve(changed, generation=Lease("gen_1", T0 + TTL))


async def test_save_never_changes_the_owner_or_the_creation_time(uow_factory) -> None:
    chat = a_chat()
    await store(uow_factory, chat)
    later = T0 + timedelta(minutes=1)

    await save(uow_factory, attrs.evolve(chat, owner_id=BOB, created_at=later, updated_at=later))

    assert await get(uow_factory) == attrs.evolve(chat, updated_at=later)


async def test_saving_an_unknown_chat_is_not_found(uow_factory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.chats.save(a_chat())


async def test_the_owner_list_shows_the_most_recently_updated_first(uow_factory) -> None:
    oldest, middle, newest = (a_chat(n, at=T0 + timedelta(minutes=n)) for n in (1, 2, 3))
    await store(uow_factory, oldest, middle, newest, a_chat(4, owner="bob"))
    await save(uow_factory, oldest.changed({}, at=T0 + timedelta(hours=1)))

    assert await list_ids(uow_factory) == ["pch_0001", "pch_0003", "pch_0002"]
    assert await list_ids(uow_factory, owner=BOB) == ["pch_0004"]
    assert await list_ids(uow_factory, owner=UserId("carol")) == []


async def test_the_owner_list_searches_the_title_in_any_case(uow_factory) -> None:
    await store(
        uow_factory,
        a_chat(1, title="Keeper of Lights"),
        a_chat(2, title="Night Writer"),
        a_chat(3, title="Élodie"),
        a_chat(4, title="100% Real"),
        a_chat(5, title="1000 Real"),
        a_chat(6, title="snake_case"),
        a_chat(7, title="snakeXcase"),
    )

    assert await list_ids(uow_factory, "KEEPER") == ["pch_0001"]
    assert await list_ids(uow_factory, "night w") == ["pch_0002"]
    assert await list_ids(uow_factory, "éLODIE") == ["pch_0003"]
    assert await list_ids(uow_factory, "0%") == ["pch_0004"]
    assert await list_ids(uow_factory, "e_c") == ["pch_0006"]
    assert await list_ids(uow_factory, "nobody") == []
    assert len(await list_ids(uow_factory, "")) == 7


async def test_the_owner_list_filters_by_persona(uow_factory) -> None:
    await store(
        uow_factory,
        a_chat(1, persona="prs_aaaa", at=T0),
        a_chat(2, persona="prs_bbbb", at=T0 + timedelta(seconds=1)),
        a_chat(3, persona="prs_aaaa", at=T0 + timedelta(seconds=2), title="Lighthouse"),
        a_chat(4, persona="prs_aaaa", owner="bob"),
    )

    assert await list_ids(uow_factory, persona="prs_aaaa") == ["pch_0003", "pch_0001"]
    assert await list_ids(uow_factory, persona="prs_bbbb") == ["pch_0002"]
    assert await list_ids(uow_factory, "light", persona="prs_aaaa") == ["pch_0003"]
    assert await list_ids(uow_factory, "light", persona="prs_bbbb") == []
    assert await list_ids(uow_factory, persona="prs_none") == []


async def test_paging_the_owner_list_visits_each_chat_once_in_order(uow_factory) -> None:
    # Pairs share an updated_at, so the id must break ties without gaps or repeats.
    chats = [a_chat(n, at=T0 + timedelta(milliseconds=n // 2)) for n in range(1, 9)]
    await store(uow_factory, *chats)
    expected = [c.id for c in sorted(chats, key=lambda c: (c.updated_at, c.id), reverse=True)]

    seen: list[str] = []
    cursor = None
    async with uow_factory(read_only=True) as uow:
        for _ in range(3):
            page = await uow.chats.list_owned(
                ALICE, query=None, persona_id=None, page=PageRequest(limit=3, cursor=cursor)
            )
            seen += [c.id for c in page.items]
            cursor = page.next_cursor
    assert seen == expected
    assert cursor is None


async def test_an_exactly_full_last_page_has_no_next_cursor(uow_factory) -> None:
    await store(uow_factory, *(a_chat(n) for n in range(1, 5)))

    async with uow_factory(read_only=True) as uow:
        first = await uow.chats.list_owned(
            ALICE, query=None, persona_id=None, page=PageRequest(limit=2)
        )
        second = await uow.chats.list_owned(
            ALICE, query=None, persona_id=None, page=PageRequest(limit=2, cursor=first.next_cursor)
        )
    assert first.next_cursor is not None
    assert [c.id for c in second.items] == ["pch_0002", "pch_0001"]
    assert second.next_cursor is None


@pytest.mark.parametrize("cursor", ["not-a-cursor", encode_cursor("one-part")])
async def test_a_cursor_the_repository_did_not_make_is_a_validation_error(
    uow_factory, cursor
) -> None:
    async with uow_factory(read_only=True) as uow:
        with pytest.raises(ValidationError) as caught:
            await uow.chats.list_owned(
                ALICE, query=None, persona_id=None, page=PageRequest(cursor=cursor)
            )
    assert caught.value.errors[0].field == "cursor"


@pytest.mark.parametrize("moment", ["yesterday", "2026-03-01T09:30:15"])
async def test_a_sql_cursor_with_a_malformed_time_is_a_validation_error(
    sql_uow_factory, moment
) -> None:
    cursor = encode_cursor(moment, "pch_0001")
    async with sql_uow_factory(read_only=True) as uow:
        with pytest.raises(ValidationError) as caught:
            await uow.chats.list_owned(
                ALICE, query=None, persona_id=None, page=PageRequest(cursor=cursor)
            )
    assert caught.value.errors[0].field == "cursor"


# -- messages -----------------------------------------------------------------------------


async def test_messages_read_back_equal_with_usage_chapter_and_kind(uow_factory) -> None:
    await store(uow_factory, a_chat())
    question = a_message("q")
    answer = Message(
        id=mid("r"),
        chat_id=CHAT,
        parent_id=question.id,
        role=Role.ASSISTANT,
        content="Chapter text — with ünïcode.",
        created_at=T0 + timedelta(milliseconds=1),
        kind=ReplyKind.CONTINUE,
        mode=ChatMode.STORY,
        persona_version_id=VersionId("prv_0001_1"),
        model="x-ai/grok-4-fast",
        usage=Usage(prompt_tokens=1234, completion_tokens=567),
        cost=7,
        chapter=Chapter(3, "The Storm"),
    )
    await store_messages(uow_factory, question, answer)

    async with uow_factory(read_only=True) as uow:
        assert await uow.chats.message(CHAT, question.id) == question
        found = await uow.chats.message(CHAT, answer.id)
    assert found == answer
    assert found.created_at.utcoffset() == timedelta(0)


async def test_a_message_is_found_only_through_its_own_chat(uow_factory) -> None:
    await store(uow_factory, a_chat(1), a_chat(2))
    await store_messages(uow_factory, a_message("a"))

    async with uow_factory(read_only=True) as uow:
        with pytest.raises(NotFoundError):
            await uow.chats.message(ChatId("pch_0002"), mid("a"))
        with pytest.raises(NotFoundError):
            await uow.chats.message(CHAT, mid("nope"))


async def test_adding_a_message_id_twice_is_a_conflict(uow_factory) -> None:
    await store(uow_factory, a_chat())
    await store_messages(uow_factory, a_message("a"))

    with pytest.raises(ConflictError):
        await store_messages(uow_factory, a_message("a", at=T0 + timedelta(seconds=1)))


async def test_the_path_runs_from_the_root_to_the_leaf_oldest_first(uow_factory) -> None:
    await a_tree(uow_factory)

    async with uow_factory(read_only=True) as uow:
        to_d = await uow.chats.path(CHAT, mid("d"), limit=50)
        to_f = await uow.chats.path(CHAT, mid("f"), limit=50)
        to_g = await uow.chats.path(CHAT, mid("g"), limit=50)
        to_h = await uow.chats.path(CHAT, mid("h"), limit=50)
        to_c = await uow.chats.path(CHAT, mid("c"), limit=50)

    assert [m.id for m in to_d] == [mid(n) for n in "abcd"]
    assert [m.id for m in to_f] == [mid(n) for n in "abcef"]  # not the other branch's d
    assert [m.id for m in to_g] == [mid(n) for n in "ag"]
    assert [m.id for m in to_h] == [mid("h")]
    assert [m.id for m in to_c] == [mid(n) for n in "abc"]
    assert to_d[0] == a_message("a")


async def test_a_limited_path_is_its_newest_tail(uow_factory) -> None:
    await a_tree(uow_factory)

    async with uow_factory(read_only=True) as uow:
        two = await uow.chats.path(CHAT, mid("f"), limit=2)
        one = await uow.chats.path(CHAT, mid("f"), limit=1)
        exact = await uow.chats.path(CHAT, mid("f"), limit=5)

    assert [m.id for m in two] == [mid("e"), mid("f")]
    assert [m.id for m in one] == [mid("f")]
    assert [m.id for m in exact] == [mid(n) for n in "abcef"]


async def test_a_path_to_an_unknown_leaf_or_another_chats_is_not_found(uow_factory) -> None:
    await a_tree(uow_factory)
    await store(uow_factory, a_chat(2))

    async with uow_factory(read_only=True) as uow:
        with pytest.raises(NotFoundError):
            await uow.chats.path(CHAT, mid("nope"), limit=10)
        with pytest.raises(NotFoundError):
            await uow.chats.path(ChatId("pch_0002"), mid("d"), limit=10)


async def test_a_long_chat_reads_only_the_tail_of_its_path(uow_factory) -> None:
    await store(uow_factory, a_chat())
    names = [f"{n:04d}" for n in range(300)]
    await store_messages(
        uow_factory,
        *(
            a_message(name, names[n - 1] if n else None, at=T0 + timedelta(seconds=n))
            for n, name in enumerate(names)
        ),
    )

    async with uow_factory(read_only=True) as uow:
        tail = await uow.chats.path(CHAT, mid("0299"), limit=50)
        middle = await uow.chats.path(CHAT, mid("0100"), limit=50)
        whole = await uow.chats.path(CHAT, mid("0299"), limit=1000)

    assert [m.id for m in tail] == [mid(n) for n in names[250:]]
    assert [m.id for m in middle] == [mid(n) for n in names[51:101]]
    assert len(whole) == 300
    assert whole[0].parent_id is None


async def test_the_path_query_walks_up_from_the_leaf_and_stops_at_the_limit(
    sqlite_uow_factory: SqlUnitOfWorkFactory,
) -> None:
    stmt = _path(CHAT, mid("leaf"), 50)
    sql = " ".join(str(stmt.compile(sqlite_uow_factory.engine)).split())
    assert sql.startswith("WITH RECURSIVE up(id, parent_id, depth) AS")
    assert "up.depth < " in sql

    async with sqlite_uow_factory(read_only=True) as uow:
        compiled = stmt.compile(uow.connection.sync_connection)
        params = tuple(compiled.params[name] for name in compiled.positiontup or ())
        plan = await uow.connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
        details = [row[-1] for row in plan]
    # Every read of chat_messages is a primary-key lookup: never a scan of the chat.
    scans = [d for d in details if d.startswith("SCAN") and "up" not in d.split()]
    assert scans == [], details


async def test_children_are_listed_oldest_first_and_roots_for_none(uow_factory) -> None:
    await a_tree(uow_factory)
    # A sibling with the same time as c is ordered after it by id.
    await store_messages(uow_factory, a_message("cc", "b", at=T0 + timedelta(seconds=2)))

    async with uow_factory(read_only=True) as uow:
        of_b = await uow.chats.children(CHAT, mid("b"))
        of_a = await uow.chats.children(CHAT, mid("a"))
        roots = await uow.chats.children(CHAT, None)
        of_d = await uow.chats.children(CHAT, mid("d"))
        elsewhere = await uow.chats.children(ChatId("pch_0002"), None)

    assert [m.id for m in of_b] == [mid("c"), mid("cc")]
    assert [m.id for m in of_a] == [mid("b"), mid("g")]
    assert [m.id for m in roots] == [mid("a"), mid("h")]
    assert of_d == ()
    assert elsewhere == ()


async def test_the_newest_leaf_follows_the_newest_child_down(uow_factory) -> None:
    await a_tree(uow_factory)

    async with uow_factory(read_only=True) as uow:
        assert await uow.chats.newest_leaf(CHAT, mid("a")) == mid("g")
        assert await uow.chats.newest_leaf(CHAT, mid("b")) == mid("f")
        assert await uow.chats.newest_leaf(CHAT, mid("c")) == mid("f")
        assert await uow.chats.newest_leaf(CHAT, mid("d")) == mid("d")
        assert await uow.chats.newest_leaf(CHAT, mid("h")) == mid("h")
        with pytest.raises(NotFoundError):
            await uow.chats.newest_leaf(CHAT, mid("nope"))


async def test_siblings_give_each_messages_count_and_index(uow_factory) -> None:
    await a_tree(uow_factory)

    async with uow_factory(read_only=True) as uow:
        path = await uow.chats.path(CHAT, mid("f"), limit=50)
        on_path = await uow.chats.siblings(CHAT, path)
        others = await uow.chats.siblings(
            CHAT, [await uow.chats.message(CHAT, mid(n)) for n in "dgh"]
        )
        nothing = await uow.chats.siblings(CHAT, [])

    assert on_path == {
        mid("a"): Siblings(count=2, index=0),  # roots a and h
        mid("b"): Siblings(count=2, index=0),
        mid("c"): Siblings(count=1, index=0),
        mid("e"): Siblings(count=2, index=1),
        mid("f"): Siblings(count=1, index=0),
    }
    assert others == {
        mid("d"): Siblings(count=2, index=0),
        mid("g"): Siblings(count=2, index=1),
        mid("h"): Siblings(count=2, index=1),
    }
    assert nothing == {}


async def test_roots_of_another_chat_are_not_siblings(uow_factory) -> None:
    await a_tree(uow_factory)
    await store(uow_factory, a_chat(2))
    await store_messages(uow_factory, a_message("z", chat_id=ChatId("pch_0002")))

    async with uow_factory(read_only=True) as uow:
        z = await uow.chats.message(ChatId("pch_0002"), mid("z"))
        found = await uow.chats.siblings(ChatId("pch_0002"), [z])

    assert found == {mid("z"): Siblings(count=1, index=0)}


# -- the generation slot ------------------------------------------------------------------


async def test_a_claim_succeeds_once_until_released_or_expired(uow_factory) -> None:
    await store(uow_factory, a_chat())

    assert await claim(uow_factory, "gen_1")
    assert await get(uow_factory) == attrs.evolve(a_chat(), generation=Lease("gen_1", T0 + TTL))
    assert not await claim(uow_factory, "gen_2")
    assert not await claim(uow_factory, "gen_2", at=T0 + TTL - timedelta(milliseconds=1))

    assert await claim(uow_factory, "gen_3", at=T0 + TTL)  # expired at its expiry
    assert (await get(uow_factory)).generation == Lease("gen_3", T0 + 2 * TTL)


async def test_only_the_holder_releases_the_slot(uow_factory) -> None:
    await store(uow_factory, a_chat())
    assert await claim(uow_factory, "gen_1")

    await release(uow_factory, "gen_other")
    assert (await get(uow_factory)).generation == Lease("gen_1", T0 + TTL)

    await release(uow_factory, "gen_1")
    assert (await get(uow_factory)).generation is None
    assert await claim(uow_factory, "gen_2")


async def test_expired_unreleased_leases_are_found_oldest_expiry_first(uow_factory) -> None:
    chats = [a_chat(n, owner="alice" if n % 2 else "bob") for n in range(1, 6)]
    await store(uow_factory, *chats)
    leases = {  # chat number → lease expiry (chat 5 holds none)
        1: T0 + timedelta(seconds=30),
        2: T0 + timedelta(seconds=10),
        3: T0 + timedelta(seconds=20),
        4: T0 + timedelta(minutes=10),  # still live at `before`
    }
    async with uow_factory() as uow:
        for number, expiry in leases.items():
            lease = Lease(f"msg_reply_{number}", expiry)
            assert await uow.chats.claim_generation(chats[number - 1].id, lease, at=T0)
        await uow.chats.release_generation(chats[2].id, "msg_reply_3")  # released: not held
        await uow.commit()
    before = T0 + timedelta(minutes=1)

    async with uow_factory(read_only=True) as uow:
        found = await uow.chats.expired_generations(before=before, limit=10)
        first = await uow.chats.expired_generations(before=before, limit=1)
        none_yet = await uow.chats.expired_generations(before=T0, limit=10)

    assert [(c.id, c.generation) for c in found] == [
        ("pch_0002", Lease("msg_reply_2", T0 + timedelta(seconds=10))),
        ("pch_0001", Lease("msg_reply_1", T0 + timedelta(seconds=30))),
    ]
    assert [c.owner_id for c in found] == ["bob", "alice"]
    assert [c.id for c in first] == ["pch_0002"]
    assert list(none_yet) == []


async def test_a_claim_on_an_unknown_chat_fails(uow_factory) -> None:
    assert not await claim(uow_factory, "gen_1")


async def test_a_claim_left_uncommitted_takes_nothing(uow_factory) -> None:
    await store(uow_factory, a_chat())
    async with uow_factory() as uow:
        assert await uow.chats.claim_generation(CHAT, Lease("gen_1", T0 + TTL), at=T0)

    assert (await get(uow_factory)).generation is None


@pytest.mark.parametrize("held", [False, True], ids=["free", "expired"])
async def test_of_two_concurrent_claims_exactly_one_wins(uow_factory, held) -> None:
    chat = a_chat()
    if held:
        chat = attrs.evolve(chat, generation=Lease("gen_old", T0 - timedelta(seconds=1)))
    await store(uow_factory, chat)

    won = await asyncio.gather(claim(uow_factory, "gen_a"), claim(uow_factory, "gen_b"))

    assert sorted(won) == [False, True]
    winner = "gen_a" if won[0] else "gen_b"
    assert (await get(uow_factory)).generation == Lease(winner, T0 + TTL)


# -- summaries ----------------------------------------------------------------------------


def a_summary(anchor: str, text: str, *, at: datetime = T0) -> RollingSummary:
    return RollingSummary(chat_id=CHAT, anchor_id=mid(anchor), text=text, created_at=at)


async def store_summaries(uow_factory: UnitOfWorkFactory, *summaries: RollingSummary) -> None:
    async with uow_factory() as uow:
        for summary in summaries:
            await uow.chats.add_summary(summary)
        await uow.commit()


async def summary_on(uow_factory: UnitOfWorkFactory, leaf: str) -> RollingSummary | None:
    async with uow_factory(read_only=True) as uow:
        path = await uow.chats.path(CHAT, mid(leaf), limit=100)
        return await uow.chats.summary_on(CHAT, [m.id for m in path])


async def test_the_summary_on_a_path_is_the_one_anchored_newest(uow_factory) -> None:
    await a_tree(uow_factory)
    on_b, on_c, on_d = a_summary("b", "up to b"), a_summary("c", "up to c"), a_summary("d", "d")
    await store_summaries(uow_factory, on_c, on_d, on_b)

    assert await summary_on(uow_factory, "f") == on_c  # d is another branch's
    assert await summary_on(uow_factory, "d") == on_d
    assert await summary_on(uow_factory, "c") == on_c
    assert await summary_on(uow_factory, "g") is None  # diverged before b
    assert await summary_on(uow_factory, "h") is None
    async with uow_factory(read_only=True) as uow:
        assert await uow.chats.summary_on(CHAT, []) is None
        assert await uow.chats.summary_on(ChatId("pch_0002"), [mid("b"), mid("c")]) is None


async def test_a_newer_summary_on_the_same_anchor_replaces_it(uow_factory) -> None:
    await a_tree(uow_factory)
    newer = a_summary("c", "refreshed", at=T0 + timedelta(minutes=1))
    await store_summaries(uow_factory, a_summary("c", "first"))
    await store_summaries(uow_factory, newer)

    found = await summary_on(uow_factory, "d")

    assert found == newer
    assert found is not None
    assert found.created_at.utcoffset() == timedelta(0)


async def test_a_versions_roleplay_summary_is_stored_and_replaced(uow_factory) -> None:
    version = VersionId("prv_0001_1")
    async with uow_factory() as uow:
        assert await uow.chats.roleplay_summary(version) is None
        await uow.chats.save_roleplay_summary(version, "name: Aurora; age: 31")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.chats.roleplay_summary(version) == "name: Aurora; age: 31"
        await uow.chats.save_roleplay_summary(version, "name: Aurora; age: 32")
        await uow.commit()

    async with uow_factory(read_only=True) as uow:
        assert await uow.chats.roleplay_summary(version) == "name: Aurora; age: 32"
        assert await uow.chats.roleplay_summary(VersionId("prv_other")) is None


# -- delete -------------------------------------------------------------------------------


async def test_delete_removes_the_chat_its_messages_and_summaries(uow_factory) -> None:
    await a_tree(uow_factory)
    other = ChatId("pch_0002")
    await store(uow_factory, a_chat(2))
    await store_messages(uow_factory, a_message("z", chat_id=other))
    await store_summaries(uow_factory, a_summary("c", "up to c"))

    async with uow_factory() as uow:
        await uow.chats.delete(CHAT)
        await uow.commit()

    async with uow_factory(read_only=True) as uow:
        with pytest.raises(NotFoundError):
            await uow.chats.get(CHAT, owner=ALICE)
        with pytest.raises(NotFoundError):
            await uow.chats.message(CHAT, mid("a"))
        assert await uow.chats.children(CHAT, None) == ()
        assert await uow.chats.summary_on(CHAT, [mid("a"), mid("b"), mid("c")]) is None
        assert (await uow.chats.message(other, mid("z"))).id == mid("z")
    assert await list_ids(uow_factory) == [other]
    # The ids are free again.
    await store(uow_factory, a_chat())
    await store_messages(uow_factory, a_message("a"))
