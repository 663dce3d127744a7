"""What CIFAR-10 is on disk (the official archive, its files and class names) and the loader's limits.

The loader's modules read these as ``constants.NAME`` when they run, and setting one on the package
(``course_utils.data.DOWNLOAD_TIMEOUT_S = 120``) sets it here (see :mod:`course_utils.data`), so a changed
value takes effect everywhere.
"""

from __future__ import annotations

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
ALL_FILES = (*TRAIN_BATCHES, TEST_BATCH, META)

#: The ten class names, in label order, as ``batches.meta`` lists them (checked against the file by
#: :func:`load_class_names` and the tests).
CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)

_HELP = (
    "To fix it, do one of these:\n"
    "  * set the environment variable CIFAR10_PATH to the official cifar-10-python.tar.gz or to an\n"
    "    extracted cifar-10-batches-py folder, e.g.  export CIFAR10_PATH=~/data/cifar-10-python.tar.gz\n"
    "  * run keras.datasets.cifar10.load_data() once on a machine with internet, which fills Keras's cache\n"
    f"  * download {CIFAR10_URL} by hand and point CIFAR10_PATH at it"
)


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
