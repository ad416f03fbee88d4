"""The real `mynth serve` process: a token from `mynth dev-token`, then the persona lifecycle."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from e2e.serverkit import MYNTH, dev_token, free_port

pytestmark = pytest.mark.e2e

PERSONA = {
    "name": "Aurora Vale",
    "age": "34",
    "gender": "female",
    "appearance": "Tall, storm-grey eyes, a salt-stained wool coat.",
    "personality": "Dry humour, fiercely loyal.",
    "background": "Keeps the last manned lighthouse.",
    "summary": "A lighthouse keeper who hears ships that sank a century ago.",
}


def test_a_creator_walks_the_persona_lifecycle_against_the_real_server(server, env, tmp_path):
    alice = {"Authorization": f"Bearer {dev_token(env, 'alice')}"}
    bob = {"Authorization": f"Bearer {dev_token(env, 'bob')}"}
    with httpx.Client(base_url=server, timeout=10) as http:
        created = http.post(
            "/v1/personas", json={"title": "The Keeper", "data": PERSONA}, headers=alice
        )
        assert created.status_code == 201, created.text
        persona = created.json()
        pid, v1 = persona["id"], persona["current_version"]["id"]
        assert persona["current_version"]["version_number"] == 1
        assert http.get(f"/v1/personas/{pid}", headers=bob).status_code == 404

        edit = {"data": {"age": "35", "extensions": {"fears": "fog"}}, "note": "older"}
        v2 = http.post(f"/v1/personas/{pid}/versions", json=edit, headers=alice).json()
        assert (v2["version_number"], v2["data"]["extensions"]) == (2, {"fears": "fog"})

        reverted = http.put(
            f"/v1/personas/{pid}/current-version", json={"version_id": v1}, headers=alice
        )
        assert reverted.json()["current_version"]["id"] == v1
        listed = http.get("/v1/personas", params={"q": "aurora"}, headers=alice).json()
        assert [p["id"] for p in listed["items"]] == [pid]

        clone = http.post(f"/v1/personas/{pid}/clone", headers=alice).json()
        assert clone["cloned_from"]["persona_id"] == pid

        events = http.get(f"/v1/personas/{pid}/events", headers=alice).json()["items"]
        assert [e["type"] for e in events] == [
            "persona.reverted",
            "persona.version_created",
            "persona.created",
        ]
        assert http.delete(f"/v1/personas/{pid}", headers=alice).status_code == 204
        assert http.get(f"/v1/personas/{pid}", headers=alice).status_code == 404
        assert (
            http.get("/v1/personas", headers={"Authorization": "Bearer nonsense"}).status_code
            == 401
        )
    assert (tmp_path / "data" / "mynth.db").exists()


def test_an_expired_dev_token_is_refused_by_the_server(server, env):
    token = dev_token(env, "alice", "--ttl", "1")
    time.sleep(7)  # past expiry plus the 5 s leeway
    response = httpx.get(f"{server}/v1/personas", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/invalid-token"


def test_data_survives_a_restart_of_the_server(env, tmp_path):
    token = {"Authorization": f"Bearer {dev_token(env, 'alice')}"}
    for attempt in range(2):
        port = free_port()
        proc = subprocess.Popen(  # noqa: S603
            [MYNTH, "serve", "--port", str(port)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            if attempt == 0:
                made = httpx.post(f"{base}/v1/personas", json={"data": PERSONA}, headers=token)
                assert made.status_code == 201
            else:
                items = httpx.get(f"{base}/v1/personas", headers=token).json()["items"]
                assert [p["title"] for p in items] == ["Aurora Vale"]
        finally:
            proc.terminate()
            proc.wait(timeout=15)
