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
3. the official download, into Keras's cache (where ``keras.datasets.cifar10.load_data()`` would put it).

Pickles can run arbitrary code when they are loaded, and these files come from the internet, so every
batch goes through :class:`RestrictedUnpickler`, which rebuilds dicts, lists, bytes, str, ints and arrays
of numbers, and refuses anything else (an object array too, before it exists).

Nothing is trusted that was not checked, every time it is loaded:

* an archive is read to the end of its gzip stream, so zlib checks its CRC-32 and length (a flipped bit or a
  cut-short file is refused, not loaded); one in Keras's cache, or one of the official archive's size, must
  also have a known SHA-256 (a cached one that fails is deleted);
* every batch must have 10,000 uint8 rows of 3,072 values and 10,000 int labels in 0..9, and
  ``batches.meta`` ten class names;
* limits stop a hostile archive early: at most :data:`MAX_ARCHIVE_BYTES` of archive,
  :data:`MAX_TAR_BYTES` decompressed, :data:`MAX_MEMBERS` entries, :data:`MAX_FILE_BYTES` a file;
* the download gives up after :data:`DOWNLOAD_TIMEOUT_S` without a byte (or :data:`DOWNLOAD_DEADLINE_S` in
  all), stops at :data:`MAX_ARCHIVE_BYTES`, and goes to a private temporary file in Keras's cache that is
  renamed into place only once its SHA-256 is the official one; nothing else is ever left there.

Every refusal is a :class:`CIFAR10DataError` (a :class:`~course_utils.validation.CourseError`) that says what
was wrong and what to do.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .validation import CourseError, CourseValueError, describe

__all__ = [
    "CIFAR10_URL",
    "CIFAR10_SHA256",
    "MAX_FILE_BYTES",
    "CIFAR10_ARCHIVE_BYTES",
    "MAX_ARCHIVE_BYTES",
    "MAX_TAR_BYTES",
    "MAX_MEMBERS",
    "DOWNLOAD_TIMEOUT_S",
    "DOWNLOAD_DEADLINE_S",
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
    "verify_cifar10",
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


class CIFAR10DataError(RuntimeError, CourseError):
    """The CIFAR-10 files could not be found, read, or do not look like CIFAR-10."""


class UnsafePickleError(CIFAR10DataError, pickle.UnpicklingError):
    """A pickle asked for something other than the dicts, lists and arrays CIFAR-10 is made of."""


#: A batch file is about 31 MB; a tar member or file larger than this is refused before it is read.
MAX_FILE_BYTES = 64 * 2**20
#: The size of the official cifar-10-python.tar.gz ("163 MB" on the CIFAR-10 page).
CIFAR10_ARCHIVE_BYTES = 170_498_071
#: An archive larger than this (the official size + 18 %) is refused unread, and a download stops here.
MAX_ARCHIVE_BYTES = 192 * 2**20
#: At most this many bytes are decompressed from an archive (the official one holds about 186 MB).
MAX_TAR_BYTES = 256 * 2**20
#: At most this many entries of an archive are listed (the official one has 9: a folder and 8 files).
MAX_MEMBERS = 64
#: A download that receives no byte for this many seconds gives up ...
DOWNLOAD_TIMEOUT_S = 30.0
#: ... and so does one that has not finished after this many (163 MB at 46 kB/s).
DOWNLOAD_DEADLINE_S = 3600.0

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
            f"({type(exc).__name__}: {str(exc)[:200]}). Delete it and download CIFAR-10 again ({CIFAR10_URL})."
        ) from None
    if not isinstance(obj, dict):
        raise CIFAR10DataError(
            f"{source} holds a {type(obj).__name__}, expected a dict with keys b'labels' and b'data'."
        )
    return obj


# --------------------------------------------------------------------------------------------------
# Finding the data
# --------------------------------------------------------------------------------------------------

def _keras_datasets_dir() -> Path:
    """Keras's cache folder for data sets: ``$KERAS_HOME/datasets``, or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME")
    if not home:
        try:
            home = Path.home() / ".keras"
        except RuntimeError:        # no HOME and no entry in the password database
            home = Path(tempfile.gettempdir()) / ".keras"
    return Path(home) / "datasets"


def _keras_cache_dirs() -> list[Path]:
    base = _keras_datasets_dir()
    # Keras 3 extracts into "cifar-10-batches-py-target/cifar-10-batches-py"; Keras 2 used the folder
    # itself; a downloaded but unextracted archive may sit beside them.
    return [base / "cifar-10-batches-py-target" / FOLDER, base / FOLDER, base / "cifar-10-python.tar.gz",
            base / "cifar-10-batches-py.tar.gz"]


def _expand(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path with ``~`` and ``~user`` expanded; a clear error for a user that does not exist."""
    try:
        text = os.fspath(path)
    except TypeError:
        raise CourseValueError(f"{what[:1].upper()}{what[1:]} must be a str or a pathlib.Path; got "
                               f"{describe(path)}.") from None
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    try:
        return Path(text).expanduser()
    except RuntimeError:
        user = text[1:].split("/", 1)[0].split(os.sep, 1)[0]
        raise CIFAR10DataError(
            f"{what[:1].upper()}{what[1:]} is {text!r}, but there is no user {user!r} on this computer, so "
            f"{'~' + user!r} means nothing. Write the folder out in full (e.g. /home/you/data/cifar-10-python.tar.gz), "
            "or ~/... for your own home folder."
        ) from None


def _is(test, path: Path) -> bool:
    """``path.is_file()`` or ``path.is_dir()``, False where the system cannot say (a name too long, no access)."""
    try:
        return test(path)
    except (OSError, ValueError):
        return False


def _resolve(path: Path) -> Path | None:
    """Return a tar.gz file or a folder holding the batch files, or None if ``path`` is neither."""
    if _is(Path.is_file, path):
        return path
    if _is(Path.is_dir, path):
        if _is(Path.is_file, path / TEST_BATCH):
            return path
        if _is(Path.is_file, path / FOLDER / TEST_BATCH):
            return path / FOLDER
        if _is(Path.is_file, path / "cifar-10-python.tar.gz"):
            return path / "cifar-10-python.tar.gz"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _known_sha256() -> set[str]:
    """The official archive's SHA-256 and the model card's (a lossless rebuild with the same images)."""
    known = {CIFAR10_SHA256}
    try:
        from . import models

        card = models.load_model_card().get("data_archive_sha256")
    except Exception:   # no card, or a damaged one: the official digest alone is enough
        card = None
    if isinstance(card, str) and len(card) == 64:
        known.add(card.lower())
    return known


def _in_keras_cache(path: Path) -> bool:
    """True for an archive in Keras's cache: where downloads land, so it must be the official one."""
    try:
        return Path(os.path.abspath(path)).parent == Path(os.path.abspath(_keras_datasets_dir()))
    except (OSError, ValueError):
        return False


def _discard(path: Path) -> str:
    """Delete a cached archive that failed its check (never what a link points to); say what happened."""
    try:
        if path.is_symlink():
            return f"It is a link, so it was left in place: delete {path} yourself."
        path.unlink()
        return f"It was deleted from Keras's cache ({path.parent}), so it cannot be used by mistake."
    except OSError as exc:
        return f"It could not be deleted ({exc.strerror or exc}): delete {path} yourself."


def _bad_digest(path: Path, got: str) -> CIFAR10DataError:
    fate = _discard(path) if _in_keras_cache(path) else "Nothing from it was used."
    return CIFAR10DataError(
        f"{path} has SHA-256 {got}; the official cifar-10-python.tar.gz has {CIFAR10_SHA256}. It is cut short, "
        f"damaged or not the official file, so it is not used. {fate} Download it again from {CIFAR10_URL}, or "
        "point CIFAR10_PATH at a copy you trust."
    )


# (path, size, mtime, inode) of cached archives whose SHA-256 was checked in this session.
_VERIFIED: set[tuple] = set()


def _check_cached_archive(path: Path) -> None:
    """An archive in Keras's cache must have a known SHA-256; one that does not is deleted (never kept)."""
    try:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
        if key in _VERIFIED:
            return
        if st.st_size > MAX_ARCHIVE_BYTES:
            raise _bad_size(path, st.st_size, cached=True)
        got = _sha256(path)
    except OSError as exc:
        raise CIFAR10DataError(f"{path} cannot be read ({exc.strerror or exc}).") from None
    if got not in _known_sha256():
        raise _bad_digest(path, got)
    _VERIFIED.add(key)


def _bad_size(path: Path, size: int, cached: bool = False) -> CIFAR10DataError:
    fate = _discard(path) if cached else "It was not read."
    return CIFAR10DataError(
        f"{path} is {size:,} bytes; the official cifar-10-python.tar.gz is {CIFAR10_ARCHIVE_BYTES:,} and the "
        f"loader reads at most {MAX_ARCHIVE_BYTES:,} (MAX_ARCHIVE_BYTES). It is not the official archive. {fate} "
        f"Download it again from {CIFAR10_URL}."
    )


def _progress(done: int, total: int | None) -> None:
    total_mb = f" of {total / 1e6:.0f}" if total else ""
    print(f"\r  {done / 1e6:.0f}{total_mb} MB", end="", file=sys.stdout, flush=True)


def _fetch(url: str, target: Path) -> Path:
    """Download ``url`` to ``target`` (in Keras's cache) safely; the file appears only once it is verified.

    The bytes go to a new private file in the same folder (``mkstemp``: nothing planted there is opened), which
    is renamed over ``target`` (replacing a link there, never writing through it) only when its SHA-256 is the
    official one. No byte for :data:`DOWNLOAD_TIMEOUT_S`, more than :data:`DOWNLOAD_DEADLINE_S` in all, more than
    :data:`MAX_ARCHIVE_BYTES`, or a wrong SHA-256: the temporary file is deleted and nothing is left behind.
    """
    import urllib.error
    import urllib.request

    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise CIFAR10DataError(
            f"Cannot write into Keras's cache folder {folder} ({exc.strerror or exc}). Set KERAS_HOME to a folder "
            "you can write to, or download the archive by hand and point CIFAR10_PATH at it."
        ) from None
    received, started = 0, time.monotonic()
    try:
        with os.fdopen(fd, "wb") as out:
            request = urllib.request.Request(url, headers={"User-Agent": "course_utils (CIFAR-10 download)"})
            try:
                response = urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S)
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError):
                    raise TimeoutError(str(exc.reason)) from None
                raise
            with response:
                declared = response.headers.get("Content-Length", "")
                declared = int(declared) if declared.strip().isdigit() else None
                if declared is not None and declared > MAX_ARCHIVE_BYTES:
                    raise CIFAR10DataError(
                        f"The server announces {declared:,} bytes; the official archive is "
                        f"{CIFAR10_ARCHIVE_BYTES:,}, and at most {MAX_ARCHIVE_BYTES:,} are accepted "
                        "(MAX_ARCHIVE_BYTES). Nothing was downloaded."
                    )
                print(f"Downloading {url} to {target}", file=sys.stdout, flush=True)
                read = getattr(response, "read1", response.read)
                sha, shown = hashlib.sha256(), 0
                while chunk := read(2**20):
                    received += len(chunk)
                    if received > MAX_ARCHIVE_BYTES:
                        raise CIFAR10DataError(
                            f"The server sent more than {MAX_ARCHIVE_BYTES:,} bytes (MAX_ARCHIVE_BYTES); the "
                            f"official archive is {CIFAR10_ARCHIVE_BYTES:,}. It is not the archive, so the "
                            "download was stopped and deleted."
                        )
                    if time.monotonic() - started > DOWNLOAD_DEADLINE_S:
                        raise TimeoutError(f"the download took more than {DOWNLOAD_DEADLINE_S:g} s "
                                           f"(DOWNLOAD_DEADLINE_S), with {received:,} bytes received")
                    sha.update(chunk)
                    out.write(chunk)
                    if received - shown >= 8 * 2**20:
                        shown = received
                        _progress(received, declared)
            _progress(received, declared)
            print(file=sys.stdout, flush=True)
            if declared is not None and received != declared:
                raise CIFAR10DataError(f"The download was cut short: {received:,} of {declared:,} bytes arrived. "
                                       "It was deleted.")
            got = sha.hexdigest()
            if got != CIFAR10_SHA256:
                raise CIFAR10DataError(
                    f"The download ({received:,} bytes) has SHA-256 {got}; the official cifar-10-python.tar.gz "
                    f"has {CIFAR10_SHA256}. It is cut short or not the official file (a proxy's or a captive "
                    "portal's page?), so it was deleted and is not used. Download it again, or point CIFAR10_PATH "
                    "at a copy you trust."
                )
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, target)
        tmp = None
    except TimeoutError as exc:
        raise CIFAR10DataError(
            f"The download timed out ({exc or 'no answer'}): the server sent nothing for {DOWNLOAD_TIMEOUT_S:g} s "
            f"(DOWNLOAD_TIMEOUT_S) or took more than {DOWNLOAD_DEADLINE_S:g} s in all. Nothing was kept. Try "
            "again later, or use a copy (CIFAR10_PATH)."
        ) from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _download() -> Path:
    """Fetch the official archive into Keras's cache, checked against the official SHA-256 (see :func:`_fetch`).

    Separate so tests can simulate being offline.
    """
    target = _keras_datasets_dir() / "cifar-10-python.tar.gz"
    return _fetch(CIFAR10_URL, target)


def find_cifar10(download: bool = True) -> Path:
    """Return where CIFAR-10 is: a ``.tar.gz`` archive or a ``cifar-10-batches-py`` folder.

    Looks at ``CIFAR10_PATH``, then Keras's cache, then (if ``download``) downloads it. An archive in Keras's
    cache is returned only if its SHA-256 is known (the official one or the model card's); one that is not is
    deleted. Raises :class:`CIFAR10DataError` that says what to do when none of these works.
    """
    env = os.environ.get("CIFAR10_PATH")
    if env:
        found = _resolve(_expand(env, "CIFAR10_PATH"))
        if found is None:
            raise CIFAR10DataError(
                f"CIFAR10_PATH is set to {env!r}, but that is neither a file nor a folder holding "
                f"{FOLDER}/{TEST_BATCH}. Expected the official cifar-10-python.tar.gz or an extracted "
                f"{FOLDER} folder. Fix the path, or unset CIFAR10_PATH to use Keras's cache."
            )
        return found
    damaged = ""
    for candidate in _keras_cache_dirs():
        found = _resolve(candidate)
        if found is None:
            continue
        if found.is_file():
            try:
                _check_cached_archive(found)
            except CIFAR10DataError as err:
                damaged = str(err).splitlines()[0]
                continue
        return found
    if not download:
        where = (f"Keras's cache held a damaged archive: {damaged}" if damaged else
                 "CIFAR10_PATH is not set and Keras's cache is empty")
        raise CIFAR10DataError(f"CIFAR-10 was not found ({where}).\n" + _HELP)
    try:
        return _download()
    except Exception as exc:  # offline: urllib / socket / http errors, a timeout, a size cap or a bad checksum
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:600]
        raise CIFAR10DataError(
            "CIFAR-10 was not found (CIFAR10_PATH is not set, Keras's cache is empty) and downloading it "
            f"from {CIFAR10_URL} failed ({reason}).\n" + _HELP
        ) from None


# --------------------------------------------------------------------------------------------------
# Reading an archive or a folder, within limits
# --------------------------------------------------------------------------------------------------

def _check_size(size: int, where: str) -> None:
    if size > MAX_FILE_BYTES:
        raise CIFAR10DataError(
            f"{where} is {size:,} bytes; a CIFAR-10 batch is about 31 MB and the loader reads at most "
            f"{MAX_FILE_BYTES:,} (MAX_FILE_BYTES). It is not the official file; download CIFAR-10 again "
            f"from {CIFAR10_URL}."
        )


class _Refused(CIFAR10DataError):
    """An archive went past one of the loader's limits."""


class _GzipReader:
    """The decompressed bytes of a gzip file, read front to back, within limits.

    zlib checks each gzip member's CRC-32 and length when the member ends, so a caller reads the stream to its
    end (:meth:`drain`) before it trusts anything read from it. Caps the compressed bytes read
    (:data:`MAX_ARCHIVE_BYTES`) and the bytes decompressed (:data:`MAX_TAR_BYTES`), and hashes the compressed
    bytes when asked. Only zero padding or another gzip member may follow a member.
    """

    def __init__(self, fh, source: Path, hash_it: bool) -> None:
        self._fh, self._source = fh, source
        self._sha = hashlib.sha256() if hash_it else None
        self._d: Any = zlib.decompressobj(31)          # 16 + 15: gzip header and trailer, checked
        self._input, self._buf, self._done = b"", b"", False
        self.compressed = self.decompressed = 0

    def _raw(self) -> bytes:
        chunk = self._fh.read(2**20)
        self.compressed += len(chunk)
        if self.compressed > MAX_ARCHIVE_BYTES:
            raise _Refused(f"{self._source} grew past {MAX_ARCHIVE_BYTES:,} bytes while it was read "
                           "(MAX_ARCHIVE_BYTES); it is not the official archive.")
        if self._sha is not None:
            self._sha.update(chunk)
        return chunk

    def _next_member(self, rest: bytes) -> None:
        while len(rest) < 2 and (more := self._raw()):
            rest += more
        if rest[:2] == b"\x1f\x8b":                    # another gzip member (as `cat a.gz b.gz` makes)
            self._d, self._input = zlib.decompressobj(31), rest
            return
        while rest:                                    # gzip allows zero padding at the end, nothing else
            if rest.strip(b"\0"):
                raise zlib.error("there are bytes after the end of the gzip stream")
            rest = self._raw()
        self._done = True

    def _fill(self, want: int) -> None:
        while not self._buf and not self._done:
            d = self._d
            if d.eof:
                self._next_member(d.unused_data)
                continue
            if self._input:
                data, self._input = self._input, b""
            elif d.unconsumed_tail:
                data = d.unconsumed_tail
            else:
                data = self._raw()
                if not data:
                    self._buf = d.decompress(b"", want)   # output zlib may still hold
                    if not self._buf and not d.eof:
                        raise EOFError("the gzip stream stops before its end (the file is cut short)")
                    continue
            self._buf = d.decompress(data, want)

    def read(self, size: int = -1) -> bytes:
        room = MAX_TAR_BYTES - self.decompressed
        size = room + 1 if size is None or size < 0 else min(size, room + 1)
        parts, got = [], 0
        while got < size:
            self._fill(min(max(size - got, 2**16), 2**20))
            if not self._buf:
                break
            part, self._buf = self._buf[:size - got], self._buf[size - got:]
            parts.append(part)
            got += len(part)
        self.decompressed += got
        if self.decompressed > MAX_TAR_BYTES:
            raise _Refused(f"{self._source} holds more than {MAX_TAR_BYTES:,} bytes once decompressed "
                           f"(MAX_TAR_BYTES); the official archive holds about 186 MB. It is not the official "
                           f"archive; download it again from {CIFAR10_URL}.")
        return b"".join(parts)

    def drain(self) -> str | None:
        """Read to the end (so every CRC is checked); return the compressed bytes' SHA-256 if it was hashed."""
        while self.read(2**20):
            pass
        return self._sha.hexdigest() if self._sha is not None else None


#: An extended header (a long name, pax attributes) longer than this is refused before tarfile reads it.
_MAX_HEADER_BYTES = 2**16
_EXTENDED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
             tarfile.SOLARIS_XHDTYPE)


class _TarInfo(tarfile.TarInfo):
    """tarfile reads a long name or pax header into memory whole, before it lists the entry: cap its size."""

    def _proc_member(self, tarfile):  # noqa: D401 - tarfile's hook
        if self.type in _EXTENDED and self.size > _MAX_HEADER_BYTES:
            raise _Refused(f"an extended tar header ({self.name[:60]!r}) declares {self.size:,} bytes; the loader "
                           f"reads at most {_MAX_HEADER_BYTES:,}. It is not the official archive; download it again "
                           f"from {CIFAR10_URL}.")
        return super()._proc_member(tarfile)


def _iter_folder(source: Path, names: tuple[str, ...]):
    for name in names:
        path = source / name
        if not _is(Path.is_file, path):
            raise CIFAR10DataError(f"{path} is missing: the folder {source} is not a complete {FOLDER}.")
        try:
            _check_size(path.stat().st_size, str(path))
            with open(path, "rb") as fh:
                raw = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise CIFAR10DataError(f"{path} cannot be read ({exc.strerror or exc}). Check its permissions, or "
                                   f"download CIFAR-10 again ({CIFAR10_URL}).") from None
        _check_size(len(raw), str(path))
        yield name, raw


def _iter_archive(source: Path, names: tuple[str, ...]):
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise CIFAR10DataError(f"{source} cannot be read ({exc.strerror or exc}).") from None
    cached = _in_keras_cache(source)
    if size > MAX_ARCHIVE_BYTES:
        raise _bad_size(source, size, cached=cached)
    check_digest = cached or size == CIFAR10_ARCHIVE_BYTES
    wanted, seen, listed, declared = set(names), set(), 0, 0
    try:
        with open(source, "rb") as fh:
            stream = _GzipReader(fh, source, hash_it=check_digest)
            # Stream mode ("r|") reads the archive once, front to back, without seeking.
            with tarfile.open(fileobj=stream, mode="r|", bufsize=2**20, tarinfo=_TarInfo) as tar:
                for member in tar:
                    listed += 1
                    if listed > MAX_MEMBERS:
                        raise _Refused(f"{source} lists more than {MAX_MEMBERS} entries (MAX_MEMBERS); the "
                                       "official archive has 9. It is not the official archive; download it "
                                       f"again from {CIFAR10_URL}.")
                    _check_size(member.size, f"{source}:{member.name}")
                    declared += member.size
                    if declared > MAX_TAR_BYTES:
                        raise _Refused(f"{source} declares more than {MAX_TAR_BYTES:,} bytes of files "
                                       "(MAX_TAR_BYTES); the official archive holds about 186 MB. It is not "
                                       f"the official archive; download it again from {CIFAR10_URL}.")
                    base = member.name.rsplit("/", 1)[-1]
                    if base in ALL_FILES and member.isfile() and base in seen:
                        raise CIFAR10DataError(f"{source} holds two files named {base}: it is not the official "
                                               f"archive. Download it again from {CIFAR10_URL}.")
                    if base in wanted and member.isfile():
                        fh_member = tar.extractfile(member)
                        assert fh_member is not None
                        raw = fh_member.read()
                        if len(raw) != member.size:
                            raise EOFError(f"{member.name} is cut short ({len(raw)} of {member.size} bytes)")
                        seen.add(base)
                        yield base, raw
                        del raw          # let the consumer free it before the next file is read
                    elif base in ALL_FILES and member.isfile():
                        seen.add(base)
            digest = stream.drain()
    except _Refused as err:          # shown as what it is: a CIFAR10DataError, naming the archive
        raise CIFAR10DataError(str(err) if str(source) in str(err) else f"{source}: {err}") from None
    except CIFAR10DataError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        why = f"{'zlib.error' if isinstance(exc, zlib.error) else type(exc).__name__}: {str(exc)[:200]}"
        if "incorrect data check" in why or "incorrect length check" in why:
            why += "; the CRC-32 at the end of the gzip stream does not match its contents: a byte was changed"
        raise CIFAR10DataError(
            f"{source} is corrupt or truncated ({why}). Expected the official "
            f"cifar-10-python.tar.gz ({CIFAR10_URL}); download it again. Nothing read from it was kept."
        ) from None
    if check_digest and digest not in _known_sha256():
        raise _bad_digest(source, digest)
    missing = sorted(wanted - seen)
    if missing:
        raise CIFAR10DataError(
            f"{source} does not contain {', '.join(missing)}: it is not the official cifar-10-python.tar.gz "
            f"(or it was cut short). Download it again from {CIFAR10_URL}."
        )
    return digest


def _iter_files(source: Path, names: tuple[str, ...]):
    """Yield ``(name, raw bytes)`` for each named batch file, from an archive or a folder.

    One file at a time, so that a caller that parses each file before asking for the next never holds
    more than one raw batch (31 MB) in memory. An archive is read to its end, checked (CRC, and SHA-256 where
    one is known) before the generator finishes: a caller trusts nothing until it has run out.
    """
    if source.is_dir():
        yield from _iter_folder(source, names)
    else:
        yield from _iter_archive(source, names)


# --------------------------------------------------------------------------------------------------
# Checking what was read
# --------------------------------------------------------------------------------------------------

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
            raise CIFAR10DataError(f"{expected}; label {i} is {describe(v)}. The file is not the official "
                                   f"CIFAR-10; download it again ({CIFAR10_URL}).")
    return np.array(labels, dtype=np.uint8)


def _check_batch(batch: Any, source: str, n: int = 10000) -> tuple[np.ndarray, np.ndarray]:
    """The batch's ``(data, labels)``, checked: (n, 3072) uint8 rows and n int labels in 0..9."""
    if not isinstance(batch, dict):
        raise CIFAR10DataError(f"{source} holds {describe(batch)}, expected a dict with keys b'labels' and b'data'.")
    for key in (b"data", b"labels"):
        if key not in batch:
            raise CIFAR10DataError(f"{source} has no key {key!r}; found {_keys(batch)}. It is not a CIFAR-10 "
                                   f"batch; download CIFAR-10 again ({CIFAR10_URL}).")
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
        raise CIFAR10DataError(f"{source} has no b'label_names' (found {found}); the official batches.meta lists "
                               f"the ten class names there. Download CIFAR-10 again ({CIFAR10_URL}).")
    if (type(names) is not list or len(names) != len(CLASS_NAMES)
            or not all(isinstance(n, (bytes, str)) for n in names)):
        raise CIFAR10DataError(f"{source}: b'label_names' is {describe(names)}; expected a list of "
                               f"{len(CLASS_NAMES)} names (bytes). Download CIFAR-10 again ({CIFAR10_URL}).")
    try:
        return [n.decode("ascii") if isinstance(n, bytes) else n.encode("ascii").decode() for n in names]
    except UnicodeError:
        raise CIFAR10DataError(f"{source}: b'label_names' holds a name that is not ASCII ({describe(names)}); "
                               f"download CIFAR-10 again ({CIFAR10_URL}).") from None


def _source(path: str | os.PathLike | None) -> Path:
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

def load_raw_batch(name: str, path: str | os.PathLike | None = None) -> dict:
    """Return one pickled file exactly as it is stored: a dict with **bytes** keys.

    ``name`` is ``'data_batch_1'`` ... ``'data_batch_5'``, ``'test_batch'`` or ``'batches.meta'``.
    ``path`` overrides the search of :func:`find_cifar10`. The file is checked (a batch: 10,000 rows and labels
    in 0..9; ``batches.meta``: ten class names), and an archive is read to its end so its CRC is checked.
    """
    if not isinstance(name, str) or name not in ALL_FILES:
        raise CourseValueError(f"Unknown CIFAR-10 file {describe(name)}; expected one of {', '.join(ALL_FILES)}.")
    source = _source(path)
    batch = None
    for _, raw in _iter_files(source, (name,)):    # to the end: the archive is checked only there
        batch = _unpickle(raw, f"{source}:{name}")
        del raw
        if name == META:
            _check_meta(batch, f"{source}:{name}")
        else:
            _check_batch(batch, f"{source}:{name}")
    if batch is None:
        raise AssertionError("unreachable: _iter_files yields every name or raises")
    return batch


def load_class_names(path: str | os.PathLike | None = None) -> list[str]:
    """The class names from ``batches.meta`` (``b'label_names'``), decoded to str."""
    source = _source(path)
    return _check_meta(load_raw_batch(META, source), f"{source}:{META}")


def verify_cifar10(path: str | os.PathLike | None = None) -> Path:
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
                raise CIFAR10DataError(f"{where} lists the classes {names}; CIFAR-10's are {list(CLASS_NAMES)}. "
                                       f"Download CIFAR-10 again ({CIFAR10_URL}).")
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


def load_cifar10(path: str | os.PathLike | None = None):
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
