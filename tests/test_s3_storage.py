"""S3 storage over real HTTP: moto in server mode, a separate process (tests/conftest.py).

Every test talks to ``moto_server`` through boto3 exactly as a MinIO or AWS deployment
would; nothing is patched in-process. What went over the wire is observed with botocore
``before-send`` event hooks on the client.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive.catalog import Catalog
from archive.config import ArchiveSettings
from archive.models import MultipartUpload, WarcFile
from archive.snapshot import closest_capture, load_snapshot
from archive.uploads import CatalogMultipartState
from tests.support.cli import Archive
from tests.support.s3 import S3_TEST_BUCKET, MotoServer, RequestLog
from tests.support.warc import sha256

BUCKET = S3_TEST_BUCKET
PREFIX = "news/archive"
STORAGE_URL = f"s3://{BUCKET}/{PREFIX}"
ARTICLE = "/world/2026/11/03/harbour-bridge-reopens.html"
MiB = 1024 * 1024


def s3_archive(path: Path, server: MotoServer, **env: str) -> Archive:
    return Archive(path, env={"NEWSARCHIVE_STORAGE_URL": STORAGE_URL, **server.env, **env})


def bucket_objects(server: MotoServer, prefix: str = "") -> dict[str, bytes]:
    client = server.client()
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                                  Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
    return found


def object_metadata(server: MotoServer, key: str) -> dict[str, str]:
    return server.client().head_object(Bucket=BUCKET, Key=key)["Metadata"]


def warc_rows(archive: Archive) -> dict[str, WarcFile]:
    with archive.catalog().session() as session:
        return {w.filename: w for w in session.scalars(select(WarcFile))}


def spool_files(archive: Archive) -> list[str]:
    spool = archive.config.spool_dir
    return sorted(p.name for p in spool.iterdir()) if spool.is_dir() else []


# -- 1. a crawl into S3 ----------------------------------------------------------------------


@pytest.mark.slow
def test_crawl_to_s3_is_verified_and_read_back_with_one_ranged_get(
        tmp_path: Path, s3_server: MotoServer, demo_site: Any) -> None:
    archive = s3_archive(tmp_path / "data", s3_server)
    summary = archive.crawl(demo_site.url + "/", "--depth", "1", "--no-extract")
    assert summary["status"] == "succeeded" and summary["pages"] >= 10
    names = summary["warc_files"]
    assert names

    verify = archive.cli("storage", "verify", "--json").json()
    assert verify["checked"] == len(names) == verify["ok"]
    assert spool_files(archive) == [], "the spool must be empty once everything is stored"

    rows = warc_rows(archive)
    objects = bucket_objects(s3_server)
    assert set(objects) == ({f"{PREFIX}/warcs/{n}" for n in names}
                            | {f"{PREFIX}/indexes/{n}.cdxj" for n in names})
    for name in names:
        row = rows[name]
        key = f"{PREFIX}/warcs/{name}"
        assert row.state == "uploaded" and row.storage_key == f"warcs/{name}"
        assert len(objects[key]) == row.size
        assert sha256(objects[key]) == row.sha256
        assert object_metadata(s3_server, key) == {"sha256": row.sha256}
        index_key = f"{PREFIX}/indexes/{name}.cdxj"
        assert object_metadata(s3_server, index_key) == {"sha256": sha256(objects[index_key])}
        assert name.encode() in objects[index_key]  # CDXJ lines name their WARC

    raw = archive.cli("snapshot", demo_site.url + ARTICLE, "--raw").stdout
    assert raw == demo_site.served_bytes(ARTICLE)

    # In-process: load_snapshot with a client whose every request is recorded.
    storage = s3_server.storage(STORAGE_URL)
    sent = RequestLog(storage.client)
    with archive.catalog().session() as session:
        capture = closest_capture(session, demo_site.url + ARTICLE)
        offset, length = capture.offset, capture.length
        assert offset > 0 and length < rows[capture.warc_file.filename].size
        snap = load_snapshot(capture, storage, archive.config.spool_dir)
    assert snap.body == demo_site.served_bytes(ARTICLE)
    assert sent.ops() == ["GetObject"], "one ranged GET and nothing else"
    _, headers, _ = sent.requests[0]
    assert headers["Range"] == f"bytes={offset}-{offset + length - 1}"


# -- 2. storage down during a crawl: nothing is lost -----------------------------------------


@pytest.mark.slow
def test_crawl_with_storage_down_keeps_warcs_in_the_spool_until_upload(
        tmp_path: Path, s3_server: MotoServer, demo_site: Any) -> None:
    archive = s3_archive(tmp_path / "data", s3_server)
    s3_server.stop()
    crawl = archive.cli("crawl", "--json", demo_site.url + ARTICLE, "--depth", "0",
                        "--no-extract")
    summary = crawl.json()
    assert summary["status"] == "succeeded"
    names = summary["warc_files"]
    assert len(names) == 1
    assert f"upload of {names[0]} failed, kept in the spool" in crawl.stderr

    status = archive.cli("storage", "status", "--json").json()
    assert status["pending_uploads"] == names
    assert status["open_files"] == 0
    assert spool_files(archive) == sorted([names[0], names[0] + ".cdxj"])
    row = warc_rows(archive)[names[0]]
    assert row.state == "closed"
    assert row.sha256 == sha256((archive.config.spool_dir / names[0]).read_bytes())
    raw = archive.cli("snapshot", demo_site.url + ARTICLE, "--raw").stdout
    assert raw == demo_site.served_bytes(ARTICLE), "served from the spool meanwhile"

    s3_server.start()  # same port, empty state
    s3_server.create_bucket(BUCKET)
    upload = archive.cli("storage", "upload")
    assert "stored 1" in upload.text and "failed 0" in upload.text

    assert spool_files(archive) == []
    assert archive.cli("storage", "status", "--json").json()["pending_uploads"] == []
    verify = archive.cli("storage", "verify", "--json").json()
    assert verify["checked"] == verify["ok"] == 1
    row = warc_rows(archive)[names[0]]
    assert row.state == "uploaded"
    stored = bucket_objects(s3_server, f"{PREFIX}/warcs/")
    assert sha256(stored[f"{PREFIX}/warcs/{names[0]}"]) == row.sha256
    raw = archive.cli("snapshot", demo_site.url + ARTICLE, "--raw").stdout
    assert raw == demo_site.served_bytes(ARTICLE), "now served from S3"


# -- 4. resumable multipart upload -----------------------------------------------------------


class Interrupted(Exception):
    """Stands for a crash in the middle of an upload."""


def interrupt_after_parts(client: Any, parts: int) -> None:
    """Raise before UploadPart number ``parts + 1`` goes out: ``parts`` parts were sent."""
    sent = [0]

    def hook(**_: Any) -> None:
        sent[0] += 1
        if sent[0] > parts:
            raise Interrupted(f"interrupted after {parts} parts")

    client.meta.events.register("before-send.s3.UploadPart", hook)


def uploads_in_progress(server: MotoServer, prefix: str = "") -> dict[str, str]:
    """UploadId → key of every multipart upload moto holds."""
    listed = server.client().list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
    return {u["UploadId"]: u["Key"] for u in listed.get("Uploads", [])}


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.warc.gz"
    path.write_bytes(random.Random(17).randbytes(17 * MiB))  # 4 parts of 5 MiB: 5+5+5+2
    return path


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(ArchiveSettings(data_dir=tmp_path).database_url)


def multipart_rows(catalog: Catalog) -> dict[str, MultipartUpload]:
    with catalog.session() as session:
        return {row.key: row for row in session.scalars(select(MultipartUpload))}


def test_multipart_upload_resumes_with_only_the_missing_parts(
        s3_server: MotoServer, big_file: Path, catalog: Catalog, tmp_path: Path) -> None:
    key = "warcs/big.warc.gz"
    data = big_file.read_bytes()
    digest = sha256(data)
    first = s3_server.storage(STORAGE_URL, part_size=5 * MiB, concurrency=1,
                              state=CatalogMultipartState(catalog))
    interrupt_after_parts(first.client, 2)
    with pytest.raises(Interrupted):
        first.put_file(key, big_file, sha256=digest)

    rows = multipart_rows(catalog)
    assert set(rows) == {key}
    upload_id = rows[key].upload_id
    assert sorted(rows[key].parts) == ["1", "2"] and rows[key].sha256 == digest
    listed = s3_server.client().list_parts(Bucket=BUCKET, Key=f"{PREFIX}/{key}",
                                           UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, 5 * MiB), (2, 5 * MiB)]
    assert first.stat(key) is None, "nothing is visible before the upload completes"

    # A new process: new catalog connection, new client, same state.
    resumed_catalog = Catalog(catalog.url)
    second = s3_server.storage(STORAGE_URL, part_size=5 * MiB, concurrency=1,
                               state=CatalogMultipartState(resumed_catalog))
    sent = RequestLog(second.client)
    stored = second.put_file(key, big_file, sha256=digest)

    assert sent.ops("CreateMultipartUpload") == []
    assert sent.ops("ListParts") == ["ListParts"]
    assert sent.part_numbers() == [3, 4], "only the parts that were not stored"
    assert sent.ops("CompleteMultipartUpload") == ["CompleteMultipartUpload"]
    assert all(query["uploadId"] == [upload_id] for op, _, query in sent.requests
               if op in ("UploadPart", "CompleteMultipartUpload"))
    assert stored.size == len(data) and stored.sha256 == digest
    assert object_metadata(s3_server, f"{PREFIX}/{key}") == {"sha256": digest}
    assert sha256(bucket_objects(s3_server, f"{PREFIX}/{key}")[f"{PREFIX}/{key}"]) == digest
    assert multipart_rows(resumed_catalog) == {}
    assert uploads_in_progress(s3_server) == {}


def test_abort_abandoned_aborts_only_uploads_nobody_refers_to(
        s3_server: MotoServer, big_file: Path, catalog: Catalog) -> None:
    key = "warcs/big.warc.gz"
    storage = s3_server.storage(STORAGE_URL, part_size=5 * MiB, concurrency=1,
                                state=CatalogMultipartState(catalog))
    interrupt_after_parts(storage.client, 1)
    with pytest.raises(Interrupted):
        storage.put_file(key, big_file, sha256=sha256(big_file.read_bytes()))
    tracked = multipart_rows(catalog)[key].upload_id
    client = s3_server.client()
    stale = client.create_multipart_upload(Bucket=BUCKET, Key=f"{PREFIX}/warcs/stale.warc.gz")
    # Another archive sharing the bucket, under a prefix that merely starts the same way.
    neighbour = client.create_multipart_upload(Bucket=BUCKET,
                                               Key=f"{PREFIX}-other/warcs/x.warc.gz")

    fresh = s3_server.storage(STORAGE_URL, state=CatalogMultipartState(Catalog(catalog.url)))
    sent = RequestLog(fresh.client)
    assert fresh.abort_abandoned() == 1
    assert sent.ops("AbortMultipartUpload") == ["AbortMultipartUpload"]
    assert set(uploads_in_progress(s3_server)) == {tracked, neighbour["UploadId"]}
    assert stale["UploadId"] not in uploads_in_progress(s3_server)

    # The tracked upload is still resumable after the clean-up.
    resumed = s3_server.storage(STORAGE_URL, part_size=5 * MiB, concurrency=1,
                                state=CatalogMultipartState(Catalog(catalog.url)))
    sent = RequestLog(resumed.client)
    resumed.put_file(key, big_file, sha256=sha256(big_file.read_bytes()))
    assert sent.part_numbers() == [2, 3, 4]
    assert set(uploads_in_progress(s3_server)) == {neighbour["UploadId"]}


def test_changed_file_restarts_the_upload_instead_of_reusing_parts(
        s3_server: MotoServer, big_file: Path, catalog: Catalog) -> None:
    key = "warcs/big.warc.gz"
    first = s3_server.storage(STORAGE_URL, part_size=5 * MiB, concurrency=1,
                              state=CatalogMultipartState(catalog))
    interrupt_after_parts(first.client, 2)
    with pytest.raises(Interrupted):
        first.put_file(key, big_file, sha256=sha256(big_file.read_bytes()))
    old_upload = multipart_rows(catalog)[key].upload_id

    # Same size, same first parts, one byte different in the last part.
    changed = bytearray(big_file.read_bytes())
    changed[-1] ^= 0xFF
    big_file.write_bytes(changed)
    digest = sha256(bytes(changed))

    second = s3_server.storage(STORAGE_URL, part_size=5 * MiB, concurrency=1,
                               state=CatalogMultipartState(Catalog(catalog.url)))
    sent = RequestLog(second.client)
    second.put_file(key, big_file, sha256=digest)
    assert sent.ops("AbortMultipartUpload") == ["AbortMultipartUpload"]
    assert sent.requests[sent.ops().index("AbortMultipartUpload")][2]["uploadId"] \
        == [old_upload]
    assert sent.ops("CreateMultipartUpload") == ["CreateMultipartUpload"]
    assert sent.part_numbers() == [1, 2, 3, 4], "no part of the old upload is reused"
    assert sha256(bucket_objects(s3_server, f"{PREFIX}/{key}")[f"{PREFIX}/{key}"]) == digest
    assert object_metadata(s3_server, f"{PREFIX}/{key}") == {"sha256": digest}
    assert multipart_rows(catalog) == {}
    assert uploads_in_progress(s3_server) == {}


# -- 5. verify ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_verify_reports_corrupt_missing_and_unknown_objects_and_repair_deletes_nothing(
        tmp_path: Path, s3_server: MotoServer, demo_site: Any) -> None:
    archive = s3_archive(tmp_path / "data", s3_server, NEWSARCHIVE_WARC_MAX_SIZE="20000")
    names = archive.crawl(demo_site.url + "/", "--depth", "1", "--no-extract")["warc_files"]
    assert len(names) >= 3
    corrupt, missing, *intact = names
    client = s3_server.client()
    corrupt_key = f"{PREFIX}/warcs/{corrupt}"
    original = bucket_objects(s3_server, corrupt_key)[corrupt_key]
    flipped = bytes(b ^ 0x55 for b in original[:64]) + original[64:]  # same length
    client.put_object(Bucket=BUCKET, Key=corrupt_key, Body=flipped,
                      Metadata=object_metadata(s3_server, corrupt_key))  # metadata kept
    client.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/warcs/{missing}")
    stray = "warcs/newsarchive-20260101000000000-00001-1~elsewhere.warc.gz"
    client.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{stray}", Body=b"not catalogued")
    client.put_object(Bucket=BUCKET, Key=f"{PREFIX}-other/{stray}", Body=b"not ours")

    text = archive.cli("storage", "verify", expect=1).text
    assert f"checked {len(names)} WARC(s): {len(intact)} ok, 3 problem(s)" in text
    assert f"sha256 mismatch: {corrupt}" in text
    assert f"missing: {missing}" in text
    assert f"unknown objects: {stray}" in text

    before = bucket_objects(s3_server)
    report = archive.cli("storage", "verify", "--repair", "--json", expect=1).json()
    assert report["checked"] == len(names) and report["ok"] == len(intact)
    assert report["sha256_mismatch"] == [corrupt]
    assert report["missing"] == [missing]
    assert report["size_mismatch"] == []
    assert report["unknown_objects"] == [stray]
    assert report["repaired"] == [], "nothing in the spool to repair from"
    assert bucket_objects(s3_server) == before, "--repair never deletes or rewrites objects"
    states = {name: row.state for name, row in warc_rows(archive).items()}
    assert states == {corrupt: "damaged", missing: "damaged",
                      **{name: "uploaded" for name in intact}}

    # With a good copy back in the spool (e.g. from a backup) --repair stores it again;
    # damaged rows are still checked, and the missing one still is missing.
    (archive.config.spool_dir / corrupt).write_bytes(original)
    report = archive.cli("storage", "verify", "--repair", "--json", expect=1).json()
    assert report["sha256_mismatch"] == [corrupt] and report["repaired"] == [corrupt]
    assert report["missing"] == [missing]
    assert bucket_objects(s3_server, corrupt_key)[corrupt_key] == original
    assert object_metadata(s3_server, corrupt_key) == {"sha256": sha256(original)}
    assert warc_rows(archive)[corrupt].state == "uploaded"
    assert warc_rows(archive)[missing].state == "damaged"
    assert spool_files(archive) == [], "the spool copy goes once it is stored again"


def test_parts_upload_concurrently_and_the_object_is_byte_identical(
        s3_server: MotoServer, big_file: Path, catalog: Catalog) -> None:
    data = big_file.read_bytes()
    storage = s3_server.storage(STORAGE_URL, part_size=5 * MiB, concurrency=4,
                                state=CatalogMultipartState(catalog))
    stored = storage.put_file("warcs/concurrent.warc.gz", big_file, sha256=sha256(data))
    assert stored.size == len(data) and stored.sha256 == sha256(data)
    assert bucket_objects(s3_server, f"{PREFIX}/warcs/concurrent")[
        f"{PREFIX}/warcs/concurrent.warc.gz"] == data
    assert multipart_rows(catalog) == {}
