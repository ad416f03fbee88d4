"""The real `mynth serve` process: a token from `mynth dev-token`, then the persona lifecycle."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

MYNTH = str(Path(sys.executable).parent / "mynth")
PERSONA = {
    "name": "Aurora Vale",
    "age": "34",
    "gender": "female",
    "appearance": "Tall, storm-grey eyes, a salt-stained wool coat.",
    "personality": "Dry humour, fiercely loyal.",
    "background": "Keeps the last manned lighthouse.",
    "summary": "A lighthouse keeper who hears ships that sank a century ago.",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MYNTH_")}
    return {**clean, "MYNTH_DATA_DIR": str(tmp_path / "data"), "MYNTH_LOG_FORMAT": "json"}


@pytest.fixture
def server(env, tmp_path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own command
        [MYNTH, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(
                f"mynth serve did not become ready:\n{(tmp_path / 'serve.log').read_text()}"
            )
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells.
        assert proc.wait(timeout=15) == -signal.SIGTERM
        log.close()
        assert "Traceback" not in (tmp_path / "serve.log").read_text()


def dev_token(env: dict[str, str], user: str, *extra: str) -> str:
    done = subprocess.run(  # noqa: S603
        [MYNTH, "dev-token", "--user", user, *extra],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


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
