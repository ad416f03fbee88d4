"""The fake Runware itself speaks PROVIDERS §2 (auth, validation, data, served images)."""

from __future__ import annotations

import asyncio
import base64
import io
import time
import uuid

import httpx
import pytest
from PIL import Image

from providers.runware import OVERSIZED, image_oversized


def task(**fields):
    defaults = {
        "taskType": "imageInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "runware:100@1",
        "positivePrompt": "a lighthouse at dusk",
        "width": 512,
        "height": 512,
        "steps": 4,
        "numberResults": 1,
        "outputType": "URL",
        "outputFormat": "WEBP",
    }
    return {k: v for k, v in (defaults | fields).items() if v is not None}


@pytest.fixture
async def raw(runware, tls):
    transport = httpx.AsyncHTTPTransport(verify=tls)
    async with httpx.AsyncClient(base_url=runware.base_url, transport=transport) as client:
        yield client


def bearer(runware):
    return {"Authorization": f"Bearer {runware.api_key}"}


async def test_the_key_may_come_as_a_bearer_header_or_an_authentication_task(raw, runware):
    one = await raw.post("", json=[task()], headers=bearer(runware))
    auth = {"taskType": "authentication", "apiKey": runware.api_key}
    two = await raw.post("", json=[auth, task()])

    assert (one.status_code, two.status_code) == (200, 200)
    assert len(two.json()["data"]) == 1


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "rw-fake"}]
)
async def test_anything_else_is_a_401_invalid_api_key(raw, headers):
    response = await raw.post("", json=[task()], headers=headers)

    assert response.status_code == 401
    (error,) = response.json()["errors"]
    assert (error["code"], error["parameter"]) == ("invalidApiKey", "apiKey")


@pytest.mark.parametrize("body", [b'{"taskType": "imageInference"}', b"not json", b"42"])
async def test_a_body_that_is_not_an_array_is_a_400(raw, runware, body):
    response = await raw.post("", content=body, headers=bearer(runware))

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("fields", "code", "parameter"),
    [
        ({"model": "runware:999@1"}, "invalidModel", "model"),
        ({"positivePrompt": "x"}, "invalidPositivePrompt", "positivePrompt"),
        ({"positivePrompt": "x" * 3001}, "invalidPositivePrompt", "positivePrompt"),
        ({"positivePrompt": None}, "missingPositivePrompt", "positivePrompt"),
        ({"width": 500}, "invalidWidth", "width"),
        ({"height": 4096}, "invalidHeight", "height"),
        ({"steps": 0}, "invalidSteps", "steps"),
        ({"steps": 101}, "invalidSteps", "steps"),
        ({"numberResults": 0}, "invalidNumberResults", "numberResults"),
        ({"numberResults": 21}, "invalidNumberResults", "numberResults"),
        ({"outputQuality": 19}, "invalidOutputQuality", "outputQuality"),
        ({"outputQuality": 100}, "invalidOutputQuality", "outputQuality"),
        ({"taskUUID": "not-a-uuid"}, "invalidTaskUUID", "taskUUID"),
        ({"model": "bfl:1@1", "steps": 28}, "unsupportedParameter", "steps"),
        (
            {"model": "bytedance:3@1", "steps": None, "CFGScale": 3.5},
            "unsupportedParameter",
            "CFGScale",
        ),
        (
            {"model": "bfl:2@2", "steps": None, "width": 896, "height": 1152},
            "unsupportedDimensions",
            "width",
        ),
    ],
)
async def test_an_invalid_task_gets_a_400_error_naming_the_parameter_and_task(
    raw, runware, fields, code, parameter
):
    sent = task(**fields)

    response = await raw.post("", json=[sent], headers=bearer(runware))

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {"code": code, "parameter": parameter} in [
        {"code": e["code"], "parameter": e["parameter"]} for e in errors
    ]
    assert all(e["taskUUID"] == sent["taskUUID"] for e in errors)
    assert runware.inferences == {}


async def test_a_fixed_pair_is_accepted_for_the_ultra_model(raw, runware):
    sent = task(model="bfl:2@2", steps=None, width=2048, height=2048)

    response = await raw.post("", json=[sent], headers=bearer(runware))

    assert response.status_code == 200


async def test_one_data_entry_per_image_each_served_at_its_url(raw, runware):
    sent = task(numberResults=2, includeCost=True, safety={"checkContent": True})

    response = await raw.post("", json=[sent], headers=bearer(runware))

    data = response.json()["data"]
    assert len(data) == 2
    assert {d["taskUUID"] for d in data} == {sent["taskUUID"]}
    assert all(d["cost"] == 0.0013 and d["NSFWContent"] is False for d in data)
    assert runware.inferences == {sent["taskUUID"]: 1}
    for entry in data:
        assert entry["imageURL"] == runware.image_url(entry["imageUUID"])
        image = await raw.get(entry["imageURL"])
        assert image.headers["content-type"] == "image/webp"
        assert Image.open(io.BytesIO(image.content)).size == (512, 512)


async def test_a_webp_is_served_in_the_simple_lossy_format_at_the_asked_quality(raw, runware):
    low, high = task(outputQuality=20), task(outputQuality=99)

    sizes = []
    for sent in (low, high):
        response = await raw.post("", json=[sent], headers=bearer(runware))
        (entry,) = response.json()["data"]
        image = (await raw.get(entry["imageURL"])).content
        assert image[8:16] == b"WEBPVP8 "
        sizes.append(len(image))

    assert sizes[0] < sizes[1]


async def test_cost_only_with_include_cost(raw, runware):
    response = await raw.post("", json=[task()], headers=bearer(runware))

    (entry,) = response.json()["data"]
    assert "cost" not in entry
    assert "NSFWContent" not in entry


async def test_base64_output_carries_the_image_inline(raw, runware):
    sent = task(outputType="base64Data", outputFormat="PNG")

    response = await raw.post("", json=[sent], headers=bearer(runware))

    (entry,) = response.json()["data"]
    image = Image.open(io.BytesIO(base64.b64decode(entry["imageBase64Data"])))
    assert (image.format, image.size) == ("PNG", (512, 512))


async def test_an_unknown_image_is_a_404(raw, runware):
    response = await raw.get(runware.image_url(str(uuid.uuid4())))

    assert response.status_code == 404


async def test_latency_is_per_image_and_does_not_serialise_requests(raw, runware):
    runware.latency = 0.2
    started = time.monotonic()

    responses = await asyncio.gather(
        *(raw.post("", json=[task()], headers=bearer(runware)) for _ in range(5))
    )

    elapsed = time.monotonic() - started
    assert all(r.status_code == 200 for r in responses)
    assert 0.2 <= elapsed < 0.6
    arrivals = [r.at for r in runware.inference_requests]
    assert max(arrivals) - min(arrivals) < 0.15


async def test_an_oversized_body_streams_past_the_cap(raw, runware):
    runware.script_images(image_oversized())

    async with raw.stream("GET", runware.image_url("x")) as response:
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)

    assert size == OVERSIZED
