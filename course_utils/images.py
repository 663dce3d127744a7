"""Load your own image: from an http(s) URL, a local file, or the bytes of an upload.

    image = cu.images.load_image("https://example.org/cat.jpg")   # (H, W, 3) uint8, RGB, upright
    small = cu.images.to_model_input(image)                        # (32, 32, 3) uint8 for the course model

Every source is treated as hostile until it has been checked:

* a download has one deadline for all of it (connecting, redirects, headers and body: ``timeout``), a size
  limit (``max_bytes``, also for files and uploads), and follows at most :data:`MAX_REDIRECTS` redirects,
  only to http(s);
* the pixel count is read from the file's header and checked (``max_pixels``) before anything is decoded,
  so a small file that unpacks to gigabytes is refused;
* only common photo formats are opened (JPEG, PNG, GIF, BMP, WebP, TIFF, AVIF, and HEIC/HEIF when the
  optional package ``pillow-heif`` is installed: ``pip install -e ".[heic]"``);
* the EXIF orientation is applied, so a phone photo comes out upright.

Each failure raises :class:`ImageLoadError`, whose message says what was received, what was expected, and
what to do. Messages hold text from the source (an address, a server's reason phrase, a file name): escape
them before putting them in HTML (the explorer in :mod:`course_utils.widgets` does).
"""
from __future__ import annotations

import http.client
import io
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

import numpy as np

__all__ = ["ImageLoadError", "load_image", "to_model_input", "MAX_BYTES", "MAX_PIXELS", "MAX_REDIRECTS",
           "TIMEOUT_S"]

MAX_BYTES = 10 * 2**20      # 10 MiB: far more than any photo needs at 32 x 32
MAX_PIXELS = 50_000_000     # 50 megapixels: above any phone photo; decoded, 150 MB of RGB
MAX_REDIRECTS = 5
TIMEOUT_S = 10.0            # for the whole download, not for each read

#: What :func:`load_image` opens. Pillow can open more (EPS, for one, runs Ghostscript): not from the web.
FORMATS = ("JPEG", "MPO", "PNG", "GIF", "BMP", "WEBP", "TIFF", "AVIF", "HEIF")
_EXPECTED = "Expected a JPEG, PNG, GIF, BMP or WebP file"   # (TIFF, AVIF and HEIC open too)

# HEIC/HEIF files start with an ISO box "ftyp" whose brand names the codec (iPhones write "heic").
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_HEIF_INSTALL = 'pip install pillow-heif (in the course folder: pip install -e ".[heic]")'


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class ImageLoadError(ValueError):
    """The source could not be read as an image. The message says what was received and what to do."""


# --------------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------------

class _Deadline:
    """One deadline for a whole download. When it passes, every socket opened for the download is shut
    down, so a read that is waiting (for a server that sends a byte now and then) returns at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def passed(self) -> bool:
        return self.expired or self.remaining() <= 0

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:    # the plain socket's shutdown, also under TLS: it ends a read that another thread waits in
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


def _connection_class(base: type, deadline: _Deadline) -> type:
    class Connection(base):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            per_step = self.timeout if isinstance(self.timeout, (int, float)) else deadline.seconds
            self.timeout = max(0.01, min(per_step, deadline.remaining()))
            super().connect()
            deadline.watch(self.sock)

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._connection = _connection_class(http.client.HTTPConnection, deadline)

    def http_open(self, req):
        return self.do_open(self._connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._connection = _connection_class(http.client.HTTPSConnection, deadline)

    def https_open(self, req):
        return self.do_open(self._connection, req, context=self._context)


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows at most ``limit`` redirects, and only to http(s) addresses."""

    def __init__(self, url: str, limit: int) -> None:
        super().__init__()
        self.url, self.limit, self.count = url, limit, 0
        self.max_repeats = self.max_redirections = limit + 1      # our count speaks first

    def http_error_302(self, req, fp, code, msg, headers):
        location = headers.get("location") or headers.get("uri")
        if location:
            try:
                target = urllib.parse.urljoin(req.full_url, location.strip())
                scheme = urllib.parse.urlsplit(target).scheme.lower()
            except ValueError:
                target, scheme = location, "?"
            self.count += 1
            if scheme not in ("http", "https"):
                fp.close()
                raise ImageLoadError(
                    f"{_short(self.url)} redirects to {_short(target)!r}, a {scheme}: address. Only redirects to "
                    "http(s) are followed. Open the address in a browser and copy the image's own address."
                )
            if self.count > self.limit:
                fp.close()
                raise ImageLoadError(
                    f"{_short(self.url)} redirects more than {self.limit} times (the last to {_short(target)}). "
                    "Expected an image within a few redirects. Open it in a browser and copy the final address."
                )
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener(url: str, deadline: _Deadline) -> urllib.request.OpenerDirector:
    opener = urllib.request.OpenerDirector()     # no ftp:, file: or data: handlers
    for handler in (urllib.request.ProxyHandler(), _HTTPHandler(deadline), _HTTPSHandler(deadline),
                    urllib.request.HTTPDefaultErrorHandler(), _Redirects(url, MAX_REDIRECTS),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def _download(url: str, timeout: float, max_bytes: int) -> bytes:
    where = _short(url)
    too_slow = (f"{where} did not answer in full within {timeout:g} s (one limit for the whole download). Try again, "
                "pass a larger timeout=..., or download the image and pass its file path.")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "course_utils/0.1 (explainability course)"})
    except ValueError as exc:      # e.g. "Invalid IPv6 URL" for http://[::1/x.png
        raise ImageLoadError(f"{where!r} is not a valid web address ({exc}). Expected http(s)://host/path; "
                             "copy the address again (right-click the image, 'Copy image address').") from None
    chunks: list[bytes] = []
    received = 0
    with _Deadline(timeout) as deadline:
        try:
            with _opener(url, deadline).open(request, timeout=max(deadline.remaining(), 0.01)) as response:
                declared = (response.headers.get("Content-Length") or "").strip()
                # A malformed length (not digits) is ignored: the body is still read up to max_bytes.
                if declared.isdigit() and int(declared) > max_bytes:
                    raise ImageLoadError(f"{where} is {_size(int(declared))}; the limit is {_size(max_bytes)}. "
                                         "Use a smaller image or raise max_bytes.")
                while True:
                    chunk = response.read1(65536)      # one read at a time: the deadline is seen in between
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > max_bytes:
                        raise ImageLoadError(f"{where} sent more than {_size(max_bytes)}, the limit. "
                                             "Use a smaller image or raise max_bytes.")
                    chunks.append(chunk)
                left = getattr(response, "length", None)
                if deadline.passed():
                    raise ImageLoadError(too_slow)
                if left:
                    raise ImageLoadError(f"{where} stopped after {_size(received)}; it announced "
                                         f"{_size(received + left)}. Try again, or download the image and "
                                         "pass its file path.")
        except ImageLoadError:
            raise
        except urllib.error.HTTPError as exc:
            raise ImageLoadError(f"{where} answered HTTP {exc.code} ({_short(str(exc.reason), 100)}). "
                                 "Check the address in a browser.") from None
        except Exception as exc:   # sockets, TLS, http.client, urllib: anything, as an ImageLoadError
            if deadline.passed() or isinstance(exc, TimeoutError):
                raise ImageLoadError(too_slow) from None
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else f"{type(exc).__name__}: {exc}"
            raise ImageLoadError(f"Could not reach {where} ({_short(str(reason), 150)}). Check the address "
                                 "and your internet connection, or download the image and pass its file "
                                 "path.") from None
    return b"".join(chunks)


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------

_heif_registered = False


def _looks_like_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _enable_heif(what: str) -> None:
    """Register pillow-heif's opener, or say how to install it."""
    global _heif_registered
    if _heif_registered:
        return
    try:
        import pillow_heif
    except ImportError:
        raise ImageLoadError(
            f"{what} is a HEIC/HEIF photo (the format iPhones save), and reading it needs the optional "
            f"package pillow-heif, which is not installed. Install it with {_HEIF_INSTALL}, restart the "
            "kernel and load the photo again; or save the photo as JPEG and load that."
        ) from None
    pillow_heif.register_heif_opener()
    _heif_registered = True


def _decode(data: bytes, what: str, max_pixels: int) -> np.ndarray:
    from PIL import Image, ImageOps

    if not data:
        raise ImageLoadError(f"{what} is empty (0 bytes). {_EXPECTED}; check the source.")
    if _looks_like_heif(data):
        _enable_heif(what)
    Image.init()
    formats = [f for f in FORMATS if f in Image.OPEN]
    too_many = (f"{what} is {{w}} x {{h}} = {{n:,}} pixels; the limit is {max_pixels:,} (max_pixels), far "
                "above any photo, so it is not decoded (it could fill the memory). Use a smaller image, or "
                "raise max_pixels if you trust it.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=formats) as img:
                w, h = img.size                      # from the header: nothing is decoded yet
                if w * h > max_pixels:
                    raise ImageLoadError(too_many.format(w=w, h=h, n=w * h))
                img.load()
                upright = ImageOps.exif_transpose(img)   # phone photos store "rotate me" in EXIF
                return np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:      # larger than Pillow's own limit
        raise ImageLoadError(f"{what} is too large to decode ({exc}). Use a smaller image.") from None
    except MemoryError:
        raise ImageLoadError(f"{what} needs more memory to decode than there is. Use a smaller image.") from None
    except Exception as exc:     # Pillow raises many kinds for broken files: all are "not an image"
        start = bytes(data[:16])
        raise ImageLoadError(f"{what} is not an image that can be decoded (it starts with {start!r}; "
                             f"{type(exc).__name__}). {_EXPECTED}.") from None


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------

def load_image(source, timeout: float = TIMEOUT_S, max_bytes: int = MAX_BYTES,
               max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image as an RGB uint8 array ``(H, W, 3)``, turned upright by its EXIF orientation.

    ``source`` is an ``http://`` or ``https://`` URL, a path to a local file, raw ``bytes``, or what an
    ``ipywidgets.FileUpload`` holds (its ``value``: a tuple of dicts with ``'content'``, or one such dict).
    ``timeout``: seconds for the whole download; ``max_bytes``: the largest download, file or upload;
    ``max_pixels``: the largest image (width x height), checked before decoding.
    Raises :class:`ImageLoadError` for every failure.
    """
    if isinstance(source, (tuple, list)) and source and isinstance(source[0], dict):
        source = source[0]
    if isinstance(source, dict):
        if "content" not in source:
            raise ImageLoadError(f"Expected an upload with a 'content' entry, got keys "
                                 f"{_short(str(sorted(map(str, source))))}. Pass the FileUpload's value.")
        name = _short(str(source.get("name") or ""), 100)
        what = f"the upload {name!r}" if name else "the upload"
        try:
            data = bytes(source["content"])
        except (TypeError, ValueError) as exc:
            raise ImageLoadError(f"{what} holds a {type(source['content']).__name__}, expected bytes "
                                 f"({exc}). Pass the FileUpload's value.") from None
        if len(data) > max_bytes:
            raise ImageLoadError(f"{what} is {_size(len(data))}; the limit is {_size(max_bytes)}. "
                                 "Use a smaller image or raise max_bytes.")
        return _decode(data, what, max_pixels)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise ImageLoadError(f"The data is {_size(len(data))}; the limit is {_size(max_bytes)}. "
                                 "Use a smaller image or raise max_bytes.")
        return _decode(data, "the data", max_pixels)
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = text.strip()
        scheme = text.split(":", 1)[0].lower() if ":" in text else ""
        if scheme in ("http", "https"):
            return _decode(_download(text, timeout, max_bytes), _short(text), max_pixels)
        if len(scheme) > 1 and scheme.isascii() and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
            raise ImageLoadError(f"{_short(text)!r} uses an unsupported scheme ({scheme}:); use http(s):// or "
                                 "a local file path.")
        path = Path(text).expanduser()
        try:
            if not path.is_file():
                raise ImageLoadError(f"No file at {_short(str(path))}" + (" (it is a folder)" if path.is_dir() else "")
                                     + ". Check the path, or pass an http(s) URL.")
            size = path.stat().st_size
            if size > max_bytes:
                raise ImageLoadError(f"{_short(str(path))} is {_size(size)}; the limit is {_size(max_bytes)}. "
                                     "Use a smaller image or raise max_bytes.")
            data = path.read_bytes()
        except OSError as exc:
            raise ImageLoadError(f"{_short(str(path))} could not be read ({type(exc).__name__}: "
                                 f"{exc.strerror or exc}). Check that the file is yours to read.") from None
        return _decode(data, _short(str(path)), max_pixels)
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
