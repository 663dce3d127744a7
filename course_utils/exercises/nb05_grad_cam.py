"""Checkers of notebook 05, Grad-CAM: the weights alpha, the map, and alpha for the probability instead of the logit."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._core import Answer, Feedback, _array, _close, _matches, _needs_answer

__all__ = ["check_alpha", "check_gradcam", "check_prob_alpha"]


@_needs_answer
def check_alpha(alpha: Answer, grads: ArrayLike) -> Feedback:
    """``alpha``: the learner's Grad-CAM weights (K,) from gradients ``grads`` = dy^c/dA of shape (h, w, K)."""
    got, g = _array(alpha, "alpha"), np.asarray(grads, np.float64)
    want = g.mean(axis=(0, 1))
    if got.shape == g.shape[:2]:
        return Feedback(
            False,
            f"alpha has shape {got.shape}: you averaged over the channels. alpha_k^c "
            "averages the gradient over the positions i, j of each map: axes (0, 1).",
        )
    if _matches(got, want, "alpha"):
        return Feedback(True, "alpha_k^c is the average gradient of the class score over feature map k.")
    if _close(got, g.sum(axis=(0, 1))):
        return Feedback(
            False,
            f"you summed over the positions; alpha_k^c = (1/Z) sum_ij, so divide by Z = {g.shape[0] * g.shape[1]}.",
        )
    if _close(got, np.abs(g).mean(axis=(0, 1))) or _close(got, np.maximum(g, 0).mean(axis=(0, 1))):
        return Feedback(
            False, "keep the sign of the gradients: alpha averages the raw gradient (the ReLU comes later, on the map)."
        )
    return Feedback(False, "the values differ from the mean of grads over axes (0, 1).")


@_needs_answer
def check_gradcam(cam: Answer, A: ArrayLike, alpha: ArrayLike) -> Feedback:
    """``cam``: the learner's Grad-CAM map (h, w) = ReLU(sum_k alpha[k] * A[..., k])."""
    got, A, alpha = _array(cam, "cam"), np.asarray(A, np.float64), np.asarray(alpha, np.float64)
    raw = np.einsum("hwk,k->hw", A, alpha)
    want = np.maximum(raw, 0)
    if got.ndim == 2 and got.shape != want.shape:
        return Feedback(
            False,
            f"cam has shape {got.shape}, expected {want.shape}: a Grad-CAM map has the "
            "resolution of the layer it explains. Take A and the gradients from that layer "
            "(and upsample only afterwards).",
        )
    if _matches(got, want, "cam"):
        return Feedback(True, "L^c = ReLU(sum_k alpha_k^c A^k).")
    if want.max() > 0 and _close(got, want / want.max()):
        return Feedback(True, "L^c = ReLU(sum_k alpha_k^c A^k), here also normalised to a maximum of 1.")
    if (raw < 0).any() and _close(got, raw):
        return Feedback(
            False, "the map has negative values: apply the ReLU, which keeps only the evidence *for* the class."
        )
    if _close(got, np.abs(raw)):
        return Feedback(
            False, "you took the absolute value: negative evidence then counts as positive. Use the ReLU, max(0, .)."
        )
    z = A.shape[0] * A.shape[1]
    if _close(got, want * z):
        return Feedback(
            False,
            f"your map is {z} times too large: alpha is the *mean* of the gradient over the "
            f"Z = {z} positions, not their sum.",
        )
    return Feedback(False, "the values differ from ReLU(sum_k alpha[k] * A[:, :, k]).")


@_needs_answer
def check_prob_alpha(alpha_p: Answer, W: ArrayLike, p: ArrayLike, c: int, Z: int) -> Feedback:
    """``alpha_p``: the learner's Grad-CAM weights (K,) for the *probability* p^c of a GAP -> Dense head.

    ``W``: (K, C) the Dense kernel, ``p``: (C,) the softmax probabilities, ``c`` the class, ``Z = h * w``.
    From dp^c/dA = p^c (dy^c/dA - sum_j p^j dy^j/dA) and dy^j/dA^k_ij = w_k^j / Z:
    alpha_p = (p^c / Z) (w^c - sum_j p^j w^j).
    """
    got = _array(alpha_p, "alpha_p")
    W, p = np.asarray(W, np.float64), np.asarray(p, np.float64)
    w_c, mixed = W[:, c], W @ p
    want = p[c] / Z * (w_c - mixed)
    if _matches(got, want, "alpha_p"):
        return Feedback(
            True,
            "alpha_p = (p^c / Z) (w^c - sum_j p^j w^j) = (p^c / Z) sum_{j != c} p^j (w^c - w^j): "
            "class c against the other classes, each weighed by its probability.",
        )
    if _close(got, w_c / Z):
        return Feedback(
            False,
            "this is the logit's alpha, w^c / Z. The softmax adds two things: the factor p^c "
            "and the term - sum_j p^j w^j (every logit moves p^c).",
        )
    if _close(got, (w_c - mixed) / Z):
        return Feedback(False, "you forgot the factor p^c in front: dp^c/dy^j = p^c (delta_cj - p^j).")
    if _close(got, p[c] * w_c / Z):
        return Feedback(
            False,
            "you kept only the path through y^c and forgot the term - sum_j p^j w^j: the "
            "other logits change p^c too (dp^c/dy^j = -p^c p^j for j != c).",
        )
    if _close(got, p[c] * (1 - p[c]) * w_c / Z):
        return Feedback(
            False,
            "p^c (1 - p^c) w^c / Z is only the path through y^c. The other logits change p^c "
            "too: subtract (p^c / Z) sum_{j != c} p^j w^j.",
        )
    if _close(got, p[c] * (w_c - mixed)):
        return Feedback(
            False,
            f"divide by Z = {Z}: alpha is the mean of the gradient over the positions, and "
            "each position gets 1/Z of the pooled value.",
        )
    if _close(got, -want):
        return Feedback(
            False, "the sign is reversed: it is w^c minus the probability-weighted mean of the columns, sum_j p^j w^j."
        )
    return Feedback(
        False,
        "the values differ from (p^c / Z) (w^c - sum_j p^j w^j). Write out "
        "dp^c/dy^j = p^c (delta_cj - p^j) and dy^j/dA^k_ij = w_k^j / Z, then combine them.",
    )
