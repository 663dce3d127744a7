"""Numbers about explanations, each with an interval.

- sanity checks: :func:`rank_correlation` (Spearman) between two maps;
- localisation on mosaics: :func:`make_mosaic` (k x k tiles), :func:`pointing_hit` (is the maximum on the
  target tile?), :func:`focus` (which share of the map's positive mass is on it; Arias-Duart et al., 2022);
- faithfulness by removing pixels: :func:`relevance_order` and :func:`removal_masks` (MoRF / LeRF, ties
  broken at random), three ways to fill what was removed (:func:`impute_mean`, :func:`impute_blur`,
  :func:`impute_linear`, the noisy linear imputation of ROAD, Rong et al., 2022), :func:`removal_curves`,
  :func:`area_under`, and the older :func:`deletion_insertion` (Petsiuk et al., 2018);
- intervals: :func:`bootstrap_interval` (percentile bootstrap over images) and :func:`wilson_interval`.

Every argument goes through the course's shared checks (:mod:`course_utils.validation`) first: a map or values
with NaN or inf, a negative class index or tile, a fraction outside [0, 1], a count that is 0, negative or
``True``, an unsorted ``x`` for :func:`area_under` raise :class:`~course_utils.validation.CourseValueError` (a
``ValueError``) saying what was wrong, instead of a number that is silently wrong.
"""
from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .validation import (
    CourseValueError,
    choice,
    describe,
    finite_array,
    finite_number,
    fraction,
    nonnegative_int,
    positive_int,
)
from .validation import class_index as _class_index

__all__ = ["rank_correlation", "make_mosaic", "tile_of", "pointing_hit", "focus", "wilson_interval",
           "bootstrap_interval", "relevance_order", "removal_masks", "impute_mean", "impute_blur",
           "impute_linear", "IMPUTERS", "removal_curves", "deletion_insertion", "area_under"]


_RNG_HINT = "rng must be None (fresh randomness), a seed (an int >= 0) or a numpy.random.Generator"


def _rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """``None`` (fresh entropy), a seed (an int >= 0 or a sequence of them), a ``SeedSequence`` or a
    ``numpy.random.Generator`` -> a Generator; anything else (a bool, a float, a negative seed) is refused."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (np.random.SeedSequence, np.random.BitGenerator)):
        return np.random.default_rng(rng)
    if isinstance(rng, Sequence) and not isinstance(rng, (str, bytes)) and len(rng) > 0:
        return np.random.default_rng([nonnegative_int(s, f"each seed in {name}", hint=_RNG_HINT + ".")
                                      for s in rng])
    return np.random.default_rng(nonnegative_int(rng, name, hint=_RNG_HINT + "."))


def _seed(rng: Any, name: str = "rng") -> int:
    """One int seed: drawn from ``None`` (fresh entropy) or a Generator, or the seed itself (an int >= 0)."""
    if rng is None or isinstance(rng, np.random.Generator):
        return int(_rng(rng).integers(2 ** 63))
    return nonnegative_int(rng, name, hint=_RNG_HINT + ".")


def _per_image(rng: Any, n: int, *keys: int) -> list[np.random.Generator]:
    """One random stream per image, from a seed (or a Generator, which gives the seed): image ``i`` draws
    the same numbers whichever other images share the batch. A list of ``n`` Generators is used as it is."""
    if isinstance(rng, (list, tuple)):
        if len(rng) != n or not all(isinstance(g, np.random.Generator) for g in rng):
            raise CourseValueError(f"rng as a list must hold one numpy.random.Generator per image ({n}); got "
                                   f"{describe(rng)}. Or pass one seed (an int >= 0) for all of them.")
        return list(rng)
    seed = _seed(rng)
    return [np.random.default_rng([seed, *keys, i]) for i in range(n)]


def _fractions(values: Any, name: str = "fractions") -> np.ndarray:
    """A 1-D array of fractions, each in [0, 1] (never clamped: 1.2 or -0.1 is refused)."""
    raw = values.tolist() if isinstance(values, np.ndarray) and values.dtype == bool else values
    if isinstance(raw, (list, tuple)):              # each as given: True is not 1.0, "0.5" is not 0.5
        for i, v in enumerate(raw):
            if not isinstance(v, (list, tuple, np.ndarray)):
                fraction(v, f"{name}[{i}]")
    f = finite_array(values, name, ndim=1)
    for i, v in enumerate(f.tolist()):
        fraction(v, f"{name}[{i}]")
    return f


def _tile(value: Any, grid: int, name: str = "tile") -> int:
    """One tile index of a ``grid`` x ``grid`` mosaic: an int in 0 .. grid*grid - 1 (row-major, from 0)."""
    hint = f"Tiles are counted from 0, row by row: 0 .. {grid * grid - 1} for a {grid} x {grid} mosaic."
    t = nonnegative_int(value, name, hint=hint)
    if t >= grid * grid:
        raise CourseValueError(f"{name} must be one of 0 .. {grid * grid - 1} for a {grid} x {grid} mosaic, got {t}.")
    return t


def _mask(removed: Any, name: str = "removed") -> np.ndarray:
    """A mask of booleans (True = removed); 0/1 numbers are accepted, any other value is refused."""
    m = finite_array(removed, name, allow_empty=True)
    if not np.isin(m, (0.0, 1.0)).all():
        raise CourseValueError(f"{name} must be a mask of booleans (True = removed) or of 0 and 1; it holds other "
                               "values. A saliency map is not a mask: make one with removal_masks(map, fractions).")
    return m.astype(bool)


def _class_indices(class_index: Any, n: int) -> np.ndarray:
    """``class_index`` (an int or one per image) as ``(n,)`` ints >= 0; the upper bound is checked against the
    model's output by :func:`_probabilities`."""
    arr = np.asarray(class_index) if isinstance(class_index, (numbers.Integral, np.ndarray, list, tuple)) else None
    if arr is None or arr.dtype.kind not in "iu" or arr.ndim > 1:
        raise CourseValueError(f"class_index must be an int or one int per image; got {describe(class_index)}.")
    if arr.ndim == 1 and len(arr) != n:
        raise CourseValueError(f"class_index has {len(arr)} entries for {n} images: give one class per image, "
                               "or one int for all.")
    if arr.size and arr.min() < 0:
        nonnegative_int(int(arr.min()), "class_index", hint="-1 is not 'the last class': give the class's index.")
    return np.broadcast_to(arr, (n,))


_PROB_SLACK = 0.01


def _probabilities(predict: Callable, batch: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``predict(batch)`` checked: ``(len(batch), C)`` finite probabilities, every class asked for below C.

    Values beyond [-0.01, 1.01] are refused as logits (a little slack for toy models whose "probability" is a
    mean brightness: imputation noise can push those just past 0 or 1)."""
    out = np.asarray(predict(batch))
    if out.dtype.kind not in "fiu" or out.ndim != 2 or out.shape[0] != len(batch):
        raise CourseValueError(f"predict must map a batch ({len(batch)}, H, W, 3) to probabilities "
                               f"({len(batch)}, classes); it returned {describe(out)}.")
    finite_array(out, "the probabilities predict returned")
    if out.size and (out.min() < -_PROB_SLACK or out.max() > 1 + _PROB_SLACK):
        raise CourseValueError(f"predict must return probabilities in [0, 1]; it returned values from "
                               f"{out.min():.3g} to {out.max():.3g}. These look like logits: apply a softmax "
                               "(tf.nn.softmax(model(x)).numpy()).")
    for c in np.unique(classes):
        _class_index(int(c), out.shape[1])
    return out


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
    a, b = finite_array(a, "the first map").ravel(), finite_array(b, "the second map").ravel()
    if a.shape != b.shape:
        raise CourseValueError(f"maps must have the same number of values, got {a.size} and {b.size}.")
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra ** 2).sum() * (rb ** 2).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else 0.0


# ---------------------------------------------------------------- localisation on mosaics

def make_mosaic(images) -> np.ndarray:
    """k * k images ``(k*k, h, w, 3)`` -> one k x k mosaic ``(k*h, k*w, 3)``.

    Tile ``t`` is at row ``t // k``, column ``t % k`` (row-major, as :func:`tile_of` counts).
    """
    finite_array(images, "images")
    x = np.asarray(images)
    k = int(round(np.sqrt(x.shape[0]))) if x.ndim == 4 else 0
    if x.ndim != 4 or k < 2 or k * k != x.shape[0]:
        raise CourseValueError(f"Expected four images (4, h, w, 3) for a 2 x 2 mosaic, nine for 3 x 3 (k*k in "
                               f"general), got shape {x.shape}.")
    rows = [np.concatenate(list(x[r * k:(r + 1) * k]), axis=1) for r in range(k)]
    return np.concatenate(rows, axis=0)


def tile_of(row: int, col: int, shape: tuple[int, int], grid: int = 2) -> int:
    """The tile (0 .. grid*grid - 1, row-major) of a ``grid`` x ``grid`` mosaic of ``shape`` (H, W) (or an
    image's (H, W, C)) that holds pixel (``row``, ``col``). Both sides must divide into ``grid`` equal parts,
    and the pixel must lie inside the mosaic."""
    grid = positive_int(grid, "grid")
    if not isinstance(shape, (Sequence, np.ndarray)) or isinstance(shape, str) or len(shape) not in (2, 3):
        raise CourseValueError(f"shape must be (H, W) or (H, W, C); got {describe(shape)}.")
    height, width = positive_int(shape[0], "shape[0] (the height)"), positive_int(shape[1], "shape[1] (the width)")
    if height % grid or width % grid:
        raise CourseValueError(f"A {height} x {width} mosaic does not divide into {grid} x {grid} equal tiles: "
                               f"both sides must be multiples of {grid}.")
    row, col = nonnegative_int(row, "row"), nonnegative_int(col, "col")
    if row >= height or col >= width:
        raise CourseValueError(f"Pixel ({row}, {col}) is outside the {height} x {width} mosaic: row must be below "
                               f"{height} and col below {width}.")
    h, w = height // grid, width // grid
    return int(row // h) * grid + int(col // w)


def _mosaic_map(saliency: Any, grid: Any) -> tuple[np.ndarray, int]:
    """The map as float64 ``(H, W)`` without NaN, and ``grid``; both sides must divide into ``grid`` tiles."""
    grid = positive_int(grid, "grid", hint="A 2 x 2 mosaic has grid=2, a 3 x 3 one grid=3.")
    s = finite_array(saliency, "saliency")
    if s.ndim != 2 or s.shape[0] % grid or s.shape[1] % grid:
        raise CourseValueError(f"Expected a 2-D map whose sides divide into {grid} x {grid} tiles, got shape "
                               f"{s.shape}.")
    return s, grid


def pointing_hit(saliency, tile: int, grid: int = 2, rng=None) -> bool:
    """True when the maximum of a map ``(H, W)`` falls inside ``tile`` of a ``grid`` x ``grid`` mosaic.

    Where several pixels share the maximum, one of them is drawn at random (``rng``: a seed or a
    Generator): ``np.argmax`` would always take the first in raster order, i.e. favour the top-left tile.
    """
    s, grid = _mosaic_map(saliency, grid)
    tile = _tile(tile, grid)
    top = np.flatnonzero(s.ravel() == s.max())
    r, c = np.unravel_index(int(top[0] if len(top) == 1 else _rng(rng).choice(top)), s.shape)
    return tile_of(r, c, s.shape, grid) == tile


def focus(saliency, tiles, grid: int = 2) -> float:
    """Focus (Arias-Duart et al., 2022): the share of the map's positive mass on the target tile(s).

    ``saliency``: ``(H, W)``; ``tiles``: one tile index or several (row-major, see :func:`tile_of`).
    Negative values count as 0. A map spread evenly scores ``len(tiles) / grid**2``; a map with no positive
    mass at all says nothing about where the object is and also scores that chance level. An empty list of
    tiles, a tile outside the mosaic, or a boolean mask of tiles is refused (pass ``np.flatnonzero(mask)``).
    """
    s, grid = _mosaic_map(saliency, grid)
    s = np.clip(s, 0.0, None)
    try:
        asked = np.atleast_1d(np.asarray(tiles, dtype=object if isinstance(tiles, (list, tuple)) else None))
    except ValueError:
        asked = None
    if asked is None or asked.ndim != 1 or asked.size == 0:
        raise CourseValueError(f"tiles must be one tile index or a non-empty list of them (0 .. {grid * grid - 1}); "
                               f"got {describe(tiles)}. Focus needs at least one target tile.")
    tiles = [_tile(t, grid, "each tile") for t in asked.tolist()]
    with np.errstate(over="ignore"):
        total = s.sum()
    if total <= 0:
        return len(set(tiles)) / grid ** 2
    if not np.isfinite(total):                       # finite values whose sum overflows: rescale, same shares
        s = s / s.max()
        total = s.sum()
    h, w = s.shape[0] // grid, s.shape[1] // grid
    inside = sum(s[(t // grid) * h:(t // grid + 1) * h, (t % grid) * w:(t % grid + 1) * w].sum() for t in set(tiles))
    return float(inside / total)


# ---------------------------------------------------------------- intervals

#: The most numbers :func:`bootstrap_interval` holds at once (n_boot x values): 50 million, 400 MB of floats.
_MAX_BOOT_VALUES = 50_000_000


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a hit rate (95 % for z = 1.96): ``hits`` of ``n`` trials (ints, 0 <= hits
    <= n), ``z`` in (0, 10]."""
    n = positive_int(n, "n", hint="n is the number of trials (images, mosaics).")
    hits = nonnegative_int(hits, "hits", hint="hits is a count: int(hit.sum()) if your hits are 0/1 floats.")
    if hits > n:
        raise CourseValueError(f"hits ({hits}) cannot exceed the number of trials n ({n}).")
    z = finite_number(z, "z (the normal quantile: 1.96 for 95 %)", minimum=0.0, strict_minimum=True, maximum=10.0)
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
        raise CourseValueError(f"n_boot={n_boot} resamples of {v.size} values would hold {n_boot * v.size:,} numbers "
                               f"at once (the limit is {_MAX_BOOT_VALUES:,}): use fewer resamples (2000 is plenty).")
    if not callable(statistic):
        raise CourseValueError(f"statistic must be a function such as np.mean; got {describe(statistic)}.")
    idx = _rng(rng).integers(0, len(v), size=(n_boot, len(v)))
    try:
        stats = statistic(v[idx], axis=1)
    except TypeError as exc:
        raise CourseValueError(f"statistic must accept axis= (as np.mean and np.median do); calling it failed: "
                               f"{exc}") from None
    got = np.asarray(stats)
    if got.dtype.kind not in "fiub" or got.ndim == 0 or got.shape[0] != n_boot:
        raise CourseValueError("statistic must return one value per resample along axis=1 (as np.mean does); it "
                               f"returned {describe(got)}.")
    finite_array(got, "what statistic returned")
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return (float(lo), float(hi)) if np.ndim(lo) == 0 else (lo, hi)


# ---------------------------------------------------------------- removing pixels: orders

def relevance_order(saliency, rng=None) -> np.ndarray:
    """Flat pixel indices of a map ``(H, W)``, most relevant first; equal values in random order.

    A stable sort would put tied pixels in raster order (top rows first), and a constant or saturated
    region would then be removed from the top down: a bias of the evaluation, not of the map.
    """
    s = finite_array(saliency, "saliency").ravel()
    return np.lexsort((_rng(rng).random(s.size), -s))


def removal_masks(saliency, fractions, order: str = "morf", rng=None) -> np.ndarray:
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


# ---------------------------------------------------------------- removing pixels: what replaces them

def _batch(images, removed) -> tuple[np.ndarray, np.ndarray]:
    x = finite_array(images, "images")
    m = _mask(removed)
    if x.ndim == 3:
        x, m = x[None], m[None]
    if x.ndim != 4 or m.shape != x.shape[:3]:
        raise CourseValueError(f"Expected images (N, H, W, C) and masks (N, H, W), got {x.shape} and {m.shape}.")
    return x, m


def _filled(out: np.ndarray, images: Any) -> np.ndarray:
    """The filled-in batch as float32 in the shape of ``images``; values beyond float32's range are refused."""
    result = out.astype(np.float32).reshape(np.shape(images))
    if not np.isfinite(result).all():
        raise CourseValueError("The filled-in images hold values beyond float32's range (3.4e38): images are "
                               "expected on a 0-255 or 0-1 scale.")
    return result


def impute_mean(images, removed, rng=None) -> np.ndarray:
    """Removed pixels become the image's mean colour (each image's own channel means).

    ``images``: ``(N, H, W, C)`` or ``(H, W, C)``; ``removed``: ``(N, H, W)`` or ``(H, W)`` booleans.
    """
    x, m = _batch(images, removed)
    out = np.where(m[..., None], x.mean(axis=(1, 2), keepdims=True), x)
    return _filled(out, images)


def impute_blur(images, removed, sigma: float = 2.0, rng=None) -> np.ndarray:
    """Removed pixels take the value of a Gaussian-blurred copy of the image (``sigma`` in pixels).

    Petsiuk et al. (2018) start insertion from a blurred image; on 32 x 32 images ``sigma=2`` keeps the
    colours and the coarse layout and removes the detail.
    """
    from scipy.ndimage import gaussian_filter

    sigma = finite_number(sigma, "sigma", minimum=0.0)
    x, m = _batch(images, removed)
    blurred = gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="reflect")
    return _filled(np.where(m[..., None], blurred, x), images)


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

    noise = finite_number(noise, "noise", minimum=0.0)
    value_range = finite_number(value_range, "value_range", minimum=0.0)
    x, m = _batch(images, removed)
    n, h, w, c = x.shape
    if isinstance(rng, (list, tuple)):
        _per_image(rng, n)                          # one Generator per image, checked before solving
    else:
        rng = _rng(rng)
    if m.reshape(n, -1).all(axis=1).any():
        raise CourseValueError("An image has every pixel removed: nothing is left to impute from. Use fractions "
                               "below 1.")
    out = x.copy()
    b_idx, r_idx, c_idx = np.nonzero(m)
    u = len(b_idx)
    if u == 0:
        return _filled(out, images)
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
    return _filled(out, images)


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
    if not callable(predict):
        raise CourseValueError(f"predict must be a function from images to probabilities; got {describe(predict)}.")
    x = finite_array(images, "images", dtype=np.float32)
    s = finite_array(saliency, "saliency")
    if x.ndim != 4 or s.shape != x.shape[:3]:
        raise CourseValueError(f"Expected images (N, H, W, 3) and maps (N, H, W) of the same size, got {x.shape} "
                               f"and {s.shape}: upsample the maps and reduce their channels first.")
    if isinstance(imputer, str):
        impute = IMPUTERS[choice(imputer, list(IMPUTERS), "imputer")]
    elif callable(imputer):
        impute = imputer
    else:
        raise CourseValueError(f"imputer must be one of {', '.join(map(repr, IMPUTERS))} or a function "
                               f"f(images, removed, rng=...); got {describe(imputer)}.")
    batch_size = positive_int(batch_size, "batch_size")
    cls = _class_indices(class_index, len(x))
    seed = _seed(rng)
    f = _fractions(fractions)
    ties = _per_image(seed, len(x))
    masks = np.stack([removal_masks(s[i], f, order, ties[i]) for i in range(len(x))], axis=1)   # (F, N, H, W)
    out = np.empty((len(x), len(f)), dtype=np.float64)
    for j in range(len(f)):
        filled = x if not masks[j].any() else impute(x, masks[j], rng=_per_image(seed, len(x), j + 1))
        if filled is not x and np.shape(filled) != x.shape:
            raise CourseValueError(f"The imputer returned shape {np.shape(filled)} for images of shape {x.shape}: "
                                   "it must return the images with the removed pixels filled in.")
        finite_array(filled, "the images the imputer filled in", dtype=np.float32)
        probs = np.concatenate([_probabilities(predict, filled[k:k + batch_size], cls[k:k + batch_size])
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
    ``steps`` is at most the number of pixels (more steps would remove nothing new).
    """
    if not callable(predict):
        raise CourseValueError(f"predict must be a function from images to probabilities; got {describe(predict)}.")
    img = finite_array(image, "image", ndim=3, dtype=np.float32)
    s = finite_array(saliency, "saliency")
    if s.shape != img.shape[:2]:
        raise CourseValueError(f"saliency has shape {s.shape}, the image {img.shape[:2]}: upsample the map first.")
    steps = positive_int(steps, "steps")
    if steps > s.size:
        raise CourseValueError(f"steps={steps} is more than the image's {s.size} pixels: each step must remove at "
                               "least one pixel.")
    cls = nonnegative_int(class_index, "class_index", hint="-1 is not 'the last class': give the class's index.")
    if baseline is None:
        base = np.broadcast_to(img.mean(axis=(0, 1)), img.shape)
    else:
        base = finite_array(baseline, "baseline", dtype=np.float32)
        try:
            fits = np.broadcast_shapes(base.shape, img.shape) == img.shape
        except ValueError:
            fits = False
        if not fits:
            raise CourseValueError(f"baseline has shape {base.shape}; it must be an image like this one {img.shape} "
                                   "or a colour (3,) that fills it.")
    fractions = np.linspace(0, 1, steps + 1)
    masks = removal_masks(s, fractions, "morf", rng)[..., None]
    deleted = [np.where(mk, base, img) for mk in masks]
    inserted = [np.where(mk, img, base) for mk in masks]
    batch = np.stack(deleted + inserted).astype(np.float32)
    probs = _probabilities(predict, batch, np.array([cls]))[:, cls]
    return fractions, probs[:steps + 1], probs[steps + 1:]


def area_under(fractions, curve):
    """Area under curves sampled at ``fractions`` (trapezoid rule), along the last axis.

    ``curve``: ``(F,)`` -> a float; ``(N, F)`` -> ``(N,)``, one area per image. ``fractions``: at least two,
    in [0, 1], strictly increasing, one per point of the curve.
    """
    f = _fractions(fractions)
    if len(f) < 2 or np.any(np.diff(f) <= 0):
        raise CourseValueError(f"fractions must be at least two values that increase strictly (the x of the curve, "
                               f"sorted, no repeats); got {f.tolist()}.")
    c = finite_array(curve, "curve")
    if c.ndim == 0 or c.shape[-1] != len(f):
        raise CourseValueError(f"curve has shape {c.shape}: its last axis must hold one value per fraction "
                               f"({len(f)}).")
    with np.errstate(over="ignore", invalid="ignore"):
        areas = np.sum((c[..., 1:] + c[..., :-1]) / 2 * np.diff(f), axis=-1)
    if not np.isfinite(areas).all():
        raise CourseValueError("The area overflows: the curve holds values near the largest float. Curves are "
                               "probabilities (0 to 1); check what was passed as the curve.")
    return float(areas) if np.ndim(areas) == 0 else areas
