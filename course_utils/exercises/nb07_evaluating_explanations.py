"""Checkers of notebook 07, evaluating explanations: ROAD's linear fill; and of its appendix A7: the pointing
game's tile."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._core import Answer, AnswerTypeError, Feedback, _array, _call, _needs_answer, _size

__all__ = ["check_linear_fill", "check_tile_of_max"]


def _tile(r: int | np.integer, c: int | np.integer, shape: tuple[int, ...], grid: int) -> int:
    return int(r // (shape[0] // grid)) * grid + int(c // (shape[1] // grid))


def _maps_with_a_peak(saliency: ArrayLike, grid: int) -> list[tuple[np.ndarray, int]]:
    """The learner's map, then two more with a known peak: in another tile, and for a 2 x 2 mosaic."""
    s = np.asarray(saliency, np.float64)
    rng = np.random.default_rng(7)
    second = rng.random(s.shape) * 0.5
    second[s.shape[0] - 3, 2] = 1.0  # bottom row of tiles, left column: not tile 0
    third = rng.random((64, 64)) * 0.5
    third[40, 10] = 1.0  # 2 x 2: tile 2
    return [(s, grid), (second, grid), (third, 2)]


@_needs_answer
def check_tile_of_max(answer: Answer, saliency: ArrayLike, grid: int = 2) -> Feedback:
    """``answer``: a function ``tile_of_max(saliency, grid)`` returning the tile (row-major: 0 at the top
    left, ``grid * grid - 1`` at the bottom right) of a ``grid`` x ``grid`` mosaic in which the maximum of
    ``saliency`` (H, W) lies. It is tried on ``saliency`` and on two more maps (another tile, a 2 x 2
    mosaic), so a tile number read off a figure cannot pass."""
    if not callable(answer):
        return Feedback(
            False,
            "the exercise asks for a function: def my_tile_of_max(saliency, grid): ... "
            "return the tile, so the check can try it on other maps too.",
        )
    for n, (s, g) in enumerate(_maps_with_a_peak(saliency, grid)):
        r, c = np.unravel_index(int(np.argmax(s)), s.shape)
        want = _tile(r, c, s.shape, g)
        out = _call(answer, s.copy(), g)
        where = "" if n == 0 else f"right for the notebook's map, but not for a {g} x {g} test map: "
        if isinstance(out, (tuple, list, np.ndarray)) and _size(out) == 2:
            return Feedback(
                False,
                where + f"you returned a pair {tuple(np.ravel(out))}; return one tile index, "
                "tile_row * grid + tile_col.",
            )
        try:
            got = int(out)
        except (TypeError, ValueError, OverflowError):
            raise AnswerTypeError(f"your function returned {type(out).__name__}, expected an int tile index.") from None
        if got == want:
            continue
        if got == int(np.argmax(s)):
            return Feedback(
                False,
                where + "that is the flat index of the pixel; np.unravel_index(i, saliency.shape) "
                "turns it into (row, col), then divide by the tile size.",
            )
        if got == _tile(c, r, s.shape[::-1], g):
            return Feedback(False, where + "rows and columns are swapped: the tile is tile_row * grid + tile_col.")
        if g != 2 and got == int(r >= s.shape[0] // 2) * 2 + int(c >= s.shape[1] // 2):
            return Feedback(
                False,
                where + "this is the 2 x 2 answer (halves); with a 3 x 3 grid each tile is "
                "H // 3 pixels high: tile_row = row // (H // grid).",
            )
        if got == want + 1:
            return Feedback(False, where + "one too many: tiles are counted from 0 (top left), not 1.")
        return Feedback(
            False,
            where + f"the maximum is at (row {r}, col {c}) of a {s.shape} map with {g} x {g} "
            f"tiles; your function gave tile {got}.",
        )
    return Feedback(
        True,
        "tile_row = row // (H // grid), tile_col = col // (W // grid), tile = tile_row * grid "
        "+ tile_col: the pointing game's test, for any grid.",
    )


def _road_fill(patch: np.ndarray) -> np.ndarray:
    direct = patch[0, 1] + patch[1, 0] + patch[1, 2] + patch[2, 1]
    diagonal = patch[0, 0] + patch[0, 2] + patch[2, 0] + patch[2, 2]
    return direct / 6 + diagonal / 12


# long: one message per typical wrong answer (tests/test_exercises.py sends each)
@_needs_answer
def check_linear_fill(answer: Answer) -> Feedback:
    """``answer``: a function ``fill(patch)`` that takes a 3 x 3 neighbourhood ``(3, 3)`` or ``(3, 3, C)``
    whose centre pixel was removed and returns the value ROAD's linear imputation gives the centre when its
    eight neighbours are all known: 1/6 of each direct neighbour plus 1/12 of each diagonal one (the
    weights sum to 1). Tried on three patches, one of them in colour; the centre holds junk that must not
    count."""
    rng = np.random.default_rng(12)
    patches = [
        rng.integers(0, 256, (3, 3)).astype(float),
        rng.integers(0, 256, (3, 3, 3)).astype(float),
        np.arange(9.0).reshape(3, 3) * 10,
    ]
    if not callable(answer):
        return Feedback(
            False,
            "the exercise asks for a function: def my_fill(patch): ... return the centre's "
            "value, so the check can try it on other patches.",
        )
    for n, patch in enumerate(patches):
        patch = patch.copy()
        patch[1, 1] = 999.0  # the removed pixel: its old value is unknown
        want = _road_fill(patch)
        got = _array(_call(answer, patch.copy()), "what your function returned")
        where = "" if n == 0 else "right for the first patch, but not for another one: "
        if got.shape != np.shape(want):
            return Feedback(
                False,
                where + f"your function returned shape {got.shape}, expected {np.shape(want)} "
                "(one value per colour channel).",
            )
        if np.allclose(got, want, atol=1e-6):
            continue
        ring = np.array([patch[i, j] for i in range(3) for j in range(3) if (i, j) != (1, 1)])
        direct = patch[0, 1] + patch[1, 0] + patch[1, 2] + patch[2, 1]
        diagonal = patch[0, 0] + patch[0, 2] + patch[2, 0] + patch[2, 2]
        if np.allclose(got, patch.reshape(9, *patch.shape[2:]).mean(axis=0)):
            return Feedback(
                False,
                where + "you averaged all nine pixels, the removed centre too: its value is "
                "unknown (here it holds junk); use only the eight neighbours.",
            )
        if np.allclose(got, ring.mean(axis=0)):
            return Feedback(
                False,
                where + "an equal-weight mean of the eight neighbours; ROAD weights the four "
                "direct neighbours twice as much as the diagonal ones (1/6 and 1/12).",
            )
        if np.allclose(got, direct / 12 + diagonal / 6):
            return Feedback(
                False,
                where + "the weights are swapped: 1/6 for the direct (up, down, left, right) "
                "neighbours, 1/12 for the diagonal ones.",
            )
        if np.allclose(got, direct / 4):
            return Feedback(
                False, where + "the mean of the four direct neighbours leaves out the diagonal ones (weight 1/12 each)."
            )
        return Feedback(False, where + f"expected {np.round(want, 3)}, your function gave {np.round(got, 3)}.")
    return Feedback(
        True,
        "4 x 1/6 + 4 x 1/12 = 1, so this is a weighted mean. Where neighbours are removed "
        "too, each removed pixel is such a mean of unknowns: ROAD solves them all at once.",
    )
