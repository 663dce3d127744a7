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
batch goes through :class:`RestrictedUnpickler`, which rebuilds dicts, lists, bytes, str, ints and arrays
of numbers, and refuses anything else (an object array too, before it exists). A downloaded archive is
checked against the official SHA-256, and no file in an archive or folder larger than
:data:`MAX_FILE_BYTES` is read.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CIFAR10_URL",
    "CIFAR10_SHA256",
    "MAX_FILE_BYTES",
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


#: A batch file is about 31 MB; a tar member or file larger than this is refused before it is read.
MAX_FILE_BYTES = 64 * 2**20

#: SHA-256 of the official cifar-10-python.tar.gz. The value is the one Keras's own loader checks:
#: ``keras/src/datasets/cifar10.py`` (Keras 3.15.1), ``load_data()``, ``get_file(..., file_hash=...)``.
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"

# What a numpy array in a pickle may hold: booleans, integers, floats, complex numbers. Object arrays
# (kind "O") hold raw pointers, so rebuilding one from a file's bytes lets the file point anywhere.
_NUMERIC_KINDS = "biufc"


class _NdarrayName:
    """What ``numpy.ndarray`` in a pickle stands for: a name that ``_reconstruct`` expects as its first
    argument. It is not the class, so the pickle cannot call ``ndarray(shape, dtype, buffer)`` with a
    dtype and bytes of its choosing."""

    def __init__(self, unpickler: "RestrictedUnpickler") -> None:
        self._unpickler = unpickler

    def __call__(self, *args, **kwargs):
        raise self._unpickler._refuse("the pickle calls numpy.ndarray directly, a way to build an array "
                                      "from raw bytes that a CIFAR-10 batch never uses")


class _DtypeSpec:
    """A numeric dtype the pickle asked for; numpy's dtype state (``BUILD``) may only set the byte order."""

    __slots__ = ("dtype", "_unpickler")

    def __init__(self, dtype: np.dtype, unpickler: "RestrictedUnpickler") -> None:
        self.dtype, self._unpickler = dtype, unpickler

    def __setstate__(self, state) -> None:
        # numpy writes (3, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata]).
        if (not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4)
                or any(v is not None for v in (*state[2:5], *state[8:])) or tuple(state[5:8]) != (-1, -1, 0)):
            raise self._unpickler._refuse(f"the dtype state {str(state)[:80]} is not that of a plain numeric dtype")
        order = state[1].decode("ascii", "replace") if isinstance(state[1], bytes) else state[1]
        if order not in ("<", ">", "|", "="):
            raise self._unpickler._refuse(f"the byte order {order!r} is not one numpy writes")
        if order in "<>" and self.dtype.itemsize > 1:
            self.dtype = self.dtype.newbyteorder(order)


class _ArraySpec:
    """Stands for an array while the pickle is read; :meth:`RestrictedUnpickler.load` swaps in ``array``.

    The array is built by :func:`numpy.frombuffer` from bytes of a numeric dtype, never by numpy's own
    ``__setstate__``, so no array of references can come out of a file.
    """

    __slots__ = ("array", "_unpickler")

    def __init__(self, unpickler: "RestrictedUnpickler", array: np.ndarray | None = None) -> None:
        self.array, self._unpickler = array, unpickler

    def __setstate__(self, state) -> None:
        # numpy writes (1, shape, dtype, is_fortran, raw bytes) for an array of plain values.
        if self.array is not None:
            raise self._unpickler._refuse("the pickle sets the state of an array twice")
        if not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
            raise self._unpickler._refuse(f"the array state {str(state)[:80]} is not numpy's (1, shape, dtype, "
                                          "is_fortran, bytes)")
        _, shape, dtype, fortran, raw = state
        self.array = self._unpickler._array(raw, dtype, shape, "F" if fortran else "C")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild CIFAR-10 batches and nothing else.

    It rebuilds dicts, lists, bytes, str, ints and arrays of numbers (bool, int, float, complex). Plain
    containers need no global lookup; arrays need four names (numpy's ``_reconstruct``, ``_frombuffer``,
    ``ndarray`` and ``dtype``), each answered by a stand-in that checks its arguments. Any other global
    (``os.system``, ``builtins.eval``, ``subprocess.Popen`` ...) raises :class:`UnsafePickleError` before it
    is even imported, so nothing in the file runs. A dtype that is not numeric (``object``, structured,
    strings) is refused when the pickle names it, before any array exists; an array is built with
    :func:`numpy.frombuffer` from bytes whose length matches its shape.
    """

    def __init__(self, file: io.BufferedIOBase, *, source: str = "<pickle>", copy: bool = True) -> None:
        super().__init__(file, encoding="bytes")
        self.source = source
        # copy=False: arrays are read-only views of the file's bytes (no second copy); the loader copies
        # them into its own arrays anyway.
        self.copy = copy
        self._ndarray = _NdarrayName(self)
        # numpy 2 renamed numpy.core to numpy._core; files written by numpy 1 name the old modules.
        self._allowed = {
            ("numpy.core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): self._reconstruct,
            ("numpy.core.numeric", "_frombuffer"): self._frombuffer,
            ("numpy._core.numeric", "_frombuffer"): self._frombuffer,
            ("numpy", "ndarray"): self._ndarray,
            ("numpy", "dtype"): self._dtype,
        }

    def _refuse(self, why: str) -> "UnsafePickleError":
        return UnsafePickleError(
            f"Refused to load {self.source}: {why}. A CIFAR-10 batch holds only dicts, lists, bytes, str, "
            "ints and arrays of numbers. Nothing from the file was run and no array was built from it. The "
            f"file is not the official CIFAR-10; download it again from {CIFAR10_URL}."
        )

    def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle's API
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"Refused to load {self.source}: the pickle asks for {module}.{name}, which a CIFAR-10 "
                "batch never needs (it holds only dicts, lists and numpy arrays). Nothing from the file "
                "was run. The file is not the official CIFAR-10; download it again from "
                f"{CIFAR10_URL}."
            ) from None

    # ---- the stand-ins for numpy's names
    def _dtype(self, code, align=False, copy=False) -> _DtypeSpec:
        if not isinstance(code, (str, bytes)) or len(code) > 8 or align not in (0, 1) or copy not in (0, 1):
            raise self._refuse(f"numpy.dtype is called with {str((code, align, copy))[:80]}, not a type code")
        text = code.decode("ascii", "replace") if isinstance(code, bytes) else code
        try:
            dtype = np.dtype(text)
        except (TypeError, ValueError):
            raise self._refuse(f"numpy.dtype({text!r}) is not a numpy type") from None
        if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject or dtype.fields is not None or dtype.subdtype:
            raise self._refuse(f"the dtype {text!r} ({dtype.kind!r} kind) is not a number type; an array of "
                               "that type could hold references to memory")
        return _DtypeSpec(dtype, self)

    def _reconstruct(self, cls, shape, typecode) -> _ArraySpec:
        if cls is not self._ndarray or not isinstance(typecode, (str, bytes)) or len(typecode) > 1:
            raise self._refuse(f"numpy's _reconstruct is called with {str((cls, shape, typecode))[:80]}, "
                               "not (numpy.ndarray, shape, type code)")
        return _ArraySpec(self)

    def _frombuffer(self, buffer, dtype, shape, order) -> _ArraySpec:
        return _ArraySpec(self, self._array(buffer, dtype, shape, order))

    def _array(self, raw, dtype, shape, order) -> np.ndarray:
        if not isinstance(dtype, _DtypeSpec):
            raise self._refuse(f"an array's dtype is a {type(dtype).__name__}, not a numeric dtype")
        if isinstance(raw, (list, tuple)):
            raise self._refuse("an array's values are a list of objects, as numpy writes only for object arrays")
        if not isinstance(raw, (bytes, bytearray)):
            raise self._refuse(f"an array's values are a {type(raw).__name__}, not bytes")
        if (not isinstance(shape, tuple) or len(shape) > 8 or order not in ("C", "F")
                or not all(type(n) is int and n >= 0 for n in shape)):
            raise self._refuse(f"an array's shape {str(shape)[:80]} (order {str(order)[:8]}) is not a tuple "
                               "of sizes")
        count = math.prod(shape)          # Python ints: a crafted shape cannot overflow to a small size
        if count * dtype.dtype.itemsize != len(raw):
            raise CIFAR10DataError(
                f"{self.source} is corrupt: an array of shape {shape} and dtype {dtype.dtype} needs "
                f"{count * dtype.dtype.itemsize} bytes, the file gives {len(raw)}. Download CIFAR-10 again "
                f"({CIFAR10_URL})."
            )
        array = np.frombuffer(raw, dtype=dtype.dtype).reshape(shape, order=order)
        return array.copy(order="K") if self.copy else array

    def load(self) -> Any:
        """Read the pickle; return its dicts, lists, bytes, str, ints and numeric arrays."""
        try:
            return self._materialise(super().load())
        finally:
            # The memo holds the array stand-ins, which hold this unpickler, and the unpickler holds its own
            # bound methods: reference cycles that only the garbage collector would free, keeping each file's
            # bytes (30-60 MB) alive while the next files are read. Break them here.
            self.memo.clear()
            self._allowed, self._ndarray = {}, None

    def _materialise(self, obj: Any) -> Any:
        """Swap each array stand-in for its array, and refuse anything that is not a CIFAR-10 value."""
        def settle(value):
            if isinstance(value, _ArraySpec):
                if value.array is None:
                    raise self._refuse("an array was named but never given its values")
                return value.array
            if type(value) in (dict, list):
                if id(value) not in seen:
                    seen.add(id(value))
                    todo.append(value)
                return value
            if type(value) in (bytes, str, int, bool) or value is None:
                return value
            raise self._refuse(f"the pickle builds a {type(value).__name__}")

        seen: set[int] = set()
        todo: list = []
        root = settle(obj)
        while todo:            # a loop, not recursion: a deeply nested file cannot exhaust the stack
            container = todo.pop()
            if type(container) is dict:
                items = [(settle(k), settle(v)) for k, v in container.items()]
                if any(isinstance(k, np.ndarray) for k, _ in items):
                    raise self._refuse("a dict key is an array")
                container.clear()
                container.update(items)
            else:
                container[:] = [settle(v) for v in container]
        return root


def _unpickle(data: bytes, source: str, copy: bool = True) -> dict:
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), source=source, copy=copy).load()
    except CIFAR10DataError:          # UnsafePickleError, or an array whose size does not match its bytes
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


def _get_file(**kwargs) -> str:
    """``keras.utils.get_file``, imported only when a download is needed (tests replace this)."""
    from keras.utils import get_file

    return get_file(**kwargs)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download() -> Path:
    """Fetch the official archive through Keras and check it is the official one (SHA-256).

    Separate so tests can simulate being offline.
    """
    path = Path(_get_file(fname="cifar-10-python.tar.gz", origin=CIFAR10_URL, file_hash=CIFAR10_SHA256))
    got = _sha256(path)
    if got != CIFAR10_SHA256:
        raise CIFAR10DataError(
            f"The download {path} has SHA-256 {got}; the official cifar-10-python.tar.gz has "
            f"{CIFAR10_SHA256}. It is cut short or not the official file, so it is not used. Delete it and "
            f"download it again from {CIFAR10_URL}, or point CIFAR10_PATH at a copy you trust."
        )
    return path


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


def _check_size(size: int, where: str) -> None:
    if size > MAX_FILE_BYTES:
        raise CIFAR10DataError(
            f"{where} is {size:,} bytes; a CIFAR-10 batch is about 31 MB and the loader reads at most "
            f"{MAX_FILE_BYTES:,} (MAX_FILE_BYTES). It is not the official file; download CIFAR-10 again "
            f"from {CIFAR10_URL}."
        )


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
            _check_size(path.stat().st_size, str(path))
            yield name, path.read_bytes()
        return
    wanted, seen = set(names), set()
    try:
        # Stream mode ("r|gz") reads the archive once, front to back, without seeking.
        with tarfile.open(source, mode="r|gz") as tar:
            for member in tar:
                base = member.name.rsplit("/", 1)[-1]
                if base in wanted and base not in seen and member.isfile():
                    _check_size(member.size, f"{source}:{member.name}")
                    fh = tar.extractfile(member)
                    assert fh is not None
                    raw = fh.read()
                    if len(raw) != member.size:
                        raise EOFError(f"{member.name} is cut short ({len(raw)} of {member.size} bytes)")
                    seen.add(base)
                    yield base, raw
                    del raw          # let the consumer free it before the next file is read
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
        batch = _unpickle(raw, where, copy=False)      # views of the file's bytes, copied into place below
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
