"""Images over HTTP: request (charged, queued), run, poll, gallery, content and access rules."""

from __future__ import annotations

from typing import Any

import pytest

from mynth_core.errors import ProviderTimeoutError

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@pytest.fixture
async def persona(client, alice, new_persona) -> dict[str, Any]:
    return await new_persona(alice)


async def balance(client, who) -> int:
    return int((await client.get("/v1/me", headers=who)).json()["balance"]["total"])


async def request_image(client, who, persona, **body: Any):
    return await client.post(f"/v1/personas/{persona['id']}/images", json=body, headers=who)


async def test_the_image_models_are_public(client) -> None:
    response = await client.get("/v1/image-models")

    body = response.json()
    assert response.status_code == 200
    assert body["tiers"]["low"] == {
        "model": "black-forest-labs/flux-schnell",
        "cost": 1,
        "width": 512,
        "height": 512,
    }
    assert body["tiers"]["high"]["cost"] == 5
    assert {m["id"] for m in body["models"]} >= {"bytedance/seedream-3"}


async def test_a_request_is_charged_and_queued_then_the_job_succeeds(
    client, alice, persona, backend
) -> None:
    before = await balance(client, alice)

    response = await request_image(client, alice, persona, quality="low")

    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["status"], job["cost"], job["quality"]) == ("queued", 1, "low")
    assert job["persona_version_id"] == persona["current_version"]["id"]
    assert await balance(client, alice) == before - 1
    await backend.run_jobs(client)
    done = (await client.get(f"/v1/image-jobs/{job['id']}", headers=alice)).json()
    assert done["status"] == "succeeded"
    image = done["image"]
    assert (image["width"], image["height"]) == (512, 512)
    shown = (await client.get(f"/v1/personas/{persona['id']}", headers=alice)).json()
    assert shown["profile_image"]["id"] == image["id"]
    gallery = (await client.get(f"/v1/personas/{persona['id']}/images", headers=alice)).json()
    assert [i["id"] for i in gallery["items"]] == [image["id"]]
    events = (await client.get(f"/v1/personas/{persona['id']}/events", headers=alice)).json()
    assert events["items"][0]["type"] == "persona.image_generated"


async def test_a_failed_job_is_refunded_and_recorded(
    client, alice, persona, backend, image_generator
) -> None:
    before = await balance(client, alice)
    image_generator.script(ProviderTimeoutError("slow"))

    job = (await request_image(client, alice, persona, quality="high")).json()
    await backend.run_jobs(client)

    done = (await client.get(f"/v1/image-jobs/{job['id']}", headers=alice)).json()
    assert done["status"] == "failed"
    assert done["error"]["code"] == "provider_timeout"
    assert await balance(client, alice) == before
    events = (await client.get(f"/v1/personas/{persona['id']}/events", headers=alice)).json()
    assert events["items"][0]["type"] == "persona.image_failed"


async def test_a_third_job_in_flight_is_refused_and_not_charged(client, alice, persona) -> None:
    await request_image(client, alice, persona, quality="low")
    await request_image(client, alice, persona, quality="low")
    before = await balance(client, alice)

    refused = await request_image(client, alice, persona, quality="low")

    assert refused.status_code == 429
    assert refused.json()["type"] == "/problems/too-many-image-jobs"
    assert refused.headers["retry-after"] == "10"
    assert await balance(client, alice) == before


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"model": "no/such"}, 422, "unknown-model"),
        ({"model": "bytedance/seedream-3", "nsfw": True}, 422, "validation-failed"),
        ({"quality": "ultra"}, 422, "validation-failed"),
        ({"note": "x" * 501}, 422, "validation-failed"),
    ],
)
async def test_bad_image_requests_are_refused_before_charging(
    client, alice, persona, body, status, slug
) -> None:
    before = await balance(client, alice)

    response = await request_image(client, alice, persona, **body)

    assert response.status_code == status
    assert response.json()["type"] == f"/problems/{slug}"
    assert await balance(client, alice) == before


async def test_image_content_is_webp_with_caching_headers(client, alice, persona, backend) -> None:
    job = (await request_image(client, alice, persona, quality="low")).json()
    await backend.run_jobs(client)
    image = (await client.get(f"/v1/image-jobs/{job['id']}", headers=alice)).json()["image"]

    full = await client.get(image["url"], headers=alice)
    thumb = await client.get(image["thumbnail_url"], headers=alice)
    again = await client.get(image["url"], headers=alice | {"If-None-Match": full.headers["etag"]})

    assert full.status_code == 200
    assert full.headers["content-type"] == "image/webp"
    assert "immutable" in full.headers["cache-control"]
    assert full.headers["cache-control"].startswith("private")
    assert thumb.content != full.content
    assert again.status_code == 304


async def test_images_are_private_until_they_are_a_public_personas_profile_image(
    client, alice, bob, persona, backend
) -> None:
    job = (await request_image(client, alice, persona, quality="low")).json()
    await backend.run_jobs(client)
    image = (await client.get(f"/v1/image-jobs/{job['id']}", headers=alice)).json()["image"]

    assert (await client.get(image["url"], headers=bob)).status_code == 404
    assert (await client.get(image["url"])).status_code == 404
    assert (await client.get(f"/v1/image-jobs/{job['id']}", headers=bob)).status_code == 404
    await backend.make_public(persona["id"])
    public = await client.get(image["url"])
    assert public.status_code == 200
    assert public.headers["cache-control"].startswith("public")
    assert (await client.get(f"/v1/images/{image['id']}")).status_code == 200


async def test_the_profile_image_can_be_set_to_another_image(
    client, alice, persona, backend
) -> None:
    first = (await request_image(client, alice, persona, quality="low")).json()
    second = (await request_image(client, alice, persona, quality="low")).json()
    await backend.run_jobs(client)
    second_image = (await client.get(f"/v1/image-jobs/{second['id']}", headers=alice)).json()

    response = await client.put(
        f"/v1/personas/{persona['id']}/profile-image",
        json={"image_id": second_image["image"]["id"]},
        headers=alice,
    )

    assert first["id"] != second["id"]
    assert response.status_code == 200
    assert response.json()["profile_image"]["id"] == second_image["image"]["id"]
