"""Checkers of notebook 06, guided backpropagation: the guided ReLU rule, guided Grad-CAM of a model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    import keras

from ._core import Answer, Feedback, _array, _call, _close, _matches, _needs_answer

__all__ = ["check_guided_gradcam_of", "check_guided_relu"]


def _relu_rules(x: np.ndarray, dy: np.ndarray) -> dict[str, np.ndarray]:
    return {"guided": dy * (x > 0) * (dy > 0), "plain": dy * (x > 0), "deconvnet": dy * (dy > 0)}


@_needs_answer
def check_guided_relu(answer: Answer, x: ArrayLike, grad_out: ArrayLike) -> Feedback:
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
        return Feedback(
            False,
            ("these numbers are right for this x and g_out, " if right else "")
            + "but the exercise asks for a function: def my_guided_rule(x, g_out): return ..., so the "
            "check can try it on other inputs too.",
        )
    for n, (xi, dyi) in enumerate([(x, dy), (x2, dy2)]):
        got = _array(_call(answer, xi.copy(), dyi.copy()), "my_guided_rule(x, g_out)")
        rules = _relu_rules(xi, dyi)
        if _matches(got, rules["guided"], "my_guided_rule(x, g_out)"):
            continue
        where = "" if n == 0 else "right on the example, but not on a second input (shape (4, 5)): "
        if _close(got, rules["plain"]):
            return Feedback(
                False,
                where + "that is plain backpropagation: it also lets negative gradients "
                "through. Guided backpropagation also needs g_out > 0.",
            )
        if _close(got, rules["deconvnet"]):
            return Feedback(
                False,
                where + "that is the deconvnet rule: it ignores the forward input. Guided "
                "backpropagation also needs x > 0.",
            )
        if _close(got, np.maximum(dyi, 0) * np.maximum(xi, 0)):
            return Feedback(
                False,
                where + "this multiplies by the input's value; the rule only asks whether "
                "x > 0: multiply by the mask (x > 0), not by max(x, 0).",
            )
        return Feedback(False, where + "compare each entry with the rule: g_out where x > 0 and g_out > 0, else 0.")
    return Feedback(True, "Guided: the gradient passes where the input was positive AND the gradient is positive.")


def _same_up_to_scale(got: np.ndarray, want: np.ndarray) -> bool:
    """Equal after each is divided by its largest |value| (a normalised answer is as right as a raw one)."""
    if got.shape != want.shape:
        return False
    a, b = np.abs(got).max(), np.abs(want).max()
    if a == 0 or b == 0:
        return a == b
    return _close(got / a, want / b, rtol=1e-3, atol=1e-4)


# long: one message per typical wrong answer (tests/test_exercises.py sends each)
@_needs_answer
def check_guided_gradcam_of(
    answer: Answer, model: keras.Model, image: ArrayLike, class_index: int, layer: str
) -> Feedback:
    """``answer``: guided Grad-CAM ``(H, W, 3)`` of ``image`` (H, W, 3) for class ``class_index``, with its
    Grad-CAM taken at ``layer``: guided backpropagation times the upsampled Grad-CAM map.

    The reference is computed here from ``model`` (so nothing of it is on the learner's screen); an answer
    scaled by a positive factor (normalised) passes too. Typical mistakes get their own hint: the predicted
    class instead of ``class_index``, the default (last) layer instead of ``layer``, a sum instead of the
    product, guided backpropagation alone, a map left at the layer's resolution.
    """
    from .. import explain

    got = _array(answer, "my_ggc")
    x = np.asarray(image, np.float32)
    c = int(class_index)
    gbp = explain.GuidedBackprop(model)
    g = gbp(x, c)[0].astype(np.float64)
    cam = explain.GradCAM(model, layer)(x, c)[0].astype(np.float64)
    want = g * cam[..., None]
    if got.ndim == 2 and got.shape == want.shape[:2]:
        return Feedback(
            False,
            f"your map is {got.shape}, one value per pixel; guided Grad-CAM keeps the three "
            "colour channels of guided backpropagation: multiply by cam[..., None].",
        )
    if got.shape == (1,) + want.shape:
        return Feedback(
            False,
            f"my_ggc has shape {got.shape}: the explainers return a batch of one; take its "
            "only map with [0] (guided backpropagation (1, H, W, 3) -> (H, W, 3)).",
        )
    if got.shape != want.shape:
        small = explain.GradCAM(model, layer, upsample=False)(x, c)[0].shape
        if got.shape[:2] == small:
            return Feedback(
                False,
                f"your map is {got.shape[:2]}, the resolution of layer {layer!r}: upsample "
                "the Grad-CAM map to the image (GradCAM does it by default) before multiplying.",
            )
        return Feedback(False, f"my_ggc has shape {got.shape}, expected {want.shape} (the image's).")
    if _same_up_to_scale(got, want):
        return Feedback(
            True,
            f"Guided Grad-CAM of class {c} at {layer!r}: the same guided-backpropagation edges, "
            "kept where this class's Grad-CAM at this layer is positive.",
        )
    predicted = int(np.argmax(model.predict(x[None], verbose=0)[0]))
    if predicted != c and _same_up_to_scale(
        got, gbp(x, predicted)[0] * explain.GradCAM(model, layer)(x, predicted)[0][..., None]
    ):
        return Feedback(
            False,
            "this is guided Grad-CAM of the *predicted* class; the exercise asks for class "
            f"{c}: pass it as the class_index of both explainers.",
        )
    default = explain.GradCAM(model)
    if default.layer != layer and _same_up_to_scale(got, g * default(x, c)[0][..., None]):
        return Feedback(
            False,
            f"this uses Grad-CAM at the default (last) layer {default.layer!r}; the exercise "
            f"asks for layer {layer!r}: GradCAM(model, {layer!r}).",
        )
    if _same_up_to_scale(got, g + cam[..., None]):
        return Feedback(False, "you added the two maps; guided Grad-CAM multiplies them, pixel by pixel.")
    if _same_up_to_scale(got, g):
        return Feedback(False, "this is guided backpropagation alone: multiply it by the Grad-CAM map.")
    return Feedback(
        False,
        f"the values differ from guided backpropagation of class {c} times Grad-CAM of class "
        f"{c} at {layer!r} (upsampled), cam[..., None].",
    )
