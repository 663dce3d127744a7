"""Decoding the bytes of a file: only common photo formats, the pixel count checked from the header before
decoding, the EXIF orientation applied, HEIC through pillow-heif."""

from __future__ import annotations

import io
import warnings

import numpy as np

from .errors import ImageLoadError
from .pixels import _pil_to_rgb

#: What :func:`load_image` opens. Pillow can open more (EPS, for one, runs Ghostscript): not from the web.
FORMATS = ("JPEG", "MPO", "PNG", "GIF", "BMP", "WEBP", "TIFF", "AVIF", "HEIF")
_EXPECTED = "Expected a JPEG, PNG, GIF, BMP or WebP file"  # (TIFF, AVIF and HEIC open too)

# HEIC/HEIF files start with an ISO box "ftyp" whose brand names the codec (iPhones write "heic").
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_HEIF_INSTALL = 'pip install pillow-heif (in the course folder: pip install -e ".[heic]")'


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
            "kernel and load the photo again; or save the photo as JPEG and load that.",
            reason="heic",
            subject=what,
        ) from None
    pillow_heif.register_heif_opener()
    _heif_registered = True


def _decode(data: bytes, what: str, max_pixels: int) -> np.ndarray:
    from PIL import Image, ImageOps

    if not data:
        raise ImageLoadError(f"{what} is empty (0 bytes). {_EXPECTED}; check the source.", reason="empty", subject=what)
    if _looks_like_heif(data):
        _enable_heif(what)
    Image.init()
    formats = [f for f in FORMATS if f in Image.OPEN]
    too_many = (
        f"{what} is {{w}} x {{h}} = {{n:,}} pixels; the limit is {max_pixels:,} (max_pixels), far "
        "above any photo, so it is not decoded (it could fill the memory). Use a smaller image, or "
        "raise max_pixels if you trust it."
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=formats) as img:
                w, h = img.size  # from the header: nothing is decoded yet
                if w * h > max_pixels:
                    raise ImageLoadError(
                        too_many.format(w=w, h=h, n=w * h),
                        reason="too_many_pixels",
                        subject=what,
                        limit=f"{max_pixels:,} pixels",
                    )
                img.load()
                ImageOps.exif_transpose(img, in_place=True)  # phone photos store "rotate me" in EXIF
                return _pil_to_rgb(img, what, ImageLoadError)
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:  # larger than Pillow's own limit
        raise ImageLoadError(
            f"{what} is too large to decode ({exc}). Use a smaller image.",
            reason="too_many_pixels",
            subject=what,
            limit=f"{max_pixels:,} pixels",
        ) from None
    except MemoryError:
        raise ImageLoadError(
            f"{what} needs more memory to decode than there is. Use a smaller image.", reason="no_memory", subject=what
        ) from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for broken files: all are "not an image"
        start = bytes(data[:16])
        raise ImageLoadError(
            f"{what} is not an image that can be decoded (it starts with {start!r}; {type(exc).__name__}). {_EXPECTED}.",
            reason="not_image",
            subject=what,
        ) from None
