"""Files: written safely, and read for their SHA-256 (:func:`sha256`).

Every file the course writes (student copies, evaluation results, caches) goes through :func:`write_atomic`.

- **Atomic**: the bytes go to a new, private file in the same folder (created with ``O_EXCL``, so nothing
  planted there in advance is opened), which is flushed to disk and then renamed over the target. A reader
  sees the old file or the new one, never half of one; a crash leaves the old file as it was.
- **Never through a link**: the rename replaces a symbolic link or a hard link at the target *itself*; the file
  the link pointed to is never opened for writing, so a link planted in an output folder cannot make the course
  overwrite a notebook or anything else.
- **Only inside the folder the user named**: with ``inside=``, a target whose real folder lies outside it (a
  ``..`` in the name, a folder that is a link to elsewhere) is refused with :class:`UnsafePathError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .validation import CourseError

__all__ = ["UnsafePathError", "private_temp_dir", "saved_atomically", "sha256", "write_atomic"]


class UnsafePathError(CourseError, OSError):
    """The course refused to write a file: outside the folder it was given, or the folder cannot be written."""


def _check_folder(folder: Path, inside: Path | None) -> Path:
    if folder.exists() and not folder.is_dir():
        raise UnsafePathError(
            f"{folder} is a file, not a folder: choose a folder to write into (it is created if it does not exist)."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnsafePathError(
            f"Cannot create the folder {folder}: {exc.strerror or exc}. Choose a folder you can write to."
        ) from None
    real = folder.resolve()
    if inside is not None:
        root = Path(inside).resolve()
        if real != root and root not in real.parents:
            raise UnsafePathError(
                f"Refusing to write into {folder}: it resolves to {real}, outside {root}, the folder "
                "named for the output (a link or '..' leads out of it)."
            )
    if not os.access(real, os.W_OK | os.X_OK):
        raise UnsafePathError(
            f"The folder {folder} is read-only for this user: choose another output folder, or make this one writable."
        )
    return real


def write_atomic(
    path: str | os.PathLike[str], data: bytes | str, *, inside: str | os.PathLike[str] | None = None, mode: int = 0o644
) -> Path:
    """Write ``data`` (``str`` as UTF-8) to ``path`` atomically, replacing (never following) a link there.

    ``inside``: the folder the user named; the target must stay inside it. Returns the path written.
    """
    path = Path(path)
    folder = _check_folder(path.parent, Path(inside) if inside is not None else None)
    if path.is_dir() and not path.is_symlink():
        raise UnsafePathError(f"{path} is a folder; cannot write a file in its place.")
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, mode & ~umask)
        os.replace(tmp, folder / path.name)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


@contextlib.contextmanager
def saved_atomically(path: str | os.PathLike[str], *, inside: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """For a library that writes a file itself (``model.save(p)``): yields a new temporary path in the target's
    folder with the same suffix; when the block ends without an error, it is renamed over ``path`` (a link there
    is replaced, not followed); after an error it is removed and ``path`` is left as it was."""
    path = Path(path)
    folder = _check_folder(path.parent, Path(inside) if inside is not None else None)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    os.unlink(tmp)  # the library creates it; the unpredictable name is what matters
    try:
        yield Path(tmp)
        os.replace(tmp, folder / path.name)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def private_temp_dir(prefix: str = "course_utils_") -> Path:
    """A new folder only this user can read (``mkdtemp``: unpredictable name, mode 0700)."""
    return Path(tempfile.mkdtemp(prefix=prefix))


def sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of the file at ``path``, as 64 hex digits, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
