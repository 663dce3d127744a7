"""Checkers of notebook 10, the CAM family: which relatives of Grad-CAM equal CAM, Grad-CAM++'s weights."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from ._core import Answer, AnswerTypeError, Feedback, _array, _call, _close, _needs_answer

__all__ = ["CAM_RELATIVES", "check_cam_relatives", "check_pp_weights"]


#: The four gradient relatives of Grad-CAM that notebook 10 compares with CAM at the last layer.
CAM_RELATIVES = ("Grad-CAM++", "XGrad-CAM", "HiResCAM", "LayerCAM")

_RELATIVE_HINTS = {
    "LayerCAM": "LayerCAM weighs each position by ReLU(g): at conv4 g^k_ij = w_k / Z, so it keeps the maps whose "
    "weight w_k is positive and drops the others, which CAM subtracts. Same map only if no w_k < 0.",
    "Grad-CAM++": "Grad-CAM++'s pixel weights a^k_ij = g^2 / (2 g^2 + S_k g^3) depend on S_k, each map's total "
    "activation, and it keeps only ReLU(g): the maps are reweighted map by map, not by one common "
    "factor.",
    "XGrad-CAM": "XGrad-CAM averages g^k_ij with the weights A^k_ij / S_k, which sum to 1. When g^k_ij is the "
    "same at every position (w_k / Z), any weighted average of it is that value: w_k / Z, Grad-CAM's "
    "alpha, so the map is CAM / Z.",
    "HiResCAM": "HiResCAM multiplies g and A position by position: with g^k_ij = w_k / Z everywhere that is "
    "sum_k (w_k / Z) A^k_ij = CAM / Z, the same map once scaled.",
}


@_needs_answer
def check_cam_relatives(answer: Answer, equal: Iterable[str], candidates: Sequence[str] = CAM_RELATIVES) -> Feedback:
    """A "predict, then check" question of notebook 10: which of ``candidates`` give CAM's map (after scaling)
    at the last layer of a GAP -> Dense model? ``answer``: the learner's names (a set, list or tuple; one name
    as a string is accepted); ``equal``: the names the notebook's code found equal to CAM."""
    if isinstance(answer, str):
        answer = [answer]
    try:
        got = {str(a).strip() for a in answer}
    except TypeError:
        raise AnswerTypeError(
            f"my_prediction should be a set of method names such as {{'{candidates[0]}'}}, got {type(answer).__name__}."
        ) from None
    lower = {c.lower(): c for c in candidates}
    unknown = sorted(a for a in got if a.lower() not in lower)
    if unknown:
        return Feedback(
            False,
            f"{', '.join(map(repr, unknown))} is not one of the four: "
            f"{', '.join(map(repr, candidates))}. Write a set of their names, e.g. "
            f"{{'{candidates[1]}'}}, or set() for none.",
        )
    got = {lower[a.lower()] for a in got}
    equal = set(equal)
    if got == equal:
        same = " and ".join(sorted(equal)) if equal else "none of them"
        return Feedback(
            True,
            f"{same}: at the last layer every gradient of y^c is w_k / Z, the same at every "
            "position, so whatever averages or multiplies it without dropping its sign gives "
            "CAM / Z. LayerCAM and Grad-CAM++ keep only positive gradients, and Grad-CAM++ also "
            "reweighs each map by its total activation.",
        )
    wrong_in = sorted(got - equal)
    missed = sorted(equal - got)
    if wrong_in:
        return Feedback(False, f"{wrong_in[0]} is not the same as CAM here. " + _RELATIVE_HINTS.get(wrong_in[0], ""))
    return Feedback(
        False, f"you left out {missed[0]}, which does equal CAM here. " + _RELATIVE_HINTS.get(missed[0], "")
    )


def _pp_reference(A: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Grad-CAM++'s map weights at a GAP -> Dense head: ReLU(w_k) / (2 + mean(A^k) w_k)."""
    m = A.mean(axis=(0, 1))
    return np.where(w > 0, w / np.where(w > 0, 2 + m * w, 1.0), 0.0)


# long: one message per typical wrong answer (tests/test_exercises.py sends each)
@_needs_answer
def check_pp_weights(answer: Answer, A: ArrayLike, w: ArrayLike) -> Feedback:
    """``answer``: a function ``pp_weights(A, w)`` that gives Grad-CAM++'s map weights (K,) at a layer that
    feeds GAP -> Dense, from the feature maps ``A`` (h, w, K) of one image and the class's Dense weights ``w``
    (K,) only (no gradients): with g^k_ij = w_k / Z the weights are ReLU(w_k) / (2 + mean_ij(A^k_ij) w_k).
    Tried on (``A``, ``w``) and on a second, random input, so numbers copied from an output cannot pass."""
    if not callable(answer):
        return Feedback(
            False,
            "the exercise asks for a function: def my_pp_weights(A, w): ... return the K "
            "weights, so the check can try it on another layer's maps too.",
        )
    A, w = np.asarray(A, np.float64), np.asarray(w, np.float64)
    rng = np.random.default_rng(10)
    A2 = np.maximum(rng.normal(0.3, 1.0, (4, 4, 12)), 0)
    w2 = rng.normal(0, 0.5, 12)
    for n, (a, v) in enumerate([(A, w), (A2, w2)]):
        Z = a.shape[0] * a.shape[1]
        want = _pp_reference(a, v)
        got = _array(_call(answer, a.copy(), v.copy()), "my_pp_weights(A, w)")
        where = "" if n == 0 else f"right for the notebook's maps, but not for a second test input ({a.shape}): "
        if got.shape != want.shape:
            return Feedback(
                False,
                where + f"your function returned shape {got.shape}, expected {want.shape}: one weight per feature map.",
            )
        if _close(got, want):
            continue
        pos = v > 0
        m, S = a.mean(axis=(0, 1)), a.sum(axis=(0, 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            candidates = [
                (
                    np.where(pos, v / 2, 0.0),
                    (
                        "you dropped the S_k g^3 term of the denominator. With g = w_k / Z, "
                        "a = g^2 / (2 g^2 + S_k g^3) = 1 / (2 + S_k g), and S_k g = (Z mean(A^k)) (w_k / Z) is not small."
                    ),
                ),
                (
                    np.where(pos, v / (2 + S * v), 0.0),
                    (
                        "S_k g = S_k w_k / Z: you kept the sum S_k but forgot the 1/Z of "
                        "the gradient. S_k / Z is the mean of A^k."
                    ),
                ),
                (
                    v / (2 + m * v),
                    (
                        "keep only the positive gradients: Grad-CAM++ sums a ReLU(g), so a map with w_k <= 0 "
                        "gets weight 0."
                    ),
                ),
                (v / Z, "this is Grad-CAM's alpha, w_k / Z. Grad-CAM++ weighs each position by a^k_ij first."),
                (
                    np.where(pos, v / (2 + m * v), 0.0) / Z,
                    (
                        "you took one position's term a ReLU(g); the weight sums it "
                        "over all Z positions (Z a ReLU(w_k / Z) = ReLU(w_k) a)."
                    ),
                ),
            ]
        for wrong, hint in candidates:
            if np.all(np.isfinite(wrong)) and _close(got, wrong):
                return Feedback(False, where + hint)
        return Feedback(
            False,
            where + "the values differ from Grad-CAM++'s weights. Put g^k_ij = w_k / Z into "
            "a = g^2 / (2 g^2 + S_k g^3) and w_k^{++} = sum_ij a ReLU(g), with "
            "S_k = sum_ij A^k_ij.",
        )
    return Feedback(
        True,
        "with g = w_k / Z: a = 1 / (2 + mean(A^k) w_k) at every position, and summing "
        "a ReLU(w_k / Z) over the Z positions gives ReLU(w_k) / (2 + mean(A^k) w_k). Compared "
        "with CAM's w_k, a map is damped the more, the larger mean(A^k) w_k, and negative weights "
        "vanish.",
    )
