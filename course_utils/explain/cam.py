"""Class activation maps: CAM and the gradient CAM family on one layer's feature maps A (``takes_layer``).

:class:`CAM` weighs A^k by the Dense head's w_k^c; :class:`GradCAM`, :class:`GradCAMPlusPlus`, :class:`XGradCAM`,
:class:`HiResCAM` and :class:`LayerCAM` combine A with dy^c/dA from one backward pass (each writes only its
``_combine``); :class:`EigenCAM` projects A on its first principal component (no gradient, no class). On a GAP ->
linear head, dy^c/dA^k_ij = w_k^c / Z at every position, so HiResCAM, XGrad-CAM and Grad-CAM equal CAM there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..validation import CourseValueError
from .base import Computed, Explanation, _Explainer, normalize_maps
from .graph import _consumers, _layer_name, _layer_output, _resolve_layer, _tf
from .inputs import PIXELS, ValueRange, _flag

if TYPE_CHECKING:
    import keras

__all__ = ["CAM", "EigenCAM", "GradCAM", "GradCAMPlusPlus", "HiResCAM", "LayerCAM", "XGradCAM"]


class _MapExplainer(_Explainer):
    """Base of CAM and Grad-CAM: weights over the K feature maps of one layer."""

    takes_layer = True

    def __init__(
        self,
        model: keras.Model,
        layer: str | None = None,
        *,
        upsample: bool = True,
        normalize: bool = True,
        relu: bool = True,
        value_range: ValueRange = PIXELS,
    ):
        _layer_name(layer)
        upsample, normalize, relu = _flag(upsample, "upsample"), _flag(normalize, "normalize"), _flag(relu, "relu")
        super().__init__(model, value_range=value_range)
        import keras

        self.layer = _resolve_layer(model, layer)
        self.upsample, self.normalize, self.relu = upsample, normalize, relu
        self._features = keras.Model(
            model.inputs,
            [_layer_output(model, model.get_layer(self.layer)), self._logit_tensor],
            name=f"{model.name}_{self.layer}_and_scores",
        )
        self._built()

    def _built(self) -> None:
        """What a method checks or derives once its layer is known (CAM: the Dense head after it)."""

    def _finish(self, cam, x):
        """(N, h, w) raw weighted sums -> the maps the options ask for; x gives the size to upsample to."""
        tf = _tf()
        if self.relu:
            cam = tf.nn.relu(cam)
        if self.upsample:
            cam = tf.image.resize(cam[..., None], tf.shape(x)[1:3], method="bilinear")[..., 0]
        if self.normalize:
            cam = normalize_maps(cam, signed=not self.relu)
        return cam

    def _extra(self) -> dict:
        return {"layer": self.layer, "scores": self.scores}

    def _empty_reason(self, ex: Explanation) -> str:
        A = ex.feature_maps
        if A is not None and not np.asarray(A).any():
            return (
                f"The feature maps of layer {self.layer!r} are all zero on these images (no unit responds), so "
                "any weighted sum of them is 0. Try an earlier layer or another image."
            )
        if self.relu:
            against = getattr(self, "counterfactual", False)
            return (
                f"At layer {self.layer!r} the weighted sum of the feature maps is <= 0 at every position: the "
                f"class has no evidence {'against' if against else 'for'} it there, and the final ReLU keeps "
                "only positive values. That is an answer, not a failure: relu=False shows the whole signed map; "
                "another layer or class may show evidence."
            )
        return (
            f"At layer {self.layer!r} the weighted sum of the feature maps is exactly 0 at every position: the "
            "class score does not depend on this layer's features here."
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model.name!r}, layer={self.layer!r}, upsample={self.upsample}, "
            f"normalize={self.normalize}, relu={self.relu}, value_range={self.value_range})"
        )


class _GradientCAM(_MapExplainer):
    """Base of Grad-CAM and its relatives, which combine A and dy^c/dA of one layer (one backward pass);
    ``counterfactual`` (Grad-CAM's option) negates the gradients first."""

    def _combine(self, A, grads):  # pragma: no cover - abstract
        """(N, h, w, K) feature maps and gradients -> ``(weights (N, K) or None, map (N, h, w))``."""
        raise NotImplementedError

    def _body(self, x, cls, target=None) -> Computed:
        tf = _tf()
        with tf.GradientTape() as tape:
            A, t = self._features(x, training=False)
            tape.watch(A)
            logits = self._logits(t)
            cls, score = self._score(logits, cls, target)
        grads = tape.gradient(score, A)  # each score depends only on its own image: one pass for all
        if getattr(self, "counterfactual", False):
            grads = -grads
        weights, cam = self._combine(A, grads)
        return Computed(cls, logits, score, self._finish(cam, x), A, weights, grads)


class GradCAM(_GradientCAM):
    """Grad-CAM (Selvaraju et al., 2017): L^c = ReLU(sum_k alpha_k^c A^k), alpha_k^c = mean_ij dy^c/dA^k_ij.

    Args:
        model: a Keras 3 functional or Sequential model with one image input and class scores out.
        layer: the layer whose output is A; None picks the last one with a spatial output
            (see :func:`conv_layers`). A layer inside a nested base model is refused with an
            explanation; the nested model itself can be chosen.
        upsample: resize the (h, w) map to the input size (bilinear); False keeps feature-map resolution.
        normalize: divide each map by its maximum (by its largest |value| if ``relu=False``), so maps are
            in [0, 1] ([-1, 1]); an all-zero map stays zero.
        relu: apply the final ReLU, which keeps only the evidence *for* the class. False shows the
            negative regions too (they speak for other classes).
        counterfactual: negate the gradients (Selvaraju et al., section 5): regions whose removal would
            make the model more confident in the class, i.e. the evidence against it.
        value_range: the range images must lie in ((0, 255) for the course model); None skips the check.

    The score is always the logit y^c. If the model ends in a softmax (a ``Softmax`` or
    ``Activation('softmax')`` layer, or a Dense with ``activation='softmax'``), the explainer reads the
    tensor before the softmax and never changes the model. Why not the probability p^c: its size is not
    the issue (maps are scaled to [0, 1]); its meaning is. The softmax gives
    dp^c/dA = p^c (dy^c/dA - sum_j p^j dy^j/dA), so for a GAP -> Dense head (dy^j/dA^k_ij = w_k^j / Z) the
    weights become (p^c / Z) sum_{j != c} p^j (w^c - w^j): a map of class c *against* the other classes,
    weighted by their probabilities, not of the evidence for c. And in float32 a saturated probability
    breaks: once p^c rounds to exactly 1, the w^c term is lost (1 - p^c = 0) and only -sum_j p^j w^j is
    left; once the other p^j underflow to 0 too, every gradient is 0 and the map is empty (notebook 05).
    """

    name = "Grad-CAM"

    def __init__(
        self, model: keras.Model, layer: str | None = None, *, counterfactual: bool = False, **options: Any
    ) -> None:
        counterfactual = _flag(counterfactual, "counterfactual")
        super().__init__(model, layer, **options)  # upsample, normalize, relu, value_range: as every CAM
        self.counterfactual = counterfactual

    def _combine(self, A, grads):
        tf = _tf()
        alpha = tf.reduce_mean(grads, axis=(1, 2))  # (N, K)
        return alpha, tf.einsum("nhwk,nk->nhw", A, alpha)


class CAM(_MapExplainer):
    """Class activation mapping (Zhou et al., 2016): CAM^c = sum_k w_k^c A^k, no gradients.

    ``w`` is the kernel of the Dense layer after GlobalAveragePooling2D, so CAM only exists when the chosen
    layer feeds ``GlobalAveragePooling2D -> Dense`` directly (the model's own head, optionally followed by a
    softmax). Anything else raises a ValueError that suggests :class:`GradCAM`, which needs no such head.
    The options are those of :class:`GradCAM` (``relu`` keeps the positive evidence, as in Grad-CAM, so the
    two can be compared map for map).
    """

    name = "CAM"
    takes_target = False
    _no_target = (
        "its weights are the Dense kernel's column of one class, w^c. For a difference of classes, "
        "subtract their maps (relu=False, normalize=False): CAM is linear in w."
    )

    def _built(self) -> None:
        self.dense = self._find_head()

    def _find_head(self):
        import keras

        layer = self.model.get_layer(self.layer)
        consumers = _consumers(self.model, _layer_output(self.model, layer))
        feeds = ", ".join(f"{type(c).__name__} ({c.name!r})" for c, _ in consumers) or "nothing"
        hint = (
            f"CAM needs the chosen layer to feed GlobalAveragePooling2D -> Dense; {self.layer!r} feeds "
            f"{feeds}. Use GradCAM instead (it works on any layer), or change the model's head to "
            "GlobalAveragePooling2D -> Dense and retrain it."
        )
        if len(consumers) != 1 or not isinstance(consumers[0][0], keras.layers.GlobalAveragePooling2D):
            raise CourseValueError(hint)
        out = consumers[0][1]
        while True:
            nxt = _consumers(self.model, out)
            if len(nxt) == 1 and isinstance(nxt[0][0], keras.layers.Dropout):
                out = nxt[0][1]
                continue
            break
        if len(nxt) != 1 or not isinstance(nxt[0][0], keras.layers.Dense):
            feeds = ", ".join(f"{type(c).__name__} ({c.name!r})" for c, _ in nxt) or "nothing"
            raise CourseValueError(
                f"CAM needs GlobalAveragePooling2D -> Dense; after the pooling comes {feeds}. "
                "Use GradCAM instead, or make the head GlobalAveragePooling2D -> Dense and retrain."
            )
        dense, dense_out = nxt[0]
        head = self._head
        if not (dense is head.dense or (head.direct and dense_out is head.tensor)):
            raise CourseValueError(
                f"CAM needs the Dense after the pooling ({dense.name!r}) to produce the class "
                "scores; here more layers follow it. Use GradCAM instead."
            )
        return dense

    def _class_kernel(self):
        """(K, num_classes); for a binary model with one output z, class 0 gets -w and class 1 gets w."""
        kernel = self.dense.kernel
        return _tf().concat([-kernel, kernel], axis=1) if self._head.binary else kernel

    @property
    def class_weights(self) -> np.ndarray:
        """w, the (K, num_classes) kernel of the Dense head: w[k, c] = w_k^c."""
        return np.asarray(self._class_kernel())

    def _body(self, x, cls, target=None) -> Computed:
        tf = _tf()
        A, t = self._features(x, training=False)
        logits = self._logits(t)
        cls, score = self._pick(logits, cls)
        w = tf.gather(tf.transpose(self._class_kernel()), cls)  # (N, K): w_k^c for each image's class
        cam = tf.einsum("nhwk,nk->nhw", A, w)
        return Computed(cls, logits, score, self._finish(cam, x), A, w)


class GradCAMPlusPlus(_GradientCAM):
    """Grad-CAM++ (Chattopadhay et al., 2018): a weighted average of the positive gradients per map.

    With g = dy^c/dA and S_k = sum_ij A^k_ij, the pixel weights are
    ``a^k_ij = g^2 / (2 g^2 + S_k g^3)`` (0 where g = 0), the map weights
    ``w_k = sum_ij a^k_ij ReLU(g^k_ij)`` and the map ``ReLU(sum_k w_k A^k)``. The paper scores exp(y^c) so
    that the second and third derivatives are powers of g for a piecewise-linear network; exp(y^c) is one
    factor per image and vanishes when the map is scaled, so it is left out. tf-keras-vis also divides
    a^k_ij by its sum over i, j (not in the paper); pytorch-grad-cam follows the paper, as this does.
    Options as :class:`GradCAM`.
    """

    name = "Grad-CAM++"

    def _combine(self, A, grads):
        tf = _tf()
        g2 = grads * grads
        S = tf.reduce_sum(A, axis=(1, 2), keepdims=True)
        denom = 2.0 * g2 + S * g2 * grads
        a = tf.where(grads != 0, g2 / tf.where(denom != 0, denom, tf.ones_like(denom)), tf.zeros_like(g2))
        w = tf.reduce_sum(a * tf.nn.relu(grads), axis=(1, 2))
        return w, tf.einsum("nhwk,nk->nhw", A, w)


class LayerCAM(_GradientCAM):
    """LayerCAM (Jiang et al., 2021): each position weighted by its own positive gradient,
    ``ReLU(sum_k ReLU(g^k_ij) A^k_ij)``. No averaging over positions, so it stays sharp at early layers.
    ``weights`` is None (the weights are per position: ``explain().gradients``)."""

    name = "LayerCAM"

    def _combine(self, A, grads):
        tf = _tf()
        return None, tf.reduce_sum(tf.nn.relu(grads) * A, axis=-1)


class HiResCAM(_GradientCAM):
    """HiResCAM (Draelos & Carin, 2020): ``ReLU(sum_k g^k_ij A^k_ij)``, the gradient times the feature map
    position by position (Grad-CAM averages the gradient first). For a head that is linear in A the map
    before the ReLU (``relu=False``), summed over positions, is exactly y^c minus the bias: it shows what the
    model computed, nothing averaged away."""

    name = "HiResCAM"

    def _combine(self, A, grads):
        tf = _tf()
        return None, tf.reduce_sum(grads * A, axis=-1)


class XGradCAM(_GradientCAM):
    """XGrad-CAM (Fu et al., 2020): map weights ``w_k = sum_ij (A^k_ij / sum_ab A^k_ab) g^k_ij``, the
    gradient averaged with the map's own activations as weights (Grad-CAM averages it uniformly)."""

    name = "XGrad-CAM"

    def _combine(self, A, grads):
        tf = _tf()
        total = tf.reduce_sum(A, axis=(1, 2))
        w = tf.math.divide_no_nan(tf.reduce_sum(A * grads, axis=(1, 2)), total)
        return w, tf.einsum("nhwk,nk->nhw", A, w)


class EigenCAM(_MapExplainer):
    """Eigen-CAM (Muhammad & Yeasin, 2020): the feature maps projected on their first principal component.

    A (h*w positions x K maps) is centred per map and decomposed by SVD; the map is the projection of each
    position on the first right singular vector, whose sign is chosen so that the map correlates positively
    with sum_k A^k (SVD leaves the sign free). No gradients and **no class**: ``class_index`` only picks
    the logit reported, the map is the same for every class.
    """

    name = "Eigen-CAM"
    takes_target = False
    _no_target = "its map has no class: it is the first principal component of the feature maps."

    def _body(self, x, cls, target=None) -> Computed:
        tf = _tf()
        A, t = self._features(x, training=False)
        logits = self._logits(t)
        cls, score = self._pick(logits, cls)
        n, h, w, k = tf.unstack(tf.shape(A))
        flat = tf.reshape(A, (n, h * w, k))
        centred = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
        _, _, v = tf.linalg.svd(centred)
        v0 = v[..., 0]  # (N, K)
        proj = tf.einsum("npk,nk->np", centred, v0)
        total = tf.reduce_sum(flat, axis=-1)
        total = total - tf.reduce_mean(total, axis=1, keepdims=True)
        sign = tf.where(tf.reduce_sum(proj * total, axis=1) < 0, -1.0, 1.0)
        cam = tf.reshape(proj * sign[:, None], (n, h, w))
        return Computed(cls, logits, score, self._finish(cam, x), A, v0 * sign[:, None])

    def _empty_reason(self, ex: Explanation) -> str:
        return (
            f"The feature maps of layer {self.layer!r} vary along no direction that is positive anywhere: they "
            "are constant over the image (a flat image, or units that do not respond), so their principal "
            f"component{' is <= 0 everywhere after the ReLU' if self.relu else ' is 0'}. Try another layer "
            "or image."
        )
