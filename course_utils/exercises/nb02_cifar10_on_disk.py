"""Checkers of notebook 02, CIFAR-10 on disk: an image as a row of the file, the channel means, bfloat16 rounding."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from ._core import Answer, AnswerTypeError, Feedback, _array, _close, _needs_answer, _require_shape, _shape_hint

__all__ = ["check_channel_means", "check_image_to_row", "check_round_bfloat16"]


@_needs_answer
def check_image_to_row(answer: Answer, image: ArrayLike) -> Feedback:
    """``answer``: the image (H, W, 3) written as one row of a CIFAR-10 batch: all H*W red values row by row,
    then the greens, then the blues (3,072 values for 32 x 32)."""
    got, img = _array(answer, "answer"), np.asarray(image)
    planes = img.transpose(2, 0, 1)
    want = planes.reshape(-1)
    if got.shape == planes.shape:
        return Feedback(
            False, f"the order is right, but these are still three planes {got.shape}; a row is flat: add .reshape(-1)."
        )
    _require_shape(got, want.astype(np.float64), "answer")
    if np.array_equal(got, want):
        return Feedback(
            True,
            "Channels first, then flattened: 1,024 reds, 1,024 greens, 1,024 blues, as the "
            "file stores them. reshape(3, 32, 32).transpose(1, 2, 0) reads it back.",
        )
    if np.array_equal(got, img.reshape(-1)):
        return Feedback(
            False,
            "flattening the (H, W, 3) image directly interleaves R, G, B, R, G, B ...; the file "
            "stores all reds first: move the channel axis to the front with .transpose(2, 0, 1) "
            "before flattening.",
        )
    if np.array_equal(got, img.transpose(2, 1, 0).reshape(-1)):
        return Feedback(
            False,
            "rows and columns are swapped (each plane is transposed): .transpose(2, 0, 1) "
            "keeps the (row, col) order inside each plane.",
        )
    return Feedback(False, "the values differ from the image's red plane, then green, then blue, each row by row.")


@_needs_answer
def check_channel_means(answer: Answer, images: ArrayLike, channel_axis: int = -1) -> Feedback:
    """``answer``: the mean of each colour channel over all ``images`` on the 0-1 scale; the channels are
    on ``channel_axis`` (-1 for channels-last (N, H, W, C), 1 for channels-first (N, C, H, W)).

    ``answer`` may also be a function of a batch ``x`` that returns those means: it is then tried on
    ``images`` and on a second batch of another size in the same layout, so that numbers copied from a
    printout, or a function that ignores its argument, do not pass.
    """
    if not callable(answer):
        return _channel_means_feedback(answer, images, channel_axis)
    x = np.asarray(images)
    ax = channel_axis % x.ndim
    shape = [7, 5, 6, 4][: x.ndim]
    shape[ax] = x.shape[ax]
    second = np.random.default_rng(3).integers(0, 256, shape).astype(x.dtype)
    second[(slice(None),) * ax + (0,)] //= 2  # channels with different means
    results = []
    for batch in (x, second):
        try:
            results.append(answer(batch.copy()))
        except Exception as err:  # noqa: BLE001 - the learner's function failed: say how, don't raise
            return Feedback(
                False, f"your function raised {type(err).__name__} on a batch of shape {batch.shape}: {str(err)[:120]}"
            )
    first = _channel_means_feedback(results[0], x, channel_axis)
    if not first.passed:
        return first
    if np.shape(results[1]) == np.shape(results[0]) and np.allclose(
        np.asarray(results[1], dtype=np.float64), np.asarray(results[0], dtype=np.float64)
    ):
        return Feedback(
            False,
            f"your function gives the same numbers for another batch (shape {second.shape}): "
            "it must compute the means of its argument x, not of a fixed array.",
        )
    again = _channel_means_feedback(results[1], second, channel_axis)
    if not again.passed:
        return Feedback(
            False, f"right on the first batch, but on a second one of shape {second.shape}: {again.message}"
        )
    return first


def _channel_means_feedback(answer: Answer, images: ArrayLike, channel_axis: int) -> Feedback:
    got, x = _array(answer, "answer"), np.asarray(images)
    ax = channel_axis % x.ndim
    others = tuple(i for i in range(x.ndim) if i != ax)
    want = x.mean(axis=others) / 255.0
    if got.ndim == 0:
        return Feedback(
            False,
            f"one number: you averaged over the channels too. Average over every axis but the "
            f"channel axis {ax}: axis={others}.",
        )
    if ax != x.ndim - 1 and got.shape == (x.shape[-1],):
        return Feedback(
            False,
            f"you averaged over axes {tuple(range(x.ndim - 1))}, which in this layout "
            f"{x.shape} include the channel axis {ax} and leave the columns. The channels are "
            f"axis {ax} here: average over axis={others}.",
        )
    # returned, not raised: check_channel_means puts "right on the first batch, but ..." before this message
    if (hint := _shape_hint(got, want, "answer")) is not None:
        return hint
    if _close(got, want, rtol=1e-3):
        return Feedback(
            True,
            "These are the channel means of these images. The model's Normalization layer was "
            "set from the *training* images' means, so on other images they are close, not equal.",
        )
    if _close(got, want * 255.0, rtol=1e-3):
        return Feedback(False, "these are on the 0-255 scale; divide by 255 for the 0-1 scale.")
    if ax != x.ndim - 1 and _close(got, x.reshape(-1, 3).mean(axis=0) / 255.0, rtol=1e-3):
        return Feedback(
            False,
            f"reshape(-1, 3) assumes the channels are the last axis; here they are axis {ax}, "
            "so each group of three mixes neighbouring pixels of one channel. Average over "
            f"axis={others} instead.",
        )
    return Feedback(False, f"the values differ from the per-channel means over axis={others}, divided by 255.")


def _round_to_bits(x: np.ndarray, bits: int, op: Callable[[np.ndarray], np.ndarray] = np.round) -> np.ndarray:
    """Round positive ``x`` to ``bits`` significant bits: in [2**e, 2**(e + 1)) the step is 2**(e - bits + 1)."""
    step = 2.0 ** (np.floor(np.log2(x)) - (bits - 1))
    return op(x / step) * step


@_needs_answer
def check_round_bfloat16(answer: Answer, values: ArrayLike) -> Feedback:
    """``answer``: a function that rounds an array of positive numbers to the nearest bfloat16 number
    (8 significant bits). It is tried on ``values`` and on 200 numbers from 0.001 to 100,000."""
    if not callable(answer):
        raise AnswerTypeError(
            f"the answer should be a function of an array x (def my_round_bf16(x): ...); got "
            f"{type(answer).__name__} ({str(answer)[:40]!r})."
        )
    probe = np.concatenate(
        [np.ravel(np.asarray(values, dtype=np.float64)), 10.0 ** np.random.default_rng(16).uniform(-3, 5, 200)]
    )
    try:
        got = np.asarray(answer(probe.copy()), dtype=np.float64)
    except Exception as err:  # noqa: BLE001 - the learner's function failed: say how, don't raise
        return Feedback(False, f"your function raised {type(err).__name__}: {str(err)[:120]}")
    if got.shape != probe.shape:
        return Feedback(
            False,
            f"given {probe.shape[0]} numbers your function returned shape {got.shape}; "
            "round each number, element by element.",
        )

    def same(other: np.ndarray) -> bool:
        return np.allclose(got, other, rtol=1e-6, atol=0)

    if same(_round_to_bits(probe, 8)):
        return Feedback(
            True,
            "8 significant bits: between 64 and 128 the step is 0.5, between 2048 and 4096 it is "
            "16. The step is 2**-8 to 2**-7 of the number (0.4 % to 0.8 %): about 2 to 3 "
            "significant decimal digits.",
        )
    if same(probe):
        return Feedback(
            False,
            "the numbers come back unchanged: round each to a multiple of its step 2**(e - 7), e = floor(log2(x)).",
        )
    if same(_round_to_bits(probe, 9)):
        return Feedback(
            False,
            "this keeps 9 significant bits. bfloat16 stores 7 fraction bits, and the leading 1 "
            "is implied: 8 significant bits, so 2**7 steps per power of two, a step of 2**(e - 7).",
        )
    if same(_round_to_bits(probe, 11)):
        return Feedback(False, "this keeps 11 significant bits: that is float16. bfloat16 keeps 8 (2**(e - 7)).")
    if same(_round_to_bits(probe, 8, np.floor)) or same(_round_to_bits(probe, 8, np.trunc)):
        return Feedback(
            False,
            "right step, but you rounded down: converting to bfloat16 rounds to the *nearest* "
            "representable number (np.round).",
        )
    if same(np.round(probe)):
        return Feedback(
            False,
            "rounding to whole numbers is a fixed step of 1; a floating-point step grows with "
            "the number: 2**(e - 7) for x in [2**e, 2**(e + 1)).",
        )
    return Feedback(False, "the results differ from rounding x to a multiple of 2**(floor(log2(x)) - 7).")
