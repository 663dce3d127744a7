"""Load your own image: from an http(s) URL, a local file, or the bytes of an upload.

    image = cu.images.load_image("https://example.org/cat.jpg")   # (H, W, 3) uint8, RGB
    small = cu.images.to_model_input(image)                        # (32, 32, 3) uint8 for the course model

Downloads have a timeout and a size limit, and every source is checked to be an image that Pillow can
decode; each failure raises :class:`ImageLoadError` that says what was received and what to do.
"""
from __future__ import annotations

import io
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

__all__ = ["ImageLoadError", "load_image", "to_model_input", "MAX_BYTES", "TIMEOUT_S"]

MAX_BYTES = 10 * 2**20      # 10 MiB: far more than any photo needs at 32 x 32
TIMEOUT_S = 10.0


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class ImageLoadError(ValueError):
    """The source could not be read as an image."""


def _download(url: str, timeout: float, max_bytes: int) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "course_utils/0.1 (explainability course)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length is not None and int(length) > max_bytes:
                raise ImageLoadError(f"{url} is {_size(int(length))}; the limit is {_size(max_bytes)}. "
                                     "Use a smaller image or raise max_bytes.")
            data = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise ImageLoadError(f"{url} answered HTTP {exc.code} ({exc.reason}). Check the address in a browser.") from None
    except urllib.error.URLError as exc:
        raise ImageLoadError(f"Could not reach {url} ({exc.reason}). Check the address and your internet "
                             "connection, or download the image and pass its file path.") from None
    except TimeoutError:
        raise ImageLoadError(f"{url} did not answer within {timeout:g} s. Try again, or download the image "
                             "and pass its file path.") from None
    if len(data) > max_bytes:
        raise ImageLoadError(f"{url} sent more than {_size(max_bytes)}, the limit. "
                             "Use a smaller image or raise max_bytes.")
    return data


def _decode(data: bytes, what: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ImageLoadError(f"{what} is empty (0 bytes).")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        start = bytes(data[:16])
        raise ImageLoadError(f"{what} is not an image that can be decoded (it starts with {start!r}; "
                             f"{type(exc).__name__}). Expected a JPEG, PNG, GIF, BMP or WebP file.") from None


def load_image(source, timeout: float = TIMEOUT_S, max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Read an image as an RGB uint8 array ``(H, W, 3)``.

    ``source`` is an ``http://`` or ``https://`` URL, a path to a local file, raw ``bytes``, or what an
    ``ipywidgets.FileUpload`` holds (its ``value``: a tuple of dicts with ``'content'``, or one such dict).
    """
    if isinstance(source, (tuple, list)) and source and isinstance(source[0], dict):
        source = source[0]
    if isinstance(source, dict):
        if "content" not in source:
            raise ImageLoadError(f"Expected an upload with a 'content' entry, got keys {sorted(source)}.")
        return _decode(bytes(source["content"]), f"the upload {source.get('name', '')!r}".replace(" ''", ""))
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise ImageLoadError(f"The data is {_size(len(data))}; the limit is {_size(max_bytes)}.")
        return _decode(data, "the data")
    if isinstance(source, (str, os.PathLike)):
        text = str(source)
        if text.startswith(("http://", "https://")):
            return _decode(_download(text, timeout, max_bytes), text)
        if "://" in text:
            raise ImageLoadError(f"{text!r} uses an unsupported scheme; use http(s):// or a local file path.")
        path = Path(text).expanduser()
        if not path.is_file():
            raise ImageLoadError(f"No file at {path}" + (" (it is a folder)" if path.is_dir() else "") +
                                 ". Check the path, or pass an http(s) URL.")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageLoadError(f"{path} is {_size(size)}; the limit is {_size(max_bytes)}.")
        return _decode(path.read_bytes(), str(path))
    raise ImageLoadError(f"Cannot load an image from a {type(source).__name__}; expected a URL, a file path, "
                         "bytes, or the value of an ipywidgets.FileUpload.")


def to_model_input(image, size: int = 32) -> np.ndarray:
    """Centre-crop ``image`` (H, W, 3) to a square and resize it to ``size`` x ``size`` (area-averaging),
    as uint8: what the course model takes."""
    from PIL import Image

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise ValueError(f"Expected an RGB image (H, W, 3), got shape {img.shape}.")
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(img[top:top + side, left:left + side].astype(np.uint8))
    return np.asarray(square.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)
