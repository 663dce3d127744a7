"""Sanity checks: :func:`rank_correlation` (Spearman) between two maps."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..validation import (
    CourseValueError,
    finite_array,
)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of a 1-D array, ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(len(x), dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def rank_correlation(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman's rank correlation between two maps of the same shape (flattened), in [-1, 1].

    Used by the sanity check of Adebayo et al. (2018): how much an explanation still looks like the
    original after the model's weights were randomised. Returns 0.0 when either map is constant.
    """
    a, b = finite_array(a, "the first map").ravel(), finite_array(b, "the second map").ravel()
    if a.shape != b.shape:
        raise CourseValueError(f"maps must have the same number of values, got {a.size} and {b.size}.")
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0
