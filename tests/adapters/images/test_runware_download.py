"""The image download (PROVIDERS §2.8, PRODUCT §7.4): allowed hosts only, retries, cap, checks."""

from __future__ import annotations

import pytest

from mynth_core.errors import ImageDownloadError
from providers.clerk import closed_port
from providers.runware import (
    ImageReply,
    foreign_image,
    image_garbage,
    image_missing,
    image_not_image,
    image_oversized,
    image_redirect,
    image_slow,
    image_truncated,
    image_unavailable,
)


async def test_an_image_url_on_another_host_is_never_fetched(generator, runware, a_request):
    runware.script(foreign_image())

    with pytest.raises(ImageDownloadError, match="not allowed"):
        await generator.generate(a_request())

    assert len(runware.requests) == 1  # the inference only


async def test_the_default_hosts_allow_only_runware_s_image_host(
    make_generator, runware, a_request
):
    generator = make_generator(download_hosts=frozenset({"im.runware.ai"}))

    with pytest.raises(ImageDownloadError):
        await generator.generate(a_request())

    assert runware.image_requests == ()


@pytest.mark.parametrize(
    "url",
    [
        "https://im.runware.ai.evil.example/image/x.webp",
        "https://evil.example/im.runware.ai/x.webp",
        "https://im.runware.ai@evil.example/x.webp",
        "https://user:pw@im.runware.ai/x.webp",
        "https://im.runware.ai:8443/x.webp",
        "ftp://im.runware.ai/x.webp",
        "file:///etc/passwd",
        "//im.runware.ai/x.webp",
        "/image/x.webp",
        "http://[::1",
        "",
    ],
)
def test_the_allow_list_is_matched_exactly(make_generator, url):
    generator = make_generator(download_hosts=frozenset({"im.runware.ai"}))

    with pytest.raises(ImageDownloadError):
        generator._allowed(url)


@pytest.mark.parametrize(
    "url", ["https://im.runware.ai/image/ws/2/ii/x.webp", "https://IM.RUNWARE.AI/x.webp"]
)
def test_runware_s_image_urls_are_allowed(make_generator, url):
    generator = make_generator(download_hosts=frozenset({"im.runware.ai"}))

    assert generator._allowed(url).host == "im.runware.ai"


async def test_a_missing_image_fails_at_once(generator, runware, a_request, download_sleeps):
    runware.script_images(image_missing())

    with pytest.raises(ImageDownloadError, match="404"):
        await generator.generate(a_request())

    assert len(runware.image_requests) == 1
    assert download_sleeps.waits == []


async def test_server_errors_are_retried_three_times_with_jittered_backoff(
    generator, runware, a_request, download_sleeps
):
    runware.script_images(image_unavailable(), image_unavailable(502), image_unavailable())
    request = a_request()

    with pytest.raises(ImageDownloadError):
        await generator.generate(request)

    assert len(runware.image_requests) == 3
    first, second = download_sleeps.waits
    assert 0.4 <= first <= 0.6
    assert 0.8 <= second <= 1.2
    assert runware.inferences == {request.task_uuid: 1}  # a download never re-runs the task


async def test_a_truncated_body_is_fetched_again_without_rebilling(generator, runware, a_request):
    runware.script_images(image_truncated(), image_unavailable(429))
    request = a_request()

    image = await generator.generate(request)

    assert image.width == 512
    assert len(runware.image_requests) == 3
    assert len(runware.inference_requests) == 1
    assert runware.inferences == {request.task_uuid: 1}


async def test_a_stalled_download_is_cut_per_attempt_and_retried(
    make_generator, runware, a_request
):
    generator = make_generator(download_attempt_timeout=0.1)
    runware.script_images(image_slow(1.0))

    image = await generator.generate(a_request())

    assert image.height == 512
    assert len(runware.image_requests) == 2


async def test_a_body_that_is_not_an_image_fails_at_once(generator, runware, a_request):
    runware.script_images(image_not_image())

    with pytest.raises(ImageDownloadError, match="not an image"):
        await generator.generate(a_request())

    assert len(runware.image_requests) == 1


async def test_bytes_no_decoder_reads_fail_at_once(generator, runware, a_request):
    runware.script_images(image_garbage())

    with pytest.raises(ImageDownloadError, match="decoded"):
        await generator.generate(a_request())

    assert len(runware.image_requests) == 1


@pytest.mark.parametrize("declare_length", [False, True])
async def test_a_body_over_the_cap_is_refused(make_generator, runware, a_request, declare_length):
    generator = make_generator(download_limit=2 * 1024 * 1024)
    runware.script_images(image_oversized(3 * 1024 * 1024, declare_length=declare_length))

    with pytest.raises(ImageDownloadError, match="size cap"):
        await generator.generate(a_request())

    assert len(runware.image_requests) == 1


async def test_the_real_cap_is_twenty_mebibytes(generator, runware, a_request):
    runware.script_images(image_oversized())

    with pytest.raises(ImageDownloadError, match="size cap"):
        await generator.generate(a_request())


async def test_a_redirect_is_not_followed(generator, runware, a_request):
    runware.script_images(image_redirect("http://169.254.169.254/latest/meta-data/"))

    with pytest.raises(ImageDownloadError, match="302"):
        await generator.generate(a_request())

    assert len(runware.image_requests) == 1


async def test_an_image_of_another_size_is_refused(generator, runware, a_request, make_picture):
    runware.script_images(ImageReply(body=make_picture((64, 64)), content_type="image/png"))

    with pytest.raises(ImageDownloadError, match="64x64"):
        await generator.generate(a_request())


async def test_a_png_of_the_right_size_is_accepted_and_stored_as_webp(
    generator, runware, a_request, make_picture, open_image
):
    runware.script_images(ImageReply(body=make_picture((512, 512)), content_type="image/png"))

    image = await generator.generate(a_request())

    assert open_image(image.webp).format == "WEBP"


async def test_a_refused_connection_ends_as_a_download_error(
    make_generator, runware, a_request, download_sleeps
):
    port = closed_port()
    generator = make_generator(download_hosts=frozenset({f"127.0.0.1:{port}"}))
    runware.script(foreign_image(f"http://127.0.0.1:{port}/image/x.webp"))

    with pytest.raises(ImageDownloadError):
        await generator.generate(a_request())

    assert len(download_sleeps.waits) == 2
