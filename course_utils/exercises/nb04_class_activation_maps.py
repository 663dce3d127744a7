"""Checkers of notebook 04, class activation maps: global average pooling, CAM (and one class against another)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._core import Answer, Feedback, _array, _close, _matches, _needs_answer

__all__ = ["check_cam", "check_gap"]


@_needs_answer
def check_gap(pooled: Answer, A: ArrayLike) -> Feedback:
    """``pooled``: the learner's global average pooling of feature maps ``A``.

    ``A`` is one image's maps (h, w, K) -> (K,), or a batch (N, h, w, K) -> (N, K): one row per image.
    """
    got, A = _array(pooled, "pooled"), np.asarray(A, dtype=np.float64)
    batch = A.ndim == 4
    pos = (1, 2) if batch else (0, 1)  # the axes of the positions i, j
    want = A.mean(axis=pos)
    if got.shape == A.shape[:-1]:
        return Feedback(
            False,
            f"pooled has shape {got.shape}: you averaged over the channels (axis -1). GAP "
            f"averages each feature map over its positions: axes {pos}, giving {want.shape}.",
        )
    if batch and got.shape == A.shape[2:] and _close(got, A.mean(axis=(0, 1))):
        return Feedback(
            False,
            "you averaged over axes (0, 1), the axes of a single image's maps. In a batch "
            "axis 0 is the image (the batch axis) and the positions are axes (1, 2): "
            f"average over those, giving {want.shape}, one row per image.",
        )
    if batch and got.shape == want.shape[1:]:
        return Feedback(
            False,
            f"pooled has shape {got.shape}, one number per feature map for the whole "
            f"batch: you averaged over the images too (axis 0). Keep the batch axis: "
            f"average over axes (1, 2), giving {want.shape}.",
        )
    if _matches(got, want, "pooled"):
        return Feedback(
            True, "Each of the K numbers is the mean of one feature map" + (", one row per image." if batch else ".")
        )
    if _close(got, A.sum(axis=pos)):
        return Feedback(
            False,
            f"these are sums over the {A.shape[pos[0]] * A.shape[pos[1]]} positions; GAP "
            "takes the mean (divide by Z = h * w).",
        )
    if _close(got, A.max(axis=pos)):
        return Feedback(False, "this is global *max* pooling; GAP takes the mean of each feature map.")
    return Feedback(False, "the values differ from the mean of each feature map over its h x w positions.")


# long: one message per typical wrong answer (tests/test_exercises.py sends each)
@_needs_answer
def check_cam(
    cam: Answer, A: ArrayLike, w_c: ArrayLike, w_other: ArrayLike | None = None, W: ArrayLike | None = None
) -> Feedback:
    """``cam``: the learner's class activation map (h, w) = sum_k w_c[k] * A[..., k].

    With ``w_other`` (the weights of a second class) the exercise asks for the map of the first class
    *against* the second: sum_k (w_c[k] - w_other[k]) * A[..., k] = CAM^c - CAM^other. With ``W`` (K, C),
    the whole Dense kernel, a map against a third class is recognised and named (the wrong runner-up).
    """
    got, A, w_c = _array(cam, "cam"), np.asarray(A, np.float64), np.asarray(w_c, np.float64)
    contrast = w_other is not None
    w_o = np.asarray(w_other, np.float64) if contrast else np.zeros_like(w_c)
    want = np.einsum("hwk,k->hw", A, w_c - w_o)
    cam_c, cam_o = np.einsum("hwk,k->hw", A, w_c), np.einsum("hwk,k->hw", A, w_o)
    if got.ndim == 2 and got.shape != want.shape and got.shape[0] > want.shape[0]:
        return Feedback(
            False,
            f"cam has shape {got.shape}: compute it at the feature-map resolution "
            f"{want.shape} first; upsampling comes afterwards.",
        )
    if _matches(got, want, "cam"):
        if contrast:
            return Feedback(
                True,
                "CAM^c - CAM^other = sum_k (w_k^c - w_k^other) A^k: where the evidence for the "
                "first class beats the evidence for the second. Its mean is the gap between the "
                "two logits, less the gap between the two biases.",
            )
        return Feedback(True, "CAM^c = sum_k w_k^c A^k: the class score before averaging, position by position.")
    if contrast and _close(got, cam_c):
        return Feedback(
            False,
            "this is the CAM of the first class alone: subtract the second class's map "
            "(or use the difference of the two weight columns).",
        )
    if contrast and _close(got, -want):
        return Feedback(
            False,
            "the sign is reversed: this is the second class against the first. Subtract the "
            "second class's weights from the first's.",
        )
    if contrast and W is not None:
        W = np.asarray(W, np.float64)
        for j in range(W.shape[1]):
            if np.allclose(W[:, j], w_o) or np.allclose(W[:, j], w_c):
                continue
            if _close(got, np.einsum("hwk,k->hw", A, w_c - W[:, j])):
                return Feedback(
                    False,
                    f"this is the first class against class {j}, not against the runner-up. "
                    "The runner-up has the second-largest logit: np.argsort sorts from the "
                    "smallest, so it is np.argsort(y)[-2] (np.argsort(y)[1] is the "
                    "second-smallest).",
                )
    if contrast and _close(got, np.maximum(cam_c, 0) - np.maximum(cam_o, 0)):
        return Feedback(
            False,
            "you subtracted two maps after a ReLU: subtract the raw maps (or the weights) "
            "first; each map's negative part counts too.",
        )
    if _close(got, want / (A.shape[0] * A.shape[1])):
        return Feedback(
            False,
            "you divided by Z: that is the class score's share per position. CAM itself "
            "is the plain weighted sum sum_k w_k^c A^k.",
        )
    if (want < 0).any() and _close(got, np.maximum(want, 0)):
        return Feedback(
            False, "you applied a ReLU: this exercise asks for the raw weighted sum, negative parts included."
        )
    if _close(got, A.mean(axis=-1)) or _close(got, A.sum(axis=-1)):
        return Feedback(False, "you combined the feature maps without the class weights w_k^c.")
    return Feedback(
        False,
        "the values differ from sum_k w_c[k] * A[:, :, k]. Check that you used the "
        "column of the Dense kernel for the chosen class"
        + (" and subtracted the column of the other class." if contrast else "."),
    )
