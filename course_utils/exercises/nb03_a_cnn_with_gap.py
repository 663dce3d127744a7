"""Checkers of notebook 03, a CNN with GAP: the minimum of an L2-penalised toy loss, the L2 penalty."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from numpy.typing import ArrayLike

from ._core import Answer, AnswerTypeError, Feedback, _array, _call, _needs_answer

__all__ = ["check_l2_minimum", "check_l2_penalty", "l2_toy_minimum"]


def l2_toy_minimum(lam: float) -> np.ndarray:
    """The minimum (w1, w2) of notebook 03's toy loss (w1 + w2 - 1)**2 + lam * (w1**2 + w2**2), lam > 0.

    Computed the way ridge regression (岭回归) is solved, from the normal equations
    (X^T X + lam I) w = X^T y with the one data row X = [[1, 1]], y = [1]: not from the hand-derived formula
    the exercise asks for. Returns shape (2,).
    """
    X, y = np.array([[1.0, 1.0]]), np.array([1.0])
    return np.linalg.solve(X.T @ X + lam * np.eye(2), X.T @ y)


# long: one message per typical wrong answer (tests/test_exercises.py sends each)
@_needs_answer
def check_l2_minimum(answer: Answer, lams: Iterable[float] = (0.1, 0.5, 2.0)) -> Feedback:
    """``answer``: a function ``w(lam)`` giving the minimum of (w1 + w2 - 1)**2 + lam * (w1**2 + w2**2),
    either the common value w1 = w2 (a number) or the pair (w1, w2). It is tried at every lam of ``lams``,
    so a number pasted from an output cannot pass.
    """
    lams = [float(v) for v in lams]
    if not callable(answer):
        try:
            value = float(np.ravel(np.asarray(answer, dtype=np.float64))[0])
        except (TypeError, ValueError, IndexError):
            raise AnswerTypeError(f"my_minimum should be a function of lam, got {type(answer).__name__}.") from None
        right = np.isclose(value, l2_toy_minimum(lams[0])[0], rtol=1e-3)
        return Feedback(
            False,
            (f"the number is right for lambda = {lams[0]:g}, " if right else "")
            + "but the exercise asks for a function of lam (def my_minimum(lam): return ...), "
            "so the check can try other values of lambda.",
        )

    def common(lam: float) -> np.ndarray:
        got = np.ravel(_array(_call(answer, lam), "my_minimum(lam)"))
        if got.size not in (1, 2):
            raise AnswerTypeError(f"my_minimum(lam) should return w (one number) or (w1, w2), got {got.size} numbers.")
        return got

    got = [common(lam) for lam in lams]
    want = [l2_toy_minimum(lam) for lam in lams]
    if all(np.allclose(g, w[: g.size], rtol=1e-6, atol=1e-9) for g, w in zip(got, want)):
        return Feedback(
            True,
            "w1 = w2 = 1 / (2 + lam): the data term alone is flat along w1 + w2 = 1; "
            "the penalty picks its smallest point and pulls it towards 0 as lam grows.",
        )

    def like(formula: Callable[[float], float]) -> bool:
        return all(np.allclose(g, formula(lam), rtol=1e-6, atol=1e-9) for g, lam in zip(got, lams))

    if like(lambda lam: 1 / (2 + 2 * lam)):
        return Feedback(
            False,
            "that is 1 / (2 + 2 lam) (1/2.2 at lam = 0.1): the derivative of (w1 + w2 - 1)**2 "
            "is 2 (w1 + w2 - 1); keep its factor 2 as well as the 2 of 2 lam w.",
        )
    if like(lambda lam: 1 / (2 + lam / 2)):
        return Feedback(
            False,
            "that is 1 / (2 + lam / 2): the penalty counts only one weight's square (or its derivative lost a 2). "
            "With w1 = w2 = w it is lam (w**2 + w**2) = 2 lam w**2, whose derivative is 4 lam w.",
        )
    if like(lambda lam: 1 / (1 + lam)):
        return Feedback(
            False,
            "that is 1 / (1 + lam), the answer for (w - 1)**2 + lam w**2 with one weight; here "
            "both weights are in the data term: with w1 = w2 = w it is (2w - 1)**2.",
        )
    if like(lambda lam: 0.5):
        return Feedback(
            False,
            "0.5 for every lam is the lam = 0 point on the line w1 + w2 = 1; the penalty moves "
            "the minimum: set the derivative of the whole loss to zero.",
        )
    if like(lambda lam: 1 / (2 - lam)):
        return Feedback(
            False,
            "the sign of the penalty's term is flipped: the penalty pulls the weights towards 0, "
            "so the minimum must get smaller as lam grows.",
        )
    return Feedback(
        False,
        f"at lam = {lams[0]} your function gives {np.round(got[0], 4).tolist()}. Hint: by "
        "symmetry w1 = w2 = w; write the loss with w and set its derivative to zero.",
    )


@_needs_answer
def check_l2_penalty(answer: Answer, weights: Iterable[ArrayLike], lam: float) -> Feedback:
    """``answer``: a function ``penalty(weights, lam)`` giving the L2 penalty lam * sum(w**2) over the arrays in
    ``weights``; it is also tried on a second set of arrays and another lam. A number gets the same hints
    for the typical mistakes, but does not pass even when right (a pasted number must not pass, and the
    notebook calls the function on other kernels below)."""
    sets = [(list(weights), float(lam))]
    if callable(answer):
        rng = np.random.default_rng(3)
        sets.append(([rng.normal(size=(3, 3, 2, 4)), rng.normal(size=(5, 2))], 0.01))
    for ws, lam_ in sets:
        got = float(_array(_call(answer, ws, lam_) if callable(answer) else answer, "the penalty").sum())
        sq = sum(float((np.asarray(w, np.float64) ** 2).sum()) for w in ws)
        want = lam_ * sq
        if np.isclose(got, want, rtol=1e-4):
            continue
        if np.isclose(got, sq, rtol=1e-4):
            return Feedback(False, "multiply by lambda, the strength of the penalty.")
        if np.isclose(got, lam_ * np.sqrt(sq), rtol=1e-4):
            return Feedback(False, "that is lambda times the L2 *norm*; the penalty uses the squared norm, sum(w**2).")
        if np.isclose(got, lam_ * sum(float(np.abs(np.asarray(w)).sum()) for w in ws), rtol=1e-4):
            return Feedback(False, "that is the L1 penalty (absolute values); L2 squares the weights.")
        if np.isclose(got, lam_ * float((np.asarray(ws[0], np.float64) ** 2).sum()), rtol=1e-4):
            return Feedback(False, "that is the penalty of the first array only; add up the squares of every array.")
        if len(sets) > 1 and ws is sets[1][0]:
            return Feedback(
                False,
                "right for the course model's kernels, wrong for other arrays: compute the "
                "penalty from the function's arguments (weights, lam), not from fixed names.",
            )
        return Feedback(False, "the value differs from lam * sum((w ** 2).sum() for w in weights).")
    if not callable(answer):
        return Feedback(
            False,
            "the number is right for these kernels, but the exercise asks for a function "
            "(def my_l2_penalty(kernels, lam): ...), so the check can try it on other arrays.",
        )
    return Feedback(True, "lambda times the sum of the squared weights: large weights cost more.")
