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
    "check_guided_relu",
    "check_guided_gradcam",
    "check_peak",
    "check_centre_surround",
    "check_row_to_image",
    "check_channel_means",
    "check_dense_params",
    "check_l2_penalty",
    "check_tile_of_max",
    "check_auc",
    "check_top3",
    "check_centre_crop",
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
    """``pooled``: the learner's global average pooling of feature maps ``A`` (h, w, K) -> (K,)."""
    got, A = _array(pooled, "pooled"), np.asarray(A, dtype=np.float64)
    want = A.mean(axis=(0, 1))
    if got.shape == (A.shape[0], A.shape[1]):
        return Feedback(False, f"pooled has shape {got.shape}: you averaged over the channels (axis -1). GAP "
                               f"averages each feature map over its positions: axes (0, 1), giving {want.shape}.")
    if (hint := _shape_hint(got, want, "pooled")) is not None:
        return hint
    if _close(got, want):
        return Feedback(True, "Each of the K numbers is the mean of one feature map.")
    if _close(got, A.sum(axis=(0, 1))):
        return Feedback(False, f"these are sums over the {A.shape[0] * A.shape[1]} positions; GAP takes the "
                               "mean (divide by Z = h * w).")
    if _close(got, A.max(axis=(0, 1))):
        return Feedback(False, "this is global *max* pooling; GAP takes the mean of each feature map.")
    return Feedback(False, "the values differ from the mean of each feature map over its h x w positions.")


@_needs_answer
def check_cam(cam, A, w_c) -> Feedback:
    """``cam``: the learner's class activation map (h, w) = sum_k w_c[k] * A[..., k]."""
    got, A, w_c = _array(cam, "cam"), np.asarray(A, np.float64), np.asarray(w_c, np.float64)
    want = np.einsum("hwk,k->hw", A, w_c)
    if got.ndim == 2 and got.shape != want.shape and got.shape[0] > want.shape[0]:
        return Feedback(False, f"cam has shape {got.shape}: compute it at the feature-map resolution "
                               f"{want.shape} first; upsampling comes afterwards.")
    if (hint := _shape_hint(got, want, "cam")) is not None:
        return hint
    if _close(got, want):
        return Feedback(True, "CAM^c = sum_k w_k^c A^k: the class score before averaging, position by position.")
    if _close(got, want / (A.shape[0] * A.shape[1])):
        return Feedback(False, "you divided by Z: that is the class score's share per position. CAM itself "
                               "is the plain weighted sum sum_k w_k^c A^k.")
    if _close(got, np.maximum(want, 0)):
        return Feedback(False, "you applied a ReLU: this exercise asks for the raw weighted sum, negative "
                               "parts included.")
    if _close(got, A.mean(axis=-1)) or _close(got, A.sum(axis=-1)):
        return Feedback(False, "you combined the feature maps without the class weights w_k^c.")
    return Feedback(False, "the values differ from sum_k w_c[k] * A[:, :, k]. Check that you used the "
                           "column of the Dense kernel for the chosen class.")


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
    return Feedback(False, "the values differ from ReLU(sum_k alpha[k] * A[:, :, k]).")


# ---------------------------------------------------------------- 06 guided backpropagation

@_needs_answer
def check_guided_relu(grad_in, x, grad_out) -> Feedback:
    """``grad_in``: the gradient a guided ReLU passes back, given forward input ``x`` and incoming
    gradient ``grad_out`` (same shapes)."""
    got, x, dy = _array(grad_in, "grad_in"), np.asarray(x, np.float64), np.asarray(grad_out, np.float64)
    want = dy * (x > 0) * (dy > 0)
    if (hint := _shape_hint(got, want, "grad_in")) is not None:
        return hint
    if _close(got, want):
        return Feedback(True, "Guided: the gradient passes where the input was positive AND the gradient is positive.")
    if _close(got, dy * (x > 0)):
        return Feedback(False, "that is plain backpropagation: it also lets negative gradients through. "
                               "Guided backpropagation also needs grad_out > 0.")
    if _close(got, dy * (dy > 0)):
        return Feedback(False, "that is the deconvnet rule: it ignores the forward input. Guided "
                               "backpropagation also needs x > 0.")
    return Feedback(False, "compare each entry with the rule: grad_out where x > 0 and grad_out > 0, else 0.")


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


# ---------------------------------------------------------------- 01 saliency and attention

@_needs_answer
def check_peak(answer, saliency) -> Feedback:
    """``answer``: (row, col) of the most salient place of a 2-D ``saliency`` map."""
    s = np.asarray(saliency)
    want = tuple(int(v) for v in np.unravel_index(int(np.argmax(s)), s.shape))
    if isinstance(answer, (int, np.integer)):
        return Feedback(False, f"{int(answer)} is a flat index into the raveled map; turn it into (row, col) "
                               "with np.unravel_index(index, saliency.shape).")
    got = tuple(int(v) for v in np.asarray(answer).ravel())
    if got == want:
        return Feedback(True, f"The winner is at row {want[0]}, column {want[1]}: winner-take-all picked it.")
    if got == want[::-1]:
        return Feedback(False, "row and column are swapped: numpy indexes (row, col), i.e. (y, x).")
    return Feedback(False, f"(row, col) = {got} is not the largest value of the map.")


@_needs_answer
def check_centre_surround(answer, centre, surround) -> Feedback:
    """``answer``: the centre-surround map |centre - surround| (both maps at the centre's resolution)."""
    got, c, s = _array(answer, "answer"), np.asarray(centre, np.float64), np.asarray(surround, np.float64)
    want = np.abs(c - s)
    if (hint := _shape_hint(got, want, "answer")) is not None:
        return hint
    if _close(got, want):
        return Feedback(True, "A place stands out when it differs from its surround, in either direction.")
    if _close(got, c - s) or _close(got, s - c):
        return Feedback(False, "the map has negative values: take the absolute difference, because a dark "
                               "spot on a bright ground stands out as much as a bright one on a dark ground.")
    if _close(got, c) or _close(got, s):
        return Feedback(False, "this is one of the two maps; the feature map is their difference.")
    return Feedback(False, "the values differ from np.abs(centre - surround).")


# ---------------------------------------------------------------- 02 CIFAR-10 on disk

@_needs_answer
def check_row_to_image(answer, row) -> Feedback:
    """``answer``: the 32 x 32 x 3 image rebuilt from one 3,072-value row of a CIFAR-10 batch."""
    got, row = _array(answer, "answer"), np.asarray(row)
    want = row.reshape(3, 32, 32).transpose(1, 2, 0)
    if got.shape == (3, 32, 32):
        return Feedback(False, "the shape is (3, 32, 32): channels first, as stored. Move the channel axis to "
                               "the end with .transpose(1, 2, 0) for (32, 32, 3).")
    if (hint := _shape_hint(got, want.astype(np.float64), "answer")) is not None:
        return hint
    if np.array_equal(got, want):
        return Feedback(True, "Reshape to (3, 32, 32) (R, G, B planes), then put the channels last.")
    if np.array_equal(got, row.reshape(32, 32, 3)):
        return Feedback(False, "reshaping straight to (32, 32, 3) assumes the values are interleaved R, G, B, "
                               "R, G, B...; they are stored as 1,024 reds, then 1,024 greens, then 1,024 blues.")
    if np.array_equal(got, row.reshape(3, 32, 32).transpose(2, 1, 0)):
        return Feedback(False, "rows and columns are swapped (the image is transposed): use .transpose(1, 2, 0).")
    return Feedback(False, "the pixels differ from row.reshape(3, 32, 32).transpose(1, 2, 0).")


@_needs_answer
def check_channel_means(answer, images) -> Feedback:
    """``answer``: the mean of each colour channel over all ``images`` (N, 32, 32, 3), on the 0-1 scale."""
    got, x = _array(answer, "answer"), np.asarray(images)
    want = x.reshape(-1, 3).mean(axis=0) / 255.0
    if got.ndim == 0:
        return Feedback(False, "one number: you averaged over the channels too. Average over images, rows and "
                               "columns only: axis=(0, 1, 2).")
    if (hint := _shape_hint(got, want, "answer")) is not None:
        return hint
    if _close(got, want, rtol=1e-3):
        return Feedback(True, "These are the numbers the model's Normalization layer subtracts.")
    if _close(got, want * 255.0, rtol=1e-3):
        return Feedback(False, "these are on the 0-255 scale; divide by 255 for the 0-1 scale.")
    return Feedback(False, "the values differ from the per-channel means over axis=(0, 1, 2), divided by 255.")


# ---------------------------------------------------------------- 03 a CNN with GAP

@_needs_answer
def check_dense_params(answer, inputs: int, units: int) -> Feedback:
    """``answer``: the number of parameters of a Dense layer with ``inputs`` inputs and ``units`` outputs."""
    got, want = int(answer), inputs * units + units
    if got == want:
        return Feedback(True, f"{inputs} x {units} weights plus {units} biases = {want:,}.")
    if got == inputs * units:
        return Feedback(False, f"you counted the {inputs * units:,} weights; each output unit also has a bias.")
    if got == inputs + units:
        return Feedback(False, "every input connects to every output: multiply, don't add.")
    return Feedback(False, f"{got:,} is not inputs x units + units.")


@_needs_answer
def check_l2_penalty(answer, weights, lam: float) -> Feedback:
    """``answer``: the L2 penalty lam * sum(w**2) over the arrays in ``weights``."""
    got = float(answer)
    sq = sum(float((np.asarray(w, np.float64) ** 2).sum()) for w in weights)
    want = lam * sq
    if np.isclose(got, want, rtol=1e-4):
        return Feedback(True, "lambda times the sum of the squared weights: large weights cost more.")
    if np.isclose(got, sq, rtol=1e-4):
        return Feedback(False, "multiply by lambda, the strength of the penalty.")
    if np.isclose(got, lam * np.sqrt(sq), rtol=1e-4):
        return Feedback(False, "that is lambda times the L2 *norm*; the penalty uses the squared norm, sum(w**2).")
    if np.isclose(got, lam * sum(float(np.abs(np.asarray(w)).sum()) for w in weights), rtol=1e-4):
        return Feedback(False, "that is the L1 penalty (absolute values); L2 squares the weights.")
    return Feedback(False, "the value differs from lam * sum((w ** 2).sum() for w in weights).")


# ---------------------------------------------------------------- 07 evaluating explanations

@_needs_answer
def check_tile_of_max(answer, saliency) -> Feedback:
    """``answer``: the tile (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) of a 2 x 2 mosaic
    in which the maximum of ``saliency`` (2h, 2w) lies."""
    s = np.asarray(saliency)
    r, c = np.unravel_index(int(np.argmax(s)), s.shape)
    half_r, half_c = s.shape[0] // 2, s.shape[1] // 2
    want = int(r >= half_r) * 2 + int(c >= half_c)
    got = int(answer)
    if got == want:
        return Feedback(True, f"The maximum is at (row {r}, col {c}): tile {want}.")
    if got == int(c >= half_c) * 2 + int(r >= half_r):
        return Feedback(False, "rows and columns are swapped: the tile is 2 * (row in bottom half) + (col in right half).")
    return Feedback(False, f"the maximum is at (row {r}, col {c}); which quarter of the {s.shape} map is that?")


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

@_needs_answer
def check_top3(answer, logits, class_names) -> Feedback:
    """``answer``: the names of the three most likely classes, most likely first."""
    y = np.asarray(logits, np.float64).ravel()
    want = [class_names[i] for i in np.argsort(y)[::-1][:3]]
    got = list(answer) if not isinstance(answer, str) else [answer]
    if got == want:
        return Feedback(True, "The softmax keeps the order of the logits, so the top 3 can be read off the logits.")
    if got == [class_names[i] for i in np.argsort(y)[:3]]:
        return Feedback(False, "these are the three *least* likely: sort in descending order (np.argsort(...)[::-1]).")
    if sorted(got) == sorted(want):
        return Feedback(False, "the right three classes, in the wrong order: most likely first.")
    if all(isinstance(g, (int, np.integer)) for g in got):
        return Feedback(False, "these are class indices; turn them into names with class_names[i].")
    return Feedback(False, f"the three largest logits are not {got}.")


@_needs_answer
def check_centre_crop(answer, image) -> Feedback:
    """``answer``: the largest square cut from the centre of ``image`` (H, W, 3)."""
    got, img = np.asarray(answer), np.asarray(image)
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    want = img[top:top + side, left:left + side]
    if got.shape[:2] != (side, side):
        return Feedback(False, f"the crop is {got.shape[:2]}; the largest square is {side} x {side} "
                               "(the shorter side).")
    if np.array_equal(got, want):
        return Feedback(True, f"rows {top}:{top + side}, columns {left}:{left + side}: the centre square.")
    if np.array_equal(got, img[:side, :side]):
        return Feedback(False, "this square starts at the top-left corner; centre it: start at "
                               "((H - side) // 2, (W - side) // 2).")
    return Feedback(False, "the pixels differ from the centre square of the image.")
