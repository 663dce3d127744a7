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

The modules: :mod:`.constants` (the official archive, its files and the limits), :mod:`.errors`,
:mod:`.unpickler` (:class:`RestrictedUnpickler`), :mod:`.find` (``CIFAR10_PATH``, Keras's cache),
:mod:`.download`, :mod:`.archive` (reading an archive or a folder within limits) and :mod:`.loading` (the
checked loaders). Everything public is imported here: ``course_utils.data.load_cifar10`` and so on.
"""

from __future__ import annotations

import sys
import types
from typing import Any

# FOLDER, META and the underscored names are not in __all__; the notebooks and the tests use them from here.
from ..validation import CourseValueError as CourseValueError
from . import constants
from .archive import _GzipReader as _GzipReader
from .constants import (
    CIFAR10_ARCHIVE_BYTES,
    CIFAR10_SHA256,
    CIFAR10_URL,
    CLASS_NAMES,
    DOWNLOAD_DEADLINE_S,
    DOWNLOAD_TIMEOUT_S,
    MAX_ARCHIVE_BYTES,
    MAX_FILE_BYTES,
    MAX_MEMBERS,
    MAX_TAR_BYTES,
    TEST_BATCH,
    TRAIN_BATCHES,
)
from .constants import FOLDER as FOLDER
from .constants import META as META
from .errors import CIFAR10DataError
from .find import _download as _download
from .find import find_cifar10
from .loading import _check_batch as _check_batch
from .loading import load_cifar10, load_class_names, load_raw_batch, rows_to_images, verify_cifar10
from .unpickler import RestrictedUnpickler, UnsafePickleError
from .unpickler import _unpickle as _unpickle

__all__ = [
    "CIFAR10_ARCHIVE_BYTES",
    "CIFAR10_SHA256",
    "CIFAR10_URL",
    "CLASS_NAMES",
    "DOWNLOAD_DEADLINE_S",
    "DOWNLOAD_TIMEOUT_S",
    "MAX_ARCHIVE_BYTES",
    "MAX_FILE_BYTES",
    "MAX_MEMBERS",
    "MAX_TAR_BYTES",
    "TEST_BATCH",
    "TRAIN_BATCHES",
    "CIFAR10DataError",
    "RestrictedUnpickler",
    "UnsafePickleError",
    "find_cifar10",
    "load_cifar10",
    "load_class_names",
    "load_raw_batch",
    "rows_to_images",
    "verify_cifar10",
]

_CONSTANTS = frozenset(name for name in vars(constants) if name.isupper())


class _Package(types.ModuleType):
    """``course_utils.data`` itself: setting one of its constants sets it in :mod:`.constants`, where the loader
    reads it when it runs (``cu.data.DOWNLOAD_TIMEOUT_S = 120`` gives a slow connection more time)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _CONSTANTS:
            setattr(constants, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
