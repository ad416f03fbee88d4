from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import pytest

from mynth_adapters.health import Readiness
from mynth_adapters.settings import HttpSettings, JobSettings, LogFormat, Settings
from mynth_adapters.testing import fake_bootstrap, fake_container
from mynth_http.app import create_app
from mynth_http.middleware import client_ip

PERSONA_ROUTES = {
    ("post", "/v1/personas"),
    ("get", "/v1/personas"),
    ("get", "/v1/personas/{persona_id}"),
    ("delete", "/v1/personas/{persona_id}"),
    ("get", "/v1/personas/{persona_id}/versions"),
    ("post", "/v1/personas/{persona_id}/versions"),
    ("get", "/v1/personas/{persona_id}/versions/{version_id}"),
    ("put", "/v1/personas/{persona_id}/current-version"),
    ("post", "/v1/personas/{persona_id}/clone"),
    ("get", "/v1/personas/{persona_id}/events"),
}


async def test_healthz_answers_ok(client) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def _passes() -> None:
    return None


async def _fails() -> None:
    msg = "connection refused to postgresql://admin:hunter2@db.internal/mynth"
    raise ConnectionError(msg)


# The /readyz tests are fake-only: they inject readiness checks that pass or fail on demand,
# and the answer depends on nothing stored, so a real database would add only start-up time.
async def test_readyz_is_200_when_every_check_passes(client_for, settings) -> None:
    checks = Readiness((("database", _passes), ("blobs", _passes)))
    app = create_app(settings, bootstrap=lambda _: fake_bootstrap(fake_container(readiness=checks)))

    async with client_for(app) as client:
        response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "blobs": "ok"}}


async def test_readyz_is_503_with_per_check_status_and_no_config(client_for, settings) -> None:
    checks = Readiness((("database", _fails), ("blobs", _passes)))
    app = create_app(settings, bootstrap=lambda _: fake_bootstrap(fake_container(readiness=checks)))

    async with client_for(app) as client:
        response = await client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "failing", "blobs": "ok"},
    }
    assert "hunter2" not in response.text
    assert settings.database.url not in response.text


async def test_a_sane_request_id_is_echoed(client) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "req-42.abc"})

    assert response.headers["x-request-id"] == "req-42.abc"


@pytest.mark.parametrize("given", [None, "x" * 200, "bad id with spaces", "<script>"])
async def test_a_request_id_is_generated_when_missing_or_insane(client, given) -> None:
    headers = {} if given is None else {"X-Request-ID": given}

    response = await client.get("/healthz", headers=headers)

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_each_request_gets_its_own_generated_id(client) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")

    assert first.headers["x-request-id"] != second.headers["x-request-id"]


ECONOMY_ROUTES = {
    ("get", "/v1/me"),
    ("get", "/v1/me/ledger"),
    ("get", "/v1/pricing"),
    ("post", "/v1/checkouts"),
    ("post", "/v1/webhooks/polar"),
    ("post", "/v1/webhooks/clerk"),
}
CHAT_ROUTES = {
    ("get", "/v1/chat-models"),
    ("post", "/v1/chats"),
    ("get", "/v1/chats"),
    ("get", "/v1/chats/{chat_id}"),
    ("patch", "/v1/chats/{chat_id}"),
    ("delete", "/v1/chats/{chat_id}"),
    ("post", "/v1/chats/{chat_id}/upgrade"),
    ("get", "/v1/chats/{chat_id}/messages"),
    ("post", "/v1/chats/{chat_id}/messages"),
    ("post", "/v1/chats/{chat_id}/messages/{message_id}/regenerate"),
    ("post", "/v1/chats/{chat_id}/messages/{message_id}/edit"),
    ("post", "/v1/chats/{chat_id}/continue"),
    ("put", "/v1/chats/{chat_id}/leaf"),
}
IMAGE_ROUTES = {
    ("get", "/v1/image-models"),
    ("post", "/v1/personas/{persona_id}/images"),
    ("get", "/v1/personas/{persona_id}/images"),
    ("put", "/v1/personas/{persona_id}/profile-image"),
    ("get", "/v1/image-jobs/{job_id}"),
    ("get", "/v1/images/{image_id}"),
    ("get", "/v1/images/{image_id}/content"),
}
PUBLISHING_ROUTES = {
    ("post", "/v1/personas/{persona_id}/publication"),
    ("get", "/v1/personas/{persona_id}/publication"),
    ("delete", "/v1/personas/{persona_id}/publication"),
    ("get", "/v1/public/personas"),
    ("get", "/v1/public/personas/{slug}"),
}
GENERATION_ROUTES = {
    ("post", "/v1/personas/generate"),
    ("post", "/v1/personas/{persona_id}/enhance"),
    ("post", "/v1/personas/{persona_id}/property-actions"),
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("DELETE", "/healthz", 405), ("GET", "/v1/personas", 401)],
)
async def test_problem_answers_carry_the_request_id_too(client, method, path, status) -> None:
    response = await client.request(method, path, headers={"X-Request-ID": "trace-1"})

    assert response.status_code == status
    assert response.headers["x-request-id"] == "trace-1"


async def test_a_rejected_oversized_body_carries_the_request_id(client) -> None:
    headers = {"X-Request-ID": "big-1", "Content-Type": "application/json"}

    response = await client.post("/v1/personas", content=b"[" * (2 * 1024 * 1024), headers=headers)

    assert response.status_code == 413
    assert response.headers["x-request-id"] == "big-1"


async def test_the_openapi_document_is_3_1_with_an_operation_id_everywhere(client) -> None:
    document = (await client.get("/schema/openapi.json")).json()

    operations = [op for item in document["paths"].values() for op in item.values()]
    ids = [op.get("operationId") for op in operations]
    assert document["openapi"].startswith("3.1")
    assert all(isinstance(i, str) and re.fullmatch(r"(?:[A-Z][a-z]+)+", i) for i in ids), ids
    assert len(ids) == len(set(ids))


async def test_the_openapi_document_describes_every_route(client) -> None:
    document = (await client.get("/schema/openapi.json")).json()

    documented = {(m, p) for p, item in document["paths"].items() for m in item}
    system = {("get", "/healthz"), ("get", "/readyz")}
    routes = PERSONA_ROUTES | GENERATION_ROUTES | CHAT_ROUTES | IMAGE_ROUTES | ECONOMY_ROUTES
    routes |= PUBLISHING_ROUTES | system
    assert routes == documented


async def test_the_openapi_document_shows_field_limits(client) -> None:
    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]

    data = schemas["PersonaDataIn"]["properties"]
    assert data["name"]["maxLength"] == 100
    assert data["summary"]["maxLength"] == 600
    assert data["extensions"]["maxProperties"] == 50
    assert schemas["VersionOut"]["properties"]["created_at"]["format"] == "date-time"


async def test_the_interactive_docs_are_served(client) -> None:
    response = await client.get("/schema")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_every_response_in_this_suite_is_scanned_for_user_ids(client, leak_guard) -> None:
    before = leak_guard.scanned
    await client.get("/healthz")

    assert leak_guard.scanned == before + 1
    body = {"items": [{"owner_id": "x"}], "user_id": "y"}
    assert leak_guard.leaks(body) == ["$.items[0].owner_id", "$.user_id"]


def _log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_each_request_writes_one_structured_access_log_line(
    client, alice, alice_id, capsys
) -> None:
    capsys.readouterr()

    await client.get("/v1/personas", headers={**alice, "X-Request-ID": "log-1"})

    (line,) = [e for e in _log_lines(capsys.readouterr().err) if e["event"] == "http.request"]
    assert line["request_id"] == "log-1"
    assert line["user_id"] == alice_id
    assert (line["method"], line["path"], line["status"]) == ("GET", "/v1/personas", 200)
    assert isinstance(line["latency_ms"], float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])
    assert line["level"] == "info"


async def test_anonymous_log_lines_carry_an_ip_hash_and_no_user(client, capsys) -> None:
    capsys.readouterr()

    await client.get("/healthz")

    (line,) = _log_lines(capsys.readouterr().err)
    assert line["user_id"] is None
    assert re.fullmatch(r"[0-9a-f]{32}", line["ip_hash"])


async def test_tokens_and_bodies_never_reach_the_logs(client, alice, capsys) -> None:
    capsys.readouterr()
    body = {"data": {"name": "Secret Name"}}

    await client.post("/v1/personas", json=body, headers=alice)
    await client.get("/v1/personas", headers={"Authorization": "Bearer forged-token-123"})

    logs = capsys.readouterr().err
    assert alice["Authorization"].removeprefix("Bearer ") not in logs
    assert "forged-token-123" not in logs
    assert "Secret Name" not in logs
    assert any(e["event"] == "auth.rejected" for e in _log_lines(logs))


# Fake-only: it needs settings of its own (the console log format) and stores nothing.
async def test_the_console_format_is_one_readable_line(client_for, tmp_path, capsys) -> None:
    settings = Settings.embedded(tmp_path)
    settings = Settings(
        data_dir=tmp_path,
        database=settings.database,
        http=HttpSettings(log_format=LogFormat.CONSOLE),
        jobs=JobSettings(embedded_worker=False),  # the fakes have no job table
    )
    app = create_app(settings, bootstrap=lambda _: fake_bootstrap(fake_container()))
    capsys.readouterr()

    async with client_for(app) as client:
        await client.get("/healthz", headers={"X-Request-ID": "console-1"})

    (line,) = capsys.readouterr().err.splitlines()
    assert " INFO    http.request " in line
    assert "request_id=console-1" in line
    assert "status=200" in line


def _peer(address: str) -> dict[str, Any]:
    return {"type": "http", "client": (address, 5000)}


def test_the_client_ip_is_the_socket_peer_unless_a_trusted_proxy_forwarded() -> None:
    proxies = (ipaddress.ip_network("10.0.0.0/8"),)
    forwarded = b"203.0.113.7, 10.0.0.9"

    assert client_ip(_peer("198.51.100.1"), forwarded, proxies) == "198.51.100.1"  # type: ignore[arg-type]
    assert client_ip(_peer("10.0.0.1"), forwarded, proxies) == "203.0.113.7"  # type: ignore[arg-type]
    assert client_ip(_peer("10.0.0.1"), None, proxies) == "10.0.0.1"  # type: ignore[arg-type]
    assert client_ip(_peer("10.0.0.1"), forwarded, ()) == "10.0.0.1"  # type: ignore[arg-type]
