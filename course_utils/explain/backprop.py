"""Backpropagation to the pixels: the vanilla gradient, guided backpropagation and guided Grad-CAM.

Each returns signed ``(N, H, W, C)`` maps, one value per pixel and channel. Guided backpropagation runs on a
clone of the model whose ReLUs pass gradients back only where both the forward input and the incoming gradient
are positive (Springenberg et al., 2015; :func:`~course_utils.explain.copies.make_guided_model`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .base import Computed, Explanation, _Explainer, normalize_maps
from .cam import GradCAM
from .copies import make_guided_model
from .graph import _layer_name, _logit_head, _tf
from .inputs import PIXELS, ValueRange, _flag

if TYPE_CHECKING:
    import keras

__all__ = ["GuidedBackprop", "GuidedGradCAM", "VanillaGradient"]


class VanillaGradient(_Explainer):
    """The plain gradient of the class score with respect to the input pixels (Simonyan et al., 2014).

    Returns signed gradients ``(N, H, W, C)``; ``normalize=True`` divides each by its largest |value|.
    """

    name = "vanilla gradient"

    def __init__(self, model: keras.Model, *, normalize: bool = False, value_range: ValueRange = PIXELS) -> None:
        normalize = _flag(normalize, "normalize")
        super().__init__(model, value_range=value_range)
        self.normalize = normalize
        self._use_network(model)

    def _use_network(self, net) -> None:
        """Differentiate through ``net`` (the model, or its guided clone), scoring its logits."""
        import keras

        self._score_head = head = _logit_head(net)
        self._score_net = net if head.tensor is net.outputs[0] else keras.Model(net.inputs, head.tensor)

    def _body(self, x, cls, target=None) -> Computed:
        tf = _tf()
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = self._score_head.scores(self._score_net(x, training=False))
            cls, score = self._score(logits, cls, target)
        g = tape.gradient(score, x)
        if self.normalize:
            g = normalize_maps(g, signed=True)
        return Computed(cls, logits, score, maps=g)

    def _explain(self, images, class_index, target) -> Explanation:
        ex = super()._explain(images, class_index, target)
        ex.gradients = ex.maps  # the maps are the gradients dy^c/dx
        return ex


class GuidedBackprop(VanillaGradient):
    """Guided backpropagation (Springenberg et al., 2015) on a clone of the model with guided ReLUs.

    Returns signed gradients ``(N, H, W, C)``. ``replaced`` says how many ReLUs were made guided.
    """

    name = "guided backpropagation"

    def __init__(self, model: keras.Model, *, normalize: bool = False, value_range: ValueRange = PIXELS) -> None:
        super().__init__(model, normalize=normalize, value_range=value_range)
        self.guided_model, self.replaced = make_guided_model(model)
        self._use_network(self.guided_model)

    def _empty_reason(self, ex: Explanation) -> str:
        return (
            "Guided backpropagation passes a gradient back only where it is positive and the ReLU's input is "
            "positive; here none reached the input (no positive evidence for the class on any path, or every "
            "ReLU is off). Try another class or image; VanillaGradient shows the plain gradient."
        )

    def __repr__(self) -> str:
        return f"GuidedBackprop(model={self.model.name!r}, replaced={self.replaced} ReLUs)"


class GuidedGradCAM(_Explainer):
    """Guided Grad-CAM: guided backpropagation times the upsampled Grad-CAM map, per pixel and channel.

    Guided backpropagation is sharp but hardly depends on the class; Grad-CAM is class-specific but coarse.
    Their product is both. Returns ``(N, H, W, C)``, normalised to [-1, 1] unless ``normalize=False``.
    """

    name = "guided Grad-CAM"
    takes_layer = True

    def __init__(
        self, model: keras.Model, layer: str | None = None, *, normalize: bool = True, value_range: ValueRange = PIXELS
    ) -> None:
        _layer_name(layer)
        normalize = _flag(normalize, "normalize")
        super().__init__(model, value_range=value_range)
        self.gradcam = GradCAM(model, layer, value_range=value_range)
        self.guided = GuidedBackprop(model, value_range=value_range)
        self.layer, self.replaced, self.normalize = self.gradcam.layer, self.guided.replaced, normalize

    def _body(self, x, cls, target=None) -> Computed:
        cam = self.gradcam._body(x, cls, target)
        g = self.guided._body(x, cam.class_index, target).maps
        out = g * cam.maps[..., None]
        if self.normalize:
            out = normalize_maps(out, signed=True)
        return Computed(cam.class_index, cam.logits, cam.score, maps=out, gradients=g, extra={"gradcam": cam.maps})

    def _extra(self) -> dict:
        return {"layer": self.layer}

    def _empty_reason(self, ex: Explanation) -> str:
        if not np.asarray(ex.extra["gradcam"]).any():
            return (
                f"Its Grad-CAM factor is all zero: at layer {self.layer!r} the class has no positive evidence "
                "(see GradCAM(..., relu=False) for the signed map); another layer or class may show some."
            )
        return self.guided._empty_reason(ex)
