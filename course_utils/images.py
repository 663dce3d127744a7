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
* the EXIF orientation is applied, so a phone photo comes out upright;
* every pixel format becomes RGB 0-255 by its meaning, never by a bare cast: 16-bit images are scaled
  (65535 -> 255), float images read as 0-1 (or 0-255), and transparent pixels are laid on
  :data:`BACKGROUND` (white) -- see :func:`as_rgb` for the exact rules;
* an address with a space or a non-ASCII character is percent-encoded; a user name and password in an
  address (``https://user:password@host/...``) are sent to that host only and never shown in a message.

Each failure raises :class:`ImageLoadError` (a :class:`~course_utils.validation.CourseError` and a
``ValueError``), whose message says what was received, what was expected, and what to do; an argument of the
wrong kind (``timeout=0``, ``max_bytes=True``) raises :class:`~course_utils.validation.CourseValueError` at
the call. Messages hold text from the source (an address, a server's reason phrase, a file name): escape
them before putting them in HTML (the explorer in :mod:`course_utils.widgets` does).
"""
from __future__ import annotations

import base64
import http.client
import io
import math
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from pathlib import Path

import numpy as np

from .validation import CourseError, CourseValueError, describe, finite_number, positive_int

__all__ = ["ImageLoadError", "load_image", "to_model_input", "as_rgb", "MAX_BYTES", "MAX_PIXELS", "MAX_REDIRECTS",
           "TIMEOUT_S", "MAX_TIMEOUT_S", "BACKGROUND"]

MAX_BYTES = 10 * 2**20      # 10 MiB: far more than any photo needs at 32 x 32
MAX_PIXELS = 50_000_000     # 50 megapixels: above any phone photo; 150 MB as RGB, ~360 MB at the peak of loading
MAX_REDIRECTS = 5
TIMEOUT_S = 10.0            # for the whole download, not for each read
MAX_TIMEOUT_S = 86_400.0    # the largest timeout accepted: one day
BACKGROUND = (255, 255, 255)  # transparent pixels are laid on white (alpha 0: white; alpha 255: the pixel)
_STRIP_PIXELS = 1 << 21       # images are converted a strip of rows at a time: 2 M pixels (~8 MB) each

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


class ImageLoadError(CourseError, ValueError):
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
            target = _hide_credentials(target)
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
        fp.close()     # urllib would read the redirect's whole body (fp.read()), with no limit: never read it
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _opener(url: str, deadline: _Deadline) -> urllib.request.OpenerDirector:
    opener = urllib.request.OpenerDirector()     # no ftp:, file: or data: handlers
    for handler in (urllib.request.ProxyHandler(), _HTTPHandler(deadline), _HTTPSHandler(deadline),
                    urllib.request.HTTPDefaultErrorHandler(), _Redirects(url, MAX_REDIRECTS),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[/\\]*")     # 'http:/' and 'http:\\' too, as browsers read them


def _userinfo(url: str) -> str | None:
    """The ``user:password`` before the host in ``url``, or None. Also a malformed one that holds a '/', '?' or
    '#' ('http://me:pa/ss@host/x'), as long as what follows its ':' is not a port ('http://host:80/@me/x')."""
    match = _SCHEME.match(url)
    if not match:
        return None
    rest = url[match.end():]
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in netloc:
        return netloc.rpartition("@")[0]
    before, at, _ = rest.rpartition("@")
    _, colon, secret = before.partition(":")
    return before if at and colon and not re.match(r"\d*(?:[/?#]|$)", secret) else None


def _hide_credentials(url: str) -> str:
    """``url`` with any ``user:password@`` before the host replaced by ``***@``: what a message may show."""
    userinfo = _userinfo(url)
    if userinfo is None:
        return url
    start = _SCHEME.match(url).end()
    return url[:start] + "***@" + url[start + len(userinfo) + 1:]


def _bad_address(where: str, why: str) -> ImageLoadError:
    return ImageLoadError(f"{where!r} is not a valid web address ({why}). Expected http(s)://host/path; copy the "
                          "address again (right-click the image, 'Copy image address').")


def _quote(part: str, safe: str) -> str:
    """Percent-encode what may not stand in an address (spaces, non-ASCII letters), keeping the escapes there."""
    part = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", part)       # a lone '%' (as in '100%.png') is a character
    return urllib.parse.quote(part, safe=safe + "%")


def _web_address(url: str) -> tuple[str, str, tuple[str, str] | None]:
    """``(address to request, address to show, (user, password) or None)`` for an http(s) ``url``.

    The path and query are percent-encoded (a space becomes %20, 'é' %C3%A9), a non-ASCII host name is
    IDNA-encoded, the fragment is dropped, and the credentials are taken out of the address: they are sent in
    an ``Authorization`` header to that host only (never on a redirect) and never shown.
    """
    shown = _hide_credentials(url)
    where = _short(shown)
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port           # .port raises ValueError for 'host:abc'
    except ValueError as exc:                             # the port's text is not quoted: it may be a password
        why = "its port is not a number from 0 to 65535" if "port" in str(exc).lower() else str(exc)
        raise _bad_address(where, why) from None
    if not host:
        raise _bad_address(where, "it has no host name")
    netloc = parts.netloc.rpartition("@")[2]
    if not netloc.isascii():
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise _bad_address(where, f"the host name {_short(host, 80)!r} cannot be written in ASCII") from None
        netloc = ascii_host + (f":{port}" if port is not None else "")
    bare = netloc.rpartition(":")[0] if port is not None or netloc.endswith(":") else netloc
    if not (bare.startswith("[") or re.fullmatch(r"[A-Za-z0-9._-]+", bare)):
        raise _bad_address(where, f"the host name {_short(bare, 80)!r} may hold only letters, digits, '-' and '.'")
    auth = None
    if parts.username is not None or parts.password is not None:
        auth = (urllib.parse.unquote(parts.username or ""), urllib.parse.unquote(parts.password or ""))
    path = _quote(parts.path, "/:@!$&'()*+,;=~") or "/"
    query = _quote(parts.query, "/?:@!$&'()*+,;=~")
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, query, "")), shown, auth


def _scrub(text: str, password: str) -> str:
    """``text`` with ``password`` (3 characters or more) replaced by ``***``, in case an exception quoted it."""
    if len(password) >= 3:
        for secret in {password, urllib.parse.unquote(password), urllib.parse.quote(password, safe="")}:
            text = text.replace(secret, "***")
    return text


def _download(url: str, timeout: float, max_bytes: int) -> bytes:
    password = (_userinfo(url) or "").partition(":")[2]
    try:
        address, shown, auth = _web_address(url)
        return _fetch(address, shown, auth, timeout, max_bytes)
    except ImageLoadError as exc:
        raise ImageLoadError(_scrub(str(exc), password)) from None


def _fetch(url: str, shown: str, auth: tuple[str, str] | None, timeout: float, max_bytes: int) -> bytes:
    """The body of ``url`` (already encoded); ``shown``: the address as messages show it (no credentials)."""
    where = _short(shown)
    too_slow = (f"{where} did not answer in full within {timeout:g} s (one limit for the whole download). Try again, "
                "pass a larger timeout=..., or download the image and pass its file path.")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "course_utils/0.1 (explainability course)"})
    except ValueError as exc:      # e.g. "Invalid IPv6 URL" for http://[::1/x.png
        raise _bad_address(where, str(exc)) from None
    if auth is not None:           # to this host only: an unredirected header is not sent on to a redirect
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
        request.add_unredirected_header("Authorization", f"Basic {token}")
    chunks: list[bytes] = []
    received = 0
    with _Deadline(timeout) as deadline:
        try:
            with _opener(shown, deadline).open(request, timeout=max(deadline.remaining(), 0.01)) as response:
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


# Pixel formats: every one becomes RGB uint8 0-255 by what its values mean, never by a bare cast.

_TOLERANCE = 1e-3     # a float image may overshoot 0-1 by this much (resampling): clipped


def _scale_of(kind: str, lo: float, hi: float, what: str, error: type[CourseError], *,
              sixteen_bit: bool = False) -> float:
    """The factor that brings pixel values of numpy kind ``kind`` (b, i, u, f), from ``lo`` to ``hi``, to 0-255.

    bool: 255. Integers 0-255: 1; 0-65535 with ``sixteen_bit``: 255/65535. Floats 0-1: 255; 0-255: 1.
    Anything else (NaN, infinity, negative values, integers above the range, floats above 255, floats up to
    a value between 1 and 2 that could be either range) raises ``error`` saying what to do.
    """
    if what.startswith("the "):
        what = "T" + what[1:]                # it starts the sentence
    if kind == "b":
        return 255.0
    if kind in "iu":
        if lo < 0:
            raise error(f"{what} holds negative values (down to {lo}); pixels are 0-255 (0-65535 in a 16-bit image). "
                        "Undo whatever shifted them (a normalisation, an int8 cast) before passing the image.")
        if hi <= 255:
            return 1.0
        if sixteen_bit and hi <= 65535:
            return 255.0 / 65535.0
        hint = (" If it holds 16-bit pixels (0-65535), pass it as uint16 (arr.astype(np.uint16)); it is then "
                "scaled to 0-255." if hi <= 65535 else "")
        raise error(f"{what} holds integers up to {hi}; expected 0-255 (8-bit){' or 0-65535' * sixteen_bit}.{hint}")
    if kind == "f":
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise error(f"{what} holds NaN or infinite values; every pixel must be a finite number (0-1 or 0-255). "
                        "Find where they come from (a division by zero, a log of 0) and fix that first.")
        if lo >= -_TOLERANCE and hi <= 1 + _TOLERANCE:
            return 255.0
        if lo >= -0.5 and 2 <= hi <= 255.5:
            return 1.0
        if lo < -0.5 or (lo < -_TOLERANCE and hi < 2):
            why = (f"values from {lo:.4g} to {hi:.4g} look normalised (centred on 0); undo the normalisation, so that "
                   "pixels are 0-1 or 0-255")
        elif hi < 2:
            why = (f"values up to {hi:.4g} fit neither 0-1 nor 0-255 clearly; clip a 0-1 image to 0-1 "
                   "(np.clip(x, 0, 1)), or pass a 0-255 image as uint8 (np.rint(x).astype(np.uint8))")
        else:
            why = (f"values up to {hi:.4g} are above 255; scale them to 0-1 or 0-255 (a 16-bit image: divide by "
                   "65535)")
        raise error(f"{what} is a float image whose {why}. Float images are read as 0-1 (what plt.imread gives) or "
                    "0-255.")
    raise error(f"{what} holds values of type {kind!r}; expected numbers (0-255, or floats 0-1).")


def _rows(height: int, width: int, pixels: int = _STRIP_PIXELS):
    """``(top, bottom)`` of strips of rows of about ``pixels`` pixels each, top to bottom."""
    step = max(1, pixels // max(width, 1))
    for top in range(0, height, step):
        yield top, min(height, top + step)


def _composite(img):
    """A Pillow image with alpha (RGBA, LA, PA, P or RGB with a transparent colour) laid on :data:`BACKGROUND`."""
    from PIL import Image

    rgba = img.convert("RGBA")
    ground = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
    return Image.alpha_composite(ground, rgba).convert("RGB")


def _array_to_rgb(arr: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) or (H, W, C) numbers (C: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA) times ``scale`` -> (H, W, 3) uint8.

    Rounded, not truncated; alpha is laid on :data:`BACKGROUND`. Done a strip at a time, so a large float image
    takes no float copy of itself.
    """
    from PIL import Image

    channels = 1 if arr.ndim == 2 else arr.shape[2]
    if arr.dtype == np.uint8 and channels == 3:
        return arr
    h, w = arr.shape[:2]
    out = np.empty((h, w, 3), np.uint8)
    for top, bottom in _rows(h, w, _STRIP_PIXELS // 8):     # float64 work arrays: about 6 MB a channel
        part = arr[top:bottom]
        if part.dtype != np.uint8:
            part = np.clip(np.rint(part.astype(np.float64) * scale), 0, 255).astype(np.uint8)
        if part.ndim == 3 and channels == 1:
            part = part[..., 0]
        if channels in (2, 4):           # Pillow reads (h, w, 2) uint8 as LA and (h, w, 4) as RGBA
            part = np.asarray(_composite(Image.fromarray(np.ascontiguousarray(part))))
        elif part.ndim == 2:
            part = part[..., None]
        out[top:bottom] = part
    return out


def _pil_to_rgb(img, what: str, error: type[CourseError]) -> np.ndarray:
    """A loaded Pillow image as (H, W, 3) uint8, by its mode: 16-bit grey (I;16) scaled from 0-65535, 32-bit
    integer grey (I) read as 8-bit if it stays within 0-255 and as 16-bit within 0-65535, float grey (F) read as 0-1
    or 0-255, alpha or a transparent colour laid on :data:`BACKGROUND`, every other mode as Pillow converts it to
    RGB (1-bit as black and white, L as grey, P through its palette, CMYK and YCbCr as colours)."""
    mode = img.mode
    w, h = img.size
    if mode.startswith("I;16") or mode in ("I", "F"):
        lo, hi = img.getextrema()
        kind = "f" if mode == "F" else "i"
        scale = _scale_of(kind, lo, hi, what, error, sixteen_bit=True)

        def convert(part):
            values = np.asarray(part)
            if kind == "f" and not np.isfinite(values).all():
                _scale_of("f", math.nan, math.nan, what, error)       # raises: NaN or infinity
            return _array_to_rgb(values, scale)
    elif "A" in mode or "a" in mode or "transparency" in img.info:
        def convert(part):
            return np.asarray(_composite(part))
    else:
        def convert(part):
            return np.asarray(part.convert("RGB"))
    out = np.empty((h, w, 3), np.uint8)
    try:
        for top, bottom in _rows(h, w):
            out[top:bottom] = convert(img.crop((0, top, w, bottom)))
    except ValueError as exc:
        if isinstance(exc, CourseError):
            raise
        raise error(f"{what} is in the colour mode {mode}, which cannot be turned into RGB ({exc}). Save it as an "
                    "RGB JPEG or PNG and load that.") from None
    return out


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
                ImageOps.exif_transpose(img, in_place=True)   # phone photos store "rotate me" in EXIF
                return _pil_to_rgb(img, what, ImageLoadError)
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

def _too_big(subject: str, size: int, max_bytes: int) -> ImageLoadError:
    return ImageLoadError(f"{subject} is {_size(size)}; the limit is {_size(max_bytes)}. Use a smaller image or raise "
                          "max_bytes.")


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
    return ImageLoadError(f"{_short(text)!r} starts with '~{user}', but {who}, so it is not a path to a file. Write "
                          "the path in full (or ~/... for your own home folder), or pass an http(s) URL.")


def load_image(source, timeout: float = TIMEOUT_S, max_bytes: int = MAX_BYTES,
               max_pixels: int = MAX_PIXELS) -> np.ndarray:
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
        raise ImageLoadError("Nothing was uploaded yet (the upload is empty). Choose a file with the Upload button "
                             "first, or pass a URL, a file path or bytes.")
    if isinstance(source, (tuple, list)) and isinstance(source[0], dict):
        source = source[0]
    if isinstance(source, dict):
        if "content" not in source:
            raise ImageLoadError(f"Expected an upload with a 'content' entry, got keys "
                                 f"{_short(str(sorted(map(str, source))))}. Pass the FileUpload's value.")
        name = _short(str(source.get("name") or ""), 100)
        what = f"the upload {name!r}" if name else "the upload"
        declared = source.get("size")
        if isinstance(declared, int) and not isinstance(declared, bool) and declared > max_bytes:
            raise _too_big(what, declared, max_bytes)           # from the upload's own size: nothing is copied
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
            raise ImageLoadError(f"{_short(_hide_credentials(text))!r} uses an unsupported scheme ({scheme}:); use "
                                 "http(s):// or a local file path.")
        try:
            path = Path(text).expanduser()
        except RuntimeError:             # '~nobody/x.png': no such user, or no home folder at all
            raise _home_error(text) from None
        try:
            if not path.is_file():
                raise ImageLoadError(f"No file at {_short(str(path))}" + (" (it is a folder)" if path.is_dir() else "")
                                     + ". Check the path, or pass an http(s) URL.")
            size = path.stat().st_size
            if size > max_bytes:
                raise _too_big(_short(str(path)), size, max_bytes)
            with open(path, "rb") as fh:
                data = fh.read(max_bytes + 1)          # never more, even if the file grew since stat
            if len(data) > max_bytes:
                raise ImageLoadError(f"{_short(str(path))} is more than {_size(max_bytes)}, the limit. Use a smaller "
                                     "image or raise max_bytes.")
        except OSError as exc:
            raise ImageLoadError(f"{_short(str(path))} could not be read ({type(exc).__name__}: "
                                 f"{exc.strerror or exc}). Check that the file is yours to read.") from None
        return _decode(data, _short(str(path)), max_pixels)
    raise ImageLoadError(f"Cannot load an image from a {type(source).__name__}; expected a URL, a file path, "
                         "bytes, or the value of an ipywidgets.FileUpload.")


def _pixels(image, what: str = "the image") -> tuple[np.ndarray, float]:
    """``image`` as an (H, W) or (H, W, C) array of numbers (C: 1 to 4) and the factor that brings it to 0-255;
    a Pillow image is converted by its mode. Anything else raises :class:`CourseValueError`."""
    from PIL import Image

    if isinstance(image, Image.Image):
        try:
            image.load()
        except Exception as exc:
            raise CourseValueError(f"{what} is a Pillow image that cannot be read ({type(exc).__name__}).") from None
        return _pil_to_rgb(image, what, CourseValueError), 1.0
    try:
        arr = np.asarray(image)
    except (TypeError, ValueError) as exc:
        raise CourseValueError(f"{what} must be an array of pixels (H, W, 3); got {describe(image)} ({exc}).") from None
    if arr.dtype.kind not in "biuf":
        raise CourseValueError(f"{what} must be an array of numbers; got {describe(image)} holding {arr.dtype}. Pass "
                               "an (H, W, 3) array of 0-255 integers or 0-1 floats.")
    if not (arr.ndim == 2 or (arr.ndim == 3 and 1 <= arr.shape[2] <= 4)):
        raise CourseValueError(f"Expected an RGB image (H, W, 3) (or grey (H, W), or with alpha (H, W, 4)); got shape "
                               f"{arr.shape}. For one image of a batch (N, H, W, 3), pass images[i].")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise CourseValueError(f"{what} is empty (shape {arr.shape}); it needs at least one pixel.")
    if arr.dtype.kind == "b":
        return arr, 255.0
    return arr, _scale_of(arr.dtype.kind, arr.min().item(), arr.max().item(), what, CourseValueError,
                          sixteen_bit=arr.dtype == np.uint16)


def as_rgb(image) -> np.ndarray:
    """``image`` as RGB uint8 ``(H, W, 3)``, by what its values mean (an RGB uint8 array comes back as it is).

    Accepted: (H, W, 3) RGB, (H, W) or (H, W, 1) grey, (H, W, 2) grey + alpha, (H, W, 4) RGBA, or a Pillow image.
    Values: integers 0-255; uint16 0-65535 (16-bit, scaled to 0-255); bool (black and white); floats 0-1
    (matplotlib's convention, what ``plt.imread`` returns: scaled by 255) or 0-255, rounded. Alpha is laid on
    :data:`BACKGROUND` (white). NaN or infinity, negative values, integers above 255 (uint16: 65535) and floats
    above 255 are refused with :class:`~course_utils.validation.CourseValueError`, as are floats whose largest
    value lies between 1 and 2 (0-1 or 0-255? it cannot be told).
    """
    arr, scale = _pixels(image)
    return _array_to_rgb(arr, scale)


def _to_pil(rgb: np.ndarray):
    """(H, W, 3) uint8 as a Pillow image, filled a strip at a time (no full copy of a cropped view in between)."""
    from PIL import Image

    h, w = rgb.shape[:2]
    if h * w <= _STRIP_PIXELS:
        return Image.fromarray(np.ascontiguousarray(rgb))
    img = Image.new("RGB", (w, h))
    for top, bottom in _rows(h, w):
        img.paste(Image.fromarray(np.ascontiguousarray(rgb[top:bottom])), (0, top))
    return img


def to_model_input(image, size: int = 32) -> np.ndarray:
    """Centre-crop ``image`` to a square and resize it to ``size`` x ``size`` (area-averaging), as uint8: what the
    course model takes.

    ``image``: (H, W, 3) RGB, or any image :func:`as_rgb` accepts -- a float image in 0-1 (``plt.imread``) is
    scaled to 0-255, a 16-bit one from 0-65535, and alpha is laid on white; anything it cannot read without
    guessing raises :class:`~course_utils.validation.CourseValueError`.
    """
    from PIL import Image

    size = positive_int(size, "size")
    if size > 4096:
        raise CourseValueError(f"size must be at most 4096 (the course model takes 32); got {size}.")
    arr, scale = _pixels(image)
    h, w = arr.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = _to_pil(_array_to_rgb(arr[top:top + side, left:left + side], scale))
    return np.asarray(square.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)
