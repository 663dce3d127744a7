"""Reading the batch files from an archive or a folder, within limits: a gzip stream read to its end (CRC-32
checked), tar headers capped, at most :data:`~.constants.MAX_MEMBERS` entries and
:data:`~.constants.MAX_TAR_BYTES` decompressed."""

from __future__ import annotations

import hashlib
import tarfile
import zlib
from pathlib import Path
from typing import Any

from . import constants
from .constants import ALL_FILES, FOLDER
from .errors import CIFAR10DataError
from .find import _bad_digest, _bad_size, _in_keras_cache, _is, _known_sha256


def _check_size(size: int, where: str) -> None:
    if size > constants.MAX_FILE_BYTES:
        raise CIFAR10DataError(
            f"{where} is {size:,} bytes; a CIFAR-10 batch is about 31 MB and the loader reads at most "
            f"{constants.MAX_FILE_BYTES:,} (MAX_FILE_BYTES). It is not the official file; download CIFAR-10 again "
            f"from {constants.CIFAR10_URL}."
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
        self._d: Any = zlib.decompressobj(31)  # 16 + 15: gzip header and trailer, checked
        self._input, self._buf, self._done = b"", b"", False
        self.compressed = self.decompressed = 0

    def _raw(self) -> bytes:
        chunk = self._fh.read(2**20)
        self.compressed += len(chunk)
        if self.compressed > constants.MAX_ARCHIVE_BYTES:
            raise _Refused(
                f"{self._source} grew past {constants.MAX_ARCHIVE_BYTES:,} bytes while it was read "
                "(MAX_ARCHIVE_BYTES); it is not the official archive."
            )
        if self._sha is not None:
            self._sha.update(chunk)
        return chunk

    def _next_member(self, rest: bytes) -> None:
        while len(rest) < 2 and (more := self._raw()):
            rest += more
        if rest[:2] == b"\x1f\x8b":  # another gzip member (as `cat a.gz b.gz` makes)
            self._d, self._input = zlib.decompressobj(31), rest
            return
        while rest:  # gzip allows zero padding at the end, nothing else
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
                    self._buf = d.decompress(b"", want)  # output zlib may still hold
                    if not self._buf and not d.eof:
                        raise EOFError("the gzip stream stops before its end (the file is cut short)")
                    continue
            self._buf = d.decompress(data, want)

    def read(self, size: int = -1) -> bytes:
        room = constants.MAX_TAR_BYTES - self.decompressed
        size = room + 1 if size is None or size < 0 else min(size, room + 1)
        parts, got = [], 0
        while got < size:
            self._fill(min(max(size - got, 2**16), 2**20))
            if not self._buf:
                break
            part, self._buf = self._buf[: size - got], self._buf[size - got :]
            parts.append(part)
            got += len(part)
        self.decompressed += got
        if self.decompressed > constants.MAX_TAR_BYTES:
            raise _Refused(
                f"{self._source} holds more than {constants.MAX_TAR_BYTES:,} bytes once decompressed "
                f"(MAX_TAR_BYTES); the official archive holds about 186 MB. It is not the official "
                f"archive; download it again from {constants.CIFAR10_URL}."
            )
        return b"".join(parts)

    def drain(self) -> str | None:
        """Read to the end (so every CRC is checked); return the compressed bytes' SHA-256 if it was hashed."""
        while self.read(2**20):
            pass
        return self._sha.hexdigest() if self._sha is not None else None


#: An extended header (a long name, pax attributes) longer than this is refused before tarfile reads it.
_MAX_HEADER_BYTES = 2**16
_EXTENDED = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)


class _TarInfo(tarfile.TarInfo):
    """tarfile reads a long name or pax header into memory whole, before it lists the entry: cap its size."""

    def _proc_member(self, tarfile):
        if self.type in _EXTENDED and self.size > _MAX_HEADER_BYTES:
            raise _Refused(
                f"an extended tar header ({self.name[:60]!r}) declares {self.size:,} bytes; the loader "
                f"reads at most {_MAX_HEADER_BYTES:,}. It is not the official archive; download it again "
                f"from {constants.CIFAR10_URL}."
            )
        return super()._proc_member(tarfile)


def _iter_folder(source: Path, names: tuple[str, ...]):
    for name in names:
        path = source / name
        if not _is(Path.is_file, path):
            raise CIFAR10DataError(f"{path} is missing: the folder {source} is not a complete {FOLDER}.")
        try:
            _check_size(path.stat().st_size, str(path))
            with open(path, "rb") as fh:
                raw = fh.read(constants.MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise CIFAR10DataError(
                f"{path} cannot be read ({exc.strerror or exc}). Check its permissions, or "
                f"download CIFAR-10 again ({constants.CIFAR10_URL})."
            ) from None
        _check_size(len(raw), str(path))
        yield name, raw


# long: each way a tar can fail (unreadable, truncated, a damaged member) gets its own message
def _iter_archive(source: Path, names: tuple[str, ...]):
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise CIFAR10DataError(f"{source} cannot be read ({exc.strerror or exc}).") from None
    cached = _in_keras_cache(source)
    if size > constants.MAX_ARCHIVE_BYTES:
        raise _bad_size(source, size, cached=cached)
    check_digest = cached or size == constants.CIFAR10_ARCHIVE_BYTES
    wanted, seen, listed, declared = set(names), set(), 0, 0
    try:
        with open(source, "rb") as fh:
            stream = _GzipReader(fh, source, hash_it=check_digest)
            # Stream mode ("r|") reads the archive once, front to back, without seeking.
            # _GzipReader has only read(), all that stream mode uses; typeshed asks for a whole file object.
            with tarfile.open(fileobj=stream, mode="r|", bufsize=2**20, tarinfo=_TarInfo) as tar:  # type: ignore[call-overload]
                for member in tar:
                    listed += 1
                    if listed > constants.MAX_MEMBERS:
                        raise _Refused(
                            f"{source} lists more than {constants.MAX_MEMBERS} entries (MAX_MEMBERS); the "
                            "official archive has 9. It is not the official archive; download it "
                            f"again from {constants.CIFAR10_URL}."
                        )
                    _check_size(member.size, f"{source}:{member.name}")
                    declared += member.size
                    if declared > constants.MAX_TAR_BYTES:
                        raise _Refused(
                            f"{source} declares more than {constants.MAX_TAR_BYTES:,} bytes of files "
                            "(MAX_TAR_BYTES); the official archive holds about 186 MB. It is not "
                            f"the official archive; download it again from {constants.CIFAR10_URL}."
                        )
                    base = member.name.rsplit("/", 1)[-1]
                    if base in ALL_FILES and member.isfile() and base in seen:
                        raise CIFAR10DataError(
                            f"{source} holds two files named {base}: it is not the official "
                            f"archive. Download it again from {constants.CIFAR10_URL}."
                        )
                    if base in wanted and member.isfile():
                        fh_member = tar.extractfile(member)
                        assert fh_member is not None
                        raw = fh_member.read()
                        if len(raw) != member.size:
                            raise EOFError(f"{member.name} is cut short ({len(raw)} of {member.size} bytes)")
                        seen.add(base)
                        yield base, raw
                        del raw  # let the consumer free it before the next file is read
                    elif base in ALL_FILES and member.isfile():
                        seen.add(base)
            digest = stream.drain()
    except _Refused as err:  # shown as what it is: a CIFAR10DataError, naming the archive
        raise CIFAR10DataError(str(err) if str(source) in str(err) else f"{source}: {err}") from None
    except CIFAR10DataError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        why = f"{'zlib.error' if isinstance(exc, zlib.error) else type(exc).__name__}: {str(exc)[:200]}"
        if "incorrect data check" in why or "incorrect length check" in why:
            why += "; the CRC-32 at the end of the gzip stream does not match its contents: a byte was changed"
        raise CIFAR10DataError(
            f"{source} is corrupt or truncated ({why}). Expected the official "
            f"cifar-10-python.tar.gz ({constants.CIFAR10_URL}); download it again. Nothing read from it was kept."
        ) from None
    if digest is not None and digest not in _known_sha256():  # a digest only where one is checked
        raise _bad_digest(source, digest)
    missing = sorted(wanted - seen)
    if missing:
        raise CIFAR10DataError(
            f"{source} does not contain {', '.join(missing)}: it is not the official cifar-10-python.tar.gz "
            f"(or it was cut short). Download it again from {constants.CIFAR10_URL}."
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
