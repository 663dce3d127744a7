"""Perturbation: explanations from forward passes on changed images, no gradient.

:class:`ScoreCAM` masks the image with each upsampled feature map of a layer and weighs the map by the class
probability on the masked image; :class:`Occlusion` slides a patch over the image and records how much the class
score drops. Both send their changed images through the model in large batches.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from ..validation import CourseValueError, describe, finite_number, positive_int
from .base import Computed, Explanation, _Explainer, normalize_maps
from .cam import _MapExplainer
from .copies import _bfloat16_copy
from .graph import _tf
from .inputs import PIXELS, ValueRange, _flag, _in_range, _value_range

if TYPE_CHECKING:
    import keras

__all__ = ["Occlusion", "ScoreCAM"]


class ScoreCAM(_MapExplainer):
    """Score-CAM (Wang et al., 2020): each feature map, upsampled and scaled to [0, 1], masks the image; the
    map's weight is the softmax probability of the class on the masked image.

    ``w_k = softmax(y(x * M_k))_c`` with ``M_k = (up(A^k) - min) / (max - min)``; the map is
    ``ReLU(sum_k w_k A^k)``. A map that is constant on the image masks nothing useful and gets weight 0 (as
    in the authors' code). The masked images run through the model as a few large batches of
    ``batch_size``; ``explain().extra["forward_passes"]`` counts them for the whole batch (one clean pass per
    image comes on top). ``max_channels`` keeps only that many maps with the largest spatial standard deviation
    (tf-keras-vis's ``max_N``; None keeps all K), which divides the cost by K / max_channels.
    ``precision="bfloat16"`` runs the masked passes (only those: the feature maps, the class and the logits
    still come from the float32 model) through a copy of the model that computes in bfloat16 (Keras's
    ``mixed_bfloat16`` policy, the same weights; the layer that makes the scores stays float32). On the machine
    of README's Performance table, a two-core CPU with bfloat16 instructions (``avx512_bf16`` in
    ``/proc/cpuinfo``), that is about 1.8 x faster; without such instructions it may not be faster. On the
    course model the map weights, which are probabilities, then change by a few hundredths at most
    (``extra["precision"]``; appendix A6 measures it). The copy is checked when it is made, on random probe
    images, plain and masked, and refused if its probabilities differ from float32's by more than 0.05.
    Options otherwise as :class:`GradCAM`.
    """

    name = "Score-CAM"
    takes_target = False
    _no_target = "its weights are the softmax probabilities of one class on the masked images."

    def __init__(
        self,
        model: keras.Model,
        layer: str | None = None,
        *,
        batch_size: int = 512,
        max_channels: int | None = None,
        precision: str = "float32",
        upsample: bool = True,
        normalize: bool = True,
        relu: bool = True,
        value_range: ValueRange = PIXELS,
    ):
        batch_size = positive_int(
            batch_size, "batch_size", hint="It is how many masked images go through the model at once."
        )
        max_channels = positive_int(max_channels, "max_channels", allow_none=True)
        if not isinstance(precision, str) or precision not in ("float32", "bfloat16"):
            raise CourseValueError(
                f"precision must be 'float32' or 'bfloat16' (the arithmetic of the masked forward "
                f"passes), got {describe(precision)}."
            )
        super().__init__(model, layer, upsample=upsample, normalize=normalize, relu=relu, value_range=value_range)
        self.batch_size, self.max_channels, self.precision = batch_size, max_channels, precision
        self._masked = (
            self._features
            if precision == "float32"
            else _bfloat16_copy(self._features, self._logits, model.name, value_range)
        )
        self._masks_fn: Any = None
        self._probs_fn: Any = None

    def _masks(self, x):
        tf = _tf()
        A, t = self._features(x, training=False)
        logits = self._logits(t)
        up = tf.image.resize(A, tf.shape(x)[1:3], method="bilinear")  # (N, H, W, K)
        lo = tf.reduce_min(up, axis=(1, 2), keepdims=True)
        hi = tf.reduce_max(up, axis=(1, 2), keepdims=True)
        masks = tf.math.divide_no_nan(up - lo, hi - lo)  # constant map -> all 0
        return A, logits, tf.transpose(masks, (0, 3, 1, 2)), tf.reshape(hi - lo, (tf.shape(A)[0], -1))

    def _probs(self, x, masks, image, channel, cls):
        """p^c of image ``image[b]`` masked by its map ``channel[b]``, for a batch of (image, map) pairs; the
        masking happens inside the compiled graph, so the masked images never pass through numpy."""
        tf = _tf()
        m = tf.gather_nd(masks, tf.stack([image, channel], axis=1))  # (B, H, W)
        xm = tf.gather(x, image) * m[..., None]
        logits = self._logits(tf.cast(self._masked(xm, training=False)[1], tf.float32))
        return tf.gather(tf.nn.softmax(logits), tf.gather(cls, image), axis=1, batch_dims=1)

    def _explain(self, images, class_index, target) -> Explanation:
        tf = _tf()
        x, cls = self._prepare(images, class_index)
        if self._masks_fn is None:
            spec = tf.TensorSpec((None, *self.input_shape), tf.float32)
            ints = tf.TensorSpec((None,), tf.int32)
            self._masks_fn = tf.function(self._masks, input_signature=[spec], reduce_retracing=True)
            self._probs_fn = tf.function(
                self._probs,
                reduce_retracing=True,
                input_signature=[
                    spec,
                    tf.TensorSpec((None, None, *self.input_shape[:2]), tf.float32),
                    ints,
                    ints,
                    ints,
                ],
            )
        x_t = tf.constant(x)
        A, logits, masks, spread = self._masks_fn(x_t)
        A, logits, spread = A.numpy(), logits.numpy(), spread.numpy()
        cls = np.where(cls < 0, logits.argmax(axis=1), cls).astype(np.int32)
        n, K = A.shape[0], A.shape[-1]
        chosen = np.tile(np.arange(K), (n, 1))
        if self.max_channels is not None and self.max_channels < K:
            std = A.reshape(n, -1, K).std(axis=1)
            chosen = np.sort(np.argsort(-std, axis=1, kind="stable")[:, : self.max_channels], axis=1)
        weights = np.zeros((n, K), np.float32)
        image = np.repeat(np.arange(n), chosen.shape[1])
        channel = chosen.ravel()
        keep = spread[image, channel] > 0
        image, channel = image[keep].astype(np.int32), channel[keep].astype(np.int32)
        cls_t = tf.constant(cls)
        for start in range(0, len(image), self.batch_size):
            i, k = image[start : start + self.batch_size], channel[start : start + self.batch_size]
            weights[i, k] = self._probs_fn(x_t, masks, tf.constant(i), tf.constant(k), cls_t).numpy()
        cam = tf.einsum("nhwk,nk->nhw", A, weights)
        maps = self._finish(cam, x).numpy()
        return Explanation(
            maps=maps,
            class_index=cls,
            logits=logits,
            feature_maps=A,
            weights=weights,
            extra={
                "layer": self.layer,
                "scores": self.scores,
                "forward_passes": len(image),
                "precision": self.precision,
            },
        )

    def _empty_reason(self, ex: Explanation) -> str:
        if not np.asarray(ex.weights).any():
            return (
                f"Every feature map of layer {self.layer!r} is constant over the image, so none can serve as a "
                "mask and every weight is 0. Try another layer or image."
            )
        return super()._empty_reason(ex)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model.name!r}, layer={self.layer!r}, batch_size={self.batch_size}, "
            f"max_channels={self.max_channels}, precision={self.precision!r}, upsample={self.upsample}, "
            f"normalize={self.normalize}, relu={self.relu}, value_range={self.value_range})"
        )


class Occlusion(_Explainer):
    """Occlusion (Zeiler & Fergus, 2014): slide a ``patch`` x ``patch`` square of ``baseline`` over the image
    with ``stride``; each pixel's value is the mean drop of y^c over the patches that cover it,
    ``y^c(x) - y^c(x with the patch replaced)``. Positive: hiding it lowers the class score.

    ``baseline``: a finite number in the model's input range (default: 0, black) or ``"mean"`` (each image's
    mean colour). ``stride`` may not exceed ``patch`` (pixels between two positions would never be hidden).
    Returns ``(N, H, W)``, signed; ``normalize=True`` scales each map by its largest |value|. The number of
    forward passes per image is ``explain().extra["forward_passes"]``.
    """

    name = "occlusion"

    def __init__(
        self,
        model: keras.Model,
        patch: int = 8,
        stride: int = 4,
        baseline: float | str = 0.0,
        *,
        normalize: bool = True,
        batch_size: int = 256,
        value_range: ValueRange = PIXELS,
    ):
        patch = positive_int(patch, "patch", hint="It is the side of the square hidden at each position, in pixels.")
        stride = positive_int(stride, "stride", hint="It is how many pixels the patch moves each step.")
        if stride > patch:
            raise CourseValueError(
                f"stride {stride} is larger than patch {patch}: the pixels between two positions "
                "of the patch would never be hidden, so their map value would be 0 / 0. Use a "
                f"stride of at most {patch} (the default is patch 8, stride 4)."
            )
        normalize = _flag(normalize, "normalize")
        batch_size = positive_int(
            batch_size, "batch_size", hint="It is how many occluded images go through the model at once."
        )
        if not (isinstance(baseline, str) and baseline == "mean"):
            if isinstance(baseline, (str, bool, np.bool_)) or not isinstance(baseline, numbers.Real):
                raise CourseValueError(f"baseline must be a number or 'mean', got {describe(baseline)}.")
            baseline = finite_number(baseline, "baseline")
            _in_range(baseline, _value_range(value_range), "baseline")
        super().__init__(model, value_range=value_range)
        H, W = self.input_shape[:2]
        if H is None or W is None or patch > min(H, W):
            raise CourseValueError(f"patch {patch} must fit in the model's fixed input size {H}x{W}.")
        self.patch, self.stride, self.baseline = patch, stride, baseline
        self.normalize, self.batch_size = normalize, batch_size
        ys = list(range(0, H - patch + 1, stride))
        xs = list(range(0, W - patch + 1, stride))
        if ys[-1] != H - patch:
            ys.append(H - patch)  # cover the last rows too
        if xs[-1] != W - patch:
            xs.append(W - patch)
        self.positions = [(r, c) for r in ys for c in xs]
        self._score_net: Any = None

    def _body(self, x, cls, target=None) -> Computed:
        logits = self._logits(self._score_net(x, training=False))
        cls, score = self._score(logits, cls, target)
        return Computed(cls, logits, score)

    def _explain(self, images, class_index, target) -> Explanation:
        import keras

        tf = _tf()
        x, cls = self._prepare(images, class_index)
        if self._score_net is None:
            self._score_net = keras.Model(self.model.inputs, self._logit_tensor)  # scores: self._logits
        fn = self._compiled(target)
        out = fn(tf.constant(x), tf.constant(cls))
        score, cls, logits = out.score.numpy(), out.class_index.numpy(), out.logits.numpy()
        n, (H, W, C), P, p = len(x), x.shape[1:], len(self.positions), self.patch
        fill = (
            x.mean(axis=(1, 2), keepdims=True)
            if self.baseline == "mean"
            else np.full((n, 1, 1, C), float(self.baseline), np.float32)
        )
        total = np.zeros((n, H, W), np.float64)
        count = np.zeros((H, W), np.float64)
        for r, c in self.positions:
            count[r : r + p, c : c + p] += 1
        jobs = [(i, j) for i in range(n) for j in range(P)]
        for start in range(0, len(jobs), self.batch_size):
            part = jobs[start : start + self.batch_size]
            batch = x[[i for i, _ in part]].copy()
            for b, (i, j) in enumerate(part):
                r, c = self.positions[j]
                batch[b, r : r + p, c : c + p] = fill[i]
            s = fn(tf.constant(batch), tf.constant(cls[[i for i, _ in part]])).score
            for (i, j), v in zip(part, s.numpy()):
                r, c = self.positions[j]
                total[i, r : r + p, c : c + p] += score[i] - v
        maps = (total / count).astype(np.float32)
        if self.normalize:
            maps = normalize_maps(tf.constant(maps), signed=True).numpy()
        extra = {"forward_passes": P, "positions": self.positions, **({} if target is None else {"target": target})}
        return Explanation(maps=maps, class_index=cls, logits=logits, extra=extra)

    def _empty_reason(self, ex: Explanation) -> str:
        fill = "its mean colour" if self.baseline == "mean" else f"the value {self.baseline:g}"
        return (
            f"Hiding any {self.patch} x {self.patch} patch with {fill} changes the class score by exactly 0: "
            "under every patch the image already equals the baseline, or the model ignores its input. Try "
            "another baseline (a number, or 'mean')."
        )
