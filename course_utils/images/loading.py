"""Loading an image from a URL, a file, bytes or an upload: :func:`load_image`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..validation import finite_number, positive_int
from .decode import _decode
from .download import _download, _hide_credentials
from .errors import ImageLoadError, _short, _size
from .limits import MAX_BYTES, MAX_PIXELS, MAX_TIMEOUT_S, TIMEOUT_S

#: What :func:`load_image` reads: an http(s) URL or a path, bytes, or an ipywidgets.FileUpload's value (a tuple of
#: dicts with ``'content'``, or one such dict).
ImageSource = str | os.PathLike[str] | bytes | bytearray | memoryview | dict[str, Any] | Sequence[dict[str, Any]]


def _too_big(subject: str, size: int, max_bytes: int) -> ImageLoadError:
    return ImageLoadError(
        f"{subject} is {_size(size)}; the limit is {_size(max_bytes)}. Use a smaller image or raise max_bytes.",
        reason="too_large",
        subject=subject,
        limit=_size(max_bytes),
    )


def _bounded_bytes(content, subject: str, max_bytes: int, hint: str) -> bytes:
    """``content`` (bytes, bytearray, memoryview or any buffer) as bytes, its size checked before anything is
    copied: a buffer that says it holds 3 GB is refused without allocating them."""
    if isinstance(content, (str, int, float)):
        raise ImageLoadError(f"{subject} holds a {type(content).__name__}, expected bytes. {hint}")
    try:
        view = memoryview(content)
    except TypeError:
        raise ImageLoadError(f"{subject} holds a {type(content).__name__}, expected bytes. {hint}") from None
    if view.nbytes > max_bytes:
        raise _too_big(subject, view.nbytes, max_bytes)
    return view.tobytes()


def _home_error(text: str) -> ImageLoadError:
    user = text[1:].replace(os.sep, "/").split("/", 1)[0]
    who = f"there is no user {user!r} on this computer" if user else "this computer has no home folder set"
    return ImageLoadError(
        f"{_short(text)!r} starts with '~{user}', but {who}, so it is not a path to a file. Write "
        "the path in full (or ~/... for your own home folder), or pass an http(s) URL.",
        reason="home",
        subject=_short(text),
    )


# long: one branch per kind of source (path, URL, bytes, array) and per way it can be unreadable
def load_image(
    source: ImageSource, timeout: float = TIMEOUT_S, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """Read an image as an RGB uint8 array ``(H, W, 3)``, turned upright by its EXIF orientation.

    ``source`` is an ``http://`` or ``https://`` URL, a path to a local file, raw ``bytes``, or what an
    ``ipywidgets.FileUpload`` holds (its ``value``: a tuple of dicts with ``'content'``, or one such dict).
    ``timeout``: seconds for the whole download (a finite number, 0 < timeout <= :data:`MAX_TIMEOUT_S`);
    ``max_bytes``: the largest download, file or upload, checked before it is read or copied; ``max_pixels``:
    the largest image (width x height), checked before decoding.

    Pixels are converted by their meaning (Pillow's mode): 16-bit grey is scaled from 0-65535, a float TIFF read
    as 0-1 (or 0-255), 1-bit as black and white; transparent pixels (RGBA, LA, P with a transparent colour) are
    laid on :data:`BACKGROUND`, white, so a transparent logo shows its drawing on white, never its hidden colour.
    Peak memory, measured for a 50-megapixel PNG (8000 x 6250, RGB or RGBA): 360 MB above what the process held
    before -- the decoded image (Pillow keeps 4 bytes a pixel: 200 MB) and the RGB array it becomes (150 MB), which
    is filled a strip of rows at a time (before: 860 MB, with two more full copies).

    Raises :class:`ImageLoadError` for every failure, and
    :class:`~course_utils.validation.CourseValueError` for a wrong ``timeout``, ``max_bytes`` or ``max_pixels``.
    """
    timeout = finite_number(timeout, "timeout", minimum=0.0, strict_minimum=True, maximum=MAX_TIMEOUT_S)
    max_bytes = positive_int(max_bytes, "max_bytes")
    max_pixels = positive_int(max_pixels, "max_pixels")
    if isinstance(source, (tuple, list)) and not source:
        raise ImageLoadError(
            "Nothing was uploaded yet (the upload is empty). Choose a file with the Upload button "
            "first, or pass a URL, a file path or bytes.",
            reason="empty_upload",
        )
    if isinstance(source, (tuple, list)) and isinstance(source[0], dict):
        source = source[0]
    if isinstance(source, dict):
        if "content" not in source:
            raise ImageLoadError(
                f"Expected an upload with a 'content' entry, got keys "
                f"{_short(str(sorted(map(str, source))))}. Pass the FileUpload's value."
            )
        name = _short(str(source.get("name") or ""), 100)
        what = f"the upload {name!r}" if name else "the upload"
        declared = source.get("size")
        if isinstance(declared, int) and not isinstance(declared, bool) and declared > max_bytes:
            raise _too_big(what, declared, max_bytes)  # from the upload's own size: nothing is copied
        data = _bounded_bytes(source["content"], what, max_bytes, "Pass the FileUpload's value.")
        return _decode(data, what, max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = _bounded_bytes(source, "The data", max_bytes, "")
        return _decode(data, "the data", max_pixels)
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = text.strip()
        scheme = text.split(":", 1)[0].lower() if ":" in text else ""
        if scheme in ("http", "https"):
            return _decode(_download(text, timeout, max_bytes), _short(_hide_credentials(text)), max_pixels)
        if len(scheme) > 1 and scheme.isascii() and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
            raise ImageLoadError(
                f"{_short(_hide_credentials(text))!r} uses an unsupported scheme ({scheme}:); use "
                "http(s):// or a local file path.",
                reason="bad_address",
                subject=_short(_hide_credentials(text)),
            )
        try:
            path = Path(text).expanduser()
        except RuntimeError:  # '~nobody/x.png': no such user, or no home folder at all
            raise _home_error(text) from None
        try:
            if not path.is_file():
                raise ImageLoadError(
                    f"No file at {_short(str(path))}"
                    + (" (it is a folder)" if path.is_dir() else "")
                    + ". Check the path, or pass an http(s) URL.",
                    reason="no_file",
                    subject=_short(str(path)),
                )
            size = path.stat().st_size
            if size > max_bytes:
                raise _too_big(_short(str(path)), size, max_bytes)
            with open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)  # never more, even if the file grew since stat
            if len(data) > max_bytes:
                raise ImageLoadError(
                    f"{_short(str(path))} is more than {_size(max_bytes)}, the limit. Use a smaller "
                    "image or raise max_bytes.",
                    reason="too_large",
                    subject=_short(str(path)),
                    limit=_size(max_bytes),
                )
        except OSError as exc:
            raise ImageLoadError(
                f"{_short(str(path))} could not be read ({type(exc).__name__}: "
                f"{exc.strerror or exc}). Check that the file is yours to read.",
                reason="unreadable",
                subject=_short(str(path)),
            ) from None
        return _decode(data, _short(str(path)), max_pixels)
    raise ImageLoadError(
        f"Cannot load an image from a {type(source).__name__}; expected a URL, a file path, "
        "bytes, or the value of an ipywidgets.FileUpload."
    )
