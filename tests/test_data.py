"""The CIFAR-10 loader: the real data, where it is looked for, and every way a file can be bad."""
from __future__ import annotations

import io
import os
import pickle
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from course_utils import data


# ---------------------------------------------------------------- small files in the official format
# (for the error paths only: the real data set is tested below through CIFAR10_PATH)

def _batch(n=10000, seed=0, labels=None, label="training batch 1 of 5"):
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": label.encode(),
        b"labels": [int(v) for v in rng.integers(0, 10, n)] if labels is None else labels,
        # distinct rows, cheap to compress: a random row plus the row number
        b"data": (rng.integers(0, 256, (1, 3072)) + np.arange(n)[:, None]).astype(np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


def _write_folder(root: Path, overrides: dict | None = None) -> Path:
    folder = root / data.FOLDER
    folder.mkdir(parents=True)
    for i, name in enumerate((*data.TRAIN_BATCHES, data.TEST_BATCH)):
        (folder / name).write_bytes(pickle.dumps(_batch(seed=i), protocol=4))
    meta = {b"label_names": [n.encode() for n in data.CLASS_NAMES], b"num_vis": 3072, b"num_cases_per_batch": 10000}
    (folder / data.META).write_bytes(pickle.dumps(meta, protocol=4))
    for name, raw in (overrides or {}).items():
        (folder / name).write_bytes(raw)
    return folder


def _write_archive(folder: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz", compresslevel=1) as tar:
        tar.add(folder, arcname=data.FOLDER)
    return target


class Hostile:
    """Unpickling this would run a shell command that creates a file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# ---------------------------------------------------------------- the real data set

@pytest.mark.data
def test_real_cifar10_shapes_dtypes_and_first_labels(cifar10):
    (x_train, y_train), (x_test, y_test) = cifar10
    assert x_train.shape == (50000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert x_train.dtype == np.uint8 and x_test.dtype == np.uint8
    assert y_train.shape == (50000,) and y_test.shape == (10000,)
    assert list(y_test[:5]) == [3, 8, 8, 0, 6]     # cat, ship, ship, airplane, frog
    assert list(y_train[:5]) == [6, 9, 9, 4, 1]
    assert np.bincount(y_train, minlength=10).tolist() == [5000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
    # per-channel means of the training set, as PROVENANCE.md and the literature give them
    np.testing.assert_allclose(x_train.reshape(-1, 3).mean(0) / 255, [0.4914, 0.4822, 0.4465], atol=1e-3)


@pytest.mark.data
def test_same_values_and_order_as_keras_loader(cifar10, tmp_path):
    """keras.datasets.cifar10.load_data() reads each batch with keras's load_batch and transposes it to
    channels last; do exactly that on the test batch and compare."""
    from keras.src.datasets.cifar import load_batch

    raw = data.load_raw_batch(data.TEST_BATCH)
    (tmp_path / "test_batch").write_bytes(pickle.dumps(raw, protocol=4))
    x_keras, y_keras = load_batch(str(tmp_path / "test_batch"))
    (_, _), (x_test, y_test) = cifar10
    np.testing.assert_array_equal(x_keras.transpose(0, 2, 3, 1), x_test)
    np.testing.assert_array_equal(np.asarray(y_keras), y_test)


@pytest.mark.data
def test_raw_batch_is_the_pickled_dict(cifar10):
    batch = data.load_raw_batch("data_batch_1")
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"batch_label"] == b"training batch 1 of 5"
    assert batch[b"data"].shape == (10000, 3072) and batch[b"data"].dtype == np.uint8
    assert np.bincount(batch[b"labels"], minlength=10).tolist() == [1005, 974, 1032, 1016, 999, 937, 1030, 1001, 1025, 981]
    (x_train, _), _ = cifar10
    np.testing.assert_array_equal(data.rows_to_images(batch[b"data"][:3]), x_train[:3])
    assert data.load_class_names() == list(data.CLASS_NAMES)


# ---------------------------------------------------------------- where the data comes from

def test_env_var_folder_and_archive_give_the_same_arrays(tmp_path, monkeypatch):
    folder = _write_folder(tmp_path / "a")
    archive = _write_archive(folder, tmp_path / "c.tar.gz")
    monkeypatch.setenv("CIFAR10_PATH", str(folder))
    (a, b), (c, d) = data.load_cifar10()
    monkeypatch.setenv("CIFAR10_PATH", str(archive))
    (a2, b2), (c2, d2) = data.load_cifar10()
    for u, v in ((a, a2), (b, b2), (c, c2), (d, d2)):
        np.testing.assert_array_equal(u, v)
    # channels first on disk -> channels last in memory: red plane of row 0 is the first 1,024 values
    raw = data.load_raw_batch("data_batch_1")[b"data"][0]
    np.testing.assert_array_equal(a[0, :, :, 0].ravel(), raw[:1024])
    np.testing.assert_array_equal(a[0, :, :, 2].ravel(), raw[2048:])


def test_keras_cache_is_used_when_env_var_is_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    _write_folder(tmp_path / "datasets" / "cifar-10-batches-py-target")
    found = data.find_cifar10(download=False)
    assert found == tmp_path / "datasets" / "cifar-10-batches-py-target" / data.FOLDER


def test_offline_without_a_copy_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def offline():
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(data.find, "_download", offline)
    with pytest.raises(data.CIFAR10DataError) as info:
        data.load_cifar10()
    message = str(info.value)
    assert "CIFAR10_PATH" in message and "Keras" in message and "download" in message
    assert "name resolution" in message            # says why the download failed
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no urllib traceback chained


def test_env_var_pointing_nowhere_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_PATH", str(tmp_path / "nope.tar.gz"))
    with pytest.raises(data.CIFAR10DataError, match="nope.tar.gz"):
        data.load_cifar10()


# ---------------------------------------------------------------- hostile and broken files

def test_hostile_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    folder = _write_folder(tmp_path / "d", {"data_batch_1": pickle.dumps(Hostile(marker), protocol=4)})
    with pytest.raises(data.UnsafePickleError) as info:
        data.load_raw_batch("data_batch_1", path=folder)
    assert "system" in str(info.value) and "data_batch_1" in str(info.value)
    assert not marker.exists()
    # the same file through plain pickle would have run the command: the test is real
    pickle.loads((folder / "data_batch_1").read_bytes())
    assert marker.exists()


@pytest.mark.parametrize("target", ["builtins.eval", "subprocess.Popen", "numpy.load"])
def test_other_globals_are_refused(target, tmp_path):
    module, name = target.rsplit(".", 1)
    raw = b"\x80\x04\x95" + b"\x00" * 8 + f"\x8c{chr(len(module))}{module}\x94\x8c{chr(len(name))}{name}\x94\x93\x94.".encode("latin1")
    with pytest.raises(data.UnsafePickleError, match=name):
        data._unpickle(raw, "crafted")


def test_truncated_archive_is_named(tmp_path, monkeypatch):
    archive = _write_archive(_write_folder(tmp_path / "e"), tmp_path / "cut.tar.gz")
    raw = archive.read_bytes()
    archive.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(data.CIFAR10DataError, match="cut.tar.gz.*(corrupt|truncated|cut short)"):
        data.load_cifar10(archive)


def test_archive_that_is_not_gzip_is_named(tmp_path):
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(b"<html>Not found</html>")
    with pytest.raises(data.CIFAR10DataError, match="cifar-10-python.tar.gz"):
        data.load_cifar10(bad)


def test_corrupt_batch_is_named(tmp_path):
    folder = _write_folder(tmp_path / "f")
    raw = (folder / "data_batch_3").read_bytes()
    (folder / "data_batch_3").write_bytes(raw[:1000])
    with pytest.raises(data.CIFAR10DataError, match="data_batch_3.*(corrupt|truncated)"):
        data.load_cifar10(folder)


def test_labels_outside_range_are_refused(tmp_path):
    labels = [0] * 9999 + [10]
    folder = _write_folder(tmp_path / "g", {"test_batch": pickle.dumps(_batch(labels=labels), protocol=4)})
    with pytest.raises(data.CIFAR10DataError, match=r"test_batch.*0\.\.9.*10"):
        data.load_cifar10(folder)


def test_wrong_shape_is_refused(tmp_path):
    b = _batch()
    b[b"data"] = b[b"data"][:, :3000]
    folder = _write_folder(tmp_path / "h", {"data_batch_2": pickle.dumps(b, protocol=4)})
    with pytest.raises(data.CIFAR10DataError, match=r"data_batch_2.*\(10000, 3000\)"):
        data.load_cifar10(folder)


def test_missing_file_in_archive_is_named(tmp_path):
    folder = _write_folder(tmp_path / "i")
    (folder / "data_batch_5").unlink()
    archive = _write_archive(folder, tmp_path / "partial.tar.gz")
    with pytest.raises(data.CIFAR10DataError, match="data_batch_5"):
        data.load_cifar10(archive)


def test_unknown_batch_name():
    with pytest.raises(ValueError, match="data_batch_1"):
        data.load_raw_batch("data_batch_6")


def test_rows_to_images_checks_shape():
    with pytest.raises(ValueError, match="3072"):
        data.rows_to_images(np.zeros((2, 100), np.uint8))


# ---------------------------------------------------------------- arrays of references, size caps, checksums
# Each test below failed before the fix it names (issue 11, item 2).

class _Reduce:
    """Pickles as ``func(*args)`` (and ``BUILD state``): how a crafted file reaches numpy's names."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def _object_array_payloads() -> dict[str, bytes]:
    """Pickles that ask for an array of references (pointers) built from the file's own bytes."""
    pointers = b"\x41" * 16
    routes = {
        # numpy.ndarray(shape, dtype=object, buffer=bytes): before the fix this built the array, and
        # printing it dereferenced 0x4141414141414141 (segmentation fault)
        "ndarray-call": _Reduce(np.ndarray, ((2,), np.dtype(object), pointers)),
        # the same with a structured dtype that has one object field
        "structured-object": _Reduce(np.ndarray, ((1,), np.dtype([("a", "O")]), pointers[:8])),
        # numpy's own route (_reconstruct, then BUILD) with an object dtype and raw bytes
        "reconstruct-object": _Reduce(np._core.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                                      (1, (2,), np.dtype(object), False, pointers)),
        # protocol 5's route
        "frombuffer-object": _Reduce(np._core.numeric._frombuffer, (pointers, np.dtype(object), (2,), "C")),
    }
    return {name: pickle.dumps({b"data": obj, b"labels": [1, 2]}, protocol=4) for name, obj in routes.items()}


def test_object_array_pickles_are_refused_in_a_subprocess(tmp_path):
    """Run in a child process: a regression would crash it (SIGSEGV), not the test runner."""
    import subprocess
    import sys

    folders = []
    for name, raw in _object_array_payloads().items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "data_batch_1").write_bytes(raw)
        folders.append(str(folder))
    script = (
        "import sys\n"
        "from course_utils import data\n"
        "for folder in sys.argv[1:]:\n"
        "    try:\n"
        "        batch = data.load_raw_batch('data_batch_1', path=folder)\n"
        "        print(folder, 'LOADED', repr(batch)[:300], flush=True)\n"   # what a learner would do
        "    except data.UnsafePickleError as err:\n"
        "        print(folder, 'REFUSED', str(err).replace(chr(10), ' '), flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, *folders], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, f"the child died (return code {done.returncode}): {done.stdout}{done.stderr}"
    lines = done.stdout.splitlines()
    assert len(lines) == len(folders)
    for folder, line in zip(folders, lines):
        assert line.startswith(f"{folder} REFUSED"), line
        assert "no array was built" in line


@pytest.mark.parametrize("route", ["ndarray-call", "structured-object", "reconstruct-object", "frombuffer-object"])
def test_object_dtype_is_refused_before_any_array_exists(route, monkeypatch):
    built = []
    monkeypatch.setattr(np, "frombuffer", lambda *a, **k: built.append(a) or np.zeros(0))
    with pytest.raises(data.UnsafePickleError, match=r"crafted.*(not a number type|numpy\.ndarray directly)"):
        data._unpickle(_object_array_payloads()[route], "crafted")
    assert built == []


def _py2_batch(values: bytes, shape=(2, 3)) -> bytes:
    """A batch as the official files hold it: Python 2 cPickle, protocol 2, numpy 1's module names, str
    (here bytes) for the raw values and the dtype's byte order."""
    def short(b: bytes) -> bytes:
        return b"U" + bytes([len(b)]) + b

    minus_one = b"J\xff\xff\xff\xff"
    return b"".join([
        b"\x80\x02}(", short(b"data"),
        b"cnumpy.core.multiarray\n_reconstruct\n", b"cnumpy\nndarray\n", b"K\x00\x85", short(b"b"), b"\x87R",
        b"(K\x01", b"".join(b"K" + bytes([n]) for n in shape), b"\x86",
        b"cnumpy\ndtype\n", short(b"u1"), b"K\x00K\x01\x87R",
        b"(K\x03", short(b"|"), b"NNN", minus_one, minus_one, b"K\x00tb",
        b"\x89", short(values), b"tb",
        short(b"labels"), b"](K\x01K\x02e",
        b"u.",
    ])


def test_numeric_arrays_load_from_every_form_numpy_writes():
    official = data._unpickle(_py2_batch(bytes(range(6))), "py2")
    np.testing.assert_array_equal(official[b"data"], np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert official[b"labels"] == [1, 2] and official[b"data"].flags.writeable
    arrays = [np.arange(6, dtype=">i4").reshape(2, 3), np.asfortranarray(np.linspace(0, 1, 12, dtype=np.float32)
              .reshape(3, 4)), np.array([True, False]), np.arange(4, dtype=np.complex64), np.full((), 2.5)]
    for protocol in (2, 4, 5):
        for a in arrays:
            if protocol == 2:       # Python 3's protocol 2 writes bytes through _codecs.encode: refused
                with pytest.raises(data.UnsafePickleError, match="_codecs.encode"):
                    data._unpickle(pickle.dumps({b"a": a}, protocol=2), "p2")
                continue
            out = data._unpickle(pickle.dumps({b"a": a, b"n": [1, b"x", "y", None]}, protocol=protocol), "p")[b"a"]
            assert type(out) is np.ndarray and out.dtype == a.dtype and out.shape == a.shape
            np.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("value, name", [(1.5, "float"), ((1, 2), "tuple"), ({1, 2}, "set"),
                                         (np.dtype("u1"), "_DtypeSpec")])
def test_only_cifar10_values_are_rebuilt(value, name):
    with pytest.raises(data.UnsafePickleError, match=f"builds a {name}"):
        data._unpickle(pickle.dumps({b"data": [value]}, protocol=4), "odd")


def test_array_whose_bytes_do_not_match_its_shape_is_corrupt():
    raw = pickle.dumps(_Reduce(np._core.multiarray._reconstruct, (np.ndarray, (0,), b"b"),
                               (1, (2 ** 32, 2 ** 32), np.dtype("u1"), False, b"")), protocol=4)
    with pytest.raises(data.CIFAR10DataError, match=r"shape .* needs \d+ bytes, the file gives 0"):
        data._unpickle(raw, "cut")


def test_files_over_the_size_cap_are_not_read(tmp_path, monkeypatch):
    folder = _write_folder(tmp_path / "j")
    archive = _write_archive(folder, tmp_path / "big.tar.gz")
    monkeypatch.setattr(data, "MAX_FILE_BYTES", 1000)       # every batch file is ~30 MB: all over the cap
    read = []
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda self, m: read.append(m) or None)
    with pytest.raises(data.CIFAR10DataError, match=r"big.tar.gz:cifar-10-batches-py/data_batch_1 is [\d,]+ bytes"):
        data.load_cifar10(archive)
    assert read == []                                        # refused from the header, before reading
    with pytest.raises(data.CIFAR10DataError, match="MAX_FILE_BYTES"):
        data.load_raw_batch("test_batch", path=folder)
    assert data.load_raw_batch("batches.meta", path=folder)[b"num_vis"] == 3072   # a small file still loads


def test_the_sha256_is_the_one_keras_checks():
    """The value comes from Keras's own CIFAR-10 loader (keras/src/datasets/cifar10.py, load_data)."""
    import importlib.util

    keras_dir = Path(importlib.util.find_spec("keras").submodule_search_locations[0])
    source = (keras_dir / "src" / "datasets" / "cifar10.py").read_text()
    assert f'"{data.CIFAR10_SHA256}"' in source and "cifar-10-python.tar.gz" in source


def test_unpickling_leaves_no_cycle_that_keeps_a_files_bytes_alive():
    """The unpickler's stand-ins and bound methods formed reference cycles that only the garbage collector
    freed: loading CIFAR-10 then held several files' bytes at once (a peak of 3.5 x the data)."""
    import gc
    import pickle
    import tracemalloc

    payload = pickle.dumps({b"data": np.arange(1000 * 3072, dtype=np.uint32).astype(np.uint8).reshape(1000, 3072),
                            b"labels": [0] * 1000}, protocol=4)
    gc.disable()
    tracemalloc.start()
    try:
        for copy in (True, False):
            before = tracemalloc.get_traced_memory()[0]
            batch = data._unpickle(payload, "test", copy=copy)
            assert batch[b"data"].shape == (1000, 3072) and batch[b"data"][1, 0] == 3072 % 256
            del batch
            assert tracemalloc.get_traced_memory()[0] - before < 200_000, copy
    finally:
        tracemalloc.stop()
        gc.enable()
