"""Intervals: :func:`bootstrap_interval` (percentile bootstrap over images)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..validation import (
    CourseValueError,
    describe,
    finite_array,
    fraction,
    positive_int,
)
from .arguments import RandomSource, _rng

#: The most numbers :func:`bootstrap_interval` holds at once (n_boot x values): 50 million, 400 MB of floats.
_MAX_BOOT_VALUES = 50_000_000


def bootstrap_interval(
    values: ArrayLike,
    statistic: Callable[..., Any] = np.mean,
    level: float = 0.95,
    n_boot: int = 2000,
    rng: RandomSource = None,
) -> tuple[Any, Any]:
    """Percentile bootstrap interval of ``statistic`` over the first axis of ``values``.

    ``values``: ``(N,)`` or ``(N, ...)``, one row per independent unit (an image, a mosaic); ``statistic``
    must accept ``axis=`` (``np.mean``, ``np.median``). Hit rates are the mean of 0/1 values. For the
    difference between two methods scored on the same images, pass the per-image differences: the
    bootstrap then keeps the pairing (a paired interval, much narrower than two separate ones).
    Returns ``(low, high)``; with ``rng`` fixed the result is reproducible. Values with NaN or inf, a level
    outside (0, 1), ``n_boot`` that is not a positive int, or a statistic that gives NaN are refused.
    """
    v = finite_array(values, "values", allow_empty=True)
    if v.ndim == 0 or len(v) < 2:
        raise CourseValueError(f"Need at least two values to bootstrap, got shape {v.shape}.")
    level = fraction(level, "level")
    if level in (0.0, 1.0):
        raise CourseValueError(f"level is a probability strictly between 0 and 1, such as 0.95; got {level!r}.")
    n_boot = positive_int(n_boot, "n_boot", hint="2000 resamples are plenty for a 95 % interval.")
    if n_boot * v.size > _MAX_BOOT_VALUES:
        raise CourseValueError(
            f"n_boot={n_boot} resamples of {v.size} values would hold {n_boot * v.size:,} numbers "
            f"at once (the limit is {_MAX_BOOT_VALUES:,}): use fewer resamples (2000 is plenty)."
        )
    if not callable(statistic):
        raise CourseValueError(f"statistic must be a function such as np.mean; got {describe(statistic)}.")
    idx = _rng(rng).integers(0, len(v), size=(n_boot, len(v)))
    try:
        stats = statistic(v[idx], axis=1)
    except TypeError as exc:
        raise CourseValueError(
            f"statistic must accept axis= (as np.mean and np.median do); calling it failed: {exc}"
        ) from None
    got = np.asarray(stats)
    if got.dtype.kind not in "fiub" or got.ndim == 0 or got.shape[0] != n_boot:
        raise CourseValueError(
            f"statistic must return one value per resample along axis=1 (as np.mean does); it returned {describe(got)}."
        )
    finite_array(got, "what statistic returned")
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return (float(lo), float(hi)) if np.ndim(lo) == 0 else (lo, hi)
