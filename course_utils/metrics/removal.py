"""Faithfulness by removing pixels: :func:`relevance_order` and :func:`removal_masks` (MoRF / LeRF, ties broken
at random), :func:`removal_curves` (ROAD with the linear imputer; the class's probability or its logit) and
:func:`area_under`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..validation import (
    CourseValueError,
    choice,
    describe,
    finite_array,
    positive_int,
)
from .arguments import RandomSource, _class_indices, _fractions, _logits, _per_image, _probabilities, _rng, _seed
from .imputers import IMPUTERS


def relevance_order(saliency: ArrayLike, rng: RandomSource = None) -> np.ndarray:
    """Flat pixel indices of a map ``(H, W)``, most relevant first; equal values in random order.

    A stable sort would put tied pixels in raster order (top rows first), and a constant or saturated
    region would then be removed from the top down: a bias of the evaluation, not of the map.
    """
    s = finite_array(saliency, "saliency").ravel()
    return np.lexsort((_rng(rng).random(s.size), -s))


def removal_masks(
    saliency: ArrayLike, fractions: ArrayLike, order: str = "morf", rng: RandomSource = None
) -> np.ndarray:
    """Which pixels are removed at each fraction: ``(F, H, W)`` booleans, True = removed.

    ``order="morf"`` (most relevant first) removes the top ``round(f * H * W)`` pixels of
    :func:`relevance_order`; ``"lerf"`` (least relevant first) the bottom ones. Ties are broken at random.
    ``fractions``: a list of fractions, each in [0, 1].
    """
    s = finite_array(saliency, "saliency")
    if s.ndim != 2:
        raise CourseValueError(f"Expected one map (H, W), got shape {s.shape}; upsample and reduce channels first.")
    order = choice(order, ("morf", "lerf"), "order (morf: most relevant first, lerf: least relevant first)")
    f = _fractions(fractions)
    n = s.size
    rank = np.empty(n, dtype=np.int64)
    rank[relevance_order(s, rng)] = np.arange(n)
    ks = np.round(f * n).astype(int)
    if order == "lerf":
        rank = n - 1 - rank
    return (rank[None, :] < ks[:, None]).reshape(len(ks), *s.shape)


# long: every argument checked (hostile-input tests), then one loop over fractions with its checks
def removal_curves(
    predict: Callable[[np.ndarray], ArrayLike],
    images: ArrayLike,
    saliency: ArrayLike,
    class_index: int | ArrayLike,
    fractions: ArrayLike,
    order: str = "morf",
    imputer: str | Callable[..., ArrayLike] = "linear (ROAD)",
    rng: RandomSource = None,
    batch_size: int = 1000,
    score: str = "probability",
) -> np.ndarray:
    """The class's probability (or logit) as pixels are removed in the order a map ranks them: ``(N, F)``.

    ``score="probability"`` (the default): ``predict`` maps ``(B, H, W, 3)`` to probabilities ``(B, classes)``,
    checked to lie in [0, 1] (logits passed by mistake are refused). ``score="logit"``: ``predict`` returns the
    model's logits (any finite numbers; no softmax is applied), and the curve is the class's logit, the number
    a CAM or Grad-CAM map decomposes. ``images``: ``(N, H, W, 3)``;
    ``saliency``: ``(N, H, W)``; ``class_index``: an int or ``(N,)``; ``fractions``: ``(F,)`` in [0, 1).
    ``order``: ``"morf"`` or ``"lerf"`` (see :func:`removal_masks`); ``imputer``: a name in
    :data:`IMPUTERS` or a function ``f(images, removed, rng=...)``.

    ROAD (Rong et al., 2022) is this with the linear imputer: a faithful map makes the MoRF curve fall
    fast (small area) and the LeRF curve stay high (large area). With ``rng`` a seed, every method scored
    with the same seed gets the same tie-breaking keys and the same noise: identical maps give identical
    curves, and differences between methods are not differences of luck. Each image has its own random
    stream, so image ``i`` scores the same in a batch of 10 as in a batch of 200: its pixel order uses
    ``np.random.default_rng([seed, i])``, its noise at fraction ``j`` ``np.random.default_rng([seed, j + 1, i])``.
    """
    if not callable(predict):
        raise CourseValueError(f"predict must be a function from images to probabilities; got {describe(predict)}.")
    x = finite_array(images, "images", dtype=np.float32)
    s = finite_array(saliency, "saliency")
    if x.ndim != 4 or s.shape != x.shape[:3]:
        raise CourseValueError(
            f"Expected images (N, H, W, 3) and maps (N, H, W) of the same size, got {x.shape} "
            f"and {s.shape}: upsample the maps and reduce their channels first."
        )
    impute: Callable[..., Any]
    if isinstance(imputer, str):
        impute = IMPUTERS[choice(imputer, list(IMPUTERS), "imputer")]
    elif callable(imputer):
        impute = imputer
    else:
        raise CourseValueError(
            f"imputer must be one of {', '.join(map(repr, IMPUTERS))} or a function "
            f"f(images, removed, rng=...); got {describe(imputer)}."
        )
    batch_size = positive_int(batch_size, "batch_size")
    score = choice(score, ("probability", "logit"), "score (what predict returns and the curve follows)")
    outputs = _probabilities if score == "probability" else _logits
    cls = _class_indices(class_index, len(x))
    seed = _seed(rng)
    f = _fractions(fractions)
    ties = _per_image(seed, len(x))
    masks = np.stack([removal_masks(s[i], f, order, ties[i]) for i in range(len(x))], axis=1)  # (F, N, H, W)
    out = np.empty((len(x), len(f)), dtype=np.float64)
    filled: Any  # what the imputer returns: its shape and values are checked below
    for j in range(len(f)):
        filled = x if not masks[j].any() else impute(x, masks[j], rng=_per_image(seed, len(x), j + 1))
        if filled is not x and np.shape(filled) != x.shape:
            raise CourseValueError(
                f"The imputer returned shape {np.shape(filled)} for images of shape {x.shape}: "
                "it must return the images with the removed pixels filled in."
            )
        finite_array(filled, "the images the imputer filled in", dtype=np.float32)
        probs = np.concatenate(
            [
                outputs(predict, filled[k : k + batch_size], cls[k : k + batch_size])
                for k in range(0, len(x), batch_size)
            ]
        )
        out[:, j] = probs[np.arange(len(x)), cls]
    return out


def area_under(fractions: ArrayLike, curve: ArrayLike) -> float | np.ndarray:
    """Area under curves sampled at ``fractions`` (trapezoid rule), along the last axis.

    ``curve``: ``(F,)`` -> a float; ``(N, F)`` -> ``(N,)``, one area per image. ``fractions``: at least two,
    in [0, 1], strictly increasing, one per point of the curve.
    """
    f = _fractions(fractions)
    if len(f) < 2 or np.any(np.diff(f) <= 0):
        raise CourseValueError(
            f"fractions must be at least two values that increase strictly (the x of the curve, "
            f"sorted, no repeats); got {f.tolist()}."
        )
    c = finite_array(curve, "curve")
    if c.ndim == 0 or c.shape[-1] != len(f):
        raise CourseValueError(f"curve has shape {c.shape}: its last axis must hold one value per fraction ({len(f)}).")
    with np.errstate(over="ignore", invalid="ignore"):
        areas = np.sum((c[..., 1:] + c[..., :-1]) / 2 * np.diff(f), axis=-1)
    if not np.isfinite(areas).all():
        raise CourseValueError(
            "The area overflows: the curve holds values near the largest float. Curves are "
            "probabilities (0 to 1) or logits; check what was passed as the curve."
        )
    return float(areas) if np.ndim(areas) == 0 else areas
