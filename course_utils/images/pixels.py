"""Pixels: every format (8- and 16-bit, float 0-1 or 0-255, grey, alpha) becomes RGB uint8 0-255 by what its
values mean, never by a bare cast; :func:`as_rgb` and :func:`to_model_input`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import PIL.Image

from ..validation import CourseError, CourseValueError, describe, positive_int

BACKGROUND = (255, 255, 255)  # transparent pixels are laid on white (alpha 0: white; alpha 255: the pixel)
_STRIP_PIXELS = 1 << 21  # images are converted a strip of rows at a time: 2 M pixels (~8 MB) each

# Pixel formats: every one becomes RGB uint8 0-255 by what its values mean, never by a bare cast.

_TOLERANCE = 1e-3  # a float image may overshoot 0-1 by this much (resampling): clipped


def _scale_of(
    kind: str,
    lo: float,
    hi: float,
    what: str,
    error: type[CourseError],
    *,
    sixteen_bit: bool = False,
    declared_16bit: bool = False,
) -> float:
    """The factor that brings pixel values of numpy kind ``kind`` (b, i, u, f), from ``lo`` to ``hi``, to 0-255.

    bool: 255. Integers 0-255: 1; 0-65535 with ``sixteen_bit``: 255/65535. A container that declares 16 bits
    (``declared_16bit``: a uint16 array, Pillow's I;16 modes) is always scaled by 255/65535, however dark: a
    16-bit image whose brightest pixel is 200 is nearly black, not an 8-bit image. Floats 0-1: 255; 0-255: 1.
    Anything else (NaN, infinity, negative values, integers above the range, floats above 255, floats up to
    a value between 1 and 2 that could be either range) raises ``error`` saying what to do.
    """
    if what.startswith("the "):
        what = "T" + what[1:]  # it starts the sentence
    if kind == "b":
        return 255.0
    if kind in "iu":
        if lo < 0:
            raise error(
                f"{what} holds negative values (down to {lo}); pixels are 0-255 (0-65535 in a 16-bit image). "
                "Undo whatever shifted them (a normalisation, an int8 cast) before passing the image."
            )
        if declared_16bit and hi <= 65535:
            return 255.0 / 65535.0
        if hi <= 255:
            return 1.0
        if sixteen_bit and hi <= 65535:
            return 255.0 / 65535.0
        hint = (
            " If it holds 16-bit pixels (0-65535), pass it as uint16 (arr.astype(np.uint16)); it is then "
            "scaled to 0-255."
            if hi <= 65535
            else ""
        )
        raise error(f"{what} holds integers up to {hi}; expected 0-255 (8-bit){' or 0-65535' * sixteen_bit}.{hint}")
    if kind == "f":
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise error(
                f"{what} holds NaN or infinite values; every pixel must be a finite number (0-1 or 0-255). "
                "Find where they come from (a division by zero, a log of 0) and fix that first."
            )
        if lo >= -_TOLERANCE and hi <= 1 + _TOLERANCE:
            return 255.0
        if lo >= -0.5 and 2 <= hi <= 255.5:
            return 1.0
        if lo < -0.5 or (lo < -_TOLERANCE and hi < 2):
            why = (
                f"values from {lo:.4g} to {hi:.4g} look normalised (centred on 0); undo the normalisation, so that "
                "pixels are 0-1 or 0-255"
            )
        elif hi < 2:
            why = (
                f"values up to {hi:.4g} fit neither 0-1 nor 0-255 clearly; clip a 0-1 image to 0-1 "
                "(np.clip(x, 0, 1)), or pass a 0-255 image as uint8 (np.rint(x).astype(np.uint8))"
            )
        else:
            why = f"values up to {hi:.4g} are above 255; scale them to 0-1 or 0-255 (a 16-bit image: divide by 65535)"
        raise error(
            f"{what} is a float image whose {why}. Float images are read as 0-1 (what plt.imread gives) or 0-255."
        )
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
    for top, bottom in _rows(h, w, _STRIP_PIXELS // 8):  # float64 work arrays: about 6 MB a channel
        part = arr[top:bottom]
        if part.dtype != np.uint8:
            part = np.clip(np.rint(part.astype(np.float64) * scale), 0, 255).astype(np.uint8)
        if part.ndim == 3 and channels == 1:
            part = part[..., 0]
        if channels in (2, 4):  # Pillow reads (h, w, 2) uint8 as LA and (h, w, 4) as RGBA
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
        scale = _scale_of(kind, lo, hi, what, error, sixteen_bit=True, declared_16bit=mode.startswith("I;16"))

        def convert(part):
            values = np.asarray(part)
            if kind == "f" and not np.isfinite(values).all():
                _scale_of("f", math.nan, math.nan, what, error)  # raises: NaN or infinity
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
        raise error(
            f"{what} is in the colour mode {mode}, which cannot be turned into RGB ({exc}). Save it as an "
            "RGB JPEG or PNG and load that."
        ) from None
    return out


def _pixels(image, what: str = "the image") -> tuple[np.ndarray, float]:
    """``image`` as an (H, W) or (H, W, C) array of numbers (C: 1 to 4) and the factor that brings it to 0-255;
    a Pillow image is converted by its mode. Anything else raises :class:`CourseValueError`."""
    from PIL import Image

    if isinstance(image, Image.Image):
        try:
            image.load()
        except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a broken image
            raise CourseValueError(f"{what} is a Pillow image that cannot be read ({type(exc).__name__}).") from None
        return _pil_to_rgb(image, what, CourseValueError), 1.0
    try:
        arr = np.asarray(image)
    except (TypeError, ValueError) as exc:
        raise CourseValueError(f"{what} must be an array of pixels (H, W, 3); got {describe(image)} ({exc}).") from None
    if arr.dtype.kind not in "biuf":
        raise CourseValueError(
            f"{what} must be an array of numbers; got {describe(image)} holding {arr.dtype}. Pass "
            "an (H, W, 3) array of 0-255 integers or 0-1 floats."
        )
    if not (arr.ndim == 2 or (arr.ndim == 3 and 1 <= arr.shape[2] <= 4)):
        raise CourseValueError(
            f"Expected an RGB image (H, W, 3) (or grey (H, W), or with alpha (H, W, 4)); got shape "
            f"{arr.shape}. For one image of a batch (N, H, W, 3), pass images[i]."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise CourseValueError(f"{what} is empty (shape {arr.shape}); it needs at least one pixel.")
    if arr.dtype.kind == "b":
        return arr, 255.0
    return arr, _scale_of(
        arr.dtype.kind,
        arr.min().item(),
        arr.max().item(),
        what,
        CourseValueError,
        sixteen_bit=arr.dtype == np.uint16,
        declared_16bit=arr.dtype == np.uint16,
    )


def as_rgb(image: ArrayLike | PIL.Image.Image) -> np.ndarray:
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


def to_model_input(image: ArrayLike | PIL.Image.Image, size: int = 32) -> np.ndarray:
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
    square = _to_pil(_array_to_rgb(arr[top : top + side, left : left + side], scale))
    return np.asarray(square.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)
