"""Hostile and damaged CIFAR-10 files and downloads (issue 19): every one is refused quickly with a
CIFAR10DataError (a CourseError) that says what to do; nothing unchecked is loaded, nothing is left in Keras's
cache, and nothing is written through a link.

The archives are built here, small on disk: tar headers and deflate blocks written by hand, so an "8 GiB" member
takes 8 MB and a millisecond to write.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import shutil
import socket
import struct
import tarfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course_utils import data
from course_utils.validation import CourseError

META_DICT = {b"num_cases_per_batch": 10000, b"label_names": [n.encode() for n in data.CLASS_NAMES],
             b"num_vis": 3072}
META_BYTES = pickle.dumps(META_DICT, protocol=4)


# ---------------------------------------------------------------- building archives by hand

def _deflate(raw: bytes, finish: bool = False) -> bytes:
    """``raw`` as deflate blocks from a fresh compressor: no reference to earlier bytes, so blocks made this way
    can be concatenated (and repeated) into one valid stream."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    return co.compress(raw) + co.flush(zlib.Z_FINISH if finish else zlib.Z_FULL_FLUSH)


ZEROS_MIB = _deflate(b"\0" * 2**20)        # about 1 kB that decompresses to 1 MiB of zeros


def _header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    return info.tobuf(format=tarfile.GNU_FORMAT)


def _member(name: str, payload: bytes) -> bytes:
    return _header(name, len(payload)) + payload + b"\0" * (-len(payload) % 512)


END = b"\0" * 1024


def _gzip(path: Path, parts: list) -> Path:
    """A gzip file of ``parts``: bytes, or an int n for n MiB of zeros (repeated blocks: the CRC is then left 0,
    as these archives are refused long before their end)."""
    crc, total, exact = 0, 0, True
    with open(path, "wb") as fh:
        fh.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
        for part in parts:
            if isinstance(part, bytes):
                fh.write(_deflate(part))
                crc, total = zlib.crc32(part, crc), total + len(part)
            else:
                fh.write(ZEROS_MIB * part)
                exact, total = False, total + part * 2**20
        fh.write(_deflate(b"", finish=True))
        fh.write(struct.pack("<II", crc if exact else 0, total & 0xFFFFFFFF))
    return path


def _meta_archive(path: Path, filler: bytes = b"") -> Path:
    """A small valid archive: the folder, batches.meta and (optionally) a readme.html after it."""
    members = _header(data.FOLDER, 0, tarfile.DIRTYPE) + _member(f"{data.FOLDER}/{data.META}", META_BYTES)
    if filler:
        members += _member(f"{data.FOLDER}/readme.html", filler)
    return _gzip(path, [members + END])


@pytest.fixture
def reads(monkeypatch):
    """Every _GzipReader made during the test, to see how much it decompressed before it stopped."""
    made = []

    class Spy(data._GzipReader):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(data.archive, "_GzipReader", Spy)
    return made


def _refused_quickly(call, match: str, seconds: float = 3.0) -> data.CIFAR10DataError:
    start = time.monotonic()
    with pytest.raises(data.CIFAR10DataError, match=match) as info:
        call()
    assert time.monotonic() - start < seconds, f"took {time.monotonic() - start:.1f} s"
    assert isinstance(info.value, CourseError) and isinstance(info.value, RuntimeError)
    return info.value


# ---------------------------------------------------------------- archives that would take minutes or gigabytes

def test_an_8_gib_member_before_test_batch_is_refused_from_its_header(tmp_path, reads):
    archive = _gzip(tmp_path / "bomb.tar.gz", [_header(f"{data.FOLDER}/huge.bin", 8 * 2**30), 8 * 1024,
                                               _member(f"{data.FOLDER}/test_batch", b"x" * 100) + END])
    assert archive.stat().st_size < 10 * 2**20                     # 8 MB on disk, 8 GiB inside
    err = _refused_quickly(lambda: data.load_raw_batch("test_batch", archive), r"huge\.bin is 8,589,934,592 bytes")
    assert "MAX_FILE_BYTES" in str(err) and "download CIFAR-10 again" in str(err)
    assert reads[0].decompressed <= 2**20                           # one read-ahead buffer, not 8 GiB
    _refused_quickly(lambda: data.load_cifar10(archive), "MAX_FILE_BYTES")


def test_twenty_thousand_empty_members_are_not_all_listed(tmp_path, reads):
    headers = b"".join(_header(f"{data.FOLDER}/e{i}", 0) for i in range(20_000))
    archive = _gzip(tmp_path / "many.tar.gz", [headers, _member(f"{data.FOLDER}/test_batch", b"x") + END])
    err = _refused_quickly(lambda: data.load_raw_batch("test_batch", archive), "more than 64 entries",
                           seconds=1.0)
    assert "MAX_MEMBERS" in str(err) and "official archive has 9" in str(err)
    assert reads[0].decompressed <= (data.MAX_MEMBERS + 1) * 512 + 2**20


def test_members_under_the_file_cap_that_add_up_to_gigabytes_are_refused(tmp_path, reads):
    parts = []
    for i in range(40):                                             # 40 x 60 MiB = 2.3 GiB of zeros
        parts += [_header(f"{data.FOLDER}/part{i}", 60 * 2**20), 60]
    archive = _gzip(tmp_path / "parts.tar.gz", parts + [END])
    err = _refused_quickly(lambda: data.load_raw_batch("test_batch", archive), "MAX_TAR_BYTES")
    assert "declares more than" in str(err)
    assert reads[0].decompressed <= data.MAX_TAR_BYTES


def test_zeros_after_the_end_of_the_tar_are_capped_when_the_stream_is_read_to_its_end(tmp_path, reads):
    members = _header(data.FOLDER, 0, tarfile.DIRTYPE) + _member(f"{data.FOLDER}/{data.META}", META_BYTES) + END
    archive = _gzip(tmp_path / "tail.tar.gz", [members, 300])      # 300 MiB of zeros after the tar's end
    err = _refused_quickly(lambda: data.load_class_names(archive), "MAX_TAR_BYTES", seconds=5.0)
    assert "more than 268,435,456 bytes once decompressed" in str(err)
    assert reads[0].decompressed <= data.MAX_TAR_BYTES + 2**20


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_a_huge_extended_header_is_refused_before_tarfile_reads_it_into_memory(tmp_path, kind, reads):
    archive = _gzip(tmp_path / "pax.tar.gz", [_header("././@PaxHeader", 2**30, kind), 1024, END])
    _refused_quickly(lambda: data.load_raw_batch("test_batch", archive), "extended tar header.*1,073,741,824")
    assert reads[0].decompressed <= 2**20


def test_an_archive_larger_than_the_cap_is_not_opened(tmp_path, monkeypatch):
    archive = _meta_archive(tmp_path / "big.tar.gz", filler=os.urandom(4096))
    monkeypatch.setattr(data, "MAX_ARCHIVE_BYTES", 1000)
    monkeypatch.setattr(data.archive, "open", lambda *a, **k: pytest.fail("opened"), raising=False)
    _refused_quickly(lambda: data.load_class_names(archive), r"is [\d,]+ bytes.*MAX_ARCHIVE_BYTES")


# ---------------------------------------------------------------- damage that used to load silently

def test_a_flipped_bit_that_plain_tarfile_reads_silently_is_refused(tmp_path):
    """Stored (level 0) deflate copies bytes verbatim: a flipped bit in a class name changes the name and only
    the gzip CRC at the end of the stream can tell. tarfile's stream mode never reads that CRC."""
    folder = tmp_path / "f" / data.FOLDER
    folder.mkdir(parents=True)
    (folder / data.META).write_bytes(META_BYTES)
    (folder / "readme.html").write_bytes(os.urandom(50_000))
    archive = tmp_path / "flip.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=0) as tar:
        tar.add(folder, arcname=data.FOLDER)
    assert data.load_class_names(archive) == list(data.CLASS_NAMES)
    raw = bytearray(archive.read_bytes())
    at = raw.index(b"airplane")
    raw[at] ^= 0x01                                                  # "airplane" -> "`irplane"
    archive.write_bytes(bytes(raw))
    with tarfile.open(archive, "r|gz") as tar:                        # what the loader did before: no error
        names = next(pickle.loads(tar.extractfile(m).read()) for m in tar if m.name.endswith(data.META))
    assert names[b"label_names"][0] == b"`irplane"
    _refused_quickly(lambda: data.load_class_names(archive), "flip.tar.gz is corrupt.*incorrect data check")
    _refused_quickly(lambda: data.load_raw_batch(data.META, archive), "incorrect data check")


def test_data_after_the_gzip_stream_is_refused_but_padding_and_members_are_fine(tmp_path):
    archive = _meta_archive(tmp_path / "a.tar.gz")
    good = archive.read_bytes()
    for tail, ok in ((b"\0" * 5000, True), (good, True), (b"<html>", False), (b"\0\0\x01", False)):
        archive.write_bytes(good + tail)
        if ok:
            assert data.load_class_names(archive) == list(data.CLASS_NAMES)
        else:
            _refused_quickly(lambda: data.load_class_names(archive), "bytes after the end of the gzip stream")


def test_a_truncated_archive_is_refused_even_when_the_wanted_file_came_first(tmp_path):
    archive = _meta_archive(tmp_path / "cut.tar.gz", filler=os.urandom(20_000))
    raw = archive.read_bytes()
    archive.write_bytes(raw[:-100])                                  # meta is whole; the stream is not
    _refused_quickly(lambda: data.load_class_names(archive), "cut.tar.gz is corrupt or truncated.*cut short")


def test_an_archive_of_the_official_size_must_have_the_official_sha256(tmp_path, monkeypatch):
    archive = _meta_archive(tmp_path / "cifar-10-python.tar.gz")
    assert data.load_class_names(archive) == list(data.CLASS_NAMES)
    monkeypatch.setattr(data, "CIFAR10_ARCHIVE_BYTES", archive.stat().st_size)
    err = _refused_quickly(lambda: data.load_class_names(archive), "SHA-256")
    assert data.CIFAR10_SHA256 in str(err) and archive.exists()     # a file the user named is never deleted
    monkeypatch.setattr(data, "CIFAR10_SHA256", hashlib.sha256(archive.read_bytes()).hexdigest())
    assert data.load_class_names(archive) == list(data.CLASS_NAMES)


@pytest.mark.data
def test_a_flipped_bit_in_the_real_archive_is_refused(tmp_path):
    source = data.find_cifar10(download=False)
    if not source.is_file():
        pytest.skip("CIFAR-10 is here as a folder, not an archive")
    copy = tmp_path / "cifar-10-python.tar.gz"
    shutil.copyfile(source, copy)
    with open(copy, "r+b") as fh:
        fh.seek(copy.stat().st_size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0x10]))
    err = _refused_quickly(lambda: data.load_cifar10(copy), "corrupt or truncated", seconds=20)
    assert "download it again" in str(err)


# ---------------------------------------------------------------- Keras's cache and the download

@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty Keras cache, no CIFAR10_PATH, no proxy: returns the datasets folder."""
    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, "*")
    return tmp_path / "keras" / "datasets"


@contextlib.contextmanager
def _server(reply):
    """A local HTTP server; ``reply(conn)`` answers each connection (after its request was read)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve(conn):
        with conn:
            conn.settimeout(10)
            request = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                reply(conn, stop)

    def loop():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:                 # a timeout (to look at stop), or closed
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/cifar-10-python.tar.gz"
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def _send(payload: bytes, length: int | None = -1):
    def reply(conn, stop):
        head = b"HTTP/1.0 200 OK\r\nContent-Type: application/gzip\r\n"
        if length is not None:
            head += b"Content-Length: %d\r\n" % (len(payload) if length == -1 else length)
        conn.sendall(head + b"\r\n")
        for i in range(0, len(payload), 2**16):
            if stop.is_set():
                return
            conn.sendall(payload[i:i + 2**16])
    return reply


def _left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_download_that_fails_its_sha256_is_deleted_and_never_returned(cache, monkeypatch, capsys):
    garbage = b"\x1f\x8b" + os.urandom(300_000)                    # looks like gzip; is not the archive
    with _server(_send(garbage)) as url:
        monkeypatch.setattr(data, "CIFAR10_URL", url)
        err = _refused_quickly(data.find_cifar10, "SHA-256")
    assert "was deleted" in str(err) and "CIFAR10_PATH" in str(err)
    assert _left_in(cache) == []                                     # not kept, no temporary file either
    _refused_quickly(lambda: data.find_cifar10(download=False), "not found")


def test_a_damaged_archive_in_keras_cache_is_deleted_not_loaded(cache, monkeypatch):
    """keras.datasets.cifar10.load_data() leaves a download that failed its hash in the cache; the next call
    used to load it unchecked (50,000 black images labelled 0)."""
    cache.mkdir(parents=True)
    cached = _meta_archive(cache / "cifar-10-python.tar.gz")
    digest = hashlib.sha256(cached.read_bytes()).hexdigest()
    err = _refused_quickly(lambda: data.find_cifar10(download=False), "damaged archive.*SHA-256")
    assert "deleted from Keras's cache" in str(err) and not cached.exists()
    # loading it by its path checks it too (the SHA-256 while the stream is read), and deletes it
    _meta_archive(cached)
    _refused_quickly(lambda: data.load_class_names(cached), "SHA-256")
    assert not cached.exists()
    # the official bytes (here: this archive's) are found and load
    _meta_archive(cached)
    monkeypatch.setattr(data, "CIFAR10_SHA256", digest)
    assert data.find_cifar10(download=False) == cached
    assert data.load_class_names() == list(data.CLASS_NAMES)


def test_a_verified_download_is_renamed_into_place_never_written_through_a_link(cache, monkeypatch, tmp_path):
    payload = _meta_archive(tmp_path / "good.tar.gz").read_bytes()
    monkeypatch.setattr(data, "CIFAR10_SHA256", hashlib.sha256(payload).hexdigest())
    victim = tmp_path / "notebook.ipynb"
    victim.write_text("precious")
    cache.mkdir(parents=True)
    (cache / "cifar-10-python.tar.gz").symlink_to(victim)           # planted link where the download goes
    with _server(_send(payload)) as url:
        monkeypatch.setattr(data, "CIFAR10_URL", url)
        got = data._download()
    assert victim.read_text() == "precious"
    assert got == cache / "cifar-10-python.tar.gz" and not got.is_symlink() and got.read_bytes() == payload
    assert _left_in(cache) == ["cifar-10-python.tar.gz"]
    assert data.load_class_names() == list(data.CLASS_NAMES)


def test_a_server_that_never_answers_times_out(cache, monkeypatch):
    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT_S", 0.5)
    with _server(lambda conn, stop: stop.wait(20)) as url:          # reads the request, then says nothing
        monkeypatch.setattr(data, "CIFAR10_URL", url)
        err = _refused_quickly(data._download, "timed out.*DOWNLOAD_TIMEOUT_S", seconds=5)
    assert "Nothing was kept" in str(err) and _left_in(cache) == []


def test_a_server_that_trickles_stops_at_the_deadline(cache, monkeypatch):
    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT_S", 5.0)
    monkeypatch.setattr(data, "DOWNLOAD_DEADLINE_S", 0.5)

    def trickle(conn, stop):
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 1000000\r\n\r\n")
        while not stop.wait(0.05):
            conn.sendall(b"x")

    with _server(trickle) as url:
        monkeypatch.setattr(data, "CIFAR10_URL", url)
        _refused_quickly(data._download, r"took more than 0\.5 s \(DOWNLOAD_DEADLINE_S\)", seconds=5)
    assert _left_in(cache) == []


@pytest.mark.parametrize("length", [None, "declared"])
def test_a_download_larger_than_the_cap_is_refused_and_removed(cache, monkeypatch, length):
    monkeypatch.setattr(data, "MAX_ARCHIVE_BYTES", 2**20)
    body = os.urandom(3 * 2**20)
    with _server(_send(body, None if length is None else 300 * 2**20)) as url:
        monkeypatch.setattr(data, "CIFAR10_URL", url)
        err = _refused_quickly(data._download, "MAX_ARCHIVE_BYTES")
    assert ("announces 314,572,800 bytes" if length else "sent more than 1,048,576 bytes") in str(err)
    assert _left_in(cache) == []


def test_a_download_cut_short_is_refused(cache, monkeypatch):
    with _server(_send(b"x" * 1000, length=5000)) as url:
        monkeypatch.setattr(data, "CIFAR10_URL", url)
        _refused_quickly(data._download, "cut short: 1,000 of 5,000 bytes")
    assert _left_in(cache) == []


# ---------------------------------------------------------------- paths, labels, batches.meta

def test_a_path_with_an_unknown_user_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CIFAR10_PATH", "~no_such_user_zz/cifar-10-python.tar.gz")
    _refused_quickly(data.find_cifar10, "no user 'no_such_user_zz'")
    _refused_quickly(lambda: data.load_cifar10("~no_such_user_zz/x.tar.gz"), "no user 'no_such_user_zz'")
    _refused_quickly(lambda: data.load_raw_batch("test_batch", "/no/such/folder"), "does not exist")
    with pytest.raises(data.CourseValueError, match="The path must be a str or a pathlib.Path; got 42"):
        data.load_cifar10(42)


def test_home_is_expanded_in_a_path_argument(tmp_path, monkeypatch):
    _meta_archive(tmp_path / "m.tar.gz")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.load_class_names("~/m.tar.gz") == list(data.CLASS_NAMES)


@pytest.mark.parametrize("labels, match", [
    (["cat"] * 10000, r"label 0 is 'cat' \(str\)"),
    ([[1], [1, 2]] + [0] * 9998, r"label 0 is \[1\] \(list\)"),
    ([0] * 9999 + [2 ** 70], r"label 9999 is 1180591620717411303424"),
    ([True] * 10000, r"label 0 is True \(bool\)"),
    ([0] * 9999, r"a list of 9999"),
    (b"\x00" * 10000, r"got b'\\x00"),
])
def test_string_ragged_and_odd_labels_are_clear_errors(labels, match, tmp_path):
    folder = tmp_path / data.FOLDER
    folder.mkdir()
    batch = {b"data": np.zeros((10000, 3072), np.uint8), b"labels": labels}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=4))
    err = _refused_quickly(lambda: data.load_raw_batch("test_batch", folder), match)
    assert "0..9" in str(err) and "test_batch" in str(err)


@pytest.mark.parametrize("meta, match", [
    ({b"num_vis": 3072}, r"no b'label_names' \(found b'num_vis'\)"),
    ({b"label_names": [b"cat"] * 9}, r"a list of 10 names"),
    ({b"label_names": [b"caf\xc3\xa9"] * 10}, r"not ASCII"),
    ({"label_names": [b"cat"] * 10}, r"no b'label_names' \(found 'label_names'\)"),
])
def test_batches_meta_without_label_names_is_a_clear_error(meta, match, tmp_path):
    folder = tmp_path / data.FOLDER
    folder.mkdir()
    (folder / data.META).write_bytes(pickle.dumps(meta, protocol=4))
    _refused_quickly(lambda: data.load_class_names(folder), match)


def test_verify_reads_every_file(tmp_path):
    folder = tmp_path / data.FOLDER
    folder.mkdir()
    (folder / data.TEST_BATCH).write_bytes(b"anything")
    (folder / data.META).write_bytes(META_BYTES)
    _refused_quickly(lambda: data.verify_cifar10(folder), "data_batch_1 is missing")
    assert data.load_class_names(folder) == list(data.CLASS_NAMES)   # one file alone still loads


# ---------------------------------------------------------------- property-based: only CourseErrors, never wrong

_values = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True), st.text(max_size=5),
    st.binary(max_size=5), st.lists(st.integers(-3, 12), max_size=6),
    st.lists(st.one_of(st.integers(0, 9), st.text(max_size=2), st.none(), st.lists(st.integers(0, 9), max_size=2)),
             max_size=6),
    st.builds(lambda d, s: np.zeros(s, d), st.sampled_from(["u1", "i8", "f4", "?", "u2"]),
              st.sampled_from([(4,), (4, 3072), (3, 3072), (4, 3071), (0,), (4, 1), (2, 2)])),
    st.builds(lambda v: np.full(4, v, "i8"), st.integers(-3, 12)),
)
_batches = st.dictionaries(st.sampled_from([b"data", b"labels", "data", b"x", 0, b"label_names"]), _values,
                           max_size=4)


def _valid_labels(labels) -> bool:
    if isinstance(labels, np.ndarray):
        return labels.shape == (4,) and labels.dtype.kind in "iu" and bool(((labels >= 0) & (labels <= 9)).all())
    return (type(labels) is list and len(labels) == 4
            and all(type(v) is int and 0 <= v <= 9 for v in labels))


@settings(max_examples=300, deadline=None)
@given(batch=_batches, data_ok=st.booleans(), labels=st.lists(st.integers(-2, 11), min_size=3, max_size=5))
def test_check_batch_accepts_exactly_the_valid_batches(batch, data_ok, labels):
    if data_ok:                                       # often give a valid b'data', so labels are what is tested
        batch = {**batch, b"data": np.arange(4 * 3072).astype(np.uint8).reshape(4, 3072), b"labels": labels}
    try:
        rows, got = data._check_batch(batch, "generated", n=4)
    except data.CIFAR10DataError as err:
        assert "generated" in str(err)
        valid = (isinstance(batch.get(b"data"), np.ndarray) and batch[b"data"].dtype == np.uint8
                 and batch[b"data"].shape == (4, 3072) and _valid_labels(batch.get(b"labels")))
        assert not valid, f"a valid batch was refused: {err}"
        return
    assert rows is batch[b"data"] and rows.shape == (4, 3072) and rows.dtype == np.uint8
    assert got.dtype == np.uint8 and got.tolist() == list(np.asarray(batch[b"labels"]))
    assert _valid_labels(batch[b"labels"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=_batches, name=st.sampled_from(["test_batch", "data_batch_2", "batches.meta"]))
def test_load_raw_batch_raises_only_course_errors(tmp_path, batch, name):
    folder = tmp_path / data.FOLDER
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(pickle.dumps(batch, protocol=4))
    with pytest.raises(CourseError):                 # none of these is a whole batch or a whole batches.meta
        data.load_raw_batch(name, folder)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.binary(max_size=200),
                     st.tuples(st.integers(0, len(META_BYTES) - 1), st.integers(1, 255)).map(
                         lambda f: META_BYTES[:f[0]] + bytes([META_BYTES[f[0]] ^ f[1]]) + META_BYTES[f[0] + 1:]),
                     st.integers(0, len(META_BYTES)).map(lambda n: META_BYTES[:n])))
def test_unpickler_on_generated_bytes_gives_a_dict_or_a_course_error(raw):
    try:
        out = data._unpickle(raw, "generated")
    except Exception as err:  # noqa: BLE001 - the point is which type it is
        assert isinstance(err, data.CIFAR10DataError), repr(err)
        return
    assert isinstance(out, dict)


_ARCHIVE = io.BytesIO()
with tarfile.open(fileobj=_ARCHIVE, mode="w:gz") as _tar:
    _info = tarfile.TarInfo(f"{data.FOLDER}/{data.META}")
    _info.size = len(META_BYTES)
    _tar.addfile(_info, io.BytesIO(META_BYTES))
ARCHIVE_BYTES = _ARCHIVE.getvalue()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=st.integers(0, len(ARCHIVE_BYTES) - 1), mask=st.integers(1, 255), cut=st.booleans())
def test_a_damaged_archive_gives_the_right_names_or_a_course_error(tmp_path, at, mask, cut):
    """Any byte changed (or the file cut there): the class names come out right, or a CourseError; never
    wrong names and never another exception."""
    raw = ARCHIVE_BYTES[:at] if cut else ARCHIVE_BYTES[:at] + bytes([ARCHIVE_BYTES[at] ^ mask]) + ARCHIVE_BYTES[at + 1:]
    archive = tmp_path / "m.tar.gz"
    archive.write_bytes(raw)
    try:
        names = data.load_class_names(archive)
    except Exception as err:  # noqa: BLE001
        assert isinstance(err, data.CIFAR10DataError), repr(err)
        return
    assert names == list(data.CLASS_NAMES)
