"""Checkers of notebook 01, saliency and attention: the next fixation, a centre-surround map."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._core import Answer, AnswerTypeError, Feedback, _array, _close, _needs_answer

__all__ = ["check_centre_surround", "check_next_fixation"]


def _argmax_rc(a: np.ndarray) -> tuple[int, ...]:
    return tuple(int(v) for v in np.unravel_index(int(np.argmax(a)), a.shape))


@_needs_answer
def check_next_fixation(answer: Answer, saliency: ArrayLike, radius: float = 3.0) -> Feedback:
    """``answer``: (row, col) of the *second* fixation on a 2-D ``saliency`` map: its maximum once inhibition
    of return has suppressed a disk of ``radius`` map pixels around the first winner."""
    s = np.asarray(saliency, dtype=np.float64)
    first = _argmax_rc(s)
    yy, xx = np.mgrid[: s.shape[0], : s.shape[1]]
    d2 = (yy - first[0]) ** 2 + (xx - first[1]) ** 2
    right = {
        _argmax_rc(np.where(d2 <= radius**2, -np.inf, s)),  # the disk with its rim
        _argmax_rc(np.where(d2 < radius**2, -np.inf, s)),
    }  # or without it: both are fine
    if isinstance(answer, (int, np.integer)):
        return Feedback(
            False,
            f"{int(answer)} is a flat index into the raveled map; turn it into (row, col) "
            "with np.unravel_index(index, shape).",
        )
    try:
        got = tuple(int(v) for v in np.asarray(answer).ravel())
    except (TypeError, ValueError, OverflowError):
        raise AnswerTypeError(f"the answer should be (row, col), two integers; got {str(answer)[:40]!r}.") from None
    if len(got) != 2:
        return Feedback(False, f"the answer should be two numbers (row, col); got {len(got)}.")
    if got in right:
        return Feedback(
            True,
            f"The second fixation is at row {got[0]}, column {got[1]}: the winner {first} and "
            f"everything within {radius:g} map pixels of it were suppressed, so attention moved on.",
        )
    if got == first:
        return Feedback(
            False,
            f"{got} is the first fixation, the winner itself. Inhibition of return suppresses "
            "a disk around it first; the second fixation is the maximum of what is left.",
        )
    only_winner = s.copy()
    only_winner[first] = -np.inf
    if got == _argmax_rc(only_winner):
        return Feedback(
            False,
            f"{got} is the second-largest pixel, right next to the winner {first}: suppressing "
            f"one pixel leaves attention on the same item. Suppress every pixel within "
            f"radius {radius:g} of the winner: (row - r0)**2 + (col - c0)**2 <= radius**2.",
        )
    if got[::-1] in right:
        return Feedback(False, "row and column are swapped: numpy indexes (row, col), i.e. (y, x).")
    return Feedback(
        False,
        f"(row, col) = {got} is not the maximum of the map once the disk of radius {radius:g} "
        f"around the winner {first} is suppressed.",
    )


@_needs_answer
def check_centre_surround(answer: Answer, feature: ArrayLike, c: int, s: int) -> Feedback:
    """``answer``: the centre-surround map |F(c) - F(s)| of a 2-D ``feature`` map F: level ``c`` of its
    Gaussian pyramid minus level ``s``, the surround brought back to level c's shape first."""
    from ..saliency import gaussian_pyramid, resize

    got, F = _array(answer, "answer"), np.asarray(feature, dtype=np.float64)
    pyramid = gaussian_pyramid(F, s)
    centre = pyramid[c]
    if got.shape != centre.shape:
        levels = [i for i, p in enumerate(pyramid) if p.shape == got.shape]
        where = f" (the shape of level {levels[0]})" if levels else ""
        return Feedback(
            False,
            f"answer has shape {got.shape}{where}; the map lives at the centre level c = {c}, "
            f"shape {centre.shape}: resize the surround to it with "
            "S.resize(pyramid[s], pyramid[c].shape).",
        )

    def cs(s2: int) -> np.ndarray:
        return centre - resize(pyramid[s2], centre.shape)

    if _close(got, np.abs(cs(s))):
        return Feedback(True, f"|F({c}) - F({s})|: large where the feature differs from its surroundings.")
    if _close(got, cs(s)) or _close(got, -cs(s)):
        return Feedback(
            False,
            "the map has negative values: take the absolute difference, because a dark "
            "spot on a bright ground stands out as much as a bright one on a dark ground.",
        )
    for s2 in range(c + 1, s):
        if _close(got, np.abs(cs(s2))):
            return Feedback(False, f"this is the map for surround level s = {s2}; the exercise asks for s = {s}.")
    if min(pyramid[s].shape) >= 4:  # one level coarser, as in the worked example
        deeper = gaussian_pyramid(F, s + 1)[s + 1]
        if _close(got, np.abs(centre - resize(deeper, centre.shape))):
            return Feedback(False, f"this is the map for surround level s = {s + 1}; the exercise asks for s = {s}.")
    if _close(got, centre) or _close(got, resize(pyramid[s], centre.shape)):
        return Feedback(False, "this is one of the two levels alone; the feature map is their difference.")
    return Feedback(
        False,
        f"the values differ from |pyramid[{c}] - S.resize(pyramid[{s}], pyramid[{c}].shape)| "
        "of the feature map: check that you built the pyramid of the feature the exercise names.",
    )
