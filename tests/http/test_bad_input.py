"""Bad input is answered with a problem and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

MIB = 1024 * 1024


@pytest.fixture
async def persona(client, alice, new_persona):
    return await new_persona(alice)


@pytest.fixture
async def unchanged(backend, persona):
    """Asserts, after the test, that the store holds exactly what it held before."""
    before = await backend.counts()
    yield
    assert await backend.counts() == before


def _data(**overrides):
    data = {
        "name": "Mira",
        "age": "29",
        "gender": "female",
        "appearance": "Short, freckled.",
        "personality": "Restless.",
        "background": "Grew up on a barge.",
        "summary": "A river pilot.",
    }
    data.update(overrides)
    return data


def _fields(response) -> list[str]:
    problem = response.json()
    assert response.status_code == 422, problem
    assert problem["type"] == "/problems/validation-failed"
    assert problem["status"] == 422
    return [e["field"] for e in problem["errors"]]


async def test_invalid_json_is_400_invalid_json(client, alice, unchanged) -> None:
    headers = {**alice, "Content-Type": "application/json"}

    response = await client.post("/v1/personas", content=b'{"data": {', headers=headers)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "/problems/invalid-json",
        "title": "Invalid JSON",
        "status": 400,
        "detail": "The body is not valid JSON",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": _data(age=34)}, "data.age"),
        ({"data": _data(), "title": 5}, "title"),
        ({"data": "Mira"}, "data"),
        ({"data": _data(extensions=["a"])}, "data.extensions"),
        ({"data": _data(extensions={"fears": 3})}, "data.extensions.fears"),
        ({"data": _data(nickname="M")}, "data.nickname"),
        ({"data": {k: v for k, v in _data().items() if k != "summary"}}, "data.summary"),
        ({"title": "no data"}, "data"),
        ([_data()], "body"),
    ],
    ids=[
        "number-for-text",
        "number-title",
        "string-for-object",
        "list-for-map",
        "number-extension",
        "unknown-field",
        "missing-field",
        "missing-data",
        "array-body",
    ],
)
async def test_a_malformed_create_is_422_naming_the_field(
    client, alice, unchanged, body, field
) -> None:
    response = await client.post("/v1/personas", json=body, headers=alice)

    assert _fields(response) == [field]


async def test_an_over_limit_name_is_422_naming_data_name(client, alice, unchanged) -> None:
    response = await client.post(
        "/v1/personas", json={"data": _data(name="x" * 101)}, headers=alice
    )

    assert _fields(response) == ["data.name"]
    assert response.json()["errors"][0]["message"] == "is longer than 100 characters"


async def test_every_broken_rule_is_named_at_once(client, alice, unchanged) -> None:
    data = _data(name="x" * 101, summary=" ", extensions={"Bad-Key": "v"})

    response = await client.post("/v1/personas", json={"data": data}, headers=alice)

    assert set(_fields(response)) == {"data.name", "data.summary", "data.extensions.Bad-Key"}


async def test_a_bad_extension_key_is_422_naming_it(client, alice, unchanged) -> None:
    data = _data(extensions={"Bad-Key": "value"})

    response = await client.post("/v1/personas", json={"data": data}, headers=alice)

    assert _fields(response) == ["data.extensions.Bad-Key"]


async def test_51_extensions_are_422(client, alice, unchanged) -> None:
    data = _data(extensions={f"key_{n}": "v" for n in range(51)})

    response = await client.post("/v1/personas", json={"data": data}, headers=alice)

    assert _fields(response) == ["data.extensions"]


async def test_a_malformed_edit_is_422_and_writes_no_version(
    client, alice, persona, unchanged
) -> None:
    body = {"data": {"name": 7}}

    response = await client.post(f"/v1/personas/{persona['id']}/versions", json=body, headers=alice)

    assert _fields(response) == ["data.name"]


async def test_an_edit_with_a_non_string_extension_names_its_key(
    client, alice, persona, unchanged
) -> None:
    body = {"data": {"extensions": {"fears": ["dark"]}}}

    response = await client.post(f"/v1/personas/{persona['id']}/versions", json=body, headers=alice)

    assert _fields(response) == ["data.extensions.fears"]


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
async def test_a_limit_outside_1_to_100_is_422(client, alice, unchanged, limit) -> None:
    response = await client.get("/v1/personas", params={"limit": limit}, headers=alice)

    assert _fields(response) == ["limit"]


async def test_a_cursor_we_did_not_make_is_422(client, alice, unchanged) -> None:
    response = await client.get("/v1/personas", params={"cursor": "garbage"}, headers=alice)

    assert _fields(response) == ["cursor"]


async def test_a_2_mib_body_is_413_before_it_is_read(client, alice, unchanged) -> None:
    body = b'{"data": "' + b"x" * (2 * MIB) + b'"}'
    headers = {**alice, "Content-Type": "application/json"}

    response = await client.post("/v1/personas", content=body, headers=headers)

    assert response.status_code == 413
    assert response.json()["type"] == "/problems/payload-too-large"


async def test_a_chunked_body_over_the_limit_is_413(app, client, alice, unchanged) -> None:
    # httpx cannot stream a body through the test transport, so speak ASGI directly:
    # no Content-Length, three 1 MiB chunks.
    chunks = [b" " * MIB] * 3
    sent: list[dict[str, Any]] = []

    async def receive():
        body = chunks.pop() if chunks else b""
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    headers += [(k.lower().encode(), v.encode()) for k, v in alice.items()]
    await app(_http_scope("POST", "/v1/personas", headers), receive, send)

    assert sent[0]["status"] == 413
    assert b"/problems/payload-too-large" in sent[1]["body"]
    assert b"user_" not in sent[1]["body"]


def _http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_non_json_body_is_415(client, alice, unchanged, content_type) -> None:
    headers = {**alice} if content_type is None else {**alice, "Content-Type": content_type}

    response = await client.post("/v1/personas", content=b'{"data": {}}', headers=headers)

    assert response.status_code == 415
    assert response.json()["type"] == "/problems/unsupported-media-type"


async def test_json_with_a_charset_is_accepted(client, alice) -> None:
    headers = {**alice, "Content-Type": "application/json; charset=utf-8"}

    response = await client.post("/v1/personas", content=b'{"data": {}}', headers=headers)

    assert response.status_code == 422


async def test_an_unknown_route_is_a_404_problem(client, alice) -> None:
    response = await client.get("/v1/nothing-here", headers=alice)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/not-found"


async def test_a_wrong_method_is_a_405_problem_with_allow(client, alice, unchanged) -> None:
    response = await client.patch("/v1/personas", json={}, headers=alice)

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/method-not-allowed"
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["allow"].split(",")}
