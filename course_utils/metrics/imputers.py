"""What replaces removed pixels: :func:`impute_mean`, :func:`impute_blur` and :func:`impute_linear`, the noisy linear
imputation of ROAD (Rong et al., 2022); :data:`IMPUTERS` names them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..validation import (
    CourseValueError,
    finite_array,
    finite_number,
)
from .arguments import RandomSource, _mask, _per_image, _rng


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
        raise CourseValueError(
            "The filled-in images hold values beyond float32's range (3.4e38): images are "
            "expected on a 0-255 or 0-1 scale."
        )
    return result


def impute_mean(
    images: ArrayLike, removed: ArrayLike, rng: RandomSource | Sequence[np.random.Generator] = None
) -> np.ndarray:
    """Removed pixels become the image's mean colour (each image's own channel means).

    ``images``: ``(N, H, W, C)`` or ``(H, W, C)``; ``removed``: ``(N, H, W)`` or ``(H, W)`` booleans.
    """
    x, m = _batch(images, removed)
    out = np.where(m[..., None], x.mean(axis=(1, 2), keepdims=True), x)
    return _filled(out, images)


def impute_blur(
    images: ArrayLike, removed: ArrayLike, sigma: float = 2.0, rng: RandomSource | Sequence[np.random.Generator] = None
) -> np.ndarray:
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
ROAD_WEIGHTS = (
    ((0, 1), 1 / 6),
    ((0, -1), 1 / 6),
    ((1, 0), 1 / 6),
    ((-1, 0), 1 / 6),
    ((1, 1), 1 / 12),
    ((1, -1), 1 / 12),
    ((-1, 1), 1 / 12),
    ((-1, -1), 1 / 12),
)


# long: one sparse system for all removed pixels, built, solved and checked in one pass
def impute_linear(
    images: ArrayLike,
    removed: ArrayLike,
    noise: float = 0.01,
    value_range: float = 255.0,
    rng: RandomSource | Sequence[np.random.Generator] = None,
) -> np.ndarray:
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
        _per_image(rng, n)  # one Generator per image, checked before solving
    else:
        rng = _rng(rng)
    if m.reshape(n, -1).all(axis=1).any():
        raise CourseValueError(
            "An image has every pixel removed: nothing is left to impute from. Use fractions below 1."
        )
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
        rows.append(i[unknown])
        cols.append(nb[unknown])
        vals.append(np.full(unknown.sum(), -wgt))
        known = i[~unknown]
        rhs[known] += wgt * x[b_idx[known], rr[known], cc[known]]
    rows.append(np.arange(u))
    cols.append(np.arange(u))
    vals.append(diag)
    a = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(u, u))
    solved = spsolve(a, rhs, permc_spec="NATURAL").reshape(u, c)  # unknowns in raster order: a banded matrix
    if noise:
        if isinstance(rng, (list, tuple)):  # unknowns are numbered image by image
            counts = m.reshape(n, -1).sum(axis=1)
            z = np.concatenate([g.standard_normal((k, c)) for g, k in zip(rng, counts)])
        else:
            z = _rng(rng).standard_normal(solved.shape)
        solved = solved + noise * value_range * z
    out[b_idx, r_idx, c_idx] = solved
    return _filled(out, images)


#: The three ways to fill removed pixels, by name (each ``f(images, removed, rng=...)``; ``rng`` may be a list
#: of Generators, one per image).
IMPUTERS: dict[str, Callable[..., np.ndarray]] = {
    "mean colour": impute_mean,
    "blur": impute_blur,
    "linear (ROAD)": impute_linear,
}
