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

The modules: :mod:`.limits`, :mod:`.errors`, :mod:`.download`, :mod:`.decode` (bytes to pixels), :mod:`.pixels`
(pixel formats to RGB) and :mod:`.loading`. Everything public is imported here: ``course_utils.images.load_image``
and so on.
"""

from __future__ import annotations

# FORMATS and _pixels are not in __all__; the explorers (course_utils.widgets) use _pixels from here.
from .decode import FORMATS as FORMATS
from .errors import ImageLoadError
from .limits import MAX_BYTES, MAX_PIXELS, MAX_REDIRECTS, MAX_TIMEOUT_S, TIMEOUT_S
from .loading import load_image
from .pixels import BACKGROUND, as_rgb, to_model_input
from .pixels import _pixels as _pixels

__all__ = [
    "BACKGROUND",
    "MAX_BYTES",
    "MAX_PIXELS",
    "MAX_REDIRECTS",
    "MAX_TIMEOUT_S",
    "TIMEOUT_S",
    "ImageLoadError",
    "as_rgb",
    "load_image",
    "to_model_input",
]
