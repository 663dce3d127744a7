"""Where CIFAR-10 is: ``CIFAR10_PATH``, Keras's cache (each cached archive checked against its SHA-256), or the
official download (:mod:`.download`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..files import sha256
from ..validation import CourseValueError, describe
from . import constants
from .constants import _HELP, FOLDER, TEST_BATCH
from .download import _fetch
from .errors import CIFAR10DataError


def _keras_datasets_dir() -> Path:
    """Keras's cache folder for data sets: ``$KERAS_HOME/datasets``, or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME")
    if home:
        return Path(home) / "datasets"
    try:
        return Path.home() / ".keras" / "datasets"
    except RuntimeError:  # no HOME and no entry in the password database
        return Path(tempfile.gettempdir()) / ".keras" / "datasets"


def _keras_cache_dirs() -> list[Path]:
    base = _keras_datasets_dir()
    # Keras 3 extracts into "cifar-10-batches-py-target/cifar-10-batches-py"; Keras 2 used the folder
    # itself; a downloaded but unextracted archive may sit beside them.
    return [
        base / "cifar-10-batches-py-target" / FOLDER,
        base / FOLDER,
        base / "cifar-10-python.tar.gz",
        base / "cifar-10-batches-py.tar.gz",
    ]


def _expand(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path with ``~`` and ``~user`` expanded; a clear error for a user that does not exist."""
    try:
        text = os.fspath(path)
    except TypeError:
        raise CourseValueError(
            f"{what[:1].upper()}{what[1:]} must be a str or a pathlib.Path; got {describe(path)}."
        ) from None
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


def _known_sha256() -> set[str]:
    """The official archive's SHA-256 and the model card's (a lossless rebuild with the same images)."""
    from .. import models

    known = {constants.CIFAR10_SHA256}
    card = models.data_archive_sha256()  # None without a readable card: the official digest alone is enough
    if card is not None:
        known.add(card)
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
        f"{path} has SHA-256 {got}; the official cifar-10-python.tar.gz has {constants.CIFAR10_SHA256}. It is cut short, "
        f"damaged or not the official file, so it is not used. {fate} Download it again from {constants.CIFAR10_URL}, or "
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
        if st.st_size > constants.MAX_ARCHIVE_BYTES:
            raise _bad_size(path, st.st_size, cached=True)
        got = sha256(path)
    except OSError as exc:
        raise CIFAR10DataError(f"{path} cannot be read ({exc.strerror or exc}).") from None
    if got not in _known_sha256():
        raise _bad_digest(path, got)
    _VERIFIED.add(key)


def _bad_size(path: Path, size: int, cached: bool = False) -> CIFAR10DataError:
    fate = _discard(path) if cached else "It was not read."
    return CIFAR10DataError(
        f"{path} is {size:,} bytes; the official cifar-10-python.tar.gz is {constants.CIFAR10_ARCHIVE_BYTES:,} and the "
        f"loader reads at most {constants.MAX_ARCHIVE_BYTES:,} (MAX_ARCHIVE_BYTES). It is not the official archive. {fate} "
        f"Download it again from {constants.CIFAR10_URL}."
    )


def _download() -> Path:
    """Fetch the official archive into Keras's cache, checked against the official SHA-256 (see :func:`_fetch`).

    Separate so tests can simulate being offline.
    """
    target = _keras_datasets_dir() / "cifar-10-python.tar.gz"
    return _fetch(constants.CIFAR10_URL, target)


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
        where = (
            f"Keras's cache held a damaged archive: {damaged}"
            if damaged
            else "CIFAR10_PATH is not set and Keras's cache is empty"
        )
        raise CIFAR10DataError(f"CIFAR-10 was not found ({where}).\n" + _HELP)
    try:
        return _download()
    except Exception as exc:  # noqa: BLE001 - offline: urllib / socket / http errors, a timeout, a size cap or a bad checksum
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:600]
        raise CIFAR10DataError(
            "CIFAR-10 was not found (CIFAR10_PATH is not set, Keras's cache is empty) and downloading it "
            f"from {constants.CIFAR10_URL} failed ({reason}).\n" + _HELP
        ) from None
