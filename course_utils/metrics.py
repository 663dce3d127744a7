"""Numbers about explanations, each with an interval.

- sanity checks: :func:`rank_correlation` (Spearman) between two maps;
- localisation on mosaics: :func:`make_mosaic` (k x k tiles), :func:`pointing_hit` (is the maximum on the
  target tile?), :func:`focus` (which share of the map's positive mass is on it; Arias-Duart et al., 2022);
- faithfulness by removing pixels: :func:`relevance_order` and :func:`removal_masks` (MoRF / LeRF, ties
  broken at random), three ways to fill what was removed (:func:`impute_mean`, :func:`impute_blur`,
  :func:`impute_linear`, the noisy linear imputation of ROAD, Rong et al., 2022), :func:`removal_curves`,
  :func:`area_under`, and the older :func:`deletion_insertion` (Petsiuk et al., 2018);
- intervals: :func:`bootstrap_interval` (percentile bootstrap over images) and :func:`wilson_interval`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["rank_correlation", "make_mosaic", "tile_of", "pointing_hit", "focus", "wilson_interval",
           "bootstrap_interval", "relevance_order", "removal_masks", "impute_mean", "impute_blur",
           "impute_linear", "IMPUTERS", "removal_curves", "deletion_insertion", "area_under"]


def _rng(rng) -> np.random.Generator:
    """``None`` (fresh entropy), a seed, or a ``numpy.random.Generator`` -> a Generator."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _per_image(rng, n: int, *keys: int) -> list[np.random.Generator]:
    """One random stream per image, from a seed (or a Generator, which gives the seed): image ``i`` draws
    the same numbers whichever other images share the batch."""
    if isinstance(rng, (list, tuple)):
        return list(rng)
    seed = int(_rng(rng).integers(2 ** 63)) if rng is None or isinstance(rng, np.random.Generator) else int(rng)
    return [np.random.default_rng([seed, *keys, i]) for i in range(n)]


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


# ---------------------------------------------------------------- localisation on mosaics

def make_mosaic(images) -> np.ndarray:
    """k * k images ``(k*k, h, w, 3)`` -> one k x k mosaic ``(k*h, k*w, 3)``.

    Tile ``t`` is at row ``t // k``, column ``t % k`` (row-major, as :func:`tile_of` counts).
    """
    x = np.asarray(images)
    k = int(round(np.sqrt(x.shape[0]))) if x.ndim == 4 else 0
    if x.ndim != 4 or k < 2 or k * k != x.shape[0]:
        raise ValueError(f"Expected four images (4, h, w, 3) for a 2 x 2 mosaic, nine for 3 x 3 (k*k in "
                         f"general), got shape {x.shape}.")
    rows = [np.concatenate(list(x[r * k:(r + 1) * k]), axis=1) for r in range(k)]
    return np.concatenate(rows, axis=0)


def tile_of(row: int, col: int, shape: tuple[int, int], grid: int = 2) -> int:
    """The tile (0 .. grid*grid - 1, row-major) of a ``grid`` x ``grid`` mosaic of ``shape`` (H, W) that
    holds pixel (``row``, ``col``)."""
    h, w = shape[0] // grid, shape[1] // grid
    return int(row // h) * grid + int(col // w)


def _check_mosaic_map(s: np.ndarray, grid: int) -> None:
    if s.ndim != 2 or s.shape[0] % grid or s.shape[1] % grid:
        raise ValueError(f"Expected a 2-D map whose sides divide into {grid} x {grid} tiles, got shape {s.shape}.")


def pointing_hit(saliency, tile: int, grid: int = 2, rng=None) -> bool:
    """True when the maximum of a map ``(H, W)`` falls inside ``tile`` of a ``grid`` x ``grid`` mosaic.

    Where several pixels share the maximum, one of them is drawn at random (``rng``: a seed or a
    Generator): ``np.argmax`` would always take the first in raster order, i.e. favour the top-left tile.
    """
    s = np.asarray(saliency, dtype=np.float64)
    _check_mosaic_map(s, grid)
    if tile not in range(grid * grid):
        raise ValueError(f"tile must be one of 0 .. {grid * grid - 1} for a {grid} x {grid} mosaic, got {tile!r}.")
    top = np.flatnonzero(s.ravel() == s.max())
    r, c = np.unravel_index(int(top[0] if len(top) == 1 else _rng(rng).choice(top)), s.shape)
    return tile_of(r, c, s.shape, grid) == tile


def focus(saliency, tiles, grid: int = 2) -> float:
    """Focus (Arias-Duart et al., 2022): the share of the map's positive mass on the target tile(s).

    ``saliency``: ``(H, W)``; ``tiles``: one tile index or several (row-major, see :func:`tile_of`).
    Negative values count as 0. A map spread evenly scores ``len(tiles) / grid**2``; a map with no positive
    mass at all says nothing about where the object is and also scores that chance level.
    """
    s = np.clip(np.asarray(saliency, dtype=np.float64), 0.0, None)
    _check_mosaic_map(s, grid)
    tiles = [int(t) for t in np.atleast_1d(tiles)]
    if any(t not in range(grid * grid) for t in tiles):
        raise ValueError(f"tiles must lie in 0 .. {grid * grid - 1} for a {grid} x {grid} mosaic, got {tiles}.")
    total = s.sum()
    if total <= 0:
        return len(set(tiles)) / grid ** 2
    h, w = s.shape[0] // grid, s.shape[1] // grid
    inside = sum(s[(t // grid) * h:(t // grid + 1) * h, (t % grid) * w:(t % grid + 1) * w].sum() for t in set(tiles))
    return float(inside / total)


# ---------------------------------------------------------------- intervals

def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a hit rate (95 % for z = 1.96)."""
    if n <= 0:
        raise ValueError("n must be positive.")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def bootstrap_interval(values, statistic: Callable = np.mean, level: float = 0.95, n_boot: int = 2000,
                       rng=None) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over the first axis of ``values``.

    ``values``: ``(N,)`` or ``(N, ...)``, one row per independent unit (an image, a mosaic); ``statistic``
    must accept ``axis=`` (``np.mean``, ``np.median``). Hit rates are the mean of 0/1 values. For the
    difference between two methods scored on the same images, pass the per-image differences: the
    bootstrap then keeps the pairing (a paired interval, much narrower than two separate ones).
    Returns ``(low, high)``; with ``rng`` fixed the result is reproducible.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 0 or len(v) < 2:
        raise ValueError(f"Need at least two values to bootstrap, got shape {v.shape}.")
    if not 0 < level < 1:
        raise ValueError(f"level is a probability such as 0.95, got {level}.")
    idx = _rng(rng).integers(0, len(v), size=(n_boot, len(v)))
    stats = statistic(v[idx], axis=1)
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return (float(lo), float(hi)) if np.ndim(lo) == 0 else (lo, hi)


# ---------------------------------------------------------------- removing pixels: orders

def relevance_order(saliency, rng=None) -> np.ndarray:
    """Flat pixel indices of a map ``(H, W)``, most relevant first; equal values in random order.

    A stable sort would put tied pixels in raster order (top rows first), and a constant or saturated
    region would then be removed from the top down: a bias of the evaluation, not of the map.
    """
    s = np.asarray(saliency, dtype=np.float64).ravel()
    return np.lexsort((_rng(rng).random(s.size), -s))


def removal_masks(saliency, fractions, order: str = "morf", rng=None) -> np.ndarray:
    """Which pixels are removed at each fraction: ``(F, H, W)`` booleans, True = removed.

    ``order="morf"`` (most relevant first) removes the top ``round(f * H * W)`` pixels of
    :func:`relevance_order`; ``"lerf"`` (least relevant first) the bottom ones. Ties are broken at random.
    """
    s = np.asarray(saliency)
    if s.ndim != 2:
        raise ValueError(f"Expected one map (H, W), got shape {s.shape}; upsample and reduce channels first.")
    if order not in ("morf", "lerf"):
        raise ValueError(f"order must be 'morf' (most relevant first) or 'lerf' (least relevant first), got {order!r}.")
    n = s.size
    rank = np.empty(n, dtype=np.int64)
    rank[relevance_order(s, rng)] = np.arange(n)
    ks = np.round(np.asarray(fractions, dtype=np.float64) * n).astype(int)
    if order == "lerf":
        rank = n - 1 - rank
    return (rank[None, :] < ks[:, None]).reshape(len(ks), *s.shape)


# ---------------------------------------------------------------- removing pixels: what replaces them

def _batch(images, removed) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(images, dtype=np.float64)
    m = np.asarray(removed, dtype=bool)
    if x.ndim == 3:
        x, m = x[None], m[None]
    if x.ndim != 4 or m.shape != x.shape[:3]:
        raise ValueError(f"Expected images (N, H, W, C) and masks (N, H, W), got {x.shape} and {m.shape}.")
    return x, m


def impute_mean(images, removed, rng=None) -> np.ndarray:
    """Removed pixels become the image's mean colour (each image's own channel means).

    ``images``: ``(N, H, W, C)`` or ``(H, W, C)``; ``removed``: ``(N, H, W)`` or ``(H, W)`` booleans.
    """
    x, m = _batch(images, removed)
    out = np.where(m[..., None], x.mean(axis=(1, 2), keepdims=True), x)
    return out.astype(np.float32).reshape(np.shape(images))


def impute_blur(images, removed, sigma: float = 2.0, rng=None) -> np.ndarray:
    """Removed pixels take the value of a Gaussian-blurred copy of the image (``sigma`` in pixels).

    Petsiuk et al. (2018) start insertion from a blurred image; on 32 x 32 images ``sigma=2`` keeps the
    colours and the coarse layout and removes the detail.
    """
    from scipy.ndimage import gaussian_filter

    x, m = _batch(images, removed)
    blurred = gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="reflect")
    return np.where(m[..., None], blurred, x).astype(np.float32).reshape(np.shape(images))


#: ROAD's neighbour weights: 1/6 for the four direct neighbours, 1/12 for the four diagonal ones.
ROAD_WEIGHTS = (((0, 1), 1 / 6), ((0, -1), 1 / 6), ((1, 0), 1 / 6), ((-1, 0), 1 / 6),
                ((1, 1), 1 / 12), ((1, -1), 1 / 12), ((-1, 1), 1 / 12), ((-1, -1), 1 / 12))


def impute_linear(images, removed, noise: float = 0.01, value_range: float = 255.0, rng=None) -> np.ndarray:
    """ROAD's noisy linear imputation (Rong et al., 2022).

    Every removed pixel becomes the weighted mean of its (up to 8) neighbours inside the image, weights
    :data:`ROAD_WEIGHTS`, renormalised at the border. Neighbours that are removed too are unknowns as well,
    so all removed pixels of all images are solved together as one sparse linear system
    ``(D - W_uu) x_u = W_uk x_k`` (``scipy.sparse``, one column per colour channel). Then Gaussian noise of
    standard deviation ``noise * value_range`` is added to the imputed pixels (ROAD: 0.01 on a 0-1 scale).
    The system has one solution as long as each image keeps at least one pixel.

    ``images``: ``(N, H, W, C)`` or ``(H, W, C)``; ``removed``: ``(N, H, W)`` or ``(H, W)`` booleans.
    ``rng``: a seed or Generator, or a list of Generators, one per image (then each image's noise comes from
    its own stream). Returns float32 of the shape of ``images``.
    """
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    x, m = _batch(images, removed)
    n, h, w, c = x.shape
    if m.reshape(n, -1).all(axis=1).any():
        raise ValueError("An image has every pixel removed: nothing is left to impute from. Use fractions below 1.")
    out = x.copy()
    b_idx, r_idx, c_idx = np.nonzero(m)
    u = len(b_idx)
    if u == 0:
        return out.astype(np.float32).reshape(np.shape(images))
    var = -np.ones(m.shape, dtype=np.int64)
    var[b_idx, r_idx, c_idx] = np.arange(u)
    diag = np.zeros(u)
    rhs = np.zeros((u, c))
    rows, cols, vals = [], [], []
    for (dr, dc), wgt in ROAD_WEIGHTS:
        rr, cc = r_idx + dr, c_idx + dc
        inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        i = np.flatnonzero(inside)
        diag[i] += wgt
        nb = var[b_idx[i], rr[i], cc[i]]
        unknown = nb >= 0
        rows.append(i[unknown]); cols.append(nb[unknown]); vals.append(np.full(unknown.sum(), -wgt))
        known = i[~unknown]
        rhs[known] += wgt * x[b_idx[known], rr[known], cc[known]]
    rows.append(np.arange(u)); cols.append(np.arange(u)); vals.append(diag)
    a = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(u, u))
    solved = spsolve(a, rhs, permc_spec="NATURAL").reshape(u, c)   # unknowns in raster order: a banded matrix
    if noise:
        if isinstance(rng, (list, tuple)):          # unknowns are numbered image by image
            counts = m.reshape(n, -1).sum(axis=1)
            z = np.concatenate([g.standard_normal((k, c)) for g, k in zip(rng, counts)])
        else:
            z = _rng(rng).standard_normal(solved.shape)
        solved = solved + noise * value_range * z
    out[b_idx, r_idx, c_idx] = solved
    return out.astype(np.float32).reshape(np.shape(images))


#: The three ways to fill removed pixels, by name (each ``f(images, removed, rng=...)``; ``rng`` may be a list
#: of Generators, one per image).
IMPUTERS = {"mean colour": impute_mean, "blur": impute_blur, "linear (ROAD)": impute_linear}


# ---------------------------------------------------------------- removing pixels: curves

def removal_curves(predict, images, saliency, class_index, fractions, order: str = "morf",
                   imputer="linear (ROAD)", rng=None, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities as pixels are removed in the order a map ranks them: ``(N, F)``.

    ``predict``: ``(B, H, W, 3)`` -> probabilities ``(B, classes)``; ``images``: ``(N, H, W, 3)``;
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
    x = np.asarray(images, dtype=np.float32)
    s = np.asarray(saliency)
    if x.ndim != 4 or s.shape != x.shape[:3]:
        raise ValueError(f"Expected images (N, H, W, 3) and maps (N, H, W) of the same size, got {x.shape} "
                         f"and {s.shape}: upsample the maps and reduce their channels first.")
    impute = IMPUTERS[imputer] if isinstance(imputer, str) else imputer
    seed = int(_rng(rng).integers(2 ** 63)) if rng is None or isinstance(rng, np.random.Generator) else int(rng)
    f = np.asarray(fractions, dtype=np.float64)
    ties = _per_image(seed, len(x))
    masks = np.stack([removal_masks(s[i], f, order, ties[i]) for i in range(len(x))], axis=1)   # (F, N, H, W)
    cls = np.broadcast_to(np.asarray(class_index), (len(x),))
    out = np.empty((len(x), len(f)), dtype=np.float64)
    for j in range(len(f)):
        filled = x if not masks[j].any() else impute(x, masks[j], rng=_per_image(seed, len(x), j + 1))
        probs = np.concatenate([np.asarray(predict(filled[k:k + batch_size]))
                                for k in range(0, len(x), batch_size)])
        out[:, j] = probs[np.arange(len(x)), cls]
    return out


def deletion_insertion(predict, image, saliency, class_index: int, steps: int = 16, baseline=None, rng=None):
    """Deletion and insertion curves (Petsiuk et al., 2018) for one image.

    Pixels are ranked by ``saliency`` (H, W), most salient first, ties in random order. *Deletion* replaces
    them, a fraction 1/steps at a time, by ``baseline`` (default: the image's mean colour) and records the
    class probability; *insertion* starts from the baseline and puts them back. ``predict`` maps a batch
    (N, H, W, 3) to probabilities (N, C). Returns ``(fractions, deletion, insertion)``, each of length
    steps + 1. A faithful map makes deletion fall fast (small area) and insertion rise fast (large area).
    """
    img = np.asarray(image, dtype=np.float32)
    s = np.asarray(saliency, dtype=np.float64)
    if s.shape != img.shape[:2]:
        raise ValueError(f"saliency has shape {s.shape}, the image {img.shape[:2]}: upsample the map first.")
    base = np.broadcast_to(img.mean(axis=(0, 1)), img.shape) if baseline is None else np.asarray(baseline, np.float32)
    fractions = np.linspace(0, 1, steps + 1)
    masks = removal_masks(s, fractions, "morf", rng)[..., None]
    deleted = [np.where(mk, base, img) for mk in masks]
    inserted = [np.where(mk, img, base) for mk in masks]
    probs = predict(np.stack(deleted + inserted).astype(np.float32))[:, class_index]
    return fractions, probs[:steps + 1], probs[steps + 1:]


def area_under(fractions, curve):
    """Area under curves sampled at ``fractions`` (trapezoid rule), along the last axis.

    ``curve``: ``(F,)`` -> a float; ``(N, F)`` -> ``(N,)``, one area per image.
    """
    f, c = np.asarray(fractions, np.float64), np.asarray(curve, np.float64)
    areas = np.sum((c[..., 1:] + c[..., :-1]) / 2 * np.diff(f), axis=-1)
    return float(areas) if np.ndim(areas) == 0 else areas
