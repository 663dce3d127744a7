"""CIFAR-10 as it lies on disk, loaded safely and quickly.

The official "python version" of CIFAR-10 (Krizhevsky, 2009) is a folder ``cifar-10-batches-py/``
with six pickled batches (``data_batch_1`` ... ``data_batch_5``, ``test_batch``) and ``batches.meta``.
Each batch is a dict with bytes keys::

    b'batch_label'  b'training batch 1 of 5'
    b'labels'       a list of 10,000 ints in 0..9
    b'data'         a (10000, 3072) uint8 array: 1,024 red, then 1,024 green, then 1,024 blue values,
                    each a 32 x 32 image stored row by row (channels first)
    b'filenames'    a list of 10,000 bytes names

Where the data comes from, in this order:

1. the environment variable ``CIFAR10_PATH``: the official ``cifar-10-python.tar.gz``, an extracted
   ``cifar-10-batches-py`` folder, or a folder that holds either;
2. Keras's cache (``~/.keras/datasets``, or ``$KERAS_HOME/datasets``), where
   ``keras.datasets.cifar10.load_data()`` leaves it;
3. the official download, through ``keras.utils.get_file``.

Pickles can run arbitrary code when they are loaded, and these files come from the internet, so every
batch goes through :class:`RestrictedUnpickler`, which rebuilds plain dicts, lists and numpy arrays and
refuses anything else.
"""
from __future__ import annotations

import io
import os
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CIFAR10_URL",
    "CLASS_NAMES",
    "TRAIN_BATCHES",
    "TEST_BATCH",
    "CIFAR10DataError",
    "UnsafePickleError",
    "RestrictedUnpickler",
    "find_cifar10",
    "load_cifar10",
    "load_raw_batch",
    "load_class_names",
    "rows_to_images",
]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
ALL_FILES = (*TRAIN_BATCHES, TEST_BATCH, META)

#: The ten class names, in label order, as ``batches.meta`` lists them (checked against the file by
#: :func:`load_class_names` and the tests).
CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)

_HELP = (
    "To fix it, do one of these:\n"
    "  * set the environment variable CIFAR10_PATH to the official cifar-10-python.tar.gz or to an\n"
    "    extracted cifar-10-batches-py folder, e.g.  export CIFAR10_PATH=~/data/cifar-10-python.tar.gz\n"
    "  * run keras.datasets.cifar10.load_data() once on a machine with internet, which fills Keras's cache\n"
    f"  * download {CIFAR10_URL} by hand and point CIFAR10_PATH at it"
)


class CIFAR10DataError(RuntimeError):
    """The CIFAR-10 files could not be found, read, or do not look like CIFAR-10."""


class UnsafePickleError(CIFAR10DataError, pickle.UnpicklingError):
    """A pickle asked for something other than the dicts, lists and arrays CIFAR-10 is made of."""


# What the official pickles need, and nothing more. numpy 2 renamed numpy.core to numpy._core; files
# written by numpy 1 name the old module, so both names map to the same function.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,  # type: ignore[attr-defined]
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,  # type: ignore[attr-defined]
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild CIFAR-10 batches and nothing else.

    Plain containers (dict, list, bytes, str, int) need no global lookup at all; numpy arrays need the
    four names in ``_ALLOWED``. Any other global (``os.system``, ``builtins.eval``, ``subprocess.Popen``
    ...) raises :class:`UnsafePickleError` before it is even imported, so nothing in the file runs.
    """

    def __init__(self, file: io.BufferedIOBase, *, source: str = "<pickle>") -> None:
        super().__init__(file, encoding="bytes")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle's API
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"Refused to load {self.source}: the pickle asks for {module}.{name}, which a CIFAR-10 "
                "batch never needs (it holds only dicts, lists and numpy arrays). Nothing from the file "
                "was run. The file is not the official CIFAR-10; download it again from "
                f"{CIFAR10_URL}."
            ) from None


def _unpickle(data: bytes, source: str) -> dict:
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), source=source).load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or corrupt bytes: EOFError, UnpicklingError, ValueError ...
        raise CIFAR10DataError(
            f"{source} is corrupt or truncated and could not be read as a pickle "
            f"({type(exc).__name__}: {exc}). Delete it and download CIFAR-10 again ({CIFAR10_URL})."
        ) from None
    if not isinstance(obj, dict):
        raise CIFAR10DataError(
            f"{source} holds a {type(obj).__name__}, expected a dict with keys b'labels' and b'data'."
        )
    return obj


# --------------------------------------------------------------------------------------------------
# Finding the data
# --------------------------------------------------------------------------------------------------

def _keras_cache_dirs() -> list[Path]:
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    base = home / "datasets"
    # Keras 3 extracts into "cifar-10-batches-py-target/cifar-10-batches-py"; Keras 2 used the folder
    # itself; a downloaded but unextracted archive may sit beside them.
    return [base / "cifar-10-batches-py-target" / FOLDER, base / FOLDER, base / "cifar-10-python.tar.gz",
            base / "cifar-10-batches-py.tar.gz"]


def _resolve(path: Path) -> Path | None:
    """Return a tar.gz file or a folder holding the batch files, or None if ``path`` is neither."""
    if path.is_file():
        return path
    if path.is_dir():
        if (path / TEST_BATCH).is_file():
            return path
        if (path / FOLDER / TEST_BATCH).is_file():
            return path / FOLDER
        if (path / "cifar-10-python.tar.gz").is_file():
            return path / "cifar-10-python.tar.gz"
    return None


def _download() -> Path:
    """Fetch the official archive through Keras. Separate so tests can simulate being offline."""
    from keras.utils import get_file

    return Path(get_file(fname="cifar-10-python.tar.gz", origin=CIFAR10_URL))


def find_cifar10(download: bool = True) -> Path:
    """Return where CIFAR-10 is: a ``.tar.gz`` archive or a ``cifar-10-batches-py`` folder.

    Looks at ``CIFAR10_PATH``, then Keras's cache, then (if ``download``) downloads it.
    Raises :class:`CIFAR10DataError` that says what to do when none of these works.
    """
    env = os.environ.get("CIFAR10_PATH")
    if env:
        found = _resolve(Path(env).expanduser())
        if found is None:
            raise CIFAR10DataError(
                f"CIFAR10_PATH is set to {env!r}, but that is neither a file nor a folder holding "
                f"{FOLDER}/{TEST_BATCH}. Expected the official cifar-10-python.tar.gz or an extracted "
                f"{FOLDER} folder. Fix the path, or unset CIFAR10_PATH to use Keras's cache."
            )
        return found
    for candidate in _keras_cache_dirs():
        found = _resolve(candidate)
        if found is not None:
            return found
    if not download:
        raise CIFAR10DataError("CIFAR-10 was not found (CIFAR10_PATH is not set and Keras's cache is empty).\n" + _HELP)
    try:
        return _download()
    except Exception as exc:  # offline: urllib / socket / http errors, or a bad checksum
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        raise CIFAR10DataError(
            "CIFAR-10 was not found (CIFAR10_PATH is not set, Keras's cache is empty) and downloading it "
            f"from {CIFAR10_URL} failed ({reason}).\n" + _HELP
        ) from None


def _iter_files(source: Path, names: tuple[str, ...]):
    """Yield ``(name, raw bytes)`` for each named batch file, from an archive or a folder.

    One file at a time, so that a caller that parses each file before asking for the next never holds
    more than one raw batch (31 MB) in memory.
    """
    if source.is_dir():
        for name in names:
            path = source / name
            if not path.is_file():
                raise CIFAR10DataError(f"{path} is missing: the folder {source} is not a complete {FOLDER}.")
            yield name, path.read_bytes()
        return
    wanted, seen = set(names), set()
    try:
        # Stream mode ("r|gz") reads the archive once, front to back, without seeking.
        with tarfile.open(source, mode="r|gz") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if base in wanted and base not in seen and member.isfile():
                    fh = tar.extractfile(member)
                    assert fh is not None
                    raw = fh.read()
                    if len(raw) != member.size:
                        raise EOFError(f"{member.name} is cut short ({len(raw)} of {member.size} bytes)")
                    seen.add(base)
                    yield base, raw
                    if seen == wanted:
                        break
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise CIFAR10DataError(
            f"{source} is corrupt or truncated ({type(exc).__name__}: {exc}). Expected the official "
            f"cifar-10-python.tar.gz ({CIFAR10_URL}); download it again."
        ) from None
    missing = sorted(wanted - seen)
    if missing:
        raise CIFAR10DataError(
            f"{source} does not contain {', '.join(missing)}: it is not the official cifar-10-python.tar.gz "
            f"(or it was cut short). Download it again from {CIFAR10_URL}."
        )


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------

def load_raw_batch(name: str, path: str | os.PathLike | None = None) -> dict:
    """Return one pickled file exactly as it is stored: a dict with **bytes** keys.

    ``name`` is ``'data_batch_1'`` ... ``'data_batch_5'``, ``'test_batch'`` or ``'batches.meta'``.
    ``path`` overrides the search of :func:`find_cifar10`.
    """
    if name not in ALL_FILES:
        raise ValueError(f"Unknown CIFAR-10 file {name!r}; expected one of {', '.join(ALL_FILES)}.")
    source = Path(path) if path is not None else find_cifar10()
    for _, raw in _iter_files(source, (name,)):
        return _unpickle(raw, f"{source}:{name}")
    raise AssertionError("unreachable: _iter_files yields every name or raises")


def load_class_names(path: str | os.PathLike | None = None) -> list[str]:
    """The class names from ``batches.meta`` (``b'label_names'``), decoded to str."""
    meta = load_raw_batch(META, path)
    return [n.decode("ascii") for n in meta[b"label_names"]]


def rows_to_images(data: np.ndarray) -> np.ndarray:
    """(N, 3072) rows, channels first, -> (N, 32, 32, 3) images, channels last."""
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"Expected rows of shape (N, 3072), got {data.shape}.")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def _check_batch(batch: dict, source: str, n: int = 10000) -> tuple[np.ndarray, np.ndarray]:
    try:
        data, labels = batch[b"data"], batch[b"labels"]
    except KeyError as exc:
        raise CIFAR10DataError(f"{source} has no key {exc.args[0]!r}; found {sorted(batch)}.") from None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.shape != (n, 3072):
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise CIFAR10DataError(f"{source}: b'data' is {got}, expected uint8 ({n}, 3072).")
    labels = np.asarray(labels)
    if labels.shape != (n,) or labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() > 9:
        raise CIFAR10DataError(
            f"{source}: b'labels' must be {n} integers in 0..9; got shape {labels.shape}, "
            f"dtype {labels.dtype}, range {labels.min() if labels.size else '-'}..{labels.max() if labels.size else '-'}."
        )
    return data, labels.astype(np.uint8)


def load_cifar10(path: str | os.PathLike | None = None):
    """Load all of CIFAR-10: ``(x_train, y_train), (x_test, y_test)``.

    Returns uint8 images ``x_train: (50000, 32, 32, 3)``, ``x_test: (10000, 32, 32, 3)`` (channels last,
    values 0-255) and uint8 labels ``y_train: (50000,)``, ``y_test: (10000,)`` in 0..9, in the official
    order: the same values as ``keras.datasets.cifar10.load_data()`` (whose labels are shaped (N, 1)).
    """
    source = Path(path) if path is not None else find_cifar10()
    x_train = np.empty((50000, 32, 32, 3), dtype=np.uint8)
    y_train = np.empty((50000,), dtype=np.uint8)
    x_test = np.empty((10000, 32, 32, 3), dtype=np.uint8)
    y_test = np.empty((10000,), dtype=np.uint8)
    for name, raw in _iter_files(source, (*TRAIN_BATCHES, TEST_BATCH)):
        where = f"{source}:{name}"
        batch = _unpickle(raw, where)
        del raw  # parse, copy into place, and let go before the next file is read
        data, labels = _check_batch(batch, where)
        if name == TEST_BATCH:
            x, y, start = x_test, y_test, 0
        else:
            x, y, start = x_train, y_train, TRAIN_BATCHES.index(name) * 10000
        x[start:start + 10000] = rows_to_images(data)
        y[start:start + 10000] = labels
        del batch, data
    return (x_train, y_train), (x_test, y_test)
