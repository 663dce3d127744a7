"""Loading CIFAR-10: every batch checked (shapes, dtypes, labels in 0..9, ten class names) before it is returned."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..validation import CourseValueError, describe
from . import constants
from .archive import _iter_files
from .constants import ALL_FILES, CLASS_NAMES, FOLDER, META, TEST_BATCH, TRAIN_BATCHES
from .errors import CIFAR10DataError
from .find import _expand, _is, find_cifar10
from .unpickler import _unpickle


def _keys(batch: dict) -> str:
    keys = sorted(repr(k)[:40] for k in batch)
    return ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "") or "no keys"


def _check_labels(labels: Any, source: str, n: int) -> np.ndarray:
    expected = f"{source}: b'labels' must be {n} integers in 0..9"
    if isinstance(labels, np.ndarray):
        if labels.shape != (n,) or labels.dtype.kind not in "iu":
            raise CIFAR10DataError(f"{expected}; got an array of shape {labels.shape} and dtype {labels.dtype}.")
        if n and (labels.min() < 0 or labels.max() > 9):
            raise CIFAR10DataError(f"{expected}; got the range {labels.min()}..{labels.max()}.")
        return labels.astype(np.uint8)
    if type(labels) is not list:
        raise CIFAR10DataError(f"{expected}; got {describe(labels)}.")
    if len(labels) != n:
        raise CIFAR10DataError(f"{expected}; got a list of {len(labels)}.")
    for i, v in enumerate(labels):
        if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)) or not 0 <= v <= 9:
            raise CIFAR10DataError(
                f"{expected}; label {i} is {describe(v)}. The file is not the official "
                f"CIFAR-10; download it again ({constants.CIFAR10_URL})."
            )
    return np.array(labels, dtype=np.uint8)


def _check_batch(batch: Any, source: str, n: int = 10000) -> tuple[np.ndarray, np.ndarray]:
    """The batch's ``(data, labels)``, checked: (n, 3072) uint8 rows and n int labels in 0..9."""
    if not isinstance(batch, dict):
        raise CIFAR10DataError(f"{source} holds {describe(batch)}, expected a dict with keys b'labels' and b'data'.")
    for key in (b"data", b"labels"):
        if key not in batch:
            raise CIFAR10DataError(
                f"{source} has no key {key!r}; found {_keys(batch)}. It is not a CIFAR-10 "
                f"batch; download CIFAR-10 again ({constants.CIFAR10_URL})."
            )
    data = batch[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape != (n, 3072):
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else describe(data)
        raise CIFAR10DataError(f"{source}: b'data' is {got}, expected uint8 ({n}, 3072).")
    return data, _check_labels(batch[b"labels"], source, n)


def _check_meta(meta: Any, source: str) -> list[str]:
    """The class names of ``batches.meta``: ten ASCII names under ``b'label_names'``."""
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if names is None:
        found = _keys(meta) if isinstance(meta, dict) else describe(meta)
        raise CIFAR10DataError(
            f"{source} has no b'label_names' (found {found}); the official batches.meta lists "
            f"the ten class names there. Download CIFAR-10 again ({constants.CIFAR10_URL})."
        )
    if type(names) is not list or len(names) != len(CLASS_NAMES) or not all(isinstance(n, (bytes, str)) for n in names):
        raise CIFAR10DataError(
            f"{source}: b'label_names' is {describe(names)}; expected a list of "
            f"{len(CLASS_NAMES)} names (bytes). Download CIFAR-10 again ({constants.CIFAR10_URL})."
        )
    try:
        return [n.decode("ascii") if isinstance(n, bytes) else n.encode("ascii").decode() for n in names]
    except UnicodeError:
        raise CIFAR10DataError(
            f"{source}: b'label_names' holds a name that is not ASCII ({describe(names)}); "
            f"download CIFAR-10 again ({constants.CIFAR10_URL})."
        ) from None


def _source(path: str | os.PathLike[str] | None) -> Path:
    """Where to read from: ``path`` (``~`` expanded) if given, else :func:`find_cifar10`'s answer."""
    if path is None:
        return find_cifar10()
    source = _expand(path, "the path")
    if not (_is(Path.is_dir, source) or _is(Path.is_file, source)):
        raise CIFAR10DataError(
            f"{source} does not exist (or is not a file or folder). Expected the official cifar-10-python.tar.gz "
            f"or an extracted {FOLDER} folder. Fix the path, or leave it out to use CIFAR10_PATH or Keras's cache."
        )
    return source


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def load_raw_batch(name: str, path: str | os.PathLike[str] | None = None) -> dict[Any, Any]:
    """Return one pickled file exactly as it is stored: a dict with **bytes** keys.

    ``name`` is ``'data_batch_1'`` ... ``'data_batch_5'``, ``'test_batch'`` or ``'batches.meta'``.
    ``path`` overrides the search of :func:`find_cifar10`. The file is checked (a batch: 10,000 rows and labels
    in 0..9; ``batches.meta``: ten class names), and an archive is read to its end so its CRC is checked.
    """
    if not isinstance(name, str) or name not in ALL_FILES:
        raise CourseValueError(f"Unknown CIFAR-10 file {describe(name)}; expected one of {', '.join(ALL_FILES)}.")
    source = _source(path)
    batch = None
    for _, raw in _iter_files(source, (name,)):  # to the end: the archive is checked only there
        batch = _unpickle(raw, f"{source}:{name}")
        del raw
        if name == META:
            _check_meta(batch, f"{source}:{name}")
        else:
            _check_batch(batch, f"{source}:{name}")
    if batch is None:
        raise AssertionError("unreachable: _iter_files yields every name or raises")
    return batch


def load_class_names(path: str | os.PathLike[str] | None = None) -> list[str]:
    """The class names from ``batches.meta`` (``b'label_names'``), decoded to str."""
    source = _source(path)
    return _check_meta(load_raw_batch(META, source), f"{source}:{META}")


def verify_cifar10(path: str | os.PathLike[str] | None = None) -> Path:
    """Read every file of CIFAR-10 once and check it; return where the data is.

    All six batches must parse to 10,000 uint8 rows of 3,072 values with int labels in 0..9, ``batches.meta``
    must list :data:`CLASS_NAMES`, and an archive must pass its CRC (and SHA-256 where one is known). Raises
    :class:`CIFAR10DataError` that names the first problem. Used by the pre-class check.
    """
    source = _source(path)
    for name, raw in _iter_files(source, ALL_FILES):
        where = f"{source}:{name}"
        batch = _unpickle(raw, where, copy=False)
        del raw
        if name == META:
            names = _check_meta(batch, where)
            if names != list(CLASS_NAMES):
                raise CIFAR10DataError(
                    f"{where} lists the classes {names}; CIFAR-10's are {list(CLASS_NAMES)}. "
                    f"Download CIFAR-10 again ({constants.CIFAR10_URL})."
                )
        else:
            _check_batch(batch, where)
        del batch
    return source


def rows_to_images(data: np.ndarray) -> np.ndarray:
    """(N, 3072) rows, channels first, -> (N, 32, 32, 3) images, channels last."""
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise CourseValueError(f"Expected rows of shape (N, 3072), got {data.shape}.")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def load_cifar10(
    path: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load all of CIFAR-10: ``(x_train, y_train), (x_test, y_test)``.

    Returns uint8 images ``x_train: (50000, 32, 32, 3)``, ``x_test: (10000, 32, 32, 3)`` (channels last,
    values 0-255) and uint8 labels ``y_train: (50000,)``, ``y_test: (10000,)`` in 0..9, in the official
    order: the same values as ``keras.datasets.cifar10.load_data()`` (whose labels are shaped (N, 1)).
    Every batch is checked, and an archive is read to its end (CRC, and SHA-256 where one is known) before
    anything is returned.
    """
    source = _source(path)
    x_train = np.empty((50000, 32, 32, 3), dtype=np.uint8)
    y_train = np.empty((50000,), dtype=np.uint8)
    x_test = np.empty((10000, 32, 32, 3), dtype=np.uint8)
    y_test = np.empty((10000,), dtype=np.uint8)
    for name, raw in _iter_files(source, (*TRAIN_BATCHES, TEST_BATCH)):
        where = f"{source}:{name}"
        batch = _unpickle(raw, where, copy=False)  # views of the file's bytes, copied into place below
        del raw  # parse, copy into place, and let go before the next file is read
        data, labels = _check_batch(batch, where)
        if name == TEST_BATCH:
            x, y, start = x_test, y_test, 0
        else:
            x, y, start = x_train, y_train, TRAIN_BATCHES.index(name) * 10000
        x[start : start + 10000] = rows_to_images(data)
        y[start : start + 10000] = labels
        del batch, data
    return (x_train, y_train), (x_test, y_test)
