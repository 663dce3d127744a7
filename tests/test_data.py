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

    monkeypatch.setattr(data, "_download", offline)
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
