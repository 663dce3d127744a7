"""Explainers for Keras image classifiers: CAM, Grad-CAM, guided backpropagation and friends.

One calling convention for the whole family::

    import course_utils as cu
    model = cu.models.load_course_model()
    gradcam = cu.explain.GradCAM(model, layer=None)    # None: the last layer with a spatial output
    maps = gradcam(images, class_index=None)           # images: (N, H, W, 3) or (H, W, 3), values 0-255
                                                       # class_index: None (predicted), an int, or one per image
    maps.shape                                         # (N, H, W) float32 in [0, 1]

    ex = gradcam.explain(images, class_index=3)        # everything a teacher wants to show:
    ex.feature_maps, ex.weights, ex.logits, ex.maps    # A (N, h, w, K), alpha (N, K), y (N, C), maps

Symbols follow the Grad-CAM paper (Selvaraju et al., 2017): ``A`` the feature maps of the chosen layer
(``A[..., k]`` is A^k), ``y`` the class scores (logits, before any softmax), ``Z = h * w`` the number of
positions, ``alpha_k^c = (1/Z) sum_ij dy^c / dA^k_ij`` and ``L^c = ReLU(sum_k alpha_k^c A^k)``.

The user's model is never changed. Guided backpropagation runs on a clone whose ReLUs pass gradients back
only where both the forward input and the incoming gradient are positive (Springenberg et al., 2015).
"""
from __future__ import annotations

from dataclasses import dataclass, field


import numpy as np

__all__ = [
    "Explanation",
    "CAM",
    "GradCAM",
    "GuidedBackprop",
    "GuidedGradCAM",
    "VanillaGradient",
    "METHODS",
    "conv_layers",
    "guided_relu",
    "make_guided_model",
    "normalize_maps",
]

_PREPROCESSING = {"InputLayer", "Normalization", "Rescaling", "Resizing", "CenterCrop", "RandomFlip",
                  "RandomCrop", "RandomTranslation", "RandomRotation", "RandomZoom", "RandomContrast",
                  "RandomBrightness"}


# --------------------------------------------------------------------------------------------------
# Looking at a model
# --------------------------------------------------------------------------------------------------

def _tf():
    import tensorflow as tf

    return tf


def _check_model(model) -> None:
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model, got {type(model).__name__}.")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise ValueError(
            f"Model {model.name!r} has no defined inputs yet (a Sequential model built without an Input). "
            "Start it with keras.Input(shape=(32, 32, 3)) or call it once on a batch, then build the explainer."
        )
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"Expected a model with one image input and one class-score output; "
                         f"{model.name!r} has {len(inputs)} inputs and {len(outputs)} outputs.")


def _output_shape(layer) -> tuple | None:
    try:
        return tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None


def _layer_output(model, layer):
    """The tensor ``layer`` produces *in this model's graph*. For most layers that is ``layer.output``;
    a nested model also has the output of its own inner graph, which the outer model cannot reach."""
    import keras

    candidates = [layer.output]
    for node in getattr(layer, "_inbound_nodes", []):
        candidates.extend(keras.tree.flatten(node.output_tensors))
    for tensor in candidates:
        try:
            keras.Model(model.inputs, tensor)
            return tensor
        except ValueError:
            continue
    raise ValueError(f"Layer {layer.name!r} is not connected to the inputs of model {model.name!r}.")


def conv_layers(model) -> list[str]:
    """Names of the layers whose output is a spatial map ``(N, h, w, K)``, in model order.

    These are the layers an explanation can look at: convolutions, activations, pooling, additions, or
    a nested base model as a whole. Input and preprocessing layers (Normalization, Rescaling,
    augmentation) are left out: their "feature maps" are the image itself.
    """
    _check_model(model)
    names = []
    for layer in model.layers:
        shape = _output_shape(layer)
        if shape is not None and len(shape) == 4 and type(layer).__name__ not in _PREPROCESSING:
            names.append(layer.name)
    return names


def _nested_owner(model, name: str) -> str | None:
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            if any(sub.name == name for sub in layer.layers) or _nested_owner(layer, name):
                return layer.name
    return None


def _resolve_layer(model, layer: str | None) -> str:
    choices = conv_layers(model)
    if not choices:
        raise ValueError(f"Model {model.name!r} has no layer with a spatial (N, h, w, K) output to explain.")
    if layer is None:
        return choices[-1]
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (str) or None, got {type(layer).__name__}.")
    names = [l.name for l in model.layers]
    if layer not in names:
        owner = _nested_owner(model, layer)
        if owner:
            raise ValueError(
                f"Layer {layer!r} lives inside the nested model {owner!r}, which the explainer cannot reach "
                f"into. Pick {owner!r} itself (its output is a feature map), or rebuild a flat model, e.g. "
                f"keras.Model(base.input, head(base.get_layer({layer!r}).output ...))."
            )
        raise ValueError(f"Model {model.name!r} has no layer {layer!r}. Layers with spatial outputs: "
                         f"{', '.join(choices)}.")
    if layer not in choices:
        shape = _output_shape(model.get_layer(layer))
        raise ValueError(f"Layer {layer!r} has output shape {shape}, not a spatial map (N, h, w, K); "
                         f"explanations need one of: {', '.join(choices)}.")
    return layer


def _producer(tensor):
    return tensor._keras_history[0]


def _is_softmax(fn) -> bool:
    return getattr(fn, "__name__", "") == "softmax"


def _logit_head(model):
    """Return ``(tensor, dense_layer_or_None, how)`` such that the logits are ``tensor`` (if no Dense is
    returned) or ``tensor @ kernel + bias`` of that Dense. A final softmax is skipped, never changed."""
    out = model.outputs[0]
    layer = _producer(out)
    kind = type(layer).__name__
    if kind == "Softmax" or (kind == "Activation" and _is_softmax(layer.activation)):
        return layer.input, None, f"logits: the input of the final softmax layer {layer.name!r}"
    if kind == "Dense" and _is_softmax(layer.activation):
        return layer.input, layer, f"logits: the final Dense {layer.name!r} without its softmax"
    return out, None, "logits: the model's output"


def _apply_dense(t, dense):
    """``t`` itself, or the pre-softmax output of ``dense`` on ``t`` (kernel and bias, no activation)."""
    if dense is None:
        return t
    t = _tf().matmul(t, dense.kernel)
    return t + dense.bias if dense.use_bias else t


def _consumers(model, tensor) -> list:
    import keras

    found = []
    for layer in model.layers:
        try:
            inputs = keras.tree.flatten(layer.input)
        except (AttributeError, ValueError):
            continue
        if any(t is tensor for t in inputs):
            found.append(layer)
    return found


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------

def _as_batch(images, input_shape: tuple, value_range) -> np.ndarray:
    """Check and convert ``images`` to a float32 batch ``(N, H, W, C)``."""
    tf = _tf()
    if isinstance(images, tf.Tensor):
        images = images.numpy()
    x = np.asarray(images)
    given = x.shape
    if x.dtype == object or x.dtype.kind not in "uif":
        raise ValueError(f"images must be numbers, got an array of dtype {x.dtype}.")
    expect = "x".join("H" if d is None else str(d) for d in input_shape[:2]) + f"x{input_shape[2]}"
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W, C) or (H, W, C) with {expect} images; "
                         f"got shape {x.shape}.")
    for got, want in zip(x.shape[1:], input_shape):
        if want is not None and got != want:
            raise ValueError(f"images have shape {given}, but the model expects {expect} images "
                             f"(input shape {input_shape}). Resize them first (e.g. cu.images for photos).")
    if x.shape[0] == 0:
        raise ValueError("images is an empty batch (N = 0).")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ValueError(f"images contain {int((~np.isfinite(x)).sum())} NaN or infinite values; "
                         "explanations need finite pixel values.")
    if value_range is not None:
        lo, hi = value_range
        if x.min() < lo or x.max() > hi:
            raise ValueError(f"images have values in [{x.min():g}, {x.max():g}], expected [{lo:g}, {hi:g}]. "
                             "Pass value_range=None to the explainer to skip this check.")
        if hi >= 255 and 0 < x.max() <= 1.0:
            raise ValueError(f"images have values in [{x.min():g}, {x.max():g}]: they look scaled to 0-1, "
                             f"but the model expects raw 0-{hi:g} values (it normalises them itself). "
                             "Pass images * 255.")
    return x


def _class_indices(class_index, n: int, num_classes: int) -> np.ndarray:
    """None -> -1 (predicted) for every image; an int -> the same class for all; else one per image."""
    if class_index is None:
        return np.full(n, -1, dtype=np.int32)
    arr = np.asarray(class_index)
    if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f" and np.all(arr == np.round(arr))):
        raise ValueError(f"class_index must be None, an int or a sequence of ints; got {class_index!r}.")
    arr = arr.astype(np.int64)
    if arr.ndim == 0:
        arr = np.full(n, int(arr))
    elif arr.shape != (n,):
        raise ValueError(f"class_index has shape {arr.shape}, expected one class per image: ({n},), "
                         "or a single int for all images.")
    bad = arr[(arr < 0) | (arr >= num_classes)]
    if bad.size:
        raise ValueError(f"class_index {bad[0]} is out of range: the model has {num_classes} classes, "
                         f"so use 0..{num_classes - 1} (or None for the predicted class).")
    return arr.astype(np.int32)


def normalize_maps(maps, signed: bool = False):
    """Scale each map of a batch ``(N, ...)`` so that its largest value is 1 (largest |value| if
    ``signed``). An all-zero map stays all zero, never NaN."""
    tf = _tf()
    axes = list(range(1, len(maps.shape)))
    peak = tf.reduce_max(tf.abs(maps) if signed else maps, axis=axes, keepdims=True)
    return tf.math.divide_no_nan(maps, peak)


# --------------------------------------------------------------------------------------------------
# The family
# --------------------------------------------------------------------------------------------------

@dataclass
class Explanation:
    """What one call computed, as numpy arrays.

    maps:          (N, H, W) heat maps (or (N, H, W, C) gradients for the gradient methods)
    class_index:   (N,) the class explained for each image
    logits:        (N, num_classes) class scores y before any softmax
    feature_maps:  (N, h, w, K) A, the chosen layer's output (None for pure input-gradient methods)
    weights:       (N, K) alpha for Grad-CAM, w[:, c] for CAM (None otherwise)
    gradients:     dy_c / dA (N, h, w, K) for Grad-CAM, dy_c / dx (N, H, W, C) for gradient methods
    """

    maps: np.ndarray
    class_index: np.ndarray
    logits: np.ndarray
    feature_maps: np.ndarray | None = None
    weights: np.ndarray | None = None
    gradients: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


class _Explainer:
    """Shared plumbing: input checks, class choice, logits, and one compiled function per explainer."""

    name = "explainer"

    def __init__(self, model, *, value_range: tuple[float, float] | None = (0, 255)):
        _check_model(model)
        self.model = model
        self.value_range = value_range
        self.input_shape = tuple(model.inputs[0].shape[1:])
        self._logit_tensor, self._logit_dense, self.scores = _logit_head(model)
        self.num_classes = int(model.outputs[0].shape[-1])
        self._fn = None

    # y = logits from whatever tensor _logit_head picked
    def _logits(self, t):
        return _apply_dense(t, self._logit_dense)

    def _pick(self, logits, cls):
        tf = _tf()
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        cls = tf.where(cls < 0, predicted, cls)
        score = tf.gather(logits, cls, axis=1, batch_dims=1)
        return cls, score

    def _compile(self, body):
        tf = _tf()
        spec = [tf.TensorSpec((None, *self.input_shape), tf.float32), tf.TensorSpec((None,), tf.int32)]
        return tf.function(body, input_signature=spec, reduce_retracing=True)

    def _prepare(self, images, class_index):
        x = _as_batch(images, self.input_shape, self.value_range)
        cls = _class_indices(class_index, len(x), self.num_classes)
        return x, cls

    def explain(self, images, class_index=None) -> Explanation:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, images, class_index=None) -> np.ndarray:
        """Return only the maps; see :meth:`explain` for the pieces."""
        return self.explain(images, class_index).maps

    @property
    def traces(self) -> int:
        """How many times the compiled function was traced (1 after any number of calls: no retracing)."""
        return 0 if self._fn is None else self._fn.experimental_get_tracing_count()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model.name!r})"


class _MapExplainer(_Explainer):
    """Base of CAM and Grad-CAM: weights over the K feature maps of one layer."""

    def __init__(self, model, layer: str | None = None, *, upsample: bool = True, normalize: bool = True,
                 relu: bool = True, value_range=(0, 255)):
        super().__init__(model, value_range=value_range)
        import keras

        self.layer = _resolve_layer(model, layer)
        self.upsample, self.normalize, self.relu = upsample, normalize, relu
        self._features = keras.Model(model.inputs, [_layer_output(model, model.get_layer(self.layer)), self._logit_tensor],
                                     name=f"{model.name}_{self.layer}_and_scores")

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

    def explain(self, images, class_index=None) -> Explanation:
        x, cls = self._prepare(images, class_index)
        if self._fn is None:
            self._fn = self._compile(self._body)
        out = self._fn(x, cls)
        maps, cls, logits, A, weights, grads = (None if t is None else t.numpy() for t in out)
        return Explanation(maps=maps, class_index=cls, logits=logits, feature_maps=A, weights=weights,
                           gradients=grads, extra={"layer": self.layer, "scores": self.scores})

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model={self.model.name!r}, layer={self.layer!r}, upsample={self.upsample}, "
                f"normalize={self.normalize}, relu={self.relu})")


class GradCAM(_MapExplainer):
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
    tensor before the softmax and never changes the model: on confident images the softmax saturates,
    p_c = 1 - eps, and dp_c/dA is close to zero everywhere, which gives empty or noisy maps.
    """

    name = "Grad-CAM"

    def __init__(self, model, layer: str | None = None, *, upsample: bool = True, normalize: bool = True,
                 relu: bool = True, counterfactual: bool = False, value_range=(0, 255)):
        super().__init__(model, layer, upsample=upsample, normalize=normalize, relu=relu,
                         value_range=value_range)
        self.counterfactual = counterfactual

    def _body(self, x, cls):
        tf = _tf()
        with tf.GradientTape() as tape:
            A, t = self._features(x, training=False)
            tape.watch(A)
            logits = self._logits(t)
            cls, score = self._pick(logits, cls)
        grads = tape.gradient(score, A)  # each score depends only on its own image: one pass for all
        if self.counterfactual:
            grads = -grads
        alpha = tf.reduce_mean(grads, axis=(1, 2))                  # (N, K)
        cam = tf.einsum("nhwk,nk->nhw", A, alpha)
        return self._finish(cam, x), cls, logits, A, alpha, grads


class CAM(_MapExplainer):
    """Class activation mapping (Zhou et al., 2016): CAM^c = sum_k w_k^c A^k, no gradients.

    ``w`` is the kernel of the Dense layer after GlobalAveragePooling2D, so CAM only exists when the chosen
    layer feeds ``GlobalAveragePooling2D -> Dense`` directly (the model's own head, optionally followed by a
    softmax). Anything else raises a ValueError that suggests :class:`GradCAM`, which needs no such head.
    The options are those of :class:`GradCAM` (``relu`` keeps the positive evidence, as in Grad-CAM, so the
    two can be compared map for map).
    """

    name = "CAM"

    def __init__(self, model, layer: str | None = None, *, upsample: bool = True, normalize: bool = True,
                 relu: bool = True, value_range=(0, 255)):
        super().__init__(model, layer, upsample=upsample, normalize=normalize, relu=relu,
                         value_range=value_range)
        self.dense = self._find_head()

    def _find_head(self):
        import keras

        layer = self.model.get_layer(self.layer)
        consumers = _consumers(self.model, _layer_output(self.model, layer))
        feeds = ", ".join(f"{type(c).__name__} ({c.name!r})" for c in consumers) or "nothing"
        hint = (f"CAM needs the chosen layer to feed GlobalAveragePooling2D -> Dense; {self.layer!r} feeds "
                f"{feeds}. Use GradCAM instead (it works on any layer), or change the model's head to "
                "GlobalAveragePooling2D -> Dense and retrain it.")
        if len(consumers) != 1 or not isinstance(consumers[0], keras.layers.GlobalAveragePooling2D):
            raise ValueError(hint)
        node = consumers[0]
        while True:
            nxt = _consumers(self.model, node.output)
            if len(nxt) == 1 and isinstance(nxt[0], keras.layers.Dropout):
                node = nxt[0]
                continue
            break
        if len(nxt) != 1 or not isinstance(nxt[0], keras.layers.Dense):
            feeds = ", ".join(f"{type(c).__name__} ({c.name!r})" for c in nxt) or "nothing"
            raise ValueError(f"CAM needs GlobalAveragePooling2D -> Dense; after the pooling comes {feeds}. "
                             "Use GradCAM instead, or make the head GlobalAveragePooling2D -> Dense and retrain.")
        dense = nxt[0]
        head_out = self._logit_tensor if self._logit_dense is None else self._logit_dense.output
        if dense.output is not head_out and dense is not self._logit_dense:
            raise ValueError(f"CAM needs the Dense after the pooling ({dense.name!r}) to produce the class "
                             "scores; here more layers follow it. Use GradCAM instead.")
        return dense

    @property
    def class_weights(self) -> np.ndarray:
        """w, the (K, num_classes) kernel of the Dense head: w[k, c] = w_k^c."""
        return np.asarray(self.dense.kernel)

    def _body(self, x, cls):
        tf = _tf()
        A, t = self._features(x, training=False)
        logits = self._logits(t)
        cls, _ = self._pick(logits, cls)
        w = tf.gather(tf.transpose(self.dense.kernel), cls)        # (N, K): w_k^c for each image's class
        cam = tf.einsum("nhwk,nk->nhw", A, w)
        return self._finish(cam, x), cls, logits, A, w, None


def guided_relu(x):
    """ReLU forward; backward passes the gradient only where the input AND the gradient are positive."""
    tf = _tf()

    @tf.custom_gradient
    def _guided(v):
        def grad(dy):
            return dy * tf.cast(v > 0, dy.dtype) * tf.cast(dy > 0, dy.dtype)

        return tf.nn.relu(v), grad

    return _guided(x)


def _is_plain_relu(layer) -> bool:
    return (getattr(layer, "max_value", None) is None and not getattr(layer, "negative_slope", 0)
            and not getattr(layer, "threshold", 0))


def make_guided_model(model):
    """Return ``(clone, replaced)``: a copy of ``model`` with every ReLU made guided, and how many were.

    Replaced: ``activation='relu'`` in any layer that has an ``activation`` (Conv2D, Dense, ...),
    ``Activation('relu')`` and plain ``layers.ReLU()``. The original model and its weights are untouched.
    Raises ValueError when there is no ReLU to replace: guided backpropagation would then silently be
    the plain gradient.
    """
    import keras

    count = [0]

    def replace(layer):
        config = layer.get_config()
        kind = type(layer).__name__
        if kind == "ReLU" and _is_plain_relu(layer):
            count[0] += 1
            return keras.layers.Activation(guided_relu, name=layer.name)
        act = getattr(layer, "activation", None)
        if act is not None and getattr(act, "__name__", "") == "relu" and "activation" in config:
            count[0] += 1
            config["activation"] = guided_relu
            return type(layer).from_config(config)
        return type(layer).from_config(config)

    try:
        clone = keras.models.clone_model(model, clone_function=replace, recursive=True)
    except Exception as exc:
        raise ValueError(f"Could not clone {model.name!r} to make its ReLUs guided ({type(exc).__name__}: "
                         f"{exc}). Guided backpropagation needs a functional or Sequential model.") from None
    clone.set_weights(model.get_weights())
    if count[0] == 0:
        raise ValueError(f"Model {model.name!r} has no ReLU (activation='relu', Activation('relu') or ReLU()) "
                         "to make guided; guided backpropagation would silently equal the vanilla gradient. "
                         "Use VanillaGradient for this model.")
    return clone, count[0]


class VanillaGradient(_Explainer):
    """The plain gradient of the class score with respect to the input pixels (Simonyan et al., 2014).

    Returns signed gradients ``(N, H, W, C)``; ``normalize=True`` divides each by its largest |value|.
    """

    name = "vanilla gradient"

    def __init__(self, model, *, normalize: bool = False, value_range=(0, 255)):
        super().__init__(model, value_range=value_range)
        self.normalize = normalize
        self._use_network(model)

    def _use_network(self, net) -> None:
        """Differentiate through ``net`` (the model, or its guided clone), scoring its logits."""
        import keras

        tensor, self._score_dense, _ = _logit_head(net)
        self._score_net = net if tensor is net.outputs[0] else keras.Model(net.inputs, tensor)

    def _body(self, x, cls):
        tf = _tf()
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = _apply_dense(self._score_net(x, training=False), self._score_dense)
            cls, score = self._pick(logits, cls)
        g = tape.gradient(score, x)
        if self.normalize:
            g = normalize_maps(g, signed=True)
        return g, cls, logits

    def explain(self, images, class_index=None) -> Explanation:
        x, cls = self._prepare(images, class_index)
        if self._fn is None:
            self._fn = self._compile(self._body)
        g, cls, logits = (t.numpy() for t in self._fn(x, cls))
        return Explanation(maps=g, class_index=cls, logits=logits, gradients=g)


class GuidedBackprop(VanillaGradient):
    """Guided backpropagation (Springenberg et al., 2015) on a clone of the model with guided ReLUs.

    Returns signed gradients ``(N, H, W, C)``. ``replaced`` says how many ReLUs were made guided.
    """

    name = "guided backpropagation"

    def __init__(self, model, *, normalize: bool = False, value_range=(0, 255)):
        super().__init__(model, normalize=normalize, value_range=value_range)
        self.guided_model, self.replaced = make_guided_model(model)
        self._use_network(self.guided_model)

    def __repr__(self) -> str:
        return f"GuidedBackprop(model={self.model.name!r}, replaced={self.replaced} ReLUs)"


class GuidedGradCAM(_Explainer):
    """Guided Grad-CAM: guided backpropagation times the upsampled Grad-CAM map, per pixel and channel.

    Guided backpropagation is sharp but hardly depends on the class; Grad-CAM is class-specific but coarse.
    Their product is both. Returns ``(N, H, W, C)``, normalised to [-1, 1] unless ``normalize=False``.
    """

    name = "guided Grad-CAM"

    def __init__(self, model, layer: str | None = None, *, normalize: bool = True, value_range=(0, 255)):
        super().__init__(model, value_range=value_range)
        self.gradcam = GradCAM(model, layer, value_range=value_range)
        self.guided = GuidedBackprop(model, value_range=value_range)
        self.layer, self.replaced, self.normalize = self.gradcam.layer, self.guided.replaced, normalize

    def _body(self, x, cls):
        tf = _tf()
        cam, cls, logits, *_ = self.gradcam._body(x, cls)
        g, _, _ = self.guided._body(x, cls)
        out = g * cam[..., None]
        if self.normalize:
            out = normalize_maps(out, signed=True)
        return out, cls, logits, cam, g

    def explain(self, images, class_index=None) -> Explanation:
        x, cls = self._prepare(images, class_index)
        if self._fn is None:
            self._fn = self._compile(self._body)
        out, cls, logits, cam, g = (t.numpy() for t in self._fn(x, cls))
        return Explanation(maps=out, class_index=cls, logits=logits, gradients=g,
                           extra={"gradcam": cam, "layer": self.layer})


#: The methods the explorer offers, by the name it shows.
METHODS = {
    "CAM": CAM,
    "Grad-CAM": GradCAM,
    "guided backpropagation": GuidedBackprop,
    "guided Grad-CAM": GuidedGradCAM,
    "vanilla gradient": VanillaGradient,
}
