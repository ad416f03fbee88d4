"""LocalBlobStore: files under the data dir, atomic writes, keys that cannot escape."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mynth_adapters.blobs import InvalidBlobKeyError, LocalBlobStore
from mynth_core.ids import ImageId
from mynth_core.images.ports import image_key

WEBP = "image/webp"


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore.in_data_dir(tmp_path)


async def test_a_blob_reads_back_from_a_file_under_the_data_dirs_blobs(store, tmp_path) -> None:
    key = image_key(ImageId("img_AbC-d_9"))

    await store.put(key, b"RIFF\x00webp", content_type=WEBP)

    assert await store.get(key) == b"RIFF\x00webp"
    assert (tmp_path / "blobs" / "images" / "img_AbC-d_9.webp").read_bytes() == b"RIFF\x00webp"


async def test_a_missing_blob_is_none_and_deleting_it_is_harmless(store) -> None:
    assert await store.get("images/img_none.webp") is None
    await store.delete("images/img_none.webp")


async def test_a_blob_is_replaced_whole_and_deleted(store, tmp_path) -> None:
    key = image_key(ImageId("img_1"), thumbnail=True)
    await store.put(key, b"old" * 1000, content_type=WEBP)

    await store.put(key, b"new", content_type=WEBP)
    assert await store.get(key) == b"new"

    await store.delete(key)
    assert await store.get(key) is None
    assert list((tmp_path / "blobs" / "images").iterdir()) == []  # no temporary files left


async def test_concurrent_writers_of_one_key_leave_one_whole_blob(store) -> None:
    versions = [bytes([n]) * 200_000 for n in range(8)]

    await asyncio.gather(*(store.put("images/img_x.webp", v, content_type=WEBP) for v in versions))

    assert await store.get("images/img_x.webp") in versions


async def test_a_failed_write_leaves_the_old_blob_and_no_temporary_file(
    store, tmp_path, monkeypatch
) -> None:
    await store.put("images/img_1.webp", b"old", content_type=WEBP)

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("mynth_adapters.blobs.os.fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        await store.put("images/img_1.webp", b"new", content_type=WEBP)
    monkeypatch.undo()

    assert await store.get("images/img_1.webp") == b"old"
    assert [p.name for p in (tmp_path / "blobs" / "images").iterdir()] == ["img_1.webp"]


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "images/../../outside",
        "images/./img.webp",
        "images//img.webp",
        "images/",
        ".hidden",
        "images/.tmp-123",
        "images\\img.webp",
        "images/img\x00.webp",
        "images/img .webp",
        "C:/img.webp",
        "a" * 513,
    ],
)
async def test_a_key_that_could_leave_the_store_is_refused(store, tmp_path, key) -> None:
    with pytest.raises(InvalidBlobKeyError):
        await store.put(key, b"x", content_type=WEBP)
    with pytest.raises(InvalidBlobKeyError):
        await store.get(key)
    with pytest.raises(InvalidBlobKeyError):
        await store.delete(key)
    assert not (tmp_path / "outside").exists()


async def test_a_symlink_inside_the_store_cannot_lead_out_of_it(store, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    store.root.mkdir(parents=True)
    (store.root / "images").symlink_to(outside, target_is_directory=True)

    with pytest.raises(InvalidBlobKeyError):
        await store.get("images/secret")
    with pytest.raises(InvalidBlobKeyError):
        await store.put("images/new/blob", b"x", content_type=WEBP)
    assert not (outside / "new").exists()
