"""Checkers of notebook 11, pixel methods: the points and weights of Integrated Gradients' Riemann sum."""

from __future__ import annotations

import numpy as np

from ._core import Answer, Feedback, _array, _call, _close, _needs_answer

__all__ = ["check_riemann_rule", "riemann_rule"]


def riemann_rule(m: int) -> tuple[np.ndarray, np.ndarray]:
    """The right Riemann sum of Sundararajan et al. (2017) on [0, 1] with ``m`` steps: the points a = k/m for
    k = 1 ... m, (m,), and the weights 1/m, (m,)."""
    return np.arange(1, m + 1) / m, np.full(m, 1.0 / m)


def _wrong_points(m: int) -> list[tuple[np.ndarray, str]]:
    """Typical wrong sets of points for ``m`` steps, each with the hint that names the mistake."""
    return [
        (
            np.arange(m) / m,
            (
                "these are the left Riemann sum's points, k = 0 ... m - 1, starting at the baseline. The paper's "
                "sum runs k = 1 ... m: its last point is the image itself."
            ),
        ),
        (
            np.linspace(0, 1, m),
            (
                "np.linspace(0, 1, m) puts m points 1/(m - 1) apart, both ends included. The paper's points are "
                "k/m for k = 1 ... m."
            ),
        ),
    ]


# long: one message per typical wrong answer (tests/test_exercises.py sends each)
@_needs_answer
def check_riemann_rule(answer: Answer) -> Feedback:
    """``answer``: a function ``rule(m)`` that returns the points ``a`` (m,) and the weights ``w`` (m,) of the
    right Riemann sum that Integrated Gradients' paper writes: a = k/m for k = 1 ... m, every weight 1/m.
    Tried for several ``m``, so an answer written for one ``m`` only cannot pass."""
    if not callable(answer):
        return Feedback(
            False,
            "the exercise asks for a function: def my_riemann(m): ... return a, w, so the check can try "
            "several numbers of steps.",
        )
    for m in (32, 5, 1):
        out = _call(answer, m)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            return Feedback(False, "return two arrays, the points and the weights: return a, w.")
        a, w = (_array(v, name) for v, name in zip(out, ("a", "w")))
        want_a, want_w = riemann_rule(m)
        if a.shape == (m + 1,):
            return Feedback(
                False,
                f"for m = {m} you returned {m + 1} points: that is the trapezoid rule's count, both ends "
                "included. The paper's sum has m terms, k = 1 ... m.",
            )
        if a.shape != (m,) or w.shape != (m,):
            return Feedback(
                False, f"for m = {m} expected {m} points and {m} weights, got shapes {a.shape} and {w.shape}."
            )
        if _close(a, want_a) and _close(w, want_w):
            continue
        if _close(a, want_w) and _close(w, want_a):
            return Feedback(False, "you returned the weights first: return the points a, then the weights w.")
        if not _close(a, want_a):
            for wrong, hint in _wrong_points(m) if m > 1 else []:
                if _close(a, wrong):
                    return Feedback(False, hint)
            return Feedback(False, f"for m = {m} the points should be k/m for k = 1 ... m: 1/m, 2/m, ... 1.")
        if not _close(w, want_w):
            total = float(w.sum())
            if not np.isclose(total, 1.0):
                return Feedback(
                    False,
                    f"for m = {m} your weights sum to {total:.3g}: they should sum to 1, the length of [0, 1], "
                    "so that a constant gradient g gives g. Each of the m steps has width 1/m.",
                )
            return Feedback(False, "the m steps are equally wide: every weight is 1/m.")
    return Feedback(
        True,
        "the paper's sum: m points a = k/m, each weighing 1/m, the last one the image itself. The trapezoid "
        "rule is the mean of this sum and the left one (k = 0 ... m - 1): m + 1 points, the two ends at half "
        "weight.",
    )
