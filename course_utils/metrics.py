"""Numbers about explanations: rank correlation, the pointing game, deletion and insertion."""
from __future__ import annotations

import numpy as np

__all__ = ["rank_correlation", "make_mosaic", "pointing_hit", "wilson_interval", "deletion_insertion",
           "area_under"]


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 of a 1-D array, ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(len(x), dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def rank_correlation(a, b) -> float:
    """Spearman's rank correlation between two maps of the same shape (flattened), in [-1, 1].

    Used by the sanity check of Adebayo et al. (2018): how much an explanation still looks like the
    original after the model's weights were randomised. Returns 0.0 when either map is constant.
    """
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"maps must have the same number of values, got {a.size} and {b.size}.")
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


# ---------------------------------------------------------------- the pointing game on mosaics

def make_mosaic(images) -> np.ndarray:
    """Four images (4, h, w, 3) -> one 2 x 2 mosaic (2h, 2w, 3). Tile t is at row t // 2, column t % 2."""
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[0] != 4:
        raise ValueError(f"Expected four images (4, h, w, 3), got shape {x.shape}.")
    top = np.concatenate([x[0], x[1]], axis=1)
    bottom = np.concatenate([x[2], x[3]], axis=1)
    return np.concatenate([top, bottom], axis=0)


def pointing_hit(saliency, tile: int) -> bool:
    """True when the maximum of a (2h, 2w) map falls inside ``tile`` (0..3) of a 2 x 2 mosaic."""
    s = np.asarray(saliency)
    if s.ndim != 2 or s.shape[0] % 2 or s.shape[1] % 2:
        raise ValueError(f"Expected a 2-D map with even sides, got shape {s.shape}.")
    if tile not in (0, 1, 2, 3):
        raise ValueError(f"tile must be 0, 1, 2 or 3, got {tile!r}.")
    r, c = np.unravel_index(int(np.argmax(s)), s.shape)
    return (r >= s.shape[0] // 2) * 2 + (c >= s.shape[1] // 2) == tile


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a hit rate (95 % for z = 1.96)."""
    if n <= 0:
        raise ValueError("n must be positive.")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


# ---------------------------------------------------------------- deletion and insertion

def deletion_insertion(predict, image, saliency, class_index: int, steps: int = 16, baseline=None):
    """Deletion and insertion curves (Petsiuk et al., 2018).

    Pixels are ranked by ``saliency`` (H, W), most salient first. *Deletion* replaces them, a fraction
    1/steps at a time, by ``baseline`` (default: the image blurred to its mean colour) and records the
    class probability; *insertion* starts from the baseline and puts them back. ``predict`` maps a batch
    (N, H, W, 3) to probabilities (N, C). Returns ``(fractions, deletion, insertion)``, each of length
    steps + 1. A faithful map makes deletion fall fast (small area) and insertion rise fast (large area).
    """
    img = np.asarray(image, dtype=np.float32)
    s = np.asarray(saliency, dtype=np.float64)
    if s.shape != img.shape[:2]:
        raise ValueError(f"saliency has shape {s.shape}, the image {img.shape[:2]}: upsample the map first.")
    base = np.broadcast_to(img.mean(axis=(0, 1)), img.shape) if baseline is None else np.asarray(baseline, np.float32)
    order = np.argsort(-s, axis=None, kind="stable")
    n = order.size
    fractions = np.linspace(0, 1, steps + 1)
    deleted, inserted = [], []
    for f in fractions:
        mask = np.zeros(n, dtype=bool)
        mask[order[:int(round(f * n))]] = True
        mask = mask.reshape(s.shape)[..., None]
        deleted.append(np.where(mask, base, img))
        inserted.append(np.where(mask, img, base))
    probs = predict(np.stack(deleted + inserted).astype(np.float32))[:, class_index]
    return fractions, probs[:steps + 1], probs[steps + 1:]


def area_under(fractions, curve) -> float:
    """Area under a curve sampled at ``fractions`` (trapezoid rule)."""
    f, c = np.asarray(fractions, np.float64), np.asarray(curve, np.float64)
    return float(np.sum((c[1:] + c[:-1]) / 2 * np.diff(f)))
