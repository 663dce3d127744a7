"""The official archive downloaded into Keras's cache: within a time and size limit, kept only once its SHA-256
is the official one."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

from ..files import UnsafePathError, saved_atomically
from . import constants
from .errors import CIFAR10DataError


def _progress(done: int, total: int | None) -> None:
    total_mb = f" of {total / 1e6:.0f}" if total else ""
    print(f"\r  {done / 1e6:.0f}{total_mb} MB", end="", file=sys.stdout, flush=True)


# long: the whole safe download in one place (size, time and hash checks, each with its own message)
def _fetch(url: str, target: Path) -> Path:
    """Download ``url`` to ``target`` (in Keras's cache) safely; the file appears only once it is verified.

    The bytes go to a new private file in the same folder (:func:`course_utils.files.saved_atomically`, opened
    with ``O_EXCL``: nothing planted there is opened), which is renamed over ``target`` (replacing a link there,
    never writing through it) only when its SHA-256 is the official one. No byte for :data:`DOWNLOAD_TIMEOUT_S`,
    more than :data:`DOWNLOAD_DEADLINE_S` in all, more than :data:`MAX_ARCHIVE_BYTES`, or a wrong SHA-256: the
    temporary file is deleted and nothing is left behind.
    """
    import urllib.error
    import urllib.request

    received, started = 0, time.monotonic()
    try:
        with saved_atomically(target) as tmp, open(tmp, "xb") as out:  # "x": a file planted there is not opened
            request = urllib.request.Request(url, headers={"User-Agent": "course_utils (CIFAR-10 download)"})
            try:
                response = urllib.request.urlopen(request, timeout=constants.DOWNLOAD_TIMEOUT_S)
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError):
                    raise TimeoutError(str(exc.reason)) from None
                raise
            with response:
                declared = response.headers.get("Content-Length", "")
                declared = int(declared) if declared.strip().isdigit() else None
                if declared is not None and declared > constants.MAX_ARCHIVE_BYTES:
                    raise CIFAR10DataError(
                        f"The server announces {declared:,} bytes; the official archive is "
                        f"{constants.CIFAR10_ARCHIVE_BYTES:,}, and at most {constants.MAX_ARCHIVE_BYTES:,} are accepted "
                        "(MAX_ARCHIVE_BYTES). Nothing was downloaded."
                    )
                print(f"Downloading {url} to {target}", file=sys.stdout, flush=True)
                read = getattr(response, "read1", response.read)
                sha, shown = hashlib.sha256(), 0
                while chunk := read(2**20):
                    received += len(chunk)
                    if received > constants.MAX_ARCHIVE_BYTES:
                        raise CIFAR10DataError(
                            f"The server sent more than {constants.MAX_ARCHIVE_BYTES:,} bytes (MAX_ARCHIVE_BYTES); the "
                            f"official archive is {constants.CIFAR10_ARCHIVE_BYTES:,}. It is not the archive, so the "
                            "download was stopped and deleted."
                        )
                    if time.monotonic() - started > constants.DOWNLOAD_DEADLINE_S:
                        raise TimeoutError(
                            f"the download took more than {constants.DOWNLOAD_DEADLINE_S:g} s "
                            f"(DOWNLOAD_DEADLINE_S), with {received:,} bytes received"
                        )
                    sha.update(chunk)
                    out.write(chunk)
                    if received - shown >= 8 * 2**20:
                        shown = received
                        _progress(received, declared)
            _progress(received, declared)
            print(file=sys.stdout, flush=True)
            if declared is not None and received != declared:
                raise CIFAR10DataError(
                    f"The download was cut short: {received:,} of {declared:,} bytes arrived. It was deleted."
                )
            got = sha.hexdigest()
            if got != constants.CIFAR10_SHA256:
                raise CIFAR10DataError(
                    f"The download ({received:,} bytes) has SHA-256 {got}; the official cifar-10-python.tar.gz "
                    f"has {constants.CIFAR10_SHA256}. It is cut short or not the official file (a proxy's or a captive "
                    "portal's page?), so it was deleted and is not used. Download it again, or point CIFAR10_PATH "
                    "at a copy you trust."
                )
            out.flush()
            os.fsync(out.fileno())
    except UnsafePathError as exc:
        raise CIFAR10DataError(
            f"Cannot write into Keras's cache folder {target.parent} ({exc}). Set KERAS_HOME to a folder you can "
            "write to, or download the archive by hand and point CIFAR10_PATH at it."
        ) from None
    except TimeoutError as exc:
        raise CIFAR10DataError(
            f"The download timed out ({exc or 'no answer'}): the server sent nothing for {constants.DOWNLOAD_TIMEOUT_S:g} s "
            f"(DOWNLOAD_TIMEOUT_S) or took more than {constants.DOWNLOAD_DEADLINE_S:g} s in all. Nothing was kept. Try "
            "again later, or use a copy (CIFAR10_PATH)."
        ) from None
    return target
