"""Publishing over HTTP: request (202 + job), states, unpublish, and the anonymous catalog.

A persona needs a profile image to be published, so `publishable` makes one (a low image,
its job run). Publish jobs run through `backend.run_publish_jobs`, as the worker would run
them. Classifications come from the offline model unless a test scripts one.
"""

from __future__ import annotations

from typing import Any

import pytest

from mynth_core.errors import ProviderError
from mynth_core.generation.ports import ChatRequest
from mynth_core.testing import Reply

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

CLASSIFICATION = "publish_classification"


def classification(**overrides: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "headline": "A lighthouse keeper who hears ships that sank a century ago.",
        "nsfw_rating": "sfw",
        "gender": "female",
        "age_bucket": "25-34",
        "tags": [{"name": "Stoic", "category": "personality"}],
    }
    answer.update(overrides)
    return answer


def is_classification(request: ChatRequest) -> bool:
    return request.schema is not None and request.schema.name == CLASSIFICATION


@pytest.fixture
def classifier(chat_model):
    """The chat model double, taking scripted replies for classifications only."""
    chat_model.accepts = is_classification
    return chat_model


@pytest.fixture
def publishable(client, backend, new_persona):
    """A new persona of `who` whose profile image is ready (low quality unless `image` says)."""

    async def make(who, image: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        persona = await new_persona(who, **fields)
        body = image or {"quality": "low"}
        job = await client.post(f"/v1/personas/{persona['id']}/images", json=body, headers=who)
        assert job.status_code == 202, job.text
        await backend.run_jobs(client)
        shown = await client.get(f"/v1/personas/{persona['id']}", headers=who)
        assert shown.json()["profile_image"] is not None
        return dict(shown.json())

    return make


async def publish(client, who, persona, **body: Any):
    return await client.post(f"/v1/personas/{persona['id']}/publication", json=body, headers=who)


async def publication(client, who, persona) -> dict[str, Any]:
    response = await client.get(f"/v1/personas/{persona['id']}/publication", headers=who)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def published(client, backend, who, persona) -> dict[str, Any]:
    """Publish `persona` and run the job; its publication afterwards."""
    assert (await publish(client, who, persona)).status_code == 202
    await backend.run_publish_jobs(client)
    return await publication(client, who, persona)


async def catalog(client, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/public/personas", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def names(page: dict[str, Any]) -> list[str]:
    return [card["name"] for card in page["items"]]


# --- the request -----------------------------------------------------------------------------


async def test_publishing_needs_a_profile_image(client, alice, new_persona) -> None:
    persona = await new_persona(alice)

    response = await publish(client, alice, persona)

    assert response.status_code == 409
    assert response.json()["type"] == "/problems/profile-image-required"
    assert (await publication(client, alice, persona))["status"] == "none"


async def test_a_publish_is_accepted_as_pending_then_published_by_its_job(
    client, alice, backend, publishable
) -> None:
    persona = await publishable(alice)

    response = await publish(client, alice, persona)

    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    assert response.json()["public_version_id"] is None
    assert (await publication(client, alice, persona))["status"] == "pending"
    await backend.run_publish_jobs(client)
    shown = await publication(client, alice, persona)
    assert shown["status"] == "published"
    assert shown["public_version_id"] == persona["current_version"]["id"]
    assert shown["slug"].startswith("aurora-vale-")
    assert 0 < len(shown["headline"]) <= 80
    assert (shown["nsfw_rating"], shown["gender"], shown["age_bucket"]) == (
        "sfw",
        "female",
        "25-34",
    )
    assert 2 <= len(shown["tags"]) <= 5
    assert all(set(tag) == {"name", "category"} for tag in shown["tags"])
    assert shown["published_at"] is not None
    assert shown["error"] is None
    owner_view = (await client.get(f"/v1/personas/{persona['id']}", headers=alice)).json()
    assert owner_view["visibility"] == "public"
    assert owner_view["publication"] == shown
    events = (await client.get(f"/v1/personas/{persona['id']}/events", headers=alice)).json()
    assert events["items"][0]["type"] == "persona.published"
    assert events["items"][0]["data"]["slug"] == shown["slug"]


async def test_a_second_publish_while_one_is_pending_is_refused(client, alice, publishable) -> None:
    persona = await publishable(alice)
    await publish(client, alice, persona)

    again = await publish(client, alice, persona)

    assert again.status_code == 409
    assert again.json()["type"] == "/problems/publish-in-progress"


async def test_the_body_may_be_left_out_or_name_an_older_version(
    client, alice, backend, publishable
) -> None:
    persona = await publishable(alice)
    first_version = persona["current_version"]["id"]
    edit = {"data": {"summary": "A keeper who stopped listening to the sea."}}
    await client.post(f"/v1/personas/{persona['id']}/versions", json=edit, headers=alice)

    bare = await client.post(f"/v1/personas/{persona['id']}/publication", headers=alice)
    await backend.run_publish_jobs(client)
    older = await publish(client, alice, persona, version_id=first_version)
    await backend.run_publish_jobs(client)

    assert bare.status_code == 202, bare.text
    assert older.status_code == 202, older.text
    assert (await publication(client, alice, persona))["public_version_id"] == first_version


async def test_a_version_of_another_persona_or_someone_elses_persona_is_not_found(
    client, alice, bob, publishable
) -> None:
    persona = await publishable(alice)
    other = await publishable(alice, name="Brann Oduya")
    path = f"/v1/personas/{persona['id']}/publication"

    foreign_version = await publish(
        client, alice, persona, version_id=other["current_version"]["id"]
    )

    assert foreign_version.status_code == 404
    assert (await client.post(path, json={}, headers=bob)).status_code == 404
    assert (await client.get(path, headers=bob)).status_code == 404
    assert (await client.delete(path, headers=bob)).status_code == 404
    assert (await client.post(path, json={})).status_code == 401
    assert (await publication(client, alice, persona))["status"] == "none"


async def test_an_unknown_field_in_the_body_is_refused(client, alice, publishable) -> None:
    persona = await publishable(alice)

    response = await publish(client, alice, persona, visibility="public")

    assert response.status_code == 422
    assert response.json()["type"] == "/problems/validation-failed"


async def test_the_sixth_publish_within_an_hour_is_rate_limited(
    client, alice, backend, publishable, clock
) -> None:
    persona = await publishable(alice)
    for _ in range(5):
        accepted = await publish(client, alice, persona)
        assert accepted.status_code == 202
        assert accepted.headers["ratelimit-policy"] == "5;w=3600"
        await backend.run_publish_jobs(client)

    refused = await publish(client, alice, persona)

    assert refused.status_code == 429
    assert refused.json()["bucket"] == "publish"
    assert int(refused.headers["retry-after"]) > 0
    assert (await publication(client, alice, persona))["status"] == "published"
    clock.advance(hours=1)
    assert (await publish(client, alice, persona)).status_code == 202


# --- the job ---------------------------------------------------------------------------------


async def test_the_classification_is_normalised_and_kept(
    client, alice, backend, publishable, classifier
) -> None:
    persona = await publishable(alice)
    classifier.script(
        classification(
            headline="  One   line\nonly. " + "x" * 120,
            tags=[
                {"name": "Black Hair", "category": "appearance"},
                {"name": "black-hair", "category": "appearance"},
                {"name": "Sea Legs", "category": "nautical"},
            ],
        )
    )

    shown = await published(client, backend, alice, persona)

    assert shown["headline"].startswith("One line only. xxx")
    assert len(shown["headline"]) == 80
    assert shown["tags"] == [
        {"name": "black-hair", "category": "appearance"},
        {"name": "sea-legs", "category": "other"},
    ]


async def test_an_nsfw_profile_image_makes_the_persona_explicit(
    client, alice, backend, publishable
) -> None:
    persona = await publishable(alice, image={"quality": "medium", "nsfw": True})

    shown = await published(client, backend, alice, persona)

    assert shown["status"] == "published"
    assert shown["nsfw_rating"] == "explicit"
    assert names(await catalog(client)) == []
    assert names(await catalog(client, include_nsfw="true")) == ["Aurora Vale"]


async def test_a_minor_with_an_nsfw_profile_image_is_not_published(
    client, alice, backend, publishable, classifier
) -> None:
    persona = await publishable(alice, image={"quality": "medium", "nsfw": True}, age="16")
    classifier.script(classification(age_bucket="13-17", nsfw_rating="explicit"))

    shown = await published(client, backend, alice, persona)

    assert shown["status"] == "failed"
    assert shown["error"]["code"] == "minor_nsfw_image"
    assert shown["public_version_id"] is None
    assert names(await catalog(client, include_nsfw="true")) == []
    events = (await client.get(f"/v1/personas/{persona['id']}/events", headers=alice)).json()
    assert events["items"][0]["type"] == "persona.publish_failed"


async def test_a_minor_is_always_rated_sfw(client, alice, backend, publishable, classifier) -> None:
    persona = await publishable(alice, age="16")
    classifier.script(classification(age_bucket="13-17", nsfw_rating="suggestive"))

    shown = await published(client, backend, alice, persona)

    assert (shown["status"], shown["nsfw_rating"]) == ("published", "sfw")


@pytest.mark.parametrize("level", ["explicit_natural", "explicit_driven"])
async def test_explicit_chat_levels_are_refused_with_a_persona_classified_as_a_minor(
    client, alice, bob, backend, publishable, classifier, level
) -> None:
    persona = await publishable(alice, age="16")
    classifier.script(classification(age_bucket="13-17"))
    await published(client, backend, alice, persona)
    explicit = {"nsfw_level": level}

    refused = await client.post(
        "/v1/chats", json={"persona_id": persona["id"], "settings": explicit}, headers=bob
    )
    created = await client.post(
        "/v1/chats",
        json={"persona_id": persona["id"], "settings": {"nsfw_level": "suggestive"}},
        headers=bob,
    )
    url = f"/v1/chats/{created.json()['id']}"
    patched = await client.patch(url, json={"settings": explicit}, headers=bob)
    kept = await client.get(url, headers=bob)
    listed = await client.get("/v1/chats", headers=bob)

    assert refused.status_code == 422
    assert refused.json()["type"] == "/problems/validation-failed"
    assert [e["field"] for e in refused.json()["errors"]] == ["settings.nsfw_level"]
    assert created.status_code == 201
    assert patched.status_code == 422
    assert kept.json()["settings"]["nsfw_level"] == "suggestive"
    assert len(listed.json()["items"]) == 1  # the refused chat was never created


async def test_explicit_chat_levels_are_allowed_with_an_adult_persona(
    client, alice, backend, publishable, classifier
) -> None:
    persona = await publishable(alice)
    classifier.script(classification(age_bucket="25-34"))
    await published(client, backend, alice, persona)

    created = await client.post(
        "/v1/chats",
        json={"persona_id": persona["id"], "settings": {"nsfw_level": "explicit_natural"}},
        headers=alice,
    )

    assert created.status_code == 201, created.text
    assert created.json()["settings"]["nsfw_level"] == "explicit_natural"


async def test_a_failed_classification_fails_the_publish_and_it_can_be_retried(
    client, alice, backend, publishable, classifier
) -> None:
    persona = await publishable(alice)
    classifier.script(Reply(error=ProviderError("the model is down")))

    failed = await published(client, backend, alice, persona)
    retried = await published(client, backend, alice, persona)

    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "classification_failed"
    assert failed["error"]["at"].endswith("Z")
    assert (retried["status"], retried["error"]) == ("published", None)


async def test_a_pending_publish_over_ten_minutes_old_has_failed_and_its_late_result_is_dropped(
    client, alice, backend, publishable, clock
) -> None:
    persona = await publishable(alice)
    await publish(client, alice, persona)
    clock.advance(minutes=11)

    timed_out = await publication(client, alice, persona)
    await backend.run_publish_jobs(client)

    assert timed_out["status"] == "failed"
    assert timed_out["error"]["code"] == "timeout"
    assert (await publication(client, alice, persona))["status"] == "failed"
    assert names(await catalog(client)) == []
    assert (await publish(client, alice, persona)).status_code == 202


async def test_a_republish_keeps_the_old_public_version_live_until_it_succeeds(
    client, alice, backend, publishable, classifier
) -> None:
    persona = await publishable(alice)
    first = await published(client, backend, alice, persona)
    edit = {"data": {"summary": "A keeper who finally answers the drowned ships."}}
    response = await client.post(f"/v1/personas/{persona['id']}/versions", json=edit, headers=alice)
    second_version = response.json()["id"]
    classifier.script(Reply(error=ProviderError("the model is down")))

    pending = (await publish(client, alice, persona)).json()
    live_while_pending = (await client.get(f"/v1/public/personas/{first['slug']}")).json()
    await backend.run_publish_jobs(client)
    after_failure = await publication(client, alice, persona)
    live_after_failure = (await client.get(f"/v1/public/personas/{first['slug']}")).json()
    succeeded = await published(client, backend, alice, persona)
    live_after_success = (await client.get(f"/v1/public/personas/{first['slug']}")).json()

    assert (pending["status"], pending["public_version_id"]) == (
        "pending",
        first["public_version_id"],
    )
    assert live_while_pending["public_version"]["id"] == first["public_version_id"]
    assert after_failure["status"] == "published"
    assert after_failure["error"]["code"] == "classification_failed"
    assert after_failure["public_version_id"] == first["public_version_id"]
    assert live_after_failure["public_version"]["id"] == first["public_version_id"]
    assert (succeeded["status"], succeeded["error"]) == ("published", None)
    assert succeeded["public_version_id"] == second_version
    assert succeeded["slug"] == first["slug"]
    assert live_after_success["public_version"]["id"] == second_version
    assert live_after_success["public_version"]["data"]["summary"] == edit["data"]["summary"]


# --- unpublish -------------------------------------------------------------------------------


async def test_unpublish_hides_the_persona_and_a_republish_keeps_its_slug(
    client, alice, backend, publishable
) -> None:
    persona = await publishable(alice)
    first = await published(client, backend, alice, persona)
    path = f"/v1/personas/{persona['id']}/publication"

    removed = await client.delete(path, headers=alice)
    hidden = await publication(client, alice, persona)
    again = await client.delete(path, headers=alice)

    assert removed.status_code == 204
    assert hidden["status"] == "none"
    assert hidden["public_version_id"] is None
    assert hidden["slug"] == first["slug"]  # kept for a later publish
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/not-published"
    assert names(await catalog(client)) == []
    assert (await client.get(f"/v1/public/personas/{first['slug']}")).status_code == 404
    owner_view = (await client.get(f"/v1/personas/{persona['id']}", headers=alice)).json()
    assert owner_view["visibility"] == "private"
    events = (await client.get(f"/v1/personas/{persona['id']}/events", headers=alice)).json()
    assert events["items"][0]["type"] == "persona.unpublished"
    republished = await published(client, backend, alice, persona)
    assert republished["slug"] == first["slug"]
    assert (await client.get(f"/v1/public/personas/{first['slug']}")).status_code == 200


async def test_a_persona_never_published_cannot_be_unpublished(client, alice, publishable) -> None:
    persona = await publishable(alice)

    response = await client.delete(f"/v1/personas/{persona['id']}/publication", headers=alice)

    assert response.status_code == 409
    assert response.json()["type"] == "/problems/not-published"


# --- the public catalog ----------------------------------------------------------------------


async def test_the_catalog_is_anonymous_newest_first_and_sfw_by_default(
    client, alice, bob, backend, publishable, classifier, clock
) -> None:
    aurora = await publishable(alice)
    brann = await publishable(bob, name="Brann Oduya", gender="male", age="52")
    cass = await publishable(alice, name="Cass Mirel", gender="non-binary")
    classifier.script(
        classification(tags=[{"name": "mysterious", "category": "personality"}]),
        classification(
            headline="A harbour smuggler with a soft spot for strays.",
            gender="male",
            age_bucket="45-54",
            tags=[{"name": "rugged", "category": "appearance"}],
        ),
        classification(
            headline="A lounge singer whose songs are never quite innocent.",
            nsfw_rating="suggestive",
            gender="other",
            tags=[{"name": "mysterious", "category": "personality"}],
        ),
    )
    for who, persona in ((alice, aurora), (bob, brann), (alice, cass)):
        clock.advance(seconds=1)
        await published(client, backend, who, persona)

    default = await catalog(client)
    everything = await catalog(client, include_nsfw="true")

    assert names(default) == ["Brann Oduya", "Aurora Vale"]
    assert default["next_cursor"] is None
    assert names(everything) == ["Cass Mirel", "Brann Oduya", "Aurora Vale"]
    card = everything["items"][1]
    assert set(card) == {
        "id",
        "slug",
        "name",
        "headline",
        "nsfw_rating",
        "gender",
        "age_bucket",
        "tags",
        "profile_image",
        "published_at",
    }
    assert card["id"] == brann["id"]
    assert card["tags"] == [{"name": "rugged", "category": "appearance"}]
    assert card["profile_image"] == {
        "url": brann["profile_image"]["url"],
        "thumbnail_url": brann["profile_image"]["thumbnail_url"],
    }
    image = await client.get(card["profile_image"]["url"])  # anonymous, as a browser would
    assert image.status_code == 200
    assert names(await catalog(client, tags="mysterious", include_nsfw="true")) == [
        "Cass Mirel",
        "Aurora Vale",
    ]
    assert names(await catalog(client, exclude_tags="mysterious", include_nsfw="true")) == [
        "Brann Oduya"
    ]
    assert names(await catalog(client, tags="mysterious,rugged")) == []
    assert names(await catalog(client, q="SMUGGLER")) == ["Brann Oduya"]
    assert names(await catalog(client, q="aurora")) == ["Aurora Vale"]
    assert names(await catalog(client, gender="other", include_nsfw="true")) == ["Cass Mirel"]
    assert names(await catalog(client, gender="female")) == ["Aurora Vale"]


async def test_the_catalog_pages_with_a_cursor(client, alice, backend, publishable, clock) -> None:
    for name in ("Ada One", "Bea Two", "Cyd Three"):
        persona = await publishable(alice, name=name)
        clock.advance(seconds=1)
        await published(client, backend, alice, persona)

    first = await catalog(client, limit=2)
    second = await catalog(client, limit=2, cursor=first["next_cursor"])

    assert names(first) == ["Cyd Three", "Bea Two"]
    assert names(second) == ["Ada One"]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 61}, "limit"),
        ({"limit": 0}, "limit"),
        ({"q": "x" * 101}, "q"),
        ({"gender": "robot"}, "gender"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_bad_catalog_parameters_are_refused(client, params, field) -> None:
    response = await client.get("/v1/public/personas", params=params)

    assert response.status_code == 422
    assert response.json()["type"] == "/problems/validation-failed"
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_the_public_detail_shows_only_the_public_version(
    client, alice, bob, backend, publishable
) -> None:
    persona = await publishable(alice)
    shown = await published(client, backend, alice, persona)
    draft = {"data": {"summary": "A private draft nobody else may read."}, "note": "secret"}
    await client.post(f"/v1/personas/{persona['id']}/versions", json=draft, headers=alice)

    response = await client.get(f"/v1/public/personas/{shown['slug']}")

    assert response.status_code == 200
    detail = response.json()
    assert set(detail) == {
        "id",
        "slug",
        "name",
        "headline",
        "nsfw_rating",
        "gender",
        "age_bucket",
        "tags",
        "profile_image",
        "published_at",
        "public_version",
        "cloned_from_slug",
    }
    assert detail["public_version"]["id"] == persona["current_version"]["id"]
    assert set(detail["public_version"]) == {"id", "version_number", "data"}
    assert (
        detail["public_version"]["data"]["summary"] == persona["current_version"]["data"]["summary"]
    )
    assert "private draft" not in response.text
    assert "secret" not in response.text
    assert detail["cloned_from_slug"] is None
    signed_in = await client.get(f"/v1/public/personas/{shown['slug']}", headers=bob)
    assert signed_in.json() == detail
    assert (await client.get("/v1/public/personas/no-such-slug")).status_code == 404


async def test_a_clone_of_a_public_persona_names_its_source_slug_once_published(
    client, alice, bob, backend, publishable
) -> None:
    source = await publishable(alice)
    source_slug = (await published(client, backend, alice, source))["slug"]
    cloned = await client.post(f"/v1/personas/{source['id']}/clone", headers=bob)
    clone = cloned.json()
    await client.post(f"/v1/personas/{clone['id']}/images", json={"quality": "low"}, headers=bob)
    await backend.run_jobs(client)

    clone_slug = (await published(client, backend, bob, clone))["slug"]
    detail = (await client.get(f"/v1/public/personas/{clone_slug}")).json()

    assert cloned.status_code == 201, cloned.text
    assert clone_slug != source_slug
    assert detail["cloned_from_slug"] == source_slug


async def test_the_owner_of_a_clone_sees_its_source_slug_while_the_source_is_public(
    client, alice, bob, backend, publishable
) -> None:
    source = await publishable(alice)
    source_slug = (await published(client, backend, alice, source))["slug"]
    clone = (await client.post(f"/v1/personas/{source['id']}/clone", headers=bob)).json()

    shown = (await client.get(f"/v1/personas/{clone['id']}", headers=bob)).json()
    listed = (await client.get("/v1/personas", headers=bob)).json()["items"]
    await client.delete(f"/v1/personas/{source['id']}/publication", headers=alice)
    after = (await client.get(f"/v1/personas/{clone['id']}", headers=bob)).json()

    assert shown["cloned_from"] == {
        "persona_id": source["id"],
        "version_id": source["current_version"]["id"],
        "slug": source_slug,
    }
    assert [p["cloned_from"]["slug"] for p in listed] == [source_slug]
    assert after["cloned_from"]["slug"] is None


async def test_a_deleted_users_personas_leave_the_catalog(
    client, alice, bob, backend, publishable, clock, alice_id
) -> None:
    alices = await publishable(alice)
    bobs = await publishable(bob, name="Brann Oduya")
    alice_slug = (await published(client, backend, alice, alices))["slug"]
    await published(client, backend, bob, bobs)

    await backend.soft_delete_user(alice_id, at=clock.now())

    assert names(await catalog(client)) == ["Brann Oduya"]
    assert (await client.get(f"/v1/public/personas/{alice_slug}")).status_code == 404


async def test_a_deleted_persona_leaves_the_catalog(client, alice, backend, publishable) -> None:
    persona = await publishable(alice)
    slug = (await published(client, backend, alice, persona))["slug"]

    deleted = await client.delete(f"/v1/personas/{persona['id']}", headers=alice)

    assert deleted.status_code == 204
    assert names(await catalog(client)) == []
    assert (await client.get(f"/v1/public/personas/{slug}")).status_code == 404
