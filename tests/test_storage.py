"""LocalStorage through open_storage("file://..."): verified puts, ranged reads, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archive.storage import LocalStorage, StorageError, StoredObject, open_storage
from tests.support.warc import sha256

DATA = bytes(range(256)) * 40  # 10 240 bytes, every offset distinguishable


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def storage(root: Path) -> LocalStorage:
    store = open_storage("file://" + str(root))
    assert isinstance(store, LocalStorage)
    return store


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "upload.warc.gz"
    path.write_bytes(DATA)
    return path


def files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_open_storage_creates_the_root(storage: LocalStorage, root: Path) -> None:
    assert root.is_dir()
    assert storage.root == root
    assert storage.url == "file://" + str(root)


def test_put_file_stores_a_verified_copy(storage: LocalStorage, root: Path,
                                         source: Path) -> None:
    stored = storage.put_file("warcs/a.warc.gz", source, sha256=sha256(DATA))
    assert stored == StoredObject(key="warcs/a.warc.gz", size=len(DATA), sha256=sha256(DATA))
    assert (root / "warcs" / "a.warc.gz").read_bytes() == DATA
    assert files_under(root) == ["warcs/a.warc.gz"]  # no temp file left behind
    assert source.read_bytes() == DATA  # the source is copied, not moved


def test_put_file_with_wrong_checksum_stores_nothing(storage: LocalStorage, root: Path,
                                                     source: Path) -> None:
    wrong = sha256(b"something else")
    with pytest.raises(StorageError) as excinfo:
        storage.put_file("warcs/bad.warc.gz", source, sha256=wrong)
    message = str(excinfo.value)
    assert "warcs/bad.warc.gz" in message
    assert wrong in message
    assert sha256(DATA) in message
    assert files_under(root) == []  # neither the object nor a temp file
    assert storage.stat("warcs/bad.warc.gz") is None
    assert list(storage.list()) == []


def test_put_file_with_wrong_checksum_keeps_existing_object(storage: LocalStorage,
                                                            root: Path, source: Path,
                                                            tmp_path: Path) -> None:
    storage.put_file("warcs/a.warc.gz", source, sha256=sha256(DATA))
    other = tmp_path / "other"
    other.write_bytes(b"replacement")
    with pytest.raises(StorageError, match="checksum mismatch"):
        storage.put_file("warcs/a.warc.gz", other, sha256=sha256(b"not it"))
    assert (root / "warcs" / "a.warc.gz").read_bytes() == DATA
    assert files_under(root) == ["warcs/a.warc.gz"]


def test_put_file_overwrites_atomically(storage: LocalStorage, root: Path, source: Path,
                                        tmp_path: Path) -> None:
    storage.put_file("k", source, sha256=sha256(DATA))
    newer = tmp_path / "newer"
    newer.write_bytes(b"v2")
    stored = storage.put_file("k", newer, sha256=sha256(b"v2"))
    assert stored.size == 2
    assert (root / "k").read_bytes() == b"v2"
    assert files_under(root) == ["k"]


def test_read_range_returns_exact_bytes(storage: LocalStorage, source: Path) -> None:
    storage.put_file("warcs/a.warc.gz", source, sha256=sha256(DATA))
    assert storage.read_range("warcs/a.warc.gz", 0, 10) == DATA[:10]
    assert storage.read_range("warcs/a.warc.gz", 300, 1000) == DATA[300:1300]
    assert storage.read_range("warcs/a.warc.gz", len(DATA) - 7, 7) == DATA[-7:]
    assert storage.read_range("warcs/a.warc.gz", 0, len(DATA)) == DATA


def test_short_read_raises_naming_the_key(storage: LocalStorage, source: Path) -> None:
    storage.put_file("warcs/a.warc.gz", source, sha256=sha256(DATA))
    with pytest.raises(StorageError) as excinfo:
        storage.read_range("warcs/a.warc.gz", len(DATA) - 5, 10)
    message = str(excinfo.value)
    assert "warcs/a.warc.gz" in message
    assert "wanted 10 bytes" in message
    assert "got 5" in message


def test_missing_key_raises_naming_the_key(storage: LocalStorage) -> None:
    with pytest.raises(StorageError, match=r"warcs/missing\.warc\.gz.*not found"):
        storage.read_range("warcs/missing.warc.gz", 0, 10)
    with pytest.raises(StorageError, match=r"warcs/missing\.warc\.gz.*not found"):
        storage.open("warcs/missing.warc.gz")


@pytest.mark.parametrize("key", ["../x", "warcs/../../x", "/etc/passwd"])
def test_keys_escaping_the_root_are_refused(storage: LocalStorage, root: Path,
                                            source: Path, key: str) -> None:
    outside = root.parent / "x"
    with pytest.raises(StorageError, match="escapes the storage root"):
        storage.put_file(key, source, sha256=sha256(DATA))
    with pytest.raises(StorageError, match="escapes the storage root"):
        storage.read_range(key, 0, 1)
    with pytest.raises(StorageError, match="escapes the storage root"):
        storage.stat(key)
    with pytest.raises(StorageError, match="escapes the storage root"):
        storage.delete(key)
    assert not outside.exists()


def test_sibling_directory_with_common_prefix_is_outside(storage: LocalStorage, root: Path,
                                                         source: Path) -> None:
    with pytest.raises(StorageError, match="escapes"):
        storage.put_file(f"../{root.name}-evil/x", source, sha256=sha256(DATA))
    assert not (root.parent / f"{root.name}-evil").exists()


def test_open_streams_the_object(storage: LocalStorage, source: Path) -> None:
    storage.put_file("a", source, sha256=sha256(DATA))
    with storage.open("a") as f:
        assert f.read() == DATA


def test_stat_list_delete(storage: LocalStorage, tmp_path: Path) -> None:
    contents = {"warcs/b.warc.gz": b"bb", "warcs/a.warc.gz": b"a", "indexes/a.cdxj": b"ccc"}
    for key, data in contents.items():
        path = tmp_path / key.replace("/", "_")
        path.write_bytes(data)
        storage.put_file(key, path, sha256=sha256(data))

    assert storage.stat("warcs/b.warc.gz") == StoredObject(key="warcs/b.warc.gz", size=2)
    assert storage.stat("warcs/none") is None
    assert storage.stat("warcs") is None  # a directory is not an object

    assert list(storage.list()) == [
        StoredObject("indexes/a.cdxj", 3),
        StoredObject("warcs/a.warc.gz", 1),
        StoredObject("warcs/b.warc.gz", 2),
    ]
    assert [o.key for o in storage.list("warcs/")] == ["warcs/a.warc.gz", "warcs/b.warc.gz"]
    assert list(storage.list("nothing/")) == []

    storage.delete("warcs/a.warc.gz")
    assert storage.stat("warcs/a.warc.gz") is None
    assert [o.key for o in storage.list("warcs/")] == ["warcs/b.warc.gz"]
    storage.delete("warcs/a.warc.gz")  # deleting a missing key is not an error
    with pytest.raises(StorageError, match="not found"):
        storage.read_range("warcs/a.warc.gz", 0, 1)


def test_list_skips_hidden_temp_files(storage: LocalStorage, root: Path) -> None:
    (root / "warcs").mkdir()
    (root / "warcs" / f".a.warc.gz.{os.getpid()}.tmp").write_bytes(b"partial")
    (root / "warcs" / "a.warc.gz").write_bytes(b"done")
    assert [o.key for o in storage.list()] == ["warcs/a.warc.gz"]


def test_unknown_scheme_lists_supported_schemes() -> None:
    with pytest.raises(StorageError) as excinfo:
        open_storage("gopher://x")
    message = str(excinfo.value)
    assert "'gopher://x'" in message
    assert "'gopher'" in message
    assert "file://" in message


def test_file_url_with_a_host_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="file:///absolute/path"):
        open_storage(f"file://server{tmp_path}")


def test_percent_encoded_file_url(tmp_path: Path) -> None:
    root = tmp_path / "with space"
    storage = open_storage(root.as_uri())
    assert isinstance(storage, LocalStorage)
    assert storage.root == root
    assert root.is_dir()


def test_keys_map_below_the_root_even_when_it_is_the_filesystem_root() -> None:
    top = LocalStorage("file:///")
    for key in ("newsarchive-test-missing/a.warc.gz", "warcs/../newsarchive-test-missing/b"):
        with pytest.raises(StorageError, match="not found"):  # looked up, not refused
            top.read_range(key, 0, 1)
