"""Checkers for the "Your turn" exercises.

Each checker compares the learner's answer with the course's reference and returns a :class:`Feedback`
that prints either a clear pass or a hint that names what is off (a wrong shape, a sum where a mean was
meant, a missing ReLU, another rule of backpropagation ...). They never raise on a wrong answer, only on
an answer that is not an array at all.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Feedback",
    "answered",
    "answer_or",
    "check_choice",
    "check_gap",
    "check_cam",
    "check_alpha",
    "check_gradcam",
    "check_prob_alpha",
    "check_guided_relu",
    "check_guided_gradcam",
    "check_guided_gradcam_of",
    "check_next_fixation",
    "check_centre_surround",
    "check_image_to_row",
    "check_channel_means",
    "check_round_bfloat16",
    "check_l2_minimum",
    "check_l2_penalty",
    "l2_toy_minimum",
    "check_tile_of_max",
    "check_linear_fill",
    "check_auc",
    "check_top3",
    "check_centre_crop",
    "check_binary_alpha",
    "check_preprocessing_fix",
    "check_to_uint8",
    "check_cam_relatives",
    "check_pp_weights",
]


class AnswerTypeError(TypeError):
    """An answer of the wrong kind (text where numbers were expected ...); checkers turn it into feedback."""


def answered(answer) -> bool:
    """True when the learner has replaced the ``...`` stub of an exercise (``None`` counts as empty too)."""
    return not (answer is None or answer is Ellipsis)


#: What a checker says while the learner's answer is still the stub ``...``.
NOT_YET = ("your answer is still empty (...). Write your code in the cell above where it says "
           "# YOUR CODE HERE, run that cell, then run this check again.")


def _needs_answer(check):
    """Every checker first makes sure the learner replaced the ``...`` stub.

    An empty answer is "Not yet", never an exception: a student copy must run top to bottom.
    """
    import functools

    @functools.wraps(check)
    def wrapper(answer, *args, **kwargs):
        if not answered(answer):
            return Feedback(False, NOT_YET)
        try:
            return check(answer, *args, **kwargs)
        except AnswerTypeError as err:       # an answer of the wrong kind is feedback, not a traceback
            return Feedback(False, str(err))

    return wrapper


def answer_or(answer, reference, name: str = "your answer"):
    """The learner's answer when it is filled in, otherwise the course's ``reference``.

    Cells below an exercise use it so that a student copy still runs to the end: with the stub ``...`` it
    prints one line saying so and returns ``reference`` (a value, or a zero-argument callable that is
    called only then).
    """
    if answered(answer):
        return answer
    print(f"Note: {name} is not filled in yet, so the cells below use the course's reference answer.")
    return reference() if callable(reference) else reference


@dataclass
class Feedback:
    passed: bool
    message: str

    def __str__(self) -> str:
        return ("✅ Correct. " if self.passed else "❌ Not yet. ") + self.message

    def __repr__(self) -> str:  # what a notebook cell shows
        return str(self)

    def __bool__(self) -> bool:
        return self.passed


def _array(answer, name: str) -> np.ndarray:
    try:
        arr = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnswerTypeError(f"{name} should be a numpy array of numbers, got {type(answer).__name__} "
                              f"({str(answer)[:40]!r}).") from None
    return arr


def _close(a, b, rtol=1e-4, atol=1e-6) -> bool:
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol * max(1.0, float(np.abs(b).max())))


def _shape_hint(got, want, what: str) -> Feedback | None:
    if got.shape != want.shape:
        return Feedback(False, f"{what} has shape {got.shape}, expected {want.shape}.")
    return None


@_needs_answer
def check_choice(answer, correct: str, options: dict[str, str], why: str,
                 hints: dict[str, str] | None = None) -> Feedback:
    """A "predict, then check" question: ``answer`` is one key of ``options`` (e.g. ``"b"``).

    ``correct`` is the key the code below the question computes (not typed in by hand where it can be
    computed), ``why`` the explanation shown with a pass, ``hints`` a hint for each typical wrong choice.
    """
    key = str(answer).strip().lower()
    keys = {str(k).lower(): k for k in options}
    if key not in keys:
        listed = ", ".join(f"{k!r} ({v})" for k, v in options.items())
        return Feedback(False, f"your answer {str(answer)[:40]!r} is not one of the choices: {listed}.")
    if keys[key] == correct:
        return Feedback(True, why)
    hint = (hints or {}).get(keys[key], f"the code below shows what happens: it is {correct!r} "
                                        f"({options[correct]}).")
    return Feedback(False, f"{keys[key]!r} ({options[keys[key]]}): {hint}")


# ---------------------------------------------------------------- 04 CAM

@_needs_answer
def check_gap(pooled, A) -> Feedback:
    """``pooled``: the learner's global average pooling of feature maps ``A``.

    ``A`` is one image's maps (h, w, K) -> (K,), or a batch (N, h, w, K) -> (N, K): one row per image.
    """
    got, A = _array(pooled, "pooled"), np.asarray(A, dtype=np.float64)
    batch = A.ndim == 4
    pos = (1, 2) if batch else (0, 1)                    # the axes of the positions i, j
    want = A.mean(axis=pos)
    if got.shape == A.shape[:-1]:
        return Feedback(False, f"pooled has shape {got.shape}: you averaged over the channels (axis -1). GAP "
                               f"averages each feature map over its positions: axes {pos}, giving {want.shape}.")
    if batch and got.shape == A.shape[2:] and _close(got, A.mean(axis=(0, 1))):
        return Feedback(False, "you averaged over axes (0, 1), the axes of a single image's maps. In a batch "
                               "axis 0 is the image (the batch axis) and the positions are axes (1, 2): "
                               f"average over those, giving {want.shape}, one row per image.")
    if batch and got.shape == want.shape[1:]:
        return Feedback(False, f"pooled has shape {got.shape}, one number per feature map for the whole "
                               f"batch: you averaged over the images too (axis 0). Keep the batch axis: "
                               f"average over axes (1, 2), giving {want.shape}.")
    if (hint := _shape_hint(got, want, "pooled")) is not None:
        return hint
    if _close(got, want):
        return Feedback(True, "Each of the K numbers is the mean of one feature map"
                              + (", one row per image." if batch else "."))
    if _close(got, A.sum(axis=pos)):
        return Feedback(False, f"these are sums over the {A.shape[pos[0]] * A.shape[pos[1]]} positions; GAP "
                               "takes the mean (divide by Z = h * w).")
    if _close(got, A.max(axis=pos)):
        return Feedback(False, "this is global *max* pooling; GAP takes the mean of each feature map.")
    return Feedback(False, "the values differ from the mean of each feature map over its h x w positions.")


@_needs_answer
def check_cam(cam, A, w_c, w_other=None, W=None) -> Feedback:
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
        return Feedback(False, f"cam has shape {got.shape}: compute it at the feature-map resolution "
                               f"{want.shape} first; upsampling comes afterwards.")
    if (hint := _shape_hint(got, want, "cam")) is not None:
        return hint
    if _close(got, want):
        if contrast:
            return Feedback(True, "CAM^c - CAM^other = sum_k (w_k^c - w_k^other) A^k: where the evidence for the "
                                  "first class beats the evidence for the second. Its mean is the gap between the "
                                  "two logits, less the gap between the two biases.")
        return Feedback(True, "CAM^c = sum_k w_k^c A^k: the class score before averaging, position by position.")
    if contrast and _close(got, cam_c):
        return Feedback(False, "this is the CAM of the first class alone: subtract the second class's map "
                               "(or use the difference of the two weight columns).")
    if contrast and _close(got, -want):
        return Feedback(False, "the sign is reversed: this is the second class against the first. Subtract the "
                               "second class's weights from the first's.")
    if contrast and W is not None:
        W = np.asarray(W, np.float64)
        for j in range(W.shape[1]):
            if np.allclose(W[:, j], w_o) or np.allclose(W[:, j], w_c):
                continue
            if _close(got, np.einsum("hwk,k->hw", A, w_c - W[:, j])):
                return Feedback(False, f"this is the first class against class {j}, not against the runner-up. "
                                       "The runner-up has the second-largest logit: np.argsort sorts from the "
                                       "smallest, so it is np.argsort(y)[-2] (np.argsort(y)[1] is the "
                                       "second-smallest).")
    if contrast and _close(got, np.maximum(cam_c, 0) - np.maximum(cam_o, 0)):
        return Feedback(False, "you subtracted two maps after a ReLU: subtract the raw maps (or the weights) "
                               "first; each map's negative part counts too.")
    if _close(got, want / (A.shape[0] * A.shape[1])):
        return Feedback(False, "you divided by Z: that is the class score's share per position. CAM itself "
                               "is the plain weighted sum sum_k w_k^c A^k.")
    if (want < 0).any() and _close(got, np.maximum(want, 0)):
        return Feedback(False, "you applied a ReLU: this exercise asks for the raw weighted sum, negative "
                               "parts included.")
    if _close(got, A.mean(axis=-1)) or _close(got, A.sum(axis=-1)):
        return Feedback(False, "you combined the feature maps without the class weights w_k^c.")
    return Feedback(False, "the values differ from sum_k w_c[k] * A[:, :, k]. Check that you used the "
                           "column of the Dense kernel for the chosen class"
                           + (" and subtracted the column of the other class." if contrast else "."))


# ---------------------------------------------------------------- 05 Grad-CAM

@_needs_answer
def check_alpha(alpha, grads) -> Feedback:
    """``alpha``: the learner's Grad-CAM weights (K,) from gradients ``grads`` = dy^c/dA of shape (h, w, K)."""
    got, g = _array(alpha, "alpha"), np.asarray(grads, np.float64)
    want = g.mean(axis=(0, 1))
    if got.shape == g.shape[:2]:
        return Feedback(False, f"alpha has shape {got.shape}: you averaged over the channels. alpha_k^c "
                               "averages the gradient over the positions i, j of each map: axes (0, 1).")
    if (hint := _shape_hint(got, want, "alpha")) is not None:
        return hint
    if _close(got, want):
        return Feedback(True, "alpha_k^c is the average gradient of the class score over feature map k.")
    if _close(got, g.sum(axis=(0, 1))):
        return Feedback(False, "you summed over the positions; alpha_k^c = (1/Z) sum_ij, so divide by "
                               f"Z = {g.shape[0] * g.shape[1]}.")
    if _close(got, np.abs(g).mean(axis=(0, 1))) or _close(got, np.maximum(g, 0).mean(axis=(0, 1))):
        return Feedback(False, "keep the sign of the gradients: alpha averages the raw gradient "
                               "(the ReLU comes later, on the map).")
    return Feedback(False, "the values differ from the mean of grads over axes (0, 1).")


@_needs_answer
def check_gradcam(cam, A, alpha) -> Feedback:
    """``cam``: the learner's Grad-CAM map (h, w) = ReLU(sum_k alpha[k] * A[..., k])."""
    got, A, alpha = _array(cam, "cam"), np.asarray(A, np.float64), np.asarray(alpha, np.float64)
    raw = np.einsum("hwk,k->hw", A, alpha)
    want = np.maximum(raw, 0)
    if got.ndim == 2 and got.shape != want.shape:
        return Feedback(False, f"cam has shape {got.shape}, expected {want.shape}: a Grad-CAM map has the "
                               "resolution of the layer it explains. Take A and the gradients from that layer "
                               "(and upsample only afterwards).")
    if (hint := _shape_hint(got, want, "cam")) is not None:
        return hint
    if _close(got, want):
        return Feedback(True, "L^c = ReLU(sum_k alpha_k^c A^k).")
    if want.max() > 0 and _close(got, want / want.max()):
        return Feedback(True, "L^c = ReLU(sum_k alpha_k^c A^k), here also normalised to a maximum of 1.")
    if (raw < 0).any() and _close(got, raw):
        return Feedback(False, "the map has negative values: apply the ReLU, which keeps only the evidence "
                               "*for* the class.")
    if _close(got, np.abs(raw)):
        return Feedback(False, "you took the absolute value: negative evidence then counts as positive. "
                               "Use the ReLU, max(0, .).")
    z = A.shape[0] * A.shape[1]
    if _close(got, want * z):
        return Feedback(False, f"your map is {z} times too large: alpha is the *mean* of the gradient over the "
                               f"Z = {z} positions, not their sum.")
    return Feedback(False, "the values differ from ReLU(sum_k alpha[k] * A[:, :, k]).")


@_needs_answer
def check_prob_alpha(alpha_p, W, p, c: int, Z: int) -> Feedback:
    """``alpha_p``: the learner's Grad-CAM weights (K,) for the *probability* p^c of a GAP -> Dense head.

    ``W``: (K, C) the Dense kernel, ``p``: (C,) the softmax probabilities, ``c`` the class, ``Z = h * w``.
    From dp^c/dA = p^c (dy^c/dA - sum_j p^j dy^j/dA) and dy^j/dA^k_ij = w_k^j / Z:
    alpha_p = (p^c / Z) (w^c - sum_j p^j w^j).
    """
    got = _array(alpha_p, "alpha_p")
    W, p = np.asarray(W, np.float64), np.asarray(p, np.float64)
    w_c, mixed = W[:, c], W @ p
    want = p[c] / Z * (w_c - mixed)
    if (hint := _shape_hint(got, want, "alpha_p")) is not None:
        return hint
    if _close(got, want):
        return Feedback(True, "alpha_p = (p^c / Z) (w^c - sum_j p^j w^j) = (p^c / Z) sum_{j != c} p^j (w^c - w^j): "
                              "class c against the other classes, each weighed by its probability.")
    if _close(got, w_c / Z):
        return Feedback(False, "this is the logit's alpha, w^c / Z. The softmax adds two things: the factor p^c "
                               "and the term - sum_j p^j w^j (every logit moves p^c).")
    if _close(got, (w_c - mixed) / Z):
        return Feedback(False, "you forgot the factor p^c in front: dp^c/dy^j = p^c (delta_cj - p^j).")
    if _close(got, p[c] * w_c / Z):
        return Feedback(False, "you kept only the path through y^c and forgot the term - sum_j p^j w^j: the "
                               "other logits change p^c too (dp^c/dy^j = -p^c p^j for j != c).")
    if _close(got, p[c] * (1 - p[c]) * w_c / Z):
        return Feedback(False, "p^c (1 - p^c) w^c / Z is only the path through y^c. The other logits change p^c "
                               "too: subtract (p^c / Z) sum_{j != c} p^j w^j.")
    if _close(got, p[c] * (w_c - mixed)):
        return Feedback(False, f"divide by Z = {Z}: alpha is the mean of the gradient over the positions, and "
                               "each position gets 1/Z of the pooled value.")
    if _close(got, -want):
        return Feedback(False, "the sign is reversed: it is w^c minus the probability-weighted mean of the "
                               "columns, sum_j p^j w^j.")
    return Feedback(False, "the values differ from (p^c / Z) (w^c - sum_j p^j w^j). Write out "
                           "dp^c/dy^j = p^c (delta_cj - p^j) and dy^j/dA^k_ij = w_k^j / Z, then combine them.")


# ---------------------------------------------------------------- 06 guided backpropagation

def _relu_rules(x, dy) -> dict[str, np.ndarray]:
    return {"guided": dy * (x > 0) * (dy > 0), "plain": dy * (x > 0), "deconvnet": dy * (dy > 0)}


@_needs_answer
def check_guided_relu(answer, x, grad_out) -> Feedback:
    """``answer``: a function ``rule(x, g_out)`` that returns the gradient a guided ReLU passes back, given
    the forward input ``x`` and the incoming gradient ``g_out`` (arrays of the same shape).

    It is tried on ``x, grad_out`` and on a second, random pair of another shape, so numbers copied from
    an output cannot pass. (An array is still read as the answer for ``x, grad_out`` alone, and refused.)
    """
    x, dy = np.asarray(x, np.float64), np.asarray(grad_out, np.float64)
    rng = np.random.default_rng(6)
    x2, dy2 = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    if not callable(answer):
        got = _array(answer, "my_guided_rule")
        right = got.shape == x.shape and _close(got, _relu_rules(x, dy)["guided"])
        return Feedback(False, ("these numbers are right for this x and g_out, " if right else "") +
                        "but the exercise asks for a function: def my_guided_rule(x, g_out): return ..., so the "
                        "check can try it on other inputs too.")
    for n, (xi, dyi) in enumerate([(x, dy), (x2, dy2)]):
        got = _array(_call(answer, xi.copy(), dyi.copy()), "my_guided_rule(x, g_out)")
        rules = _relu_rules(xi, dyi)
        if (hint := _shape_hint(got, rules["guided"], "my_guided_rule(x, g_out)")) is not None:
            return hint
        if _close(got, rules["guided"]):
            continue
        where = "" if n == 0 else "right on the example, but not on a second input (shape (4, 5)): "
        if _close(got, rules["plain"]):
            return Feedback(False, where + "that is plain backpropagation: it also lets negative gradients "
                                           "through. Guided backpropagation also needs g_out > 0.")
        if _close(got, rules["deconvnet"]):
            return Feedback(False, where + "that is the deconvnet rule: it ignores the forward input. Guided "
                                           "backpropagation also needs x > 0.")
        if _close(got, np.maximum(dyi, 0) * np.maximum(xi, 0)):
            return Feedback(False, where + "this multiplies by the input's value; the rule only asks whether "
                                           "x > 0: multiply by the mask (x > 0), not by max(x, 0).")
        return Feedback(False, where + "compare each entry with the rule: g_out where x > 0 and g_out > 0, "
                                       "else 0.")
    return Feedback(True, "Guided: the gradient passes where the input was positive AND the gradient is positive.")


@_needs_answer
def check_guided_gradcam(answer, guided, cam) -> Feedback:
    """``answer``: guided Grad-CAM (H, W, 3) from guided backpropagation (H, W, 3) and Grad-CAM (h, w)."""
    got, g, cam = _array(answer, "answer"), np.asarray(guided, np.float64), np.asarray(cam, np.float64)
    if cam.shape != g.shape[:2]:
        return Feedback(False, f"the Grad-CAM map has shape {cam.shape}, the image {g.shape[:2]}: upsample the "
                               "map to the image size before multiplying.") if got.shape != g.shape else \
            Feedback(False, "upsample the Grad-CAM map to the image size first.")
    want = g * cam[..., None]
    if (hint := _shape_hint(got, want, "answer")) is not None:
        return hint
    if _close(got, want):
        return Feedback(True, "Sharp edges from guided backpropagation, kept only where Grad-CAM sees the class.")
    if _close(got, g + cam[..., None]):
        return Feedback(False, "you added the two; guided Grad-CAM multiplies them, pixel by pixel.")
    if np.abs(want).max() > 0 and _close(got, want / np.abs(want).max()):
        return Feedback(True, "The product, normalised: sharp and class-specific.")
    return Feedback(False, "the values differ from guided * cam[..., None].")


def _same_up_to_scale(got: np.ndarray, want: np.ndarray) -> bool:
    """Equal after each is divided by its largest |value| (a normalised answer is as right as a raw one)."""
    if got.shape != want.shape:
        return False
    a, b = np.abs(got).max(), np.abs(want).max()
    if a == 0 or b == 0:
        return a == b
    return _close(got / a, want / b, rtol=1e-3, atol=1e-4)


@_needs_answer
def check_guided_gradcam_of(answer, model, image, class_index: int, layer: str) -> Feedback:
    """``answer``: guided Grad-CAM ``(H, W, 3)`` of ``image`` (H, W, 3) for class ``class_index``, with its
    Grad-CAM taken at ``layer``: guided backpropagation times the upsampled Grad-CAM map.

    The reference is computed here from ``model`` (so nothing of it is on the learner's screen); an answer
    scaled by a positive factor (normalised) passes too. Typical mistakes get their own hint: the predicted
    class instead of ``class_index``, the default (last) layer instead of ``layer``, a sum instead of the
    product, guided backpropagation alone, a map left at the layer's resolution.
    """
    from . import explain

    got = _array(answer, "my_ggc")
    x = np.asarray(image, np.float32)
    c = int(class_index)
    gbp = explain.GuidedBackprop(model)
    g = gbp(x, c)[0].astype(np.float64)
    cam = explain.GradCAM(model, layer)(x, c)[0].astype(np.float64)
    want = g * cam[..., None]
    if got.ndim == 2 and got.shape == want.shape[:2]:
        return Feedback(False, f"your map is {got.shape}, one value per pixel; guided Grad-CAM keeps the three "
                               "colour channels of guided backpropagation: multiply by cam[..., None].")
    if got.shape == (1,) + want.shape:
        return Feedback(False, f"my_ggc has shape {got.shape}: the explainers return a batch of one; take its "
                               "only map with [0] (guided backpropagation (1, H, W, 3) -> (H, W, 3)).")
    if got.shape != want.shape:
        small = explain.GradCAM(model, layer, upsample=False)(x, c)[0].shape
        if got.shape[:2] == small:
            return Feedback(False, f"your map is {got.shape[:2]}, the resolution of layer {layer!r}: upsample "
                                   "the Grad-CAM map to the image (GradCAM does it by default) before multiplying.")
        return Feedback(False, f"my_ggc has shape {got.shape}, expected {want.shape} (the image's).")
    if _same_up_to_scale(got, want):
        return Feedback(True, f"Guided Grad-CAM of class {c} at {layer!r}: the same guided-backpropagation edges, "
                              "kept where this class's Grad-CAM at this layer is positive.")
    predicted = int(np.argmax(model.predict(x[None], verbose=0)[0]))
    if predicted != c and _same_up_to_scale(
            got, gbp(x, predicted)[0] * explain.GradCAM(model, layer)(x, predicted)[0][..., None]):
        return Feedback(False, "this is guided Grad-CAM of the *predicted* class; the exercise asks for class "
                               f"{c}: pass it as the class_index of both explainers.")
    default = explain.GradCAM(model)
    if default.layer != layer and _same_up_to_scale(got, g * default(x, c)[0][..., None]):
        return Feedback(False, f"this uses Grad-CAM at the default (last) layer {default.layer!r}; the exercise "
                               f"asks for layer {layer!r}: GradCAM(model, {layer!r}).")
    if _same_up_to_scale(got, g + cam[..., None]):
        return Feedback(False, "you added the two maps; guided Grad-CAM multiplies them, pixel by pixel.")
    if _same_up_to_scale(got, g):
        return Feedback(False, "this is guided backpropagation alone: multiply it by the Grad-CAM map.")
    return Feedback(False, f"the values differ from guided backpropagation of class {c} times Grad-CAM of class "
                           f"{c} at {layer!r} (upsampled), cam[..., None].")


# ---------------------------------------------------------------- 01 saliency and attention

def _argmax_rc(a: np.ndarray) -> tuple[int, int]:
    return tuple(int(v) for v in np.unravel_index(int(np.argmax(a)), a.shape))


@_needs_answer
def check_next_fixation(answer, saliency, radius: float = 3.0) -> Feedback:
    """``answer``: (row, col) of the *second* fixation on a 2-D ``saliency`` map: its maximum once inhibition
    of return has suppressed a disk of ``radius`` map pixels around the first winner."""
    s = np.asarray(saliency, dtype=np.float64)
    first = _argmax_rc(s)
    yy, xx = np.mgrid[:s.shape[0], :s.shape[1]]
    d2 = (yy - first[0]) ** 2 + (xx - first[1]) ** 2
    right = {_argmax_rc(np.where(d2 <= radius ** 2, -np.inf, s)),      # the disk with its rim
             _argmax_rc(np.where(d2 < radius ** 2, -np.inf, s))}       # or without it: both are fine
    if isinstance(answer, (int, np.integer)):
        return Feedback(False, f"{int(answer)} is a flat index into the raveled map; turn it into (row, col) "
                               "with np.unravel_index(index, shape).")
    try:
        got = tuple(int(v) for v in np.asarray(answer).ravel())
    except (TypeError, ValueError):
        raise AnswerTypeError(f"the answer should be (row, col), two integers; got {str(answer)[:40]!r}.") from None
    if len(got) != 2:
        return Feedback(False, f"the answer should be two numbers (row, col); got {len(got)}.")
    if got in right:
        return Feedback(True, f"The second fixation is at row {got[0]}, column {got[1]}: the winner {first} and "
                              f"everything within {radius:g} map pixels of it were suppressed, so attention moved on.")
    if got == first:
        return Feedback(False, f"{got} is the first fixation, the winner itself. Inhibition of return suppresses "
                               "a disk around it first; the second fixation is the maximum of what is left.")
    only_winner = s.copy()
    only_winner[first] = -np.inf
    if got == _argmax_rc(only_winner):
        return Feedback(False, f"{got} is the second-largest pixel, right next to the winner {first}: suppressing "
                               f"one pixel leaves attention on the same item. Suppress every pixel within "
                               f"radius {radius:g} of the winner: (row - r0)**2 + (col - c0)**2 <= radius**2.")
    if got[::-1] in right:
        return Feedback(False, "row and column are swapped: numpy indexes (row, col), i.e. (y, x).")
    return Feedback(False, f"(row, col) = {got} is not the maximum of the map once the disk of radius {radius:g} "
                           f"around the winner {first} is suppressed.")


@_needs_answer
def check_centre_surround(answer, feature, c: int, s: int) -> Feedback:
    """``answer``: the centre-surround map |F(c) - F(s)| of a 2-D ``feature`` map F: level ``c`` of its
    Gaussian pyramid minus level ``s``, the surround brought back to level c's shape first."""
    from .saliency import gaussian_pyramid, resize

    got, F = _array(answer, "answer"), np.asarray(feature, dtype=np.float64)
    pyramid = gaussian_pyramid(F, s)
    centre = pyramid[c]
    if got.shape != centre.shape:
        levels = [i for i, p in enumerate(pyramid) if p.shape == got.shape]
        where = f" (the shape of level {levels[0]})" if levels else ""
        return Feedback(False, f"answer has shape {got.shape}{where}; the map lives at the centre level c = {c}, "
                               f"shape {centre.shape}: resize the surround to it with "
                               "S.resize(pyramid[s], pyramid[c].shape).")

    def cs(s2):
        return centre - resize(pyramid[s2], centre.shape)

    if _close(got, np.abs(cs(s))):
        return Feedback(True, f"|F({c}) - F({s})|: large where the feature differs from its surroundings.")
    if _close(got, cs(s)) or _close(got, -cs(s)):
        return Feedback(False, "the map has negative values: take the absolute difference, because a dark "
                               "spot on a bright ground stands out as much as a bright one on a dark ground.")
    for s2 in range(c + 1, s):
        if _close(got, np.abs(cs(s2))):
            return Feedback(False, f"this is the map for surround level s = {s2}; the exercise asks for s = {s}.")
    if min(pyramid[s].shape) >= 4:                  # one level coarser, as in the worked example
        deeper = gaussian_pyramid(F, s + 1)[s + 1]
        if _close(got, np.abs(centre - resize(deeper, centre.shape))):
            return Feedback(False, f"this is the map for surround level s = {s + 1}; the exercise asks for s = {s}.")
    if _close(got, centre) or _close(got, resize(pyramid[s], centre.shape)):
        return Feedback(False, "this is one of the two levels alone; the feature map is their difference.")
    return Feedback(False, f"the values differ from |pyramid[{c}] - S.resize(pyramid[{s}], pyramid[{c}].shape)| "
                           "of the feature map: check that you built the pyramid of the feature the exercise names.")


# ---------------------------------------------------------------- 02 CIFAR-10 on disk

@_needs_answer
def check_image_to_row(answer, image) -> Feedback:
    """``answer``: the image (H, W, 3) written as one row of a CIFAR-10 batch: all H*W red values row by row,
    then the greens, then the blues (3,072 values for 32 x 32)."""
    got, img = _array(answer, "answer"), np.asarray(image)
    planes = img.transpose(2, 0, 1)
    want = planes.reshape(-1)
    if got.shape == planes.shape:
        return Feedback(False, f"the order is right, but these are still three planes {got.shape}; a row is "
                               "flat: add .reshape(-1).")
    if (hint := _shape_hint(got, want.astype(np.float64), "answer")) is not None:
        return hint
    if np.array_equal(got, want):
        return Feedback(True, "Channels first, then flattened: 1,024 reds, 1,024 greens, 1,024 blues, as the "
                              "file stores them. reshape(3, 32, 32).transpose(1, 2, 0) reads it back.")
    if np.array_equal(got, img.reshape(-1)):
        return Feedback(False, "flattening the (H, W, 3) image directly interleaves R, G, B, R, G, B ...; the file "
                               "stores all reds first: move the channel axis to the front with .transpose(2, 0, 1) "
                               "before flattening.")
    if np.array_equal(got, img.transpose(2, 1, 0).reshape(-1)):
        return Feedback(False, "rows and columns are swapped (each plane is transposed): .transpose(2, 0, 1) "
                               "keeps the (row, col) order inside each plane.")
    return Feedback(False, "the values differ from the image's red plane, then green, then blue, each row by row.")


@_needs_answer
def check_channel_means(answer, images, channel_axis: int = -1) -> Feedback:
    """``answer``: the mean of each colour channel over all ``images`` on the 0-1 scale; the channels are
    on ``channel_axis`` (-1 for channels-last (N, H, W, C), 1 for channels-first (N, C, H, W)).

    ``answer`` may also be a function of a batch ``x`` that returns those means: it is then tried on
    ``images`` and on a second batch of another size in the same layout, so that numbers copied from a
    printout, or a function that ignores its argument, do not pass.
    """
    if not callable(answer):
        return _channel_means_feedback(answer, images, channel_axis)
    x = np.asarray(images)
    ax = channel_axis % x.ndim
    shape = [7, 5, 6, 4][:x.ndim]
    shape[ax] = x.shape[ax]
    second = np.random.default_rng(3).integers(0, 256, shape).astype(x.dtype)
    second[(slice(None),) * ax + (0,)] //= 2                    # channels with different means
    results = []
    for batch in (x, second):
        try:
            results.append(answer(batch.copy()))
        except Exception as err:              # the learner's function failed: say how, don't raise
            return Feedback(False, f"your function raised {type(err).__name__} on a batch of shape {batch.shape}: "
                                   f"{str(err)[:120]}")
    first = _channel_means_feedback(results[0], x, channel_axis)
    if not first.passed:
        return first
    if np.shape(results[1]) == np.shape(results[0]) and np.allclose(np.asarray(results[1], dtype=np.float64),
                                                                     np.asarray(results[0], dtype=np.float64)):
        return Feedback(False, f"your function gives the same numbers for another batch (shape {second.shape}): "
                               "it must compute the means of its argument x, not of a fixed array.")
    again = _channel_means_feedback(results[1], second, channel_axis)
    if not again.passed:
        return Feedback(False, f"right on the first batch, but on a second one of shape {second.shape}: {again.message}")
    return first


def _channel_means_feedback(answer, images, channel_axis: int) -> Feedback:
    got, x = _array(answer, "answer"), np.asarray(images)
    ax = channel_axis % x.ndim
    others = tuple(i for i in range(x.ndim) if i != ax)
    want = x.mean(axis=others) / 255.0
    if got.ndim == 0:
        return Feedback(False, f"one number: you averaged over the channels too. Average over every axis but the "
                               f"channel axis {ax}: axis={others}.")
    if ax != x.ndim - 1 and got.shape == (x.shape[-1],):
        return Feedback(False, f"you averaged over axes {tuple(range(x.ndim - 1))}, which in this layout "
                               f"{x.shape} include the channel axis {ax} and leave the columns. The channels are "
                               f"axis {ax} here: average over axis={others}.")
    if (hint := _shape_hint(got, want, "answer")) is not None:
        return hint
    if _close(got, want, rtol=1e-3):
        return Feedback(True, "These are the channel means of these images. The model's Normalization layer was "
                              "set from the *training* images' means, so on other images they are close, not equal.")
    if _close(got, want * 255.0, rtol=1e-3):
        return Feedback(False, "these are on the 0-255 scale; divide by 255 for the 0-1 scale.")
    if ax != x.ndim - 1 and _close(got, x.reshape(-1, 3).mean(axis=0) / 255.0, rtol=1e-3):
        return Feedback(False, f"reshape(-1, 3) assumes the channels are the last axis; here they are axis {ax}, "
                               "so each group of three mixes neighbouring pixels of one channel. Average over "
                               f"axis={others} instead.")
    return Feedback(False, f"the values differ from the per-channel means over axis={others}, divided by 255.")


def _round_to_bits(x: np.ndarray, bits: int, op=np.round) -> np.ndarray:
    """Round positive ``x`` to ``bits`` significant bits: in [2**e, 2**(e + 1)) the step is 2**(e - bits + 1)."""
    step = 2.0 ** (np.floor(np.log2(x)) - (bits - 1))
    return op(x / step) * step


@_needs_answer
def check_round_bfloat16(answer, values) -> Feedback:
    """``answer``: a function that rounds an array of positive numbers to the nearest bfloat16 number
    (8 significant bits). It is tried on ``values`` and on 200 numbers from 0.001 to 100,000."""
    if not callable(answer):
        raise AnswerTypeError(f"the answer should be a function of an array x (def my_round_bf16(x): ...); got "
                              f"{type(answer).__name__} ({str(answer)[:40]!r}).")
    probe = np.concatenate([np.ravel(np.asarray(values, dtype=np.float64)),
                            10.0 ** np.random.default_rng(16).uniform(-3, 5, 200)])
    try:
        got = np.asarray(answer(probe.copy()), dtype=np.float64)
    except Exception as err:                  # the learner's function failed: say how, don't raise
        return Feedback(False, f"your function raised {type(err).__name__}: {str(err)[:120]}")
    if got.shape != probe.shape:
        return Feedback(False, f"given {probe.shape[0]} numbers your function returned shape {got.shape}; "
                               "round each number, element by element.")

    def same(other):
        return np.allclose(got, other, rtol=1e-6, atol=0)

    if same(_round_to_bits(probe, 8)):
        return Feedback(True, "8 significant bits: between 64 and 128 the step is 0.5, between 2048 and 4096 it is "
                              "16. The step is 2**-8 to 2**-7 of the number (0.4 % to 0.8 %): about 2 to 3 "
                              "significant decimal digits.")
    if same(probe):
        return Feedback(False, "the numbers come back unchanged: round each to a multiple of its step 2**(e - 7), "
                               "e = floor(log2(x)).")
    if same(_round_to_bits(probe, 9)):
        return Feedback(False, "this keeps 9 significant bits. bfloat16 stores 7 fraction bits, and the leading 1 "
                               "is implied: 8 significant bits, so 2**7 steps per power of two, a step of 2**(e - 7).")
    if same(_round_to_bits(probe, 11)):
        return Feedback(False, "this keeps 11 significant bits: that is float16. bfloat16 keeps 8 (2**(e - 7)).")
    if same(_round_to_bits(probe, 8, np.floor)) or same(_round_to_bits(probe, 8, np.trunc)):
        return Feedback(False, "right step, but you rounded down: converting to bfloat16 rounds to the *nearest* "
                               "representable number (np.round).")
    if same(np.round(probe)):
        return Feedback(False, "rounding to whole numbers is a fixed step of 1; a floating-point step grows with "
                               "the number: 2**(e - 7) for x in [2**e, 2**(e + 1)).")
    return Feedback(False, "the results differ from rounding x to a multiple of 2**(floor(log2(x)) - 7).")


# ---------------------------------------------------------------- 03 a CNN with GAP

def l2_toy_minimum(lam: float) -> np.ndarray:
    """The minimum (w1, w2) of notebook 03's toy loss (w1 + w2 - 1)**2 + lam * (w1**2 + w2**2), lam > 0.

    Computed the way ridge regression (岭回归) is solved, from the normal equations
    (X^T X + lam I) w = X^T y with the one data row X = [[1, 1]], y = [1]: not from the hand-derived formula
    the exercise asks for. Returns shape (2,).
    """
    X, y = np.array([[1.0, 1.0]]), np.array([1.0])
    return np.linalg.solve(X.T @ X + lam * np.eye(2), X.T @ y)


def _call(fn, *args):
    """Call the learner's function; its exception becomes feedback (AnswerTypeError), never a traceback."""
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - any error in the learner's code is feedback
        raise AnswerTypeError(f"your function raised {type(err).__name__}: {str(err)[:80]}") from None


@_needs_answer
def check_l2_minimum(answer, lams=(0.1, 0.5, 2.0)) -> Feedback:
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
        return Feedback(False, (f"the number is right for lambda = {lams[0]:g}, " if right else "") +
                        "but the exercise asks for a function of lam (def my_minimum(lam): return ...), "
                        "so the check can try other values of lambda.")

    def common(lam):
        got = np.ravel(_array(_call(answer, lam), "my_minimum(lam)"))
        if got.size not in (1, 2):
            raise AnswerTypeError(f"my_minimum(lam) should return w (one number) or (w1, w2), got {got.size} numbers.")
        return got

    got = [common(lam) for lam in lams]
    want = [l2_toy_minimum(lam) for lam in lams]
    if all(np.allclose(g, w[: g.size], rtol=1e-6, atol=1e-9) for g, w in zip(got, want)):
        return Feedback(True, "w1 = w2 = 1 / (2 + lam): the data term alone is flat along w1 + w2 = 1; "
                              "the penalty picks its smallest point and pulls it towards 0 as lam grows.")

    def like(formula):
        return all(np.allclose(g, formula(lam), rtol=1e-6, atol=1e-9) for g, lam in zip(got, lams))

    if like(lambda lam: 1 / (2 + 2 * lam)):
        return Feedback(False, "that is 1 / (2 + 2 lam) (1/2.2 at lam = 0.1): the derivative of (w1 + w2 - 1)**2 "
                               "is 2 (w1 + w2 - 1); keep its factor 2 as well as the 2 of 2 lam w.")
    if like(lambda lam: 1 / (2 + lam / 2)):
        return Feedback(False, "that is 1 / (2 + lam / 2): the derivative of lam * w**2 is 2 lam w, not lam w.")
    if like(lambda lam: 1 / (1 + lam)):
        return Feedback(False, "that is 1 / (1 + lam), the answer for (w - 1)**2 + lam w**2 with one weight; here "
                               "both weights are in the data term: with w1 = w2 = w it is (2w - 1)**2.")
    if like(lambda lam: 0.5):
        return Feedback(False, "0.5 for every lam is the lam = 0 point on the line w1 + w2 = 1; the penalty moves "
                               "the minimum: set the derivative of the whole loss to zero.")
    if like(lambda lam: 1 / (2 - lam)):
        return Feedback(False, "the sign of the penalty's term is flipped: the penalty pulls the weights towards 0, "
                               "so the minimum must get smaller as lam grows.")
    return Feedback(False, f"at lam = {lams[0]} your function gives {np.round(got[0], 4).tolist()}. Hint: by "
                           "symmetry w1 = w2 = w; write the loss with w and set its derivative to zero.")


@_needs_answer
def check_l2_penalty(answer, weights, lam: float) -> Feedback:
    """``answer``: a function ``penalty(weights, lam)`` giving the L2 penalty lam * sum(w**2) over the arrays in
    ``weights``; it is also tried on a second set of arrays and another lam. A number gets the same hints
    for the typical mistakes, but does not pass even when right (a pasted number must not pass, and the
    notebook calls the function on other kernels below)."""
    sets = [(list(weights), float(lam))]
    if callable(answer):
        rng = np.random.default_rng(3)
        sets.append(([rng.normal(size=(3, 3, 2, 4)), rng.normal(size=(5, 2))], 0.01))
    for ws, lam_ in sets:
        got = float(np.asarray(_call(answer, ws, lam_) if callable(answer) else answer, dtype=np.float64).sum())
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
            return Feedback(False, "right for the course model's kernels, wrong for other arrays: compute the "
                                   "penalty from the function's arguments (weights, lam), not from fixed names.")
        return Feedback(False, "the value differs from lam * sum((w ** 2).sum() for w in weights).")
    if not callable(answer):
        return Feedback(False, "the number is right for these kernels, but the exercise asks for a function "
                               "(def my_l2_penalty(kernels, lam): ...), so the check can try it on other arrays.")
    return Feedback(True, "lambda times the sum of the squared weights: large weights cost more.")


# ---------------------------------------------------------------- 07 evaluating explanations

def _tile(r: int, c: int, shape, grid: int) -> int:
    return int(r // (shape[0] // grid)) * grid + int(c // (shape[1] // grid))


def _maps_with_a_peak(saliency, grid: int):
    """The learner's map, then two more with a known peak: in another tile, and for a 2 x 2 mosaic."""
    s = np.asarray(saliency, np.float64)
    rng = np.random.default_rng(7)
    second = rng.random(s.shape) * 0.5
    second[s.shape[0] - 3, 2] = 1.0                     # bottom row of tiles, left column: not tile 0
    third = rng.random((64, 64)) * 0.5
    third[40, 10] = 1.0                                 # 2 x 2: tile 2
    return [(s, grid), (second, grid), (third, 2)]


@_needs_answer
def check_tile_of_max(answer, saliency, grid: int = 2) -> Feedback:
    """``answer``: a function ``tile_of_max(saliency, grid)`` returning the tile (row-major: 0 at the top
    left, ``grid * grid - 1`` at the bottom right) of a ``grid`` x ``grid`` mosaic in which the maximum of
    ``saliency`` (H, W) lies. It is tried on ``saliency`` and on two more maps (another tile, a 2 x 2
    mosaic), so a tile number read off a figure cannot pass."""
    if not callable(answer):
        return Feedback(False, "the exercise asks for a function: def my_tile_of_max(saliency, grid): ... "
                               "return the tile, so the check can try it on other maps too.")
    for n, (s, g) in enumerate(_maps_with_a_peak(saliency, grid)):
        r, c = np.unravel_index(int(np.argmax(s)), s.shape)
        want = _tile(r, c, s.shape, g)
        out = _call(answer, s.copy(), g)
        where = "" if n == 0 else f"right for the notebook's map, but not for a {g} x {g} test map: "
        if isinstance(out, (tuple, list, np.ndarray)) and np.size(out) == 2:
            return Feedback(False, where + f"you returned a pair {tuple(np.ravel(out))}; return one tile index, "
                                           "tile_row * grid + tile_col.")
        try:
            got = int(out)
        except (TypeError, ValueError):
            raise AnswerTypeError(f"your function returned {type(out).__name__}, expected an int tile index.") from None
        if got == want:
            continue
        if got == int(np.argmax(s)):
            return Feedback(False, where + "that is the flat index of the pixel; np.unravel_index(i, saliency.shape) "
                                           "turns it into (row, col), then divide by the tile size.")
        if got == _tile(c, r, s.shape[::-1], g):
            return Feedback(False, where + "rows and columns are swapped: the tile is tile_row * grid + tile_col.")
        if g != 2 and got == int(r >= s.shape[0] // 2) * 2 + int(c >= s.shape[1] // 2):
            return Feedback(False, where + "this is the 2 x 2 answer (halves); with a 3 x 3 grid each tile is "
                                           "H // 3 pixels high: tile_row = row // (H // grid).")
        if got == want + 1:
            return Feedback(False, where + "one too many: tiles are counted from 0 (top left), not 1.")
        return Feedback(False, where + f"the maximum is at (row {r}, col {c}) of a {s.shape} map with {g} x {g} "
                                       f"tiles; your function gave tile {got}.")
    return Feedback(True, "tile_row = row // (H // grid), tile_col = col // (W // grid), tile = tile_row * grid "
                          "+ tile_col: the pointing game's test, for any grid.")


def _road_fill(patch: np.ndarray) -> np.ndarray:
    direct = patch[0, 1] + patch[1, 0] + patch[1, 2] + patch[2, 1]
    diagonal = patch[0, 0] + patch[0, 2] + patch[2, 0] + patch[2, 2]
    return direct / 6 + diagonal / 12


@_needs_answer
def check_linear_fill(answer) -> Feedback:
    """``answer``: a function ``fill(patch)`` that takes a 3 x 3 neighbourhood ``(3, 3)`` or ``(3, 3, C)``
    whose centre pixel was removed and returns the value ROAD's linear imputation gives the centre when its
    eight neighbours are all known: 1/6 of each direct neighbour plus 1/12 of each diagonal one (the
    weights sum to 1). Tried on three patches, one of them in colour; the centre holds junk that must not
    count."""
    rng = np.random.default_rng(12)
    patches = [rng.integers(0, 256, (3, 3)).astype(float), rng.integers(0, 256, (3, 3, 3)).astype(float),
               np.arange(9.0).reshape(3, 3) * 10]
    if not callable(answer):
        return Feedback(False, "the exercise asks for a function: def my_fill(patch): ... return the centre's "
                               "value, so the check can try it on other patches.")
    for n, patch in enumerate(patches):
        patch = patch.copy()
        patch[1, 1] = 999.0                                  # the removed pixel: its old value is unknown
        want = _road_fill(patch)
        got = np.asarray(_call(answer, patch.copy()), dtype=np.float64)
        where = "" if n == 0 else "right for the first patch, but not for another one: "
        if got.shape != np.shape(want):
            return Feedback(False, where + f"your function returned shape {got.shape}, expected {np.shape(want)} "
                                           "(one value per colour channel).")
        if np.allclose(got, want, atol=1e-6):
            continue
        ring = np.array([patch[i, j] for i in range(3) for j in range(3) if (i, j) != (1, 1)])
        direct = (patch[0, 1] + patch[1, 0] + patch[1, 2] + patch[2, 1])
        diagonal = (patch[0, 0] + patch[0, 2] + patch[2, 0] + patch[2, 2])
        if np.allclose(got, patch.reshape(9, *patch.shape[2:]).mean(axis=0)):
            return Feedback(False, where + "you averaged all nine pixels, the removed centre too: its value is "
                                           "unknown (here it holds junk); use only the eight neighbours.")
        if np.allclose(got, ring.mean(axis=0)):
            return Feedback(False, where + "an equal-weight mean of the eight neighbours; ROAD weights the four "
                                           "direct neighbours twice as much as the diagonal ones (1/6 and 1/12).")
        if np.allclose(got, direct / 12 + diagonal / 6):
            return Feedback(False, where + "the weights are swapped: 1/6 for the direct (up, down, left, right) "
                                           "neighbours, 1/12 for the diagonal ones.")
        if np.allclose(got, direct / 4):
            return Feedback(False, where + "the mean of the four direct neighbours leaves out the diagonal ones "
                                           "(weight 1/12 each).")
        return Feedback(False, where + f"expected {np.round(want, 3)}, your function gave {np.round(got, 3)}.")
    return Feedback(True, "4 x 1/6 + 4 x 1/12 = 1, so this is a weighted mean. Where neighbours are removed "
                          "too, each removed pixel is such a mean of unknowns: ROAD solves them all at once.")


@_needs_answer
def check_auc(answer, fractions, curve) -> Feedback:
    """``answer``: the area under ``curve`` sampled at ``fractions`` (trapezoid rule)."""
    f, y = np.asarray(fractions, np.float64), np.asarray(curve, np.float64)
    want = float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(f)))
    got = float(answer)
    if np.isclose(got, want, rtol=1e-6, atol=1e-9):
        return Feedback(True, "The trapezoid rule: average neighbouring heights, times the step.")
    if np.isclose(got, y.sum(), rtol=1e-6):
        return Feedback(False, "you summed the heights; multiply each by the width of its step (here "
                               f"{np.diff(f)[0]:g}), or use the trapezoid rule.")
    if np.isclose(got, y.mean(), rtol=1e-6):
        return Feedback(False, "the mean of the heights counts both end points fully; the trapezoid rule gives "
                               "them half weight.")
    return Feedback(False, "compare with np.sum((curve[1:] + curve[:-1]) / 2 * np.diff(fractions)).")


# ---------------------------------------------------------------- 08 explain your own image

def _second_logits(y: np.ndarray) -> np.ndarray:
    """Another logit vector of the same length, in another order (for trying the learner's function)."""
    return np.random.default_rng(8).permutation(y.size) * 0.7 - 2.0


@_needs_answer
def check_top3(answer, logits, class_names) -> Feedback:
    """``answer``: a function ``top3(logits)`` that returns the names of the three most likely classes, most
    likely first. It is tried on ``logits`` and on a second logit vector, so names copied from a figure
    cannot pass. (A list of names is read as the answer for ``logits`` alone, and refused.)"""
    y = np.asarray(logits, np.float64).ravel()
    names = list(class_names)

    def top(v):
        return [names[i] for i in np.argsort(v)[::-1][:3]]

    if not callable(answer):
        got = list(answer) if not isinstance(answer, str) else [answer]
        return Feedback(False, ("these are the right three names for this photo, " if got == top(y) else "") +
                        "but the exercise asks for a function: def my_top3(logits): return [...], so the check "
                        "can try it on other logits too.")
    for n, v in enumerate([y, _second_logits(y)]):
        out = _call(answer, v.copy())
        got = list(out) if not isinstance(out, str) else [out]
        want = top(v)
        if got == want:
            continue
        where = "" if n == 0 else "right for this photo, but not for another logit vector: "
        if got == [names[i] for i in np.argsort(v)[:3]]:
            return Feedback(False, where + "these are the three *least* likely: sort in descending order "
                                           "(np.argsort(...)[::-1]).")
        if sorted(map(str, got)) == sorted(want):
            return Feedback(False, where + "the right three classes, in the wrong order: most likely first.")
        if got and all(isinstance(g, (int, np.integer)) for g in got):
            return Feedback(False, where + "these are class indices; turn them into names with names[i].")
        return Feedback(False, where + f"the three largest logits are {want}, your function gave {got[:5]}.")
    return Feedback(True, "The softmax keeps the order of the logits, so the top 3 can be read off the logits.")


def _centre(img: np.ndarray) -> tuple[int, int, int]:
    h, w = img.shape[:2]
    side = min(h, w)
    return side, (h - side) // 2, (w - side) // 2


@_needs_answer
def check_centre_crop(answer, image) -> Feedback:
    """``answer``: a function ``crop(img)`` that cuts the largest square from the centre of an image
    ``(H, W, 3)``. It is tried on ``image`` and on a second image of another shape (``image`` with rows and
    columns swapped, a few columns cut: a wide photo becomes a tall one), so a slice typed in for one photo
    cannot pass. (An array is read as the crop of ``image`` alone, and refused.)"""
    img = np.asarray(image)
    other = np.ascontiguousarray(np.swapaxes(img, 0, 1)[:, :-3])
    if not callable(answer):
        side, top, left = _centre(img)
        right = np.array_equal(np.asarray(answer), img[top:top + side, left:left + side])
        return Feedback(False, ("this is the right square of this photo, " if right else "") +
                        "but the exercise asks for a function: def my_centre_square(img): ..., so the check can "
                        "try it on a photo of another shape too.")
    for n, im in enumerate([img, other]):
        got = np.asarray(_call(answer, im.copy()))
        h, w = im.shape[:2]
        side, top, left = _centre(im)
        if got.shape[:2] == (side, side) and np.array_equal(got, im[top:top + side, left:left + side]):
            continue
        kind = "tall" if h > w else "wide" if w > h else "square"
        what = f"{'the' if n == 0 else 'a'} {kind} photo ({h} x {w})"
        where = "" if n == 0 else "right for the photo above, but not for another shape: "
        if got.ndim < 2:
            return Feedback(False, f"{where}for {what} your function returned shape {got.shape}, not an image.")
        if np.array_equal(got, im[left:left + side, top:top + side]):
            return Feedback(False, f"{where}for {what} the row and column offsets are swapped: rows start at "
                                   "(H - side) // 2, columns at (W - side) // 2.")
        if np.array_equal(got, im[:side, :side]):
            return Feedback(False, f"{where}for {what} the square starts at the top-left corner; centre it: "
                                   "start at ((H - side) // 2, (W - side) // 2).")
        if got.shape[:2] != (side, side):
            return Feedback(False, f"{where}for {what} the crop is {got.shape[0]} x {got.shape[1]}; the largest "
                                   f"square is {side} x {side}: side = the shorter of H and W, and both the rows "
                                   "and the columns are cut around the centre.")
        return Feedback(False, f"{where}for {what} the pixels differ from the centre square.")
    side, top, left = _centre(img)
    return Feedback(True, f"rows {top}:{top + side}, columns {left}:{left + side} of the photo, and the same rule "
                          "for a photo of another shape: the centre square.")


# ---------------------------------------------------------------- 09 when explanations go wrong

@_needs_answer
def check_binary_alpha(alpha, kernel, Z: int, p: float) -> Feedback:
    """``alpha``: the Grad-CAM weights (K,) for class 0 of a binary model p = sigmoid(z) with
    z = GAP(A) @ kernel + b, at a layer of ``Z`` positions. ``kernel``: (K, 1); ``p``: the image's sigmoid output.

    Class 1 is scored by the logit z, class 0 by -z, so alpha = -kernel[:, 0] / Z.
    """
    got = _array(alpha, "alpha")
    w = np.asarray(kernel, np.float64).reshape(-1)
    want = -w / Z
    if got.shape == (w.size, 1):
        return Feedback(False, f"alpha has shape {got.shape}: one weight per feature map is a vector "
                               f"({w.size},); take the kernel's only column, kernel[:, 0].")
    if (hint := _shape_hint(got, want, "alpha")) is not None:
        return hint
    if _close(got, want):
        return Feedback(True, "class 0 is scored by -z, so every gradient flips its sign: alpha = -w / Z, the "
                              "mirror image of class 1's weights. Its map shows where the features that speak "
                              "against class 1 are.")
    if _close(got, -want):
        return Feedback(False, "these are the weights of class 1, +w / Z. Class 0 is scored by -z: the sign "
                               "flips.")
    if _close(got, -w) or _close(got, w):
        return Feedback(False, f"divide by Z = {Z}: GAP averages each feature map over its Z positions, so "
                               "dz/dA^k_ij = w_k / Z.")
    slope = p * (1 - p)
    if slope > 0 and (_close(got, slope * want) or _close(got, -slope * want)):
        return Feedback(False, f"you differentiated the probability 1 - p: its slope p (1 - p) = {slope:.3g} "
                               "shrinks every weight, towards 0 on confident images. Grad-CAM scores the logit: "
                               "-z for class 0.")
    return Feedback(False, "the values differ from -kernel[:, 0] / Z: write the score of class 0 as -z, "
                           "then differentiate it through GAP and the Dense layer.")


def _bgr01_batch() -> np.ndarray:
    """Two small BGR images with values 0-1, not square, so that swapped axes show."""
    return np.random.default_rng(9).uniform(0.0, 1.0, (2, 5, 7, 3))


@_needs_answer
def check_preprocessing_fix(fix) -> Feedback:
    """``fix``: a function from a batch of BGR images with values 0-1 (N, H, W, 3), as OpenCV loads them and
    scales many pipelines, to what the course model takes: RGB, 0-255. Tried on a batch of its own."""
    if not callable(fix):
        raise AnswerTypeError(f"my_fix should be a function of the images (def my_fix(images): return ...), "
                              f"got {type(fix).__name__}.")
    x = _bgr01_batch()
    got = _array(_call(fix, x.copy()), "my_fix(images)")
    want = x[..., ::-1] * 255.0
    if (hint := _shape_hint(got, want, "my_fix(images)")) is not None:
        return hint
    if np.allclose(got, want, atol=1e-4):
        return Feedback(True, "reverse the channel axis (BGR -> RGB) and scale 0-1 to 0-255: the model's "
                              "Normalization layer then sees what it saw in training.")
    if np.allclose(got, want, atol=1.0):
        return Feedback(True, "BGR -> RGB and 0-255, rounded to whole numbers: what an image file holds.")
    if np.allclose(got, x * 255.0, atol=1.0):
        return Feedback(False, "the values are 0-255 now, but the channels are still B, G, R: reverse the last "
                               "axis, images[..., ::-1].")
    if np.allclose(got, x[..., ::-1], atol=1e-4):
        return Feedback(False, "RGB now, but the values are still 0-1; the course model takes 0-255 (it "
                               "normalises them itself): multiply by 255.")
    if np.allclose(got, x[..., ::-1] / 255.0, atol=1e-6):
        return Feedback(False, "you divided by 255: the images are 0-1 already and the model wants 0-255, "
                               "so multiply.")
    for axis, name in ((0, "the order of the images"), (1, "the rows (upside down)"), (2, "the columns (a mirror image)")):
        if np.allclose(got, np.flip(x, axis) * 255.0, atol=1.0):
            return Feedback(False, f"you reversed {name}, not the channels: the channels are the last axis, "
                                   "images[..., ::-1].")
    return Feedback(False, "the values differ from images[..., ::-1] * 255 on a test batch.")


def _overshooting_map() -> np.ndarray:
    """A heat map as bicubic upsampling leaves it: small values, 1.0, and a little over 1 and under 0."""
    return np.array([[0.0, 0.002, 0.3, 0.5], [0.999, 1.0, 1.04, -0.03]])


@_needs_answer
def check_to_uint8(to_uint8) -> Feedback:
    """``to_uint8``: a function from a float heat map (meant to be in [0, 1]; after bicubic upsampling a
    little over 1 or under 0 in places) to a uint8 image 0-255 for a PNG. Tried on a map of its own."""
    if not callable(to_uint8):
        raise AnswerTypeError(f"my_to_uint8 should be a function of the map (def my_to_uint8(m): return ...), "
                              f"got {type(to_uint8).__name__}.")
    m = _overshooting_map()
    raw = _call(to_uint8, m.copy())
    got = _array(raw, "my_to_uint8(m)")
    want = np.round(np.clip(m, 0.0, 1.0) * 255.0)
    if (hint := _shape_hint(got, want, "my_to_uint8(m)")) is not None:
        return hint
    wrapped = (m * 255.0).astype(np.uint8)
    if np.abs(got - want).max() <= 1.0:
        if np.asarray(raw).dtype != np.uint8:
            return Feedback(False, f"the values are right, but the dtype is {np.asarray(raw).dtype}: a PNG needs "
                                   "uint8, so finish with .astype(np.uint8).")
        return Feedback(True, "clip to [0, 1], scale by 255, then cast: small values keep their levels, and "
                              "values a little outside [0, 1] saturate instead of wrapping around.")
    if np.array_equal(got, m.astype(np.uint8)):
        return Feedback(False, "the cast truncates: every value below 1 became 0 and only the peak survives. "
                               "Scale to 0-255 before casting.")
    outside = (m < 0) | (m > 1)
    if np.abs(got - want)[~outside].max() <= 1.0 or np.array_equal(got, wrapped):
        return Feedback(False, f"values outside [0, 1] wrapped around: 1.04 * 255 = 265 became {wrapped[1, 2]} "
                               f"and -0.03 * 255 became {wrapped[1, 3]}. Clip to [0, 1] (np.clip) before scaling.")
    if np.array_equal(got, (np.clip(m, 0, 1) * 256).astype(np.uint8)):
        return Feedback(False, "1.0 * 256 = 256 does not fit in a uint8 and wraps to 0: the peak goes black. "
                               "Multiply by 255.")
    return Feedback(False, "the values differ from np.round(np.clip(m, 0, 1) * 255).astype(np.uint8).")


# ---------------------------------------------------------------- 10 beyond Grad-CAM

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
def check_cam_relatives(answer, equal, candidates=CAM_RELATIVES) -> Feedback:
    """A "predict, then check" question of notebook 10: which of ``candidates`` give CAM's map (after scaling)
    at the last layer of a GAP -> Dense model? ``answer``: the learner's names (a set, list or tuple; one name
    as a string is accepted); ``equal``: the names the notebook's code found equal to CAM."""
    if isinstance(answer, str):
        answer = [answer]
    try:
        got = {str(a).strip() for a in answer}
    except TypeError:
        raise AnswerTypeError(f"my_prediction should be a set of method names such as {{'{candidates[0]}'}}, "
                              f"got {type(answer).__name__}.") from None
    lower = {c.lower(): c for c in candidates}
    unknown = sorted(a for a in got if a.lower() not in lower)
    if unknown:
        return Feedback(False, f"{', '.join(map(repr, unknown))} is not one of the four: "
                               f"{', '.join(map(repr, candidates))}. Write a set of their names, e.g. "
                               f"{{'{candidates[1]}'}}, or set() for none.")
    got = {lower[a.lower()] for a in got}
    equal = set(equal)
    if got == equal:
        same = " and ".join(sorted(equal)) if equal else "none of them"
        return Feedback(True, f"{same}: at the last layer every gradient of y^c is w_k / Z, the same at every "
                              "position, so whatever averages or multiplies it without dropping its sign gives "
                              "CAM / Z. LayerCAM and Grad-CAM++ keep only positive gradients, and Grad-CAM++ also "
                              "reweighs each map by its total activation.")
    wrong_in = sorted(got - equal)
    missed = sorted(equal - got)
    if wrong_in:
        return Feedback(False, f"{wrong_in[0]} is not the same as CAM here. " + _RELATIVE_HINTS.get(wrong_in[0], ""))
    return Feedback(False, f"you left out {missed[0]}, which does equal CAM here. " + _RELATIVE_HINTS.get(missed[0], ""))


def _pp_reference(A: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Grad-CAM++'s map weights at a GAP -> Dense head: ReLU(w_k) / (2 + mean(A^k) w_k)."""
    m = A.mean(axis=(0, 1))
    return np.where(w > 0, w / np.where(w > 0, 2 + m * w, 1.0), 0.0)


@_needs_answer
def check_pp_weights(answer, A, w) -> Feedback:
    """``answer``: a function ``pp_weights(A, w)`` that gives Grad-CAM++'s map weights (K,) at a layer that
    feeds GAP -> Dense, from the feature maps ``A`` (h, w, K) of one image and the class's Dense weights ``w``
    (K,) only (no gradients): with g^k_ij = w_k / Z the weights are ReLU(w_k) / (2 + mean_ij(A^k_ij) w_k).
    Tried on (``A``, ``w``) and on a second, random input, so numbers copied from an output cannot pass."""
    if not callable(answer):
        return Feedback(False, "the exercise asks for a function: def my_pp_weights(A, w): ... return the K "
                               "weights, so the check can try it on another layer's maps too.")
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
            return Feedback(False, where + f"your function returned shape {got.shape}, expected {want.shape}: one "
                                           "weight per feature map.")
        if _close(got, want):
            continue
        pos = v > 0
        m, S = a.mean(axis=(0, 1)), a.sum(axis=(0, 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            candidates = [
                (np.where(pos, v / 2, 0.0), "you dropped the S_k g^3 term of the denominator. With g = w_k / Z, "
                 "a = g^2 / (2 g^2 + S_k g^3) = 1 / (2 + S_k g), and S_k g = (Z mean(A^k)) (w_k / Z) is not small."),
                (np.where(pos, v / (2 + S * v), 0.0), "S_k g = S_k w_k / Z: you kept the sum S_k but forgot the 1/Z of "
                 "the gradient. S_k / Z is the mean of A^k."),
                (v / (2 + m * v), "keep only the positive gradients: Grad-CAM++ sums a ReLU(g), so a map with w_k <= 0 "
                 "gets weight 0."),
                (v / Z, "this is Grad-CAM's alpha, w_k / Z. Grad-CAM++ weighs each position by a^k_ij first."),
                (np.where(pos, v / (2 + m * v), 0.0) / Z, "you took one position's term a ReLU(g); the weight sums it "
                 "over all Z positions (Z a ReLU(w_k / Z) = ReLU(w_k) a)."),
            ]
        for wrong, hint in candidates:
            if np.all(np.isfinite(wrong)) and _close(got, wrong):
                return Feedback(False, where + hint)
        return Feedback(False, where + "the values differ from Grad-CAM++'s weights. Put g^k_ij = w_k / Z into "
                                       "a = g^2 / (2 g^2 + S_k g^3) and w_k^{++} = sum_ij a ReLU(g), with "
                                       "S_k = sum_ij A^k_ij.")
    return Feedback(True, "with g = w_k / Z: a = 1 / (2 + mean(A^k) w_k) at every position, and summing "
                          "a ReLU(w_k / Z) over the Z positions gives ReLU(w_k) / (2 + mean(A^k) w_k). Compared "
                          "with CAM's w_k, a map is damped the more, the larger mean(A^k) w_k, and negative weights "
                          "vanish.")

