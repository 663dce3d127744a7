"""Localisation on mosaics: :func:`make_mosaic` (k x k tiles), :func:`pointing_hit` (is the maximum on the
target tile?), :func:`focus` (which share of the map's positive mass is on it; Arias-Duart et al., 2022) and
:func:`focus_rank` (Focus on the map's ranks: blind to how peaky the map is, only its order counts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..validation import (
    CourseValueError,
    describe,
    finite_array,
    nonnegative_int,
    positive_int,
)
from .arguments import RandomSource, _rng, _tile


def make_mosaic(images: ArrayLike) -> np.ndarray:
    """k * k images ``(k*k, h, w, 3)`` -> one k x k mosaic ``(k*h, k*w, 3)``.

    Tile ``t`` is at row ``t // k``, column ``t % k`` (row-major, as :func:`tile_of` counts).
    """
    finite_array(images, "images")
    x = np.asarray(images)
    k = round(np.sqrt(x.shape[0])) if x.ndim == 4 else 0
    if x.ndim != 4 or k < 2 or k * k != x.shape[0]:
        raise CourseValueError(
            f"Expected four images (4, h, w, 3) for a 2 x 2 mosaic, nine for 3 x 3 (k*k in "
            f"general), got shape {x.shape}."
        )
    rows = [np.concatenate(list(x[r * k : (r + 1) * k]), axis=1) for r in range(k)]
    return np.concatenate(rows, axis=0)


def tile_of(
    row: int | np.integer[Any], col: int | np.integer[Any], shape: Sequence[int] | np.ndarray, grid: int = 2
) -> int:
    """The tile (0 .. grid*grid - 1, row-major) of a ``grid`` x ``grid`` mosaic of ``shape`` (H, W) (or an
    image's (H, W, C)) that holds pixel (``row``, ``col``). Both sides must divide into ``grid`` equal parts,
    and the pixel must lie inside the mosaic."""
    grid = positive_int(grid, "grid")
    if not isinstance(shape, (Sequence, np.ndarray)) or isinstance(shape, str) or len(shape) not in (2, 3):
        raise CourseValueError(f"shape must be (H, W) or (H, W, C); got {describe(shape)}.")
    height = positive_int(shape[0], "shape[0] (the height)")
    width = positive_int(shape[1], "shape[1] (the width)")
    if height % grid or width % grid:
        raise CourseValueError(
            f"A {height} x {width} mosaic does not divide into {grid} x {grid} equal tiles: "
            f"both sides must be multiples of {grid}."
        )
    row, col = nonnegative_int(row, "row"), nonnegative_int(col, "col")
    if row >= height or col >= width:
        raise CourseValueError(
            f"Pixel ({row}, {col}) is outside the {height} x {width} mosaic: row must be below "
            f"{height} and col below {width}."
        )
    h, w = height // grid, width // grid
    return int(row // h) * grid + int(col // w)


def _mosaic_map(saliency: Any, grid: Any) -> tuple[np.ndarray, int]:
    """The map as float64 ``(H, W)`` without NaN, and ``grid``; both sides must divide into ``grid`` tiles."""
    grid = positive_int(grid, "grid", hint="A 2 x 2 mosaic has grid=2, a 3 x 3 one grid=3.")
    s = finite_array(saliency, "saliency")
    if s.ndim != 2 or s.shape[0] % grid or s.shape[1] % grid:
        raise CourseValueError(
            f"Expected a 2-D map whose sides divide into {grid} x {grid} tiles, got shape {s.shape}."
        )
    return s, grid


def pointing_hit(saliency: ArrayLike, tile: int, grid: int = 2, rng: RandomSource = None) -> bool:
    """True when the maximum of a map ``(H, W)`` falls inside ``tile`` of a ``grid`` x ``grid`` mosaic.

    Where several pixels share the maximum, one of them is drawn at random (``rng``: a seed or a
    Generator): ``np.argmax`` would always take the first in raster order, i.e. favour the top-left tile.
    """
    s, grid = _mosaic_map(saliency, grid)
    tile = _tile(tile, grid)
    top = np.flatnonzero(s.ravel() == s.max())
    r, c = np.unravel_index(int(top[0] if len(top) == 1 else _rng(rng).choice(top)), s.shape)
    return tile_of(r, c, s.shape, grid) == tile


def _target_tiles(tiles: Any, grid: int) -> list[int]:
    """One tile index or a non-empty list of them, each checked; a boolean mask is refused."""
    try:
        asked = np.atleast_1d(np.asarray(tiles, dtype=object if isinstance(tiles, (list, tuple)) else None))
    except ValueError:
        asked = None
    if asked is None or asked.ndim != 1 or asked.size == 0:
        raise CourseValueError(
            f"tiles must be one tile index or a non-empty list of them (0 .. {grid * grid - 1}); "
            f"got {describe(tiles)}. Focus needs at least one target tile."
        )
    return [_tile(t, grid, "each tile") for t in asked.tolist()]


def map_ranks(saliency: ArrayLike) -> np.ndarray:
    """The ranks of a map's values, same shape: 1 for the smallest, ``H * W`` for the largest; equal values
    share their average rank (as Spearman's correlation counts them). Any strictly increasing transform of the
    map (squaring a map >= 0, an exponential, a scale) leaves the ranks as they are."""
    from scipy.stats import rankdata

    s = finite_array(saliency, "saliency")
    return rankdata(s.ravel(), method="average").reshape(s.shape)


def focus_rank(saliency: ArrayLike, tiles: int | ArrayLike, grid: int = 2) -> float:
    """Focus computed on the map's ranks (:func:`map_ranks`): the target tiles' share of the sum of ranks.

    A control for :func:`focus`, which rewards peaky maps: a monotone sharpening (squaring a map, a higher
    power, a softmax with a low temperature) moves mass onto the top pixels and raises Focus without changing
    which pixels come first. Ranks do not change under it, so neither does this score. A constant map (or a
    random one, on average) scores ``len(tiles) / grid**2``, like :func:`focus`; a map that is already a
    ranking (a permutation of 1 .. H*W) scores exactly its :func:`focus`. Because every pixel has a rank of
    at least 1, the scale is narrower than Focus's: one tile of a 3 x 3 mosaic that holds exactly the top
    ninth of the pixels scores about 0.21 (17/81 for a large map), not 1. Compare methods on it, not its
    numbers with Focus's.
    Arguments and checks as :func:`focus`.
    """
    s, grid = _mosaic_map(saliency, grid)
    tiles = _target_tiles(tiles, grid)
    return focus(map_ranks(s), tiles, grid)


def focus(saliency: ArrayLike, tiles: int | ArrayLike, grid: int = 2) -> float:
    """Focus (Arias-Duart et al., 2022): the share of the map's positive mass on the target tile(s).

    ``saliency``: ``(H, W)``; ``tiles``: one tile index or several (row-major, see :func:`tile_of`).
    Negative values count as 0. A map spread evenly scores ``len(tiles) / grid**2``; a map with no positive
    mass at all says nothing about where the object is and also scores that chance level. An empty list of
    tiles, a tile outside the mosaic, or a boolean mask of tiles is refused (pass ``np.flatnonzero(mask)``).
    """
    s, grid = _mosaic_map(saliency, grid)
    s = np.clip(s, 0.0, None)
    tiles = _target_tiles(tiles, grid)
    with np.errstate(over="ignore"):
        total = s.sum()
    if total <= 0:
        return len(set(tiles)) / grid**2
    if not np.isfinite(total):  # finite values whose sum overflows: rescale, same shares
        s = s / s.max()
        total = s.sum()
    h, w = s.shape[0] // grid, s.shape[1] // grid
    inside = sum(
        s[(t // grid) * h : (t // grid + 1) * h, (t % grid) * w : (t % grid + 1) * w].sum() for t in set(tiles)
    )
    return float(inside / total)
