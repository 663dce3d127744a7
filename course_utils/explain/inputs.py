"""Checks on what a learner gives an explainer, before any TensorFlow op: images, class indices, targets, flags,
value ranges and baselines. Each refusal is a :class:`~course_utils.validation.CourseValueError` that says what to
give instead."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from ..validation import CourseValueError, describe, finite_array, finite_number
from .graph import _tf

#: The range of a model's input pixels, ``(lo, hi)``, or None: not checked.
ValueRange = tuple[float, float] | None
#: The default ``value_range`` of every explainer: images with pixels from 0 to 255, as the course model takes.
PIXELS = (0, 255)

#: A target: a function of the class scores y (N, num_classes) that returns one score per image (N,).
Target = Callable[[Any], Any]


def _flag(value, name: str) -> bool:
    """``value`` if it is a bool (numpy's too); 1, "no" or None are refused rather than read as true or false."""
    if not isinstance(value, (bool, np.bool_)):
        raise CourseValueError(f"{name} must be True or False; got {describe(value)}.")
    return bool(value)


def _value_range(value_range) -> tuple[float, float] | None:
    """None, or ``(lo, hi)``: two finite numbers with lo < hi."""
    if value_range is None:
        return None
    if isinstance(value_range, (str, bytes)) or not hasattr(value_range, "__len__") or len(value_range) != 2:
        raise CourseValueError(
            f"value_range must be None or a pair (low, high) such as (0, 255); got {describe(value_range)}."
        )
    lo = finite_number(value_range[0], "value_range[0]")
    hi = finite_number(value_range[1], "value_range[1]")
    if not lo < hi:
        raise CourseValueError(f"value_range must be (low, high) with low < high; got {tuple(value_range)}.")
    return value_range if isinstance(value_range, tuple) else (value_range[0], value_range[1])


def _in_range(values, value_range, name: str) -> None:
    """Refuse a baseline outside the images' value range (the model never sees such pixels)."""
    if value_range is None:
        return
    lo, hi = value_range
    v = np.asarray(values, dtype=np.float64)
    if v.min() < lo or v.max() > hi:
        raise CourseValueError(
            f"{name} has values in [{v.min():g}, {v.max():g}], outside the images' range "
            f"[{lo:g}, {hi:g}] (value_range={tuple(value_range)}): the model never sees such "
            "pixels, so the map would explain nothing real. Give a baseline inside the range, or "
            "value_range=None to skip this check."
        )


def _few(indices) -> str:
    """'0, 3, 7' or '0, 1, 2, ... (40 in all)' for an error message."""
    indices = [int(i) for i in indices]
    head = ", ".join(map(str, indices[:8]))
    return head if len(indices) <= 8 else f"{head}, ... ({len(indices)} in all)"


def _baseline_value(baseline, value_range, name: str = "baseline"):
    """A baseline: one finite number, or a finite (H, W, C) or (N, H, W, C) array, inside ``value_range``."""
    if isinstance(baseline, np.ndarray) and baseline.ndim == 0:
        baseline = baseline.item()
    if isinstance(baseline, (numbers.Number, bool, np.bool_)):
        value = finite_number(baseline, name)
        _in_range(value, value_range, name)
        return value
    if isinstance(baseline, (str, bytes)):
        raise CourseValueError(f"{name} must be a number or an image (an array); got {describe(baseline)}.")
    arr = finite_array(baseline, name, ndim=(3, 4), dtype=np.float32)
    _in_range(arr, value_range, name)
    return arr


def _as_batch(images, input_shape: tuple, value_range) -> np.ndarray:  # long: one check after another, in order
    """Check and convert ``images`` to a float32 batch ``(N, H, W, C)``."""
    tf = _tf()
    if isinstance(images, tf.Tensor):
        images = images.numpy()
    try:
        x = np.asarray(images)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise CourseValueError(
            f"images must be an array of numbers (N, H, W, C); got {describe(images)} ({exc})."
        ) from None
    given = x.shape
    if x.dtype == object or x.dtype.kind not in "uif":
        raise CourseValueError(f"images must be numbers, got an array of dtype {x.dtype}.")
    expect = "x".join("H" if d is None else str(d) for d in input_shape[:2]) + f"x{input_shape[2]}"
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise CourseValueError(
            f"images must have shape (N, H, W, C) or (H, W, C) with {expect} images; got shape {x.shape}."
        )
    for got, want in zip(x.shape[1:], input_shape):
        if want is not None and got != want:
            raise CourseValueError(
                f"images have shape {given}, but the model expects {expect} images "
                f"(input shape {input_shape}). Resize them first (e.g. cu.images for photos)."
            )
    if x.shape[0] == 0:
        raise CourseValueError("images is an empty batch (N = 0).")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise CourseValueError(
            f"images contain {int((~np.isfinite(x)).sum())} NaN or infinite values; "
            "explanations need finite pixel values."
        )
    if value_range is not None:
        lo, hi = value_range
        if x.min() < lo or x.max() > hi:
            hint = (
                " They look like 0-255 images: if your model takes 0-255 images, pass value_range=(0, 255) "
                "to the explainer; if it takes 0-1 images, divide them by 255."
                if hi <= 1 and 0 <= x.min() and x.max() <= 255
                else ""
            )
            raise CourseValueError(
                f"images have values in [{x.min():g}, {x.max():g}], but the explainer expects "
                f"[{lo:g}, {hi:g}] (value_range={tuple(value_range)}).{hint} Pass value_range=None "
                "to skip this check."
            )
        if hi >= 255:
            # 0-1 images have fractions; a genuinely dark 0-255 image (a file, CIFAR-10) has whole numbers
            flat = x.reshape(len(x), -1)
            peak = flat.max(axis=1)
            looks_0_1 = (peak > 0) & (peak <= 1.0) & (flat != np.round(flat)).any(axis=1)
            if looks_0_1.any():
                i = int(np.argmax(looks_0_1))
                raise CourseValueError(
                    f"image {i} has values in [{flat[i].min():g}, {flat[i].max():g}], with fractions: it looks "
                    f"scaled to 0-1, but the explainer expects 0-{hi:g} (value_range={tuple(value_range)}). If "
                    "your model takes 0-1 images, tell the explainer: value_range=(0, 1). If it takes 0-255 "
                    "images, as the course model does, give it the images as loaded (cu.data and cu.images "
                    "keep 0-255). value_range=None skips this check."
                )
    return x


def _class_indices(class_index, n: int, num_classes: int) -> np.ndarray:
    """None -> -1 (predicted) for every image; an int -> the same class for all; else one per image.

    As :func:`course_utils.validation.class_index`: bools, fractions, NaN and negative numbers are refused (-1 is
    not 'the last class'); whole floats such as 3.0 are read as ints, as before."""
    if class_index is None:
        return np.full(n, -1, dtype=np.int32)
    expected = (
        f"class_index must be None (the predicted class), an int from 0 to {num_classes - 1} or a sequence "
        f"of {n} such ints (one per image); got {describe(class_index)}."
    )
    try:
        arr = np.asarray(class_index)
    except (TypeError, ValueError):
        raise CourseValueError(expected) from None
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
            raise CourseValueError(expected)
    elif arr.dtype.kind not in "iu":  # bools, strings, objects
        raise CourseValueError(expected)
    if arr.ndim == 0:
        arr = np.full(n, arr.item())
    elif arr.shape != (n,):
        raise CourseValueError(
            f"class_index has shape {arr.shape}, expected one class per image: ({n},), or a single int for all images."
        )
    bad = arr[(arr < 0) | (arr >= num_classes)]
    if bad.size:
        first = int(bad[0])
        why = " (negative indices are refused: -1 is not 'the last class')" if first < 0 else ""
        raise CourseValueError(
            f"class_index {first} is out of range{why}: the model has {num_classes} classes, "
            f"so use 0..{num_classes - 1} (or None for the predicted class)."
        )
    return arr.astype(np.int32)


def _target(target, class_index, method: str, takes_target: bool, why_not: str):
    """``target`` (None, or a callable on the class scores) checked against ``class_index`` and the method."""
    if target is None:
        return None
    if class_index is not None:
        raise CourseValueError(
            "Give class_index or target, not both: class_index=c is the target y^c, and a target "
            "is any other score of the class scores (e.g. target=lambda y: y[:, 3] - y[:, 5])."
        )
    if not callable(target):
        raise CourseValueError(
            f"target must be a function of the class scores y (N, num_classes) that returns one "
            f"score per image (N,), e.g. lambda y: y[:, 3] - y[:, 5]; got {describe(target)}."
        )
    if not takes_target:
        raise CourseValueError(
            f"{method} cannot explain a target other than a class: {why_not} Use class_index, or "
            "a gradient method (Grad-CAM and its relatives, the gradient methods, occlusion)."
        )
    return target


def _target_score(target: Target, logits):
    """``target(logits)`` as a float tensor of one score per image, traced once; a clear error otherwise."""
    tf = _tf()
    try:
        score = target(logits)
    except Exception as exc:  # noqa: BLE001 - the learner's function: any error it raises is explained
        raise CourseValueError(
            f"target failed on the class scores y (a tensor of shape (N, {logits.shape[-1]})): "
            f"{type(exc).__name__}: {exc}. It must use TensorFlow or keras.ops operations (or "
            "indexing) on y and return one score per image."
        ) from None
    if not isinstance(score, (tf.Tensor, tf.Variable)) or not score.dtype.is_floating:
        raise CourseValueError(
            f"target must return a float tensor computed from y (one score per image); got {describe(score)}."
        )
    if score.shape.rank != 1:
        raise CourseValueError(
            f"target must return one score per image, shape (N,); got shape {tuple(score.shape)}. "
            "For one column of y, index it: y[:, 3], not y[:, 3:4]."
        )
    return tf.cast(score, logits.dtype)


def _probe_target(target: Target, num_classes: int) -> None:
    """Call ``target`` once, eagerly, on random class scores of 2 images: a target that fails, returns the wrong
    shape or does not depend on the scores is refused before it is traced into a TensorFlow graph."""
    tf = _tf()
    y = tf.constant(np.random.default_rng(0).normal(size=(2, num_classes)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(y)
        score = _target_score(target, y)
    if tape.gradient(score, y) is None:
        raise CourseValueError(
            "target returns a score that is not computed from the class scores y it is given, so "
            "it has no gradient: compute it from y (e.g. lambda y: y[:, 3] - y[:, 5])."
        )
