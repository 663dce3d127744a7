"""Checkers of notebook 09, when explanations go wrong: alpha of a binary model's class 0, a preprocessing fix, a heat map to uint8."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._core import Answer, AnswerTypeError, Feedback, _array, _call, _close, _matches, _needs_answer, _require_shape

__all__ = ["check_binary_alpha", "check_preprocessing_fix", "check_to_uint8"]


@_needs_answer
def check_binary_alpha(alpha: Answer, kernel: ArrayLike, Z: int, p: float) -> Feedback:
    """``alpha``: the Grad-CAM weights (K,) for class 0 of a binary model p = sigmoid(z) with
    z = GAP(A) @ kernel + b, at a layer of ``Z`` positions. ``kernel``: (K, 1); ``p``: the image's sigmoid output.

    Class 1 is scored by the logit z, class 0 by -z, so alpha = -kernel[:, 0] / Z.
    """
    got = _array(alpha, "alpha")
    w = np.asarray(kernel, np.float64).reshape(-1)
    want = -w / Z
    if got.shape == (w.size, 1):
        return Feedback(
            False,
            f"alpha has shape {got.shape}: one weight per feature map is a vector "
            f"({w.size},); take the kernel's only column, kernel[:, 0].",
        )
    if _matches(got, want, "alpha"):
        return Feedback(
            True,
            "class 0 is scored by -z, so every gradient flips its sign: alpha = -w / Z, the "
            "mirror image of class 1's weights. Its map shows where the features that speak "
            "against class 1 are.",
        )
    if _close(got, -want):
        return Feedback(False, "these are the weights of class 1, +w / Z. Class 0 is scored by -z: the sign flips.")
    if _close(got, -w) or _close(got, w):
        return Feedback(
            False, f"divide by Z = {Z}: GAP averages each feature map over its Z positions, so dz/dA^k_ij = w_k / Z."
        )
    slope = p * (1 - p)
    if slope > 0 and (_close(got, slope * want) or _close(got, -slope * want)):
        return Feedback(
            False,
            f"you differentiated the probability 1 - p: its slope p (1 - p) = {slope:.3g} "
            "shrinks every weight, towards 0 on confident images. Grad-CAM scores the logit: "
            "-z for class 0.",
        )
    return Feedback(
        False,
        "the values differ from -kernel[:, 0] / Z: write the score of class 0 as -z, "
        "then differentiate it through GAP and the Dense layer.",
    )


def _bgr01_batch() -> np.ndarray:
    """Two small BGR images with values 0-1, not square, so that swapped axes show."""
    return np.random.default_rng(9).uniform(0.0, 1.0, (2, 5, 7, 3))


@_needs_answer
def check_preprocessing_fix(fix: Answer) -> Feedback:
    """``fix``: a function from a batch of BGR images with values 0-1 (N, H, W, 3), as OpenCV loads them and
    scales many pipelines, to what the course model takes: RGB, 0-255. Tried on a batch of its own."""
    if not callable(fix):
        raise AnswerTypeError(
            f"my_fix should be a function of the images (def my_fix(images): return ...), got {type(fix).__name__}."
        )
    x = _bgr01_batch()
    got = _array(_call(fix, x.copy()), "my_fix(images)")
    want = x[..., ::-1] * 255.0
    _require_shape(got, want, "my_fix(images)")
    if np.allclose(got, want, atol=1e-4):
        return Feedback(
            True,
            "reverse the channel axis (BGR -> RGB) and scale 0-1 to 0-255: the model's "
            "Normalization layer then sees what it saw in training.",
        )
    if np.allclose(got, want, atol=1.0):
        return Feedback(True, "BGR -> RGB and 0-255, rounded to whole numbers: what an image file holds.")
    if np.allclose(got, x * 255.0, atol=1.0):
        return Feedback(
            False,
            "the values are 0-255 now, but the channels are still B, G, R: reverse the last axis, images[..., ::-1].",
        )
    if np.allclose(got, x[..., ::-1], atol=1e-4):
        return Feedback(
            False,
            "RGB now, but the values are still 0-1; the course model takes 0-255 (it "
            "normalises them itself): multiply by 255.",
        )
    if np.allclose(got, x[..., ::-1] / 255.0, atol=1e-6):
        return Feedback(False, "you divided by 255: the images are 0-1 already and the model wants 0-255, so multiply.")
    for axis, name in (
        (0, "the order of the images"),
        (1, "the rows (upside down)"),
        (2, "the columns (a mirror image)"),
    ):
        if np.allclose(got, np.flip(x, axis) * 255.0, atol=1.0):
            return Feedback(
                False, f"you reversed {name}, not the channels: the channels are the last axis, images[..., ::-1]."
            )
    return Feedback(False, "the values differ from images[..., ::-1] * 255 on a test batch.")


def _overshooting_map() -> np.ndarray:
    """A heat map as bicubic upsampling leaves it: small values, 1.0, and a little over 1 and under 0."""
    return np.array([[0.0, 0.002, 0.3, 0.5], [0.999, 1.0, 1.04, -0.03]])


@_needs_answer
def check_to_uint8(to_uint8: Answer) -> Feedback:
    """``to_uint8``: a function from a float heat map (meant to be in [0, 1]; after bicubic upsampling a
    little over 1 or under 0 in places) to a uint8 image 0-255 for a PNG. Tried on a map of its own."""
    if not callable(to_uint8):
        raise AnswerTypeError(
            f"my_to_uint8 should be a function of the map (def my_to_uint8(m): return ...), "
            f"got {type(to_uint8).__name__}."
        )
    m = _overshooting_map()
    raw = _call(to_uint8, m.copy())
    got = _array(raw, "my_to_uint8(m)")
    want = np.round(np.clip(m, 0.0, 1.0) * 255.0)
    _require_shape(got, want, "my_to_uint8(m)")
    wrapped = (m * 255.0).astype(np.uint8)
    if np.array_equal(got, np.floor(np.clip(m, 0.0, 1.0) * 255.0)) and not np.array_equal(got, want):
        return Feedback(
            False,
            "the cast truncates (0.999 * 255 = 254.7 becomes 254): round to the nearest level (np.round) before "
            "casting, so that each value lands within half a level of the map.",
        )
    if not np.array_equal(got, want) and np.abs(got - np.clip(np.round(m * 256.0), 0, 255)).max() <= 1.0:
        return Feedback(
            False,
            "the levels are scaled by 256 (0.3 lands on 77, not 76) and 1.0 would need level 256, which a uint8 "
            "does not have: multiply by 255, the top level.",
        )
    if np.array_equal(got, want):
        if np.asarray(raw).dtype != np.uint8:
            return Feedback(
                False,
                f"the values are right, but the dtype is {np.asarray(raw).dtype}: a PNG needs "
                "uint8, so finish with .astype(np.uint8).",
            )
        return Feedback(
            True,
            "clip to [0, 1], scale by 255, then cast: small values keep their levels, and "
            "values a little outside [0, 1] saturate instead of wrapping around.",
        )
    if np.array_equal(got, m.astype(np.uint8)):
        return Feedback(
            False,
            "the cast truncates: every value below 1 became 0 and only the peak survives. "
            "Scale to 0-255 before casting.",
        )
    outside = (m < 0) | (m > 1)
    if np.abs(got - want)[~outside].max() <= 1.0 or np.array_equal(got, wrapped):
        return Feedback(
            False,
            f"values outside [0, 1] wrapped around: 1.04 * 255 = 265 became {wrapped[1, 2]} "
            f"and -0.03 * 255 became {wrapped[1, 3]}. Clip to [0, 1] (np.clip) before scaling.",
        )
    if np.array_equal(got, (np.clip(m, 0, 1) * 256).astype(np.uint8)):
        return Feedback(
            False, "1.0 * 256 = 256 does not fit in a uint8 and wraps to 0: the peak goes black. Multiply by 255."
        )
    return Feedback(False, "the values differ from np.round(np.clip(m, 0, 1) * 255).astype(np.uint8).")
