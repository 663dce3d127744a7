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

Any learner's model: a final softmax or sigmoid is found however it is written (``tf.nn.softmax``,
``keras.ops.softmax``, a ``Softmax``, ``Activation`` or ``Lambda`` layer, a Dense's activation, inside a nested
head) and the scores before it are explained (``explainer.scores`` says which). A model with one output z is
binary: class 1 is scored by z, class 0 by -z. Clones (guided backpropagation, ``models.any_size``) refresh
preprocessing state and are checked against the model on a probe batch; ReLU relatives that cannot be made
guided are named in an :class:`ExplainerWarning`. Notebook 09 shows each case.

Beyond Grad-CAM (notebook 10), with the same convention: the CAM family on one layer (``takes_layer`` is True):
:class:`GradCAMPlusPlus`, :class:`XGradCAM`, :class:`HiResCAM`, :class:`LayerCAM` (from A and dy^c/dA, one
backward pass), :class:`ScoreCAM` (one masked forward pass per feature map, in large batches) and
:class:`EigenCAM` (no gradient, no class); and on the input pixels: :class:`IntegratedGradients`,
:class:`SmoothGrad` (also VarGrad) and :class:`Occlusion`. On a GAP -> linear head, dy^c/dA^k_ij = w_k^c / Z
at every position, so HiResCAM, XGrad-CAM and Grad-CAM equal CAM there (tests/test_explain_beyond.py).

Nothing silently wrong: every count, number, flag and baseline is checked when the explainer is built, before any
TensorFlow op (:mod:`course_utils.validation`: ``True`` is not a count of 1, a NaN baseline is refused, occlusion's
stride may not exceed its patch), and every call's maps pass one exit check: a NaN or infinite map (or class
score) is a :class:`~course_utils.validation.CourseValueError` naming the method and what to check; when every map
of a call is all zero, an :class:`EmptyMapWarning` says why (e.g. no positive evidence for the class at that
layer). Integrated Gradients and SmoothGrad send ``batch_size`` images at a time through the model, so their
memory does not grow with the number of images times steps or samples.
"""
from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np

from .validation import (
    CourseValueError,
    choice,
    describe,
    finite_array,
    finite_number,
    nonnegative_int,
    positive_int,
)

__all__ = [
    "Explanation",
    "ExplainerWarning",
    "EmptyMapWarning",
    "CAM",
    "GradCAM",
    "GuidedBackprop",
    "GuidedGradCAM",
    "VanillaGradient",
    "GradCAMPlusPlus",
    "XGradCAM",
    "HiResCAM",
    "LayerCAM",
    "ScoreCAM",
    "EigenCAM",
    "IntegratedGradients",
    "SmoothGrad",
    "Occlusion",
    "METHODS",
    "conv_layers",
    "finalize_state",
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
        raise _CourseTypeError(f"Expected a keras.Model, got {type(model).__name__}.")
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        inputs = outputs = None
    if not inputs or not outputs:
        raise CourseValueError(
            f"Model {model.name!r} has no defined inputs yet (a Sequential model built without an Input). "
            "Start it with keras.Input(shape=(32, 32, 3)) or call it once on a batch, then build the explainer."
        )
    if len(inputs) != 1 or len(outputs) != 1:
        raise CourseValueError(f"Expected a model with one image input and one class-score output; "
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
    raise CourseValueError(f"Layer {layer.name!r} is not connected to the inputs of model {model.name!r}.")


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


def _layer_name(layer) -> None:
    """A layer is named by a str, or None (the default layer)."""
    if layer is not None and not isinstance(layer, str):
        raise _CourseTypeError(f"layer must be a layer name (str) or None, got {describe(layer)}.")


def _resolve_layer(model, layer: str | None) -> str:
    choices = conv_layers(model)
    if not choices:
        raise CourseValueError(f"Model {model.name!r} has no layer with a spatial (N, h, w, K) output to explain.")
    if layer is None:
        return choices[-1]
    if not isinstance(layer, str):
        raise _CourseTypeError(f"layer must be a layer name (str) or None, got {type(layer).__name__}.")
    names = [l.name for l in model.layers]
    if layer not in names:
        owner = _nested_owner(model, layer)
        if owner:
            raise CourseValueError(
                f"Layer {layer!r} lives inside the nested model {owner!r}, which the explainer cannot reach "
                f"into. Pick {owner!r} itself (its output is a feature map), or rebuild a flat model, e.g. "
                f"keras.Model(base.input, head(base.get_layer({layer!r}).output ...))."
            )
        raise CourseValueError(f"Model {model.name!r} has no layer {layer!r}. Layers with spatial outputs: "
                         f"{', '.join(choices)}.")
    if layer not in choices:
        shape = _output_shape(model.get_layer(layer))
        raise CourseValueError(f"Layer {layer!r} has output shape {shape}, not a spatial map (N, h, w, K); "
                         f"explanations need one of: {', '.join(choices)}.")
    return layer


class ExplainerWarning(UserWarning):
    """Something about the model makes an explanation less than it seems (shown once per cause)."""


class EmptyMapWarning(ExplainerWarning):
    """Every map of a call is all zero; the message says why (often an answer, e.g. no positive evidence).

    Raised only when *every* map of the batch is empty (so always for a single image); which maps of a batch
    are empty is in ``explain().extra["empty_maps"]``. Silence it with
    ``warnings.filterwarnings("ignore", category=cu.explain.EmptyMapWarning)``."""


class _CourseTypeError(CourseValueError, TypeError):
    """An argument of the wrong type: a course error that ``except TypeError`` still catches."""


def _flag(value, name: str) -> bool:
    """``value`` if it is a bool (numpy's too); 1, "no" or None are refused rather than read as true or false."""
    if not isinstance(value, (bool, np.bool_)):
        raise CourseValueError(f"{name} must be True or False; got {describe(value)}.")
    return bool(value)


def _value_range(value_range) -> tuple[float, float] | None:
    """None, or ``(lo, hi)``: two finite numbers with lo < hi."""
    if value_range is None:
        return None
    if isinstance(value_range, (str, bytes)) or not hasattr(value_range, "__len__") or len(value_range) != 2:
        raise CourseValueError(f"value_range must be None or a pair (low, high) such as (0, 255); got "
                               f"{describe(value_range)}.")
    lo = finite_number(value_range[0], "value_range[0]")
    hi = finite_number(value_range[1], "value_range[1]")
    if not lo < hi:
        raise CourseValueError(f"value_range must be (low, high) with low < high; got {tuple(value_range)}.")
    return value_range if isinstance(value_range, tuple) else (value_range[0], value_range[1])


def _in_range(values, value_range, name: str) -> None:
    """Refuse a baseline outside the images' value range (the model never sees such pixels)."""
    if value_range is None:
        return
    lo, hi = value_range
    v = np.asarray(values, dtype=np.float64)
    if v.min() < lo or v.max() > hi:
        raise CourseValueError(f"{name} has values in [{v.min():g}, {v.max():g}], outside the images' range "
                               f"[{lo:g}, {hi:g}] (value_range={tuple(value_range)}): the model never sees such "
                               "pixels, so the map would explain nothing real. Give a baseline inside the range, or "
                               "value_range=None to skip this check.")


def _few(indices) -> str:
    """'0, 3, 7' or '0, 1, 2, ... (40 in all)' for an error message."""
    indices = [int(i) for i in indices]
    head = ", ".join(map(str, indices[:8]))
    return head if len(indices) <= 8 else f"{head}, ... ({len(indices)} in all)"


def _producer(tensor):
    return tensor._keras_history[0]


def _producer_node(tensor):
    """The operation (a layer, or a ``keras.ops`` op of a functional model) that made ``tensor``, and its
    input tensors in the same graph."""
    history = tensor._keras_history
    op = history.operation
    return op, list(op._inbound_nodes[history.node_index].input_tensors)


def _operations(model) -> list:
    """Layers *and* functional ops (``keras.ops.relu(x)`` in a functional model), in model order."""
    functional = getattr(model, "_functional", None) or model
    ops = getattr(functional, "operations", None)
    return list(ops) if ops is not None else list(model.layers)


# What an activation computes, by the function's identity (keras.activations, keras.ops, tf.nn, tf.math),
# else by its name: tf.nn.softmax is called softmax_v2, keras.ops.silu is swish under another name.
_FAMILY_BY_NAME = {"softmax": "softmax", "softmax_v2": "softmax", "sigmoid": "sigmoid", "relu": "relu",
                   "relu6": "relu6", "leaky_relu": "leaky_relu", "elu": "elu", "selu": "selu", "celu": "celu",
                   "gelu": "gelu", "silu": "swish", "swish": "swish", "hard_silu": "hard_swish",
                   "hard_swish": "hard_swish", "mish": "mish", "softplus": "softplus"}
# keras.ops.* applied to a symbolic tensor leaves an op of these classes in a functional model
_OP_FAMILIES = {"Softmax": "softmax", "Sigmoid": "sigmoid", "Relu": "relu", "Relu6": "relu6",
                "LeakyRelu": "leaky_relu", "Elu": "elu", "Selu": "selu", "Celu": "celu", "Gelu": "gelu",
                "Silu": "swish", "HardSilu": "hard_swish", "Softplus": "softplus", "Threshold": "threshold"}
#: Relatives of the ReLU that guided backpropagation cannot make guided: its rule is defined for the ReLU.
RELU_LIKE = frozenset({"relu6", "capped_relu", "thresholded_relu", "threshold", "leaky_relu", "prelu", "elu",
                       "selu", "celu", "gelu", "swish", "hard_swish", "mish", "softplus"})


def _family_table() -> dict:
    table = getattr(_family_table, "cache", None)
    if table is None:
        import keras

        tf = _tf()
        table = {}
        for module in (keras.activations, keras.ops, keras.ops.nn, tf.nn, tf.math):
            for attr, family in _FAMILY_BY_NAME.items():
                fn = getattr(module, attr, None)
                if callable(fn):
                    table[id(fn)] = (fn, family)          # fn kept alive: its id stays its own
        _family_table.cache = table
    return table


def _family(fn) -> str | None:
    """'softmax', 'sigmoid', 'relu', 'relu6', 'swish', ... for a known activation function (or its name)."""
    if fn is None:
        return None
    if isinstance(fn, str):
        return _FAMILY_BY_NAME.get(fn)
    hit = _family_table().get(id(fn))
    if hit is not None and hit[0] is fn:
        return hit[1]
    return _FAMILY_BY_NAME.get(getattr(fn, "__name__", ""))


def _is_plain_relu(layer) -> bool:
    return (getattr(layer, "max_value", None) is None and not getattr(layer, "negative_slope", 0)
            and not getattr(layer, "threshold", 0))


def _op_family(op) -> str | None:
    """What a weightless activation op computes (a layer or a functional ``keras.ops`` op), else None."""
    import keras

    L = keras.layers
    if isinstance(op, L.Softmax):
        return "softmax"
    if isinstance(op, L.ReLU):
        if getattr(op, "max_value", None) is not None:
            return "relu6" if float(op.max_value) == 6.0 else "capped_relu"
        if getattr(op, "threshold", 0):
            return "thresholded_relu"
        return "leaky_relu" if getattr(op, "negative_slope", 0) else "relu"
    if isinstance(op, L.LeakyReLU):
        return "leaky_relu"
    if isinstance(op, L.PReLU):
        return "prelu"
    if isinstance(op, getattr(L, "ELU", ())):
        return "elu"
    if isinstance(op, L.Activation):
        return _family(op.activation)
    if isinstance(op, L.Lambda):
        return _family(op.function)
    if not isinstance(op, L.Layer):
        return _OP_FAMILIES.get(type(op).__name__)
    return None


def _np_sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _np_softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _np_gelu_exact(z):
    from math import erf

    return 0.5 * z * (1.0 + np.vectorize(erf)(z / np.sqrt(2.0)))


# What each family computes, in numpy, to recognise an op by what it does
_REFERENCE = {
    "softmax": _np_softmax,
    "sigmoid": _np_sigmoid,
    "relu": lambda z: np.maximum(z, 0.0),
    "relu6": lambda z: np.clip(z, 0.0, 6.0),
    "swish": lambda z: z * _np_sigmoid(z),
    "gelu": lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3))),
    "gelu (exact)": _np_gelu_exact,
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "softplus": lambda z: np.logaddexp(0.0, z),
}


def _probe(shape, scale: float = 3.0, seed: int = 0) -> np.ndarray:
    """A fixed random tensor of ``shape`` (unknown sizes: 2 for the batch, 4 otherwise); no global RNG used."""
    dims = tuple((2 if i == 0 else 4) if d is None else int(d) for i, d in enumerate(shape))
    return np.random.default_rng(seed).normal(0.0, scale, dims).astype(np.float32)


def _behaves_like(fn, shape, families) -> str | None:
    """The first of ``families`` that ``fn`` computes on a random probe of ``shape``, or None."""
    z = _probe(shape)
    try:
        out = np.asarray(fn(_tf().constant(z)), dtype=np.float64)
    except Exception:  # an op that needs other arguments: not a bare activation
        return None
    for family in families:
        want = _REFERENCE[family](z.astype(np.float64))
        if out.shape == want.shape and np.allclose(out, want, rtol=1e-4, atol=1e-5):
            return family.split(" ")[0]
    return None


def _input_probe(model, value_range=(0, 255), seed: int = 0) -> np.ndarray:
    """Two fixed random images for ``model`` (unknown sizes: 32), uniform in ``value_range``."""
    shape = tuple(model.inputs[0].shape)
    dims = (shape[0] or 2, *(32 if d is None else int(d) for d in shape[1:]))
    lo, hi = value_range if value_range is not None else (0, 255)
    return np.random.default_rng(seed).uniform(lo, hi, dims).astype(np.float32)


@dataclass
class _Head:
    """Where the class scores come from. ``tensor`` lies in the model's graph; :meth:`scores` turns its value
    into the scores y (N, num_classes): through ``dense`` without its activation (live weights), through
    ``tail`` (any other callable), or as it is. ``binary``: one output z gives the two scores (-z, z)."""

    tensor: object
    how: str
    dense: object = None
    tail: object = None
    binary: bool = False
    is_output: bool = False   # the model's own output: no softmax or sigmoid was found to skip

    def raw(self, t):
        if self.tail is not None:
            return self.tail(t)
        return _apply_dense(t, self.dense)

    def scores(self, t):
        t = self.raw(t)
        return _tf().concat([-t, t], axis=-1) if self.binary else t

    @property
    def direct(self) -> bool:
        """True when the scores are ``tensor`` itself (no layer to apply after it)."""
        return self.dense is None and self.tail is None


def _linear_copy(layer, input_shape):
    """A copy of ``layer`` with ``activation='linear'`` and the same weights (copied, not shared)."""
    import keras

    config = layer.get_config()
    config["activation"] = "linear"
    copy = type(layer).from_config(config)
    copy(keras.ops.zeros(tuple(1 if d is None else d for d in input_shape)))
    copy.set_weights(layer.get_weights())
    return copy


def _logit_head(model) -> _Head:
    """Find the class scores of ``model``: the logits before a final softmax or sigmoid, never changing it.

    The softmax (or sigmoid) is recognised by the identity of its function (``keras.activations.softmax``,
    ``tf.nn.softmax``, ``keras.ops.softmax`` ...) or, for a Lambda, by what it computes on a probe; it may sit
    in a ``Softmax`` / ``Activation`` / ``Lambda`` layer, a functional ``keras.ops`` op, the ``activation`` of
    the last layer (a Dense: its kernel and bias are used directly; another layer: a linear copy of it), or
    inside a nested head model. Each candidate is checked: ``softmax(logits) == output`` on a probe.
    A model with a single output z (a sigmoid or a plain logit) is binary: class 1 scores z, class 0 -z.
    """
    import keras

    out = model.outputs[0]
    n_out = out.shape[-1]
    op, inputs = _producer_node(out)
    kind = f"{type(op).__name__} {op.name!r}"
    if isinstance(op, keras.Model) and len(inputs) == 1:
        inner = _logit_head(op)
        if not inner.is_output:
            sub = keras.Model(op.inputs, inner.tensor)
            return _Head(inputs[0], f"{inner.how}, inside the nested model {op.name!r}",
                         tail=lambda t: inner.raw(sub(t, training=False)), binary=inner.binary)
    elif len(inputs) == 1 and not getattr(op, "weights", None):
        # a bare activation: Softmax / Activation / Lambda layer, or a keras.ops op
        named = _op_family(op)
        family = _behaves_like(op, inputs[0].shape, ("softmax", "sigmoid"))
        if family is not None and named in (None, family):
            return _Head(inputs[0], f"logits: the input of the final {family} ({kind})",
                         binary=family == "sigmoid" and n_out == 1)
    elif len(inputs) == 1 and _family(getattr(op, "activation", None)) in ("softmax", "sigmoid"):
        family = _family(op.activation)
        if isinstance(op, keras.layers.Dense):
            head = _Head(inputs[0], f"logits: the final Dense {op.name!r} without its {family}", dense=op,
                         binary=family == "sigmoid" and n_out == 1)
        else:
            head = _Head(inputs[0], f"logits: a copy of the final {kind} without its {family}",
                         tail=_linear_copy(op, inputs[0].shape), binary=family == "sigmoid" and n_out == 1)
        t = _probe(inputs[0].shape, scale=1.0)
        want = np.asarray(op(t), np.float64)
        got = _REFERENCE[family](np.asarray(head.raw(_tf().constant(t)), np.float64))
        if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
            raise CourseValueError(
                f"The last layer of model {model.name!r}, {kind}, applies a {family}, but the course could not "
                "separate its scores from it (a copy without the activation computes something else). Build a "
                "model that outputs the scores before the activation and explain that one.")
        return head
    if n_out == 1:
        return _Head(out, "logit: the model's single output z (class 1 scores z, class 0 scores -z)", binary=True,
                     is_output=True)
    return _Head(out, "logits: the model's output", is_output=True)


def _warn_if_probabilities(model, head: _Head, value_range) -> None:
    """Warn when a model's outputs are probabilities although no softmax was found to skip."""
    if not head.is_output or head.binary:
        return
    try:
        y = np.asarray(model(_input_probe(model, value_range), training=False), np.float64)
    except Exception:  # a model that cannot take the probe's size (unknown sizes are probed at 32 x 32)
        return
    if y.ndim == 2 and y.shape[1] > 1 and (y >= -1e-6).all() and np.allclose(y.sum(axis=-1), 1.0, atol=1e-3):
        op, _ = _producer_node(model.outputs[0])
        warnings.warn(
            f"The outputs of model {model.name!r} sum to 1 like probabilities, but its last operation "
            f"({type(op).__name__} {op.name!r}) is not a softmax the explainer can recognise, so the maps explain "
            "probabilities, which saturate on confident images (empty or noisy maps). Give the explainer a "
            "model that outputs the scores before the softmax: keras.Model(model.inputs, <that tensor>).",
            ExplainerWarning, stacklevel=4)


def _apply_dense(t, dense):
    """``t`` itself, or the pre-softmax output of ``dense`` on ``t`` (kernel and bias, no activation)."""
    if dense is None:
        return t
    t = _tf().matmul(t, dense.kernel)
    return t + dense.bias if dense.use_bias else t


def _consumers(model, tensor) -> list[tuple]:
    """``(operation, its output)`` for each call in ``model``'s own graph that takes ``tensor`` as input.

    Read from the graph's nodes, not from ``layer.input``: a layer shared with another model (a flat copy
    built from a nested model's layers) has one input per call, and only one of them is in this graph.
    """
    graph = getattr(model, "_functional", None) or model
    found = []
    for nodes in getattr(graph, "_nodes_by_depth", {}).values():
        for node in nodes:
            if any(t is tensor for t in node.input_tensors) and node.output_tensors:
                found.append((node.operation, node.output_tensors[0]))
    return found


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------

def _as_batch(images, input_shape: tuple, value_range) -> np.ndarray:
    """Check and convert ``images`` to a float32 batch ``(N, H, W, C)``."""
    tf = _tf()
    if isinstance(images, tf.Tensor):
        images = images.numpy()
    try:
        x = np.asarray(images)
    except (TypeError, ValueError) as exc:          # ragged nested lists
        raise CourseValueError(f"images must be an array of numbers (N, H, W, C); got {describe(images)} "
                               f"({exc}).") from None
    given = x.shape
    if x.dtype == object or x.dtype.kind not in "uif":
        raise CourseValueError(f"images must be numbers, got an array of dtype {x.dtype}.")
    expect = "x".join("H" if d is None else str(d) for d in input_shape[:2]) + f"x{input_shape[2]}"
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise CourseValueError(f"images must have shape (N, H, W, C) or (H, W, C) with {expect} images; "
                         f"got shape {x.shape}.")
    for got, want in zip(x.shape[1:], input_shape):
        if want is not None and got != want:
            raise CourseValueError(f"images have shape {given}, but the model expects {expect} images "
                             f"(input shape {input_shape}). Resize them first (e.g. cu.images for photos).")
    if x.shape[0] == 0:
        raise CourseValueError("images is an empty batch (N = 0).")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise CourseValueError(f"images contain {int((~np.isfinite(x)).sum())} NaN or infinite values; "
                         "explanations need finite pixel values.")
    if value_range is not None:
        lo, hi = value_range
        if x.min() < lo or x.max() > hi:
            hint = (" They look like 0-255 images: if your model takes 0-255 images, pass value_range=(0, 255) "
                    "to the explainer; if it takes 0-1 images, divide them by 255."
                    if hi <= 1 and 0 <= x.min() and x.max() <= 255 else "")
            raise CourseValueError(f"images have values in [{x.min():g}, {x.max():g}], but the explainer expects "
                             f"[{lo:g}, {hi:g}] (value_range={tuple(value_range)}).{hint} Pass value_range=None "
                             "to skip this check.")
        if hi >= 255:
            # 0-1 images have fractions; a genuinely dark 0-255 image (a file, CIFAR-10) has whole numbers
            flat = x.reshape(len(x), -1)
            peak = flat.max(axis=1)
            looks_0_1 = (peak > 0) & (peak <= 1.0) & (flat != np.round(flat)).any(axis=1)
            if looks_0_1.any():
                i = int(np.argmax(looks_0_1))
                raise CourseValueError(
                    f"image {i} has values in [{flat[i].min():g}, {flat[i].max():g}], with fractions: it looks "
                    f"scaled to 0-1, but the explainer expects 0-{hi:g} (value_range={tuple(value_range)}). If "
                    "your model takes 0-1 images, tell the explainer: value_range=(0, 1). If it takes 0-255 "
                    "images, as the course model does, give it the images as loaded (cu.data and cu.images "
                    "keep 0-255). value_range=None skips this check.")
    return x


def _class_indices(class_index, n: int, num_classes: int) -> np.ndarray:
    """None -> -1 (predicted) for every image; an int -> the same class for all; else one per image.

    As :func:`course_utils.validation.class_index`: bools, fractions, NaN and negative numbers are refused (-1 is
    not 'the last class'); whole floats such as 3.0 are read as ints, as before."""
    if class_index is None:
        return np.full(n, -1, dtype=np.int32)
    expected = (f"class_index must be None (the predicted class), an int from 0 to {num_classes - 1} or a sequence "
                f"of {n} such ints (one per image); got {describe(class_index)}.")
    try:
        arr = np.asarray(class_index)
    except (TypeError, ValueError):
        raise CourseValueError(expected) from None
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
            raise CourseValueError(expected)
    elif arr.dtype.kind not in "iu":                 # bools, strings, objects
        raise CourseValueError(expected)
    if arr.ndim == 0:
        arr = np.full(n, arr.item())
    elif arr.shape != (n,):
        raise CourseValueError(f"class_index has shape {arr.shape}, expected one class per image: ({n},), "
                               "or a single int for all images.")
    bad = arr[(arr < 0) | (arr >= num_classes)]
    if bad.size:
        first = int(bad[0])
        why = " (negative indices are refused: -1 is not 'the last class')" if first < 0 else ""
        raise CourseValueError(f"class_index {first} is out of range{why}: the model has {num_classes} classes, "
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
    #: Whether the constructor takes a ``layer`` (the CAM family) or explains the input pixels only.
    takes_layer = False

    def __init__(self, model, *, value_range: tuple[float, float] | None = (0, 255)):
        value_range = _value_range(value_range)
        _check_model(model)
        self.model = model
        self.value_range = value_range
        self.input_shape = tuple(model.inputs[0].shape[1:])
        self._head = _logit_head(model)
        self._logit_tensor, self.scores = self._head.tensor, self._head.how
        _warn_if_probabilities(model, self._head, value_range)
        self.num_classes = 2 if self._head.binary else int(model.outputs[0].shape[-1])
        self._fn = None

    # y = logits from whatever tensor _logit_head picked
    def _logits(self, t):
        return self._head.scores(t)

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

    def _explain(self, images, class_index) -> Explanation:  # pragma: no cover - abstract
        raise NotImplementedError

    def explain(self, images, class_index=None) -> Explanation:
        """Explain ``images`` for ``class_index`` (None: the predicted class); every map is checked on the way
        out (see :meth:`_checked`)."""
        return self._checked(self._explain(images, class_index), stacklevel=3)

    def __call__(self, images, class_index=None) -> np.ndarray:
        """Return only the maps; see :meth:`explain` for the pieces."""
        return self._checked(self._explain(images, class_index), stacklevel=3).maps

    def _checked(self, ex: Explanation, stacklevel: int) -> Explanation:
        """The one exit of every explainer: a NaN or infinite map, or class score, is a :class:`CourseValueError`
        (the map is never returned); the indices of all-zero maps go to ``ex.extra["empty_maps"]``, and when
        *every* map is all zero an :class:`EmptyMapWarning` says why. (Only then: a batch where some maps are
        empty is a normal result, e.g. classes without positive evidence at an early layer, which notebook 05
        shows on purpose; a single image always warns.)"""
        maps = np.asarray(ex.maps)
        n = len(maps)
        flat = maps.reshape(n, -1)
        finite = np.isfinite(flat).all(axis=1) & np.isfinite(np.asarray(ex.logits)).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise CourseValueError(
                f"{self.name} computed NaN or infinite values for image(s) {_few(bad)} of {n} (in the map or in the "
                f"class scores), so no map is returned. {self._nan_hint(ex, bad)}")
        empty = np.flatnonzero(~flat.any(axis=1))
        ex.extra["empty_maps"] = empty
        if n and len(empty) == n:
            which = "The map" if n == 1 else f"Every one of the {n} maps"
            classes = _few(np.unique(ex.class_index))
            warnings.warn(f"{which} of {self.name} (class {classes}) is all zero. {self._empty_reason(ex)}",
                          EmptyMapWarning, stacklevel=stacklevel)
        return ex

    def _nan_hint(self, ex: Explanation, bad) -> str:
        """What to check when the maps of images ``bad`` hold NaN or infinite values."""
        logits = np.asarray(ex.logits)[bad]
        if not np.isfinite(logits).all():
            return ("The model's own class scores are NaN or infinite on them: its weights or its arithmetic are "
                    "broken (a training run that diverged, an overflow). Check model(images) and the weights "
                    "(np.isfinite(w).all() for w in model.get_weights()) before explaining.")
        return ("The model's scores are finite, but a gradient or an activation overflowed float32 on the way: "
                "check that the images are in the model's range (value_range) and that no layer produces huge "
                "values (very large weights).")

    def _empty_reason(self, ex: Explanation) -> str:
        """Why every map is all zero (each method says it in its own terms)."""
        return ("The class score does not change with the input here: its gradient is exactly 0 at every pixel "
                "(every ReLU on the way is off, or the model ignores its input). Try another class or image, "
                "and check that the model was trained.")

    @property
    def traces(self) -> int:
        """How many times the compiled function was traced (1 after any number of calls: no retracing)."""
        return 0 if self._fn is None else self._fn.experimental_get_tracing_count()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model.name!r})"


class _MapExplainer(_Explainer):
    """Base of CAM and Grad-CAM: weights over the K feature maps of one layer."""

    takes_layer = True

    def __init__(self, model, layer: str | None = None, *, upsample: bool = True, normalize: bool = True,
                 relu: bool = True, value_range=(0, 255)):
        _layer_name(layer)
        upsample, normalize, relu = _flag(upsample, "upsample"), _flag(normalize, "normalize"), _flag(relu, "relu")
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

    def _explain(self, images, class_index) -> Explanation:
        x, cls = self._prepare(images, class_index)
        if self._fn is None:
            self._fn = self._compile(self._body)
        out = self._fn(x, cls)
        maps, cls, logits, A, weights, grads = (None if t is None else t.numpy() for t in out)
        return Explanation(maps=maps, class_index=cls, logits=logits, feature_maps=A, weights=weights,
                           gradients=grads, extra={"layer": self.layer, "scores": self.scores})

    def _empty_reason(self, ex: Explanation) -> str:
        A = ex.feature_maps
        if A is not None and not np.asarray(A).any():
            return (f"The feature maps of layer {self.layer!r} are all zero on these images (no unit responds), so "
                    "any weighted sum of them is 0. Try an earlier layer or another image.")
        if self.relu:
            against = getattr(self, "counterfactual", False)
            return (f"At layer {self.layer!r} the weighted sum of the feature maps is <= 0 at every position: the "
                    f"class has no evidence {'against' if against else 'for'} it there, and the final ReLU keeps "
                    "only positive values. That is an answer, not a failure: relu=False shows the whole signed map; "
                    "another layer or class may show evidence.")
        return (f"At layer {self.layer!r} the weighted sum of the feature maps is exactly 0 at every position: the "
                "class score does not depend on this layer's features here.")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model={self.model.name!r}, layer={self.layer!r}, upsample={self.upsample}, "
                f"normalize={self.normalize}, relu={self.relu}, value_range={self.value_range})")


class _GradientCAM(_MapExplainer):
    """Base of Grad-CAM and its relatives, which combine A and dy^c/dA of one layer (one backward pass);
    ``counterfactual`` (Grad-CAM's option) negates the gradients first."""

    def _combine(self, A, grads):  # pragma: no cover - abstract
        """(N, h, w, K) feature maps and gradients -> ``(weights (N, K) or None, map (N, h, w))``."""
        raise NotImplementedError

    def _body(self, x, cls):
        tf = _tf()
        with tf.GradientTape() as tape:
            A, t = self._features(x, training=False)
            tape.watch(A)
            logits = self._logits(t)
            cls, score = self._pick(logits, cls)
        grads = tape.gradient(score, A)  # each score depends only on its own image: one pass for all
        if getattr(self, "counterfactual", False):
            grads = -grads
        weights, cam = self._combine(A, grads)
        return self._finish(cam, x), cls, logits, A, weights, grads


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

    def __init__(self, model, layer: str | None = None, *, upsample: bool = True, normalize: bool = True,
                 relu: bool = True, counterfactual: bool = False, value_range=(0, 255)):
        counterfactual = _flag(counterfactual, "counterfactual")
        super().__init__(model, layer, upsample=upsample, normalize=normalize, relu=relu,
                         value_range=value_range)
        self.counterfactual = counterfactual

    def _combine(self, A, grads):
        tf = _tf()
        alpha = tf.reduce_mean(grads, axis=(1, 2))                  # (N, K)
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

    def __init__(self, model, layer: str | None = None, *, upsample: bool = True, normalize: bool = True,
                 relu: bool = True, value_range=(0, 255)):
        super().__init__(model, layer, upsample=upsample, normalize=normalize, relu=relu,
                         value_range=value_range)
        self.dense = self._find_head()

    def _find_head(self):
        import keras

        layer = self.model.get_layer(self.layer)
        consumers = _consumers(self.model, _layer_output(self.model, layer))
        feeds = ", ".join(f"{type(c).__name__} ({c.name!r})" for c, _ in consumers) or "nothing"
        hint = (f"CAM needs the chosen layer to feed GlobalAveragePooling2D -> Dense; {self.layer!r} feeds "
                f"{feeds}. Use GradCAM instead (it works on any layer), or change the model's head to "
                "GlobalAveragePooling2D -> Dense and retrain it.")
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
            raise CourseValueError(f"CAM needs GlobalAveragePooling2D -> Dense; after the pooling comes {feeds}. "
                             "Use GradCAM instead, or make the head GlobalAveragePooling2D -> Dense and retrain.")
        dense, dense_out = nxt[0]
        head = self._head
        if not (dense is head.dense or (head.direct and dense_out is head.tensor)):
            raise CourseValueError(f"CAM needs the Dense after the pooling ({dense.name!r}) to produce the class "
                             "scores; here more layers follow it. Use GradCAM instead.")
        return dense

    def _class_kernel(self):
        """(K, num_classes); for a binary model with one output z, class 0 gets -w and class 1 gets w."""
        kernel = self.dense.kernel
        return _tf().concat([-kernel, kernel], axis=1) if self._head.binary else kernel

    @property
    def class_weights(self) -> np.ndarray:
        """w, the (K, num_classes) kernel of the Dense head: w[k, c] = w_k^c."""
        return np.asarray(self._class_kernel())

    def _body(self, x, cls):
        tf = _tf()
        A, t = self._features(x, training=False)
        logits = self._logits(t)
        cls, _ = self._pick(logits, cls)
        w = tf.gather(tf.transpose(self._class_kernel()), cls)     # (N, K): w_k^c for each image's class
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


def _all_layers(model) -> list:
    """Every layer of ``model``, nested models included (depth first)."""
    import keras

    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found.extend(_all_layers(layer))
    return found


def finalize_state(model) -> None:
    """Refresh what preprocessing layers derive from their variables, after ``set_weights`` on a copy.

    An adapted ``Normalization`` keeps its mean and variance in variables (copied by ``set_weights``) *and*
    in tensors computed from them by ``finalize_state()`` (not copied): a clone would normalise with the
    values it was built with. Calling this on the clone brings them in line.
    """
    for layer in _all_layers(model):
        refresh = getattr(layer, "finalize_state", None)
        if callable(refresh) and getattr(layer, "built", False):
            refresh()


def check_same_function(model, copy, what: str, probe=None) -> float:
    """Raise ValueError unless ``copy`` computes what ``model`` computes on a probe batch (two fixed random
    images, 0-255, unless ``probe`` is given). Returns the largest difference (NaN when the model itself
    cannot take the probe, e.g. a model of unknown input size that needs images larger than 32 x 32)."""
    x = _input_probe(model) if probe is None else probe
    try:
        want = np.asarray(model(x, training=False), np.float64)
    except Exception:  # the model itself cannot take the probe (unknown sizes are probed at 32 x 32)
        return float("nan")
    got = np.asarray(copy(x, training=False), np.float64)
    tol = 1e-4 if model.dtype_policy.compute_dtype == "float32" else 2e-2
    diff = float(np.abs(want - got).max()) if want.shape == got.shape else float("inf")
    if not diff <= tol * max(1.0, float(np.abs(want).max())):
        raise CourseValueError(
            f"The {what} of model {model.name!r} computes a different function from the model: on a probe batch "
            f"of {len(x)} images their outputs differ by up to {diff:.3g}. A layer keeps state outside its "
            "weights that cloning does not copy (a custom layer whose get_config misses an argument, or "
            "preprocessing state). Give such layers all their values as arguments (e.g. Normalization(mean=..., "
            "variance=...)) or build the model again from code, then explain it.")
    return diff


def _unguided_relus(model, prefix: str = "") -> list[str]:
    """ReLU-like operations of ``model`` that :func:`make_guided_model` cannot make guided, described."""
    import keras

    L = keras.layers
    found = []
    for op in _operations(model):
        label = f"{prefix}{op.name!r}"
        if isinstance(op, L.InputLayer):
            continue
        if isinstance(op, keras.Model):
            found.extend(_unguided_relus(op, prefix=f"{prefix}{op.name}/"))
            continue
        if isinstance(op, L.Layer) and not isinstance(op, L.Activation) and hasattr(op, "activation"):
            family = _family(op.activation)
            if family in RELU_LIKE:
                found.append(f"{label} ({type(op).__name__} with activation {family})")
            continue
        family = _op_family(op)
        if family is None and isinstance(op, L.Lambda) and op._inbound_nodes:
            inputs = list(op._inbound_nodes[0].input_tensors)
            if len(inputs) == 1:
                family = _behaves_like(op, inputs[0].shape, ("relu", "relu6", "swish", "gelu", "gelu (exact)",
                                                              "elu", "softplus"))
        if family is None or (family == "relu" and isinstance(op, (L.ReLU, L.Activation))):
            continue                                       # not ReLU-like, or made guided
        if family != "relu" and family not in RELU_LIKE:
            continue
        if isinstance(op, L.Lambda):
            found.append(f"{label} (a Lambda that computes {family})")
        elif not isinstance(op, L.Layer):
            found.append(f"{label} (keras.ops.{type(op).__name__.lower()} in the functional graph)")
        elif isinstance(op, L.ReLU):
            args = {"relu6": "max_value=6", "capped_relu": f"max_value={op.max_value}",
                    "thresholded_relu": f"threshold={op.threshold}"}.get(family, f"negative_slope={op.negative_slope}")
            found.append(f"{label} (ReLU({args}))")
        else:
            found.append(f"{label} ({type(op).__name__}, {family})")
    return found


def make_guided_model(model):
    """Return ``(clone, replaced)``: a copy of ``model`` with every ReLU made guided, and how many were.

    Replaced: ``activation='relu'`` in any layer that has an ``activation`` (Conv2D, Dense, ...), with the
    ReLU of ``keras.activations``, ``keras.ops`` or ``tf.nn``; ``Activation('relu')``; plain
    ``layers.ReLU()``. The original model and its weights are untouched. After copying the weights, the
    state of preprocessing layers is refreshed (:func:`finalize_state`) and the clone's forward pass is
    compared with the model's on a probe batch (:func:`check_same_function`): a ValueError if they differ.

    ReLU relatives that cannot be made guided (ReLU6, a thresholded or leaky ReLU, swish, GELU ... as
    layers, activations, ``Lambda`` layers or functional ``keras.ops`` calls) stay as they are, with an
    :class:`ExplainerWarning` that names them. A ValueError when there is no ReLU to replace: guided
    backpropagation would then silently be the plain gradient.
    """
    import keras

    count = [0]

    def replace(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.ReLU) and _is_plain_relu(layer):
            count[0] += 1
            return keras.layers.Activation(guided_relu, name=layer.name)
        act = getattr(layer, "activation", None)
        if act is not None and "activation" in config:
            if _family(act) == "relu":
                count[0] += 1
                act = guided_relu
            config["activation"] = act     # the function itself: tf.nn.softmax has no config to rebuild it from
            return type(layer).from_config(config)
        if isinstance(layer, keras.layers.Lambda):
            return layer    # weightless; its Python function cannot be rebuilt from a config in safe mode
        return type(layer).from_config(config)

    try:
        clone = keras.models.clone_model(model, clone_function=replace, recursive=True)
    except Exception as exc:
        raise CourseValueError(f"Could not clone {model.name!r} to make its ReLUs guided ({type(exc).__name__}: "
                         f"{exc}). Guided backpropagation needs a functional or Sequential model.") from None
    clone.set_weights(model.get_weights())
    finalize_state(clone)
    unguided = _unguided_relus(model)
    if count[0] == 0:
        also = f" It has ReLU relatives that cannot be made guided: {', '.join(unguided)}." if unguided else ""
        raise CourseValueError(f"Model {model.name!r} has no ReLU (activation='relu', Activation('relu') or ReLU()) "
                         "to make guided; guided backpropagation would silently equal the vanilla gradient."
                         f"{also} Use VanillaGradient for this model.")
    check_same_function(model, clone, "guided clone")
    if unguided:
        warnings.warn(
            f"Guided backpropagation on model {model.name!r}: {len(unguided)} ReLU-like operation(s) cannot be "
            f"made guided and pass gradients back as usual, so the result is partly the plain gradient: "
            f"{', '.join(unguided)}. Only activation='relu', Activation('relu') and layers.ReLU() become guided.",
            ExplainerWarning, stacklevel=3)
    return clone, count[0]


class VanillaGradient(_Explainer):
    """The plain gradient of the class score with respect to the input pixels (Simonyan et al., 2014).

    Returns signed gradients ``(N, H, W, C)``; ``normalize=True`` divides each by its largest |value|.
    """

    name = "vanilla gradient"

    def __init__(self, model, *, normalize: bool = False, value_range=(0, 255)):
        normalize = _flag(normalize, "normalize")
        super().__init__(model, value_range=value_range)
        self.normalize = normalize
        self._use_network(model)

    def _use_network(self, net) -> None:
        """Differentiate through ``net`` (the model, or its guided clone), scoring its logits."""
        import keras

        self._score_head = head = _logit_head(net)
        self._score_net = net if head.tensor is net.outputs[0] else keras.Model(net.inputs, head.tensor)

    def _body(self, x, cls):
        tf = _tf()
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = self._score_head.scores(self._score_net(x, training=False))
            cls, score = self._pick(logits, cls)
        g = tape.gradient(score, x)
        if self.normalize:
            g = normalize_maps(g, signed=True)
        return g, cls, logits

    def _explain(self, images, class_index) -> Explanation:
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

    def _empty_reason(self, ex: Explanation) -> str:
        return ("Guided backpropagation passes a gradient back only where it is positive and the ReLU's input is "
                "positive; here none reached the input (no positive evidence for the class on any path, or every "
                "ReLU is off). Try another class or image; VanillaGradient shows the plain gradient.")

    def __repr__(self) -> str:
        return f"GuidedBackprop(model={self.model.name!r}, replaced={self.replaced} ReLUs)"


class GuidedGradCAM(_Explainer):
    """Guided Grad-CAM: guided backpropagation times the upsampled Grad-CAM map, per pixel and channel.

    Guided backpropagation is sharp but hardly depends on the class; Grad-CAM is class-specific but coarse.
    Their product is both. Returns ``(N, H, W, C)``, normalised to [-1, 1] unless ``normalize=False``.
    """

    name = "guided Grad-CAM"
    takes_layer = True

    def __init__(self, model, layer: str | None = None, *, normalize: bool = True, value_range=(0, 255)):
        _layer_name(layer)
        normalize = _flag(normalize, "normalize")
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

    def _explain(self, images, class_index) -> Explanation:
        x, cls = self._prepare(images, class_index)
        if self._fn is None:
            self._fn = self._compile(self._body)
        out, cls, logits, cam, g = (t.numpy() for t in self._fn(x, cls))
        return Explanation(maps=out, class_index=cls, logits=logits, gradients=g,
                           extra={"gradcam": cam, "layer": self.layer})

    def _empty_reason(self, ex: Explanation) -> str:
        if not np.asarray(ex.extra["gradcam"]).any():
            return (f"Its Grad-CAM factor is all zero: at layer {self.layer!r} the class has no positive evidence "
                    "(see GradCAM(..., relu=False) for the signed map); another layer or class may show some.")
        return self.guided._empty_reason(ex)


# --------------------------------------------------------------------------------------------------
# Beyond Grad-CAM: the CAM family and path / perturbation attributions (notebook 10)
# --------------------------------------------------------------------------------------------------

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

    def _body(self, x, cls):
        tf = _tf()
        A, t = self._features(x, training=False)
        logits = self._logits(t)
        cls, _ = self._pick(logits, cls)
        n, h, w, k = tf.unstack(tf.shape(A))
        flat = tf.reshape(A, (n, h * w, k))
        centred = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
        _, _, v = tf.linalg.svd(centred)
        v0 = v[..., 0]                                               # (N, K)
        proj = tf.einsum("npk,nk->np", centred, v0)
        total = tf.reduce_sum(flat, axis=-1)
        total = total - tf.reduce_mean(total, axis=1, keepdims=True)
        sign = tf.where(tf.reduce_sum(proj * total, axis=1) < 0, -1.0, 1.0)
        cam = tf.reshape(proj * sign[:, None], (n, h, w))
        return self._finish(cam, x), cls, logits, A, v0 * sign[:, None], None

    def _empty_reason(self, ex: Explanation) -> str:
        return (f"The feature maps of layer {self.layer!r} vary along no direction that is positive anywhere: they "
                "are constant over the image (a flat image, or units that do not respond), so their principal "
                f"component{' is <= 0 everywhere after the ReLU' if self.relu else ' is 0'}. Try another layer "
                "or image.")


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
    (``extra["precision"]``; notebook 10 measures it). The copy is checked when it is made, on random probe
    images, plain and masked, and refused if its probabilities differ from float32's by more than 0.05.
    Options otherwise as :class:`GradCAM`.
    """

    name = "Score-CAM"

    def __init__(self, model, layer: str | None = None, *, batch_size: int = 512, max_channels: int | None = None,
                 precision: str = "float32", upsample: bool = True, normalize: bool = True, relu: bool = True,
                 value_range=(0, 255)):
        batch_size = positive_int(batch_size, "batch_size", hint="It is how many masked images go through the "
                                  "model at once.")
        max_channels = positive_int(max_channels, "max_channels", allow_none=True)
        if not isinstance(precision, str) or precision not in ("float32", "bfloat16"):
            raise CourseValueError(f"precision must be 'float32' or 'bfloat16' (the arithmetic of the masked forward "
                                   f"passes), got {describe(precision)}.")
        super().__init__(model, layer, upsample=upsample, normalize=normalize, relu=relu, value_range=value_range)
        self.batch_size, self.max_channels, self.precision = batch_size, max_channels, precision
        self._masked = (self._features if precision == "float32"
                        else _bfloat16_copy(self._features, self._logits, model.name, value_range))
        self._masks_fn = self._probs_fn = None

    def _masks(self, x):
        tf = _tf()
        A, t = self._features(x, training=False)
        logits = self._logits(t)
        up = tf.image.resize(A, tf.shape(x)[1:3], method="bilinear")            # (N, H, W, K)
        lo = tf.reduce_min(up, axis=(1, 2), keepdims=True)
        hi = tf.reduce_max(up, axis=(1, 2), keepdims=True)
        masks = tf.math.divide_no_nan(up - lo, hi - lo)                         # constant map -> all 0
        return A, logits, tf.transpose(masks, (0, 3, 1, 2)), tf.reshape(hi - lo, (tf.shape(A)[0], -1))

    def _probs(self, x, masks, image, channel, cls):
        """p^c of image ``image[b]`` masked by its map ``channel[b]``, for a batch of (image, map) pairs; the
        masking happens inside the compiled graph, so the masked images never pass through numpy."""
        tf = _tf()
        m = tf.gather_nd(masks, tf.stack([image, channel], axis=1))            # (B, H, W)
        xm = tf.gather(x, image) * m[..., None]
        logits = self._logits(tf.cast(self._masked(xm, training=False)[1], tf.float32))
        return tf.gather(tf.nn.softmax(logits), tf.gather(cls, image), axis=1, batch_dims=1)

    def _explain(self, images, class_index) -> Explanation:
        tf = _tf()
        x, cls = self._prepare(images, class_index)
        if self._masks_fn is None:
            spec = tf.TensorSpec((None, *self.input_shape), tf.float32)
            ints = tf.TensorSpec((None,), tf.int32)
            self._masks_fn = tf.function(self._masks, input_signature=[spec], reduce_retracing=True)
            self._probs_fn = tf.function(self._probs, reduce_retracing=True, input_signature=[
                spec, tf.TensorSpec((None, None, *self.input_shape[:2]), tf.float32), ints, ints, ints])
        x_t = tf.constant(x)
        A, logits, masks, spread = self._masks_fn(x_t)
        A, logits, spread = A.numpy(), logits.numpy(), spread.numpy()
        cls = np.where(cls < 0, logits.argmax(axis=1), cls).astype(np.int32)
        n, K = A.shape[0], A.shape[-1]
        chosen = np.tile(np.arange(K), (n, 1))
        if self.max_channels is not None and self.max_channels < K:
            std = A.reshape(n, -1, K).std(axis=1)
            chosen = np.sort(np.argsort(-std, axis=1, kind="stable")[:, :self.max_channels], axis=1)
        weights = np.zeros((n, K), np.float32)
        image = np.repeat(np.arange(n), chosen.shape[1])
        channel = chosen.ravel()
        keep = spread[image, channel] > 0
        image, channel = image[keep].astype(np.int32), channel[keep].astype(np.int32)
        cls_t = tf.constant(cls)
        for start in range(0, len(image), self.batch_size):
            i, k = image[start:start + self.batch_size], channel[start:start + self.batch_size]
            weights[i, k] = self._probs_fn(x_t, masks, tf.constant(i), tf.constant(k), cls_t).numpy()
        cam = tf.einsum("nhwk,nk->nhw", A, weights)
        maps = self._finish(cam, x).numpy()
        return Explanation(maps=maps, class_index=cls, logits=logits, feature_maps=A, weights=weights,
                           extra={"layer": self.layer, "scores": self.scores, "forward_passes": len(image),
                                  "precision": self.precision})

    def _empty_reason(self, ex: Explanation) -> str:
        if not np.asarray(ex.weights).any():
            return (f"Every feature map of layer {self.layer!r} is constant over the image, so none can serve as a "
                    "mask and every weight is 0. Try another layer or image.")
        return super()._empty_reason(ex)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(model={self.model.name!r}, layer={self.layer!r}, batch_size={self.batch_size}, "
                f"max_channels={self.max_channels}, precision={self.precision!r}, upsample={self.upsample}, "
                f"normalize={self.normalize}, relu={self.relu}, value_range={self.value_range})")


def _clone_in_bfloat16(model, keep=()):
    """A copy of ``model`` whose layers compute in bfloat16 (Keras's ``mixed_bfloat16`` policy: float32 weights,
    bfloat16 arithmetic) with the same weights, except the layers in ``keep``, which stay float32. Nested models
    are copied too; weightless ``Lambda`` layers are shared (they cannot always be rebuilt from their config).
    ``model`` is not changed. Errors from Keras pass through: callers wrap them."""
    import keras

    keep = list(keep)

    def rebuild(layer):
        if isinstance(layer, keras.layers.Lambda):
            return layer        # weightless; it computes in float32 on the bfloat16 values it is given
        config = layer.get_config()
        config["dtype"] = "float32" if any(layer is k for k in keep) else "mixed_bfloat16"
        return type(layer).from_config(config)

    copy = keras.models.clone_model(model, clone_function=rebuild, recursive=True)
    copy.set_weights(model.get_weights())
    finalize_state(copy)
    return copy


def _bfloat16_copy(features, to_logits, model_name: str, value_range=(0, 255)):
    """A copy of ``features`` (a model from the image to [A, score tensor]) whose layers compute in bfloat16 with
    the same weights, except the layer that makes the score tensor (the head), kept in float32 as Keras's mixed
    precision advises for the last layer. Checked on random probe images, plain and masked by smooth ramps (as
    Score-CAM masks them): the class probabilities, ``softmax(to_logits(scores))``, which become Score-CAM's
    weights, may differ from float32's by 0.05 at most. The copy is a new model; weightless ``Lambda`` layers are
    shared with ``features``, nothing of it or of the user's model is changed."""
    import keras

    tf = _tf()

    def probabilities(model, x):     # ``features`` takes a list of one input, the copy the input itself
        return tf.nn.softmax(to_logits(tf.cast(model(x, training=False)[1], tf.float32))).numpy().astype(np.float64)

    x = _input_probe(features, value_range)
    h, w = x.shape[1:3]
    ramps = [np.linspace(0, 1, w, dtype=np.float32)[None, :], np.linspace(1, 0, h, dtype=np.float32)[:, None],
             np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)]
    x = np.concatenate([x] + [x * np.broadcast_to(r, (h, w))[None, :, :, None] for r in ramps])
    want = probabilities(features, [x])
    try:
        bf16 = _clone_in_bfloat16(features, keep=[_producer(features.outputs[1])])
        bf16 = keras.Model(bf16.inputs[0], bf16.outputs, name=f"{bf16.name}_bfloat16")   # one image input, not a list
        got = probabilities(bf16, x)
    except Exception as exc:
        raise CourseValueError(f"Could not make a bfloat16 copy of model {model_name!r} ({type(exc).__name__}: {exc}). "
                         "Use precision='float32'.") from exc
    diff = float(np.abs(want - got).max()) if want.shape == got.shape else float("inf")
    if not diff <= 0.05:
        raise CourseValueError(f"In bfloat16, model {model_name!r} computes class probabilities that differ from its "
                         f"float32 ones by {diff:.3g} on probe images, more than 0.05: its masked passes cannot be "
                         "trusted in bfloat16. Use precision='float32'.")
    return bf16


def _baseline_value(baseline, value_range, name: str = "baseline"):
    """A baseline: one finite number, or a finite (H, W, C) or (N, H, W, C) array, inside ``value_range``."""
    if isinstance(baseline, np.ndarray) and baseline.ndim == 0:
        baseline = baseline.item()
    if isinstance(baseline, (numbers.Number, bool, np.bool_)):
        value = finite_number(baseline, name)
        _in_range(value, value_range, name)
        return value
    if isinstance(baseline, (str, bytes)):
        raise CourseValueError(f"{name} must be a number or an image (an array); got {describe(baseline)}.")
    arr = finite_array(baseline, name, ndim=(3, 4), dtype=np.float32)
    _in_range(arr, value_range, name)
    return arr


class IntegratedGradients(VanillaGradient):
    """Integrated Gradients (Sundararajan et al., 2017): the gradient averaged along the straight path from a
    baseline x' to the image, times (x - x').

    ``attr = (x - x') * sum_s w_s dy^c/dx (x' + a_s (x - x'))``, the path integral by a quadrature rule with
    ``steps`` points a_s and weights w_s: ``method="gausslegendre"`` (the default, as in Captum) or
    ``"trapezoid"`` (``steps`` equal intervals, ends included: the mean of the left and right Riemann sums;
    the paper writes a plain Riemann sum). Completeness: ``sum(attr) = y^c(x) - y^c(x')`` up to the integration
    error, which :meth:`explain` reports (``extra["delta"]``, and relative to ``y^c(x) - y^c(x')`` in
    ``extra["relative_error"]``). ``baseline``: a finite number in ``value_range`` (0.0 is a black image for the
    course model's 0-255 input), an (H, W, C) image or one per image (N, H, W, C). Returns signed ``(N, H, W, C)``.
    The points of all paths go through the model ``batch_size`` at a time, whatever the number of images, so
    memory does not grow with ``N x steps``.
    """

    name = "Integrated Gradients"

    def __init__(self, model, baseline=0.0, steps: int = 64, *, method: str = "gausslegendre", batch_size: int = 256,
                 normalize: bool = False, value_range=(0, 255)):
        steps = positive_int(steps, "steps", hint="It is the number of points on the path from the baseline to the "
                             "image (the default is 64).")
        batch_size = positive_int(batch_size, "batch_size", hint="It is how many points of the paths go through the "
                                  "model at once.")
        method = choice(method, ("gausslegendre", "trapezoid"), "method")
        normalize = _flag(normalize, "normalize")
        baseline = _baseline_value(baseline, _value_range(value_range))
        super().__init__(model, normalize=False, value_range=value_range)
        self.baseline, self.steps, self.batch_size, self.scale = baseline, steps, batch_size, normalize
        self.method = method

    def _baseline(self, x):
        b = np.asarray(self.baseline, dtype=np.float32)
        if b.ndim == 0:
            return np.full_like(x, float(b))
        if b.shape == x.shape[1:]:
            return np.broadcast_to(b, x.shape).copy()
        if b.shape == x.shape:
            return b.copy()
        raise CourseValueError(f"baseline has shape {b.shape}; expected a number, one image {x.shape[1:]} or one per "
                               f"image {x.shape}.")

    def _rule(self) -> tuple[np.ndarray, np.ndarray]:
        """The points a_s in [0, 1] and weights w_s of the quadrature rule (float32)."""
        if self.method == "gausslegendre":                           # exact for polynomials of degree 2m - 1
            t, w = np.polynomial.legendre.leggauss(self.steps)
            return ((t + 1) / 2).astype(np.float32), (w / 2).astype(np.float32)
        a = np.linspace(0.0, 1.0, self.steps + 1, dtype=np.float32)  # the trapezoidal rule, ends included
        w = np.full(self.steps + 1, 1.0 / self.steps, np.float32)
        w[[0, -1]] /= 2
        return a, w

    def _path_average(self, x, base, cls, a, w) -> np.ndarray:
        """sum_s w_s dy^c/dx (x' + a_s (x - x')) for every image. The (image, point) pairs are taken in order,
        ``batch_size`` at a time (the same batches as one big path array would give); each image's gradients
        wait in a buffer of ``steps`` rows until its path is complete, then are summed at once (the same sum
        as before, to the last bit). Memory: ``batch_size + steps`` images, not N x steps."""
        n, P = len(x), len(a)
        mean_grad = np.zeros_like(x)
        path_grads = np.empty((P, *x.shape[1:]), np.float32)        # the image whose path is under way
        for start in range(0, n * P, self.batch_size):
            rows = np.arange(start, min(start + self.batch_size, n * P))
            i, s = rows // P, rows % P
            path = base[i] + a[s][:, None, None, None] * (x[i] - base[i])
            g = self._fn(path, cls[i])[0].numpy()
            for j in np.unique(i):
                part = i == j
                path_grads[s[part]] = g[part]
                if s[part][-1] == P - 1:                             # its last point: the path is complete
                    mean_grad[j] = np.einsum("s,s...->...", w, path_grads)
        return mean_grad

    def _explain(self, images, class_index) -> Explanation:
        tf = _tf()
        x, cls = self._prepare(images, class_index)
        if self._fn is None:
            self._fn = self._compile(self._body)
        base = self._baseline(x)
        _, cls, logits = self._chunked(x, cls)                      # the class: chosen on the image itself
        a, w = self._rule()
        n = len(x)
        mean_grad = self._path_average(x, base, cls, a, w)          # the path-averaged gradient
        attr = (x - base) * mean_grad
        base_logits = self._chunked(base, cls)[2]
        pick = lambda lg: np.take_along_axis(lg, cls[:, None], 1)[:, 0]
        scores = np.stack([pick(base_logits), pick(logits)], axis=1)
        gap = scores[:, -1] - scores[:, 0]                           # y^c(x) - y^c(x')
        delta = gap - attr.reshape(n, -1).sum(axis=1)
        maps = attr
        if self.scale:
            maps = normalize_maps(tf.constant(attr), signed=True).numpy()
        return Explanation(maps=maps.astype(np.float32), class_index=cls, logits=logits, gradients=mean_grad,
                           extra={"delta": delta, "relative_error": np.abs(delta) / np.maximum(np.abs(gap), 1e-12),
                                  "score_gap": gap, "baseline": base, "steps": self.steps})

    def _chunked(self, x, cls):
        """The compiled gradient, class and logits over ``x`` in batches of ``batch_size``."""
        outs = [[t.numpy() for t in self._fn(x[s:s + self.batch_size], cls[s:s + self.batch_size])]
                for s in range(0, len(x), self.batch_size)]
        g, c, lg = (np.concatenate([o[i] for o in outs]) for i in range(3))
        return g, c.astype(np.int32), lg

    def _empty_reason(self, ex: Explanation) -> str:
        if np.asarray(ex.gradients).any():
            return ("The baseline equals the image wherever the gradient is not 0, so x - x' is 0 there and every "
                    "attribution is 0. Choose a baseline that differs from the image (0.0, a black image, is the "
                    "usual one).")
        return ("The gradient of the class score is 0 at every point of the path from the baseline to the image "
                "(every ReLU on the way is off, or the model ignores its input), so every attribution is 0.")


class SmoothGrad(_Explainer):
    """SmoothGrad (Smilkov et al., 2017): a gradient method averaged over noisy copies of the image.

    ``method``: the gradient explainer to smooth (the class :class:`VanillaGradient` by default, or
    :class:`GuidedBackprop`). Noise is Gaussian with standard deviation ``noise * (max - min)`` of each
    image (the paper's 10-20 %), ``samples`` copies; the class is the one chosen on the clean image.
    ``var=True`` gives VarGrad (Adebayo et al., 2018): the variance of the gradients instead of their mean.
    ``seed`` makes the noise repeatable: it is drawn as ``np.random.RandomState(seed).normal(0, sigma,
    (samples, N, H, W, C))``. Returns signed ``(N, H, W, C)`` (non-negative for VarGrad). The noisy copies are
    drawn and sent through the model ``batch_size`` at a time (the same numbers, in the same order), so memory
    does not grow with ``N x samples``.
    """

    name = "SmoothGrad"

    def __init__(self, model, method=None, *, samples: int = 25, noise: float = 0.15, var: bool = False,
                 seed: int | None = 0, batch_size: int = 256, value_range=(0, 255)):
        method = VanillaGradient if method is None else method
        if not (isinstance(method, type) and issubclass(method, VanillaGradient)) or issubclass(method,
                                                                                                IntegratedGradients):
            raise CourseValueError(f"SmoothGrad smooths a gradient method: VanillaGradient or GuidedBackprop, got "
                                   f"{describe(method)}.")
        samples = positive_int(samples, "samples", hint="It is the number of noisy copies of each image.")
        noise = finite_number(noise, "noise")
        if not 0 <= noise <= 1:
            raise CourseValueError(f"noise is a fraction of each image's value range, between 0 and 1; got {noise!r}.")
        var = _flag(var, "var")
        if seed is not None:
            seed = nonnegative_int(seed, "seed", hint="It seeds np.random.RandomState (None: fresh noise each call).")
            if seed >= 2 ** 32:
                raise CourseValueError(f"seed must be below 2**32 (np.random.RandomState's range); got {seed}.")
        batch_size = positive_int(batch_size, "batch_size", hint="It is how many noisy copies go through the model "
                                  "at once.")
        super().__init__(model, value_range=value_range)
        self.base = method(model, value_range=None)
        self.samples, self.noise, self.var, self.seed, self.batch_size = samples, noise, var, seed, batch_size
        self.name = ("VarGrad" if var else "SmoothGrad") + f" ({self.base.name})"

    def _explain(self, images, class_index) -> Explanation:
        tf = _tf()
        x, cls = self._prepare(images, class_index)
        base = self.base
        if base._fn is None:
            base._fn = base._compile(base._body)
        n, S, size = len(x), self.samples, self.batch_size
        clean = [[t.numpy() for t in base._fn(tf.constant(x[k:k + size]), tf.constant(cls[k:k + size]))[1:]]
                 for k in range(0, n, size)]
        cls, logits = np.concatenate([c for c, _ in clean]), np.concatenate([lg for _, lg in clean])
        sigma = self.noise * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))
        rng = np.random.RandomState(self.seed)
        total = np.zeros_like(x)                   # float32, summed sample by sample: what grads.mean(axis=0) does
        mean = np.zeros(x.shape) if self.var else None       # VarGrad: Welford's running mean and sum of squares
        squares = np.zeros(x.shape) if self.var else None
        for start in range(0, S * n, size):       # row r is copy r // n of image r % n, as in (S, N, ...) order
            rows = np.arange(start, min(start + size, S * n))
            s, i = rows // n, rows % n
            eps = rng.normal(0.0, 1.0, (len(rows), *x.shape[1:])).astype(np.float32)
            noisy = x[i] + eps * sigma[i, None, None, None]
            g = base._fn(tf.constant(noisy), tf.constant(cls[i]))[0].numpy()
            for k in np.unique(s):
                part = s == k
                j, gk = i[part], g[part]
                total[j] += gk
                if self.var:
                    delta = gk - mean[j]
                    mean[j] += delta / (k + 1)
                    squares[j] += delta * (gk - mean[j])
        maps = squares / S if self.var else total / S
        return Explanation(maps=maps.astype(np.float32), class_index=cls, logits=logits, gradients=maps,
                           extra={"sigma": sigma, "samples": self.samples})

    def _empty_reason(self, ex: Explanation) -> str:
        if self.var:
            return ("The gradients of the noisy copies do not vary at all" + (" (noise=0: every copy is the image "
                    "itself)" if self.noise == 0 else "") + ", so their variance is 0. Use noise > 0 (0.1-0.2).")
        return ("The gradient of the class score is 0 at every pixel of every noisy copy (every ReLU on the way is "
                "off, or the model ignores its input), so their mean is 0.")


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

    def __init__(self, model, patch: int = 8, stride: int = 4, baseline=0.0, *, normalize: bool = True,
                 batch_size: int = 256, value_range=(0, 255)):
        patch = positive_int(patch, "patch", hint="It is the side of the square hidden at each position, in pixels.")
        stride = positive_int(stride, "stride", hint="It is how many pixels the patch moves each step.")
        if stride > patch:
            raise CourseValueError(f"stride {stride} is larger than patch {patch}: the pixels between two positions "
                                   "of the patch would never be hidden, so their map value would be 0 / 0. Use a "
                                   f"stride of at most {patch} (the default is patch 8, stride 4).")
        normalize = _flag(normalize, "normalize")
        batch_size = positive_int(batch_size, "batch_size", hint="It is how many occluded images go through the "
                                  "model at once.")
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
            ys.append(H - patch)                                     # cover the last rows too
        if xs[-1] != W - patch:
            xs.append(W - patch)
        self.positions = [(r, c) for r in ys for c in xs]
        self._score = None

    def _scores(self, x, cls):
        tf = _tf()
        logits = self._logits(self._score_net(x, training=False))
        cls, score = self._pick(logits, cls)
        return score, cls, logits

    def _explain(self, images, class_index) -> Explanation:
        import keras
        tf = _tf()
        x, cls = self._prepare(images, class_index)
        if self._score is None:
            self._score_net = keras.Model(self.model.inputs, self._logit_tensor)   # scores: self._logits
            self._score = self._compile(self._scores)
        score, cls, logits = (t.numpy() for t in self._score(tf.constant(x), tf.constant(cls)))
        n, (H, W, C), P, p = len(x), x.shape[1:], len(self.positions), self.patch
        fill = x.mean(axis=(1, 2), keepdims=True) if self.baseline == "mean" else np.full((n, 1, 1, C), float(self.baseline), np.float32)
        total = np.zeros((n, H, W), np.float64)
        count = np.zeros((H, W), np.float64)
        for r, c in self.positions:
            count[r:r + p, c:c + p] += 1
        jobs = [(i, j) for i in range(n) for j in range(P)]
        for start in range(0, len(jobs), self.batch_size):
            part = jobs[start:start + self.batch_size]
            batch = x[[i for i, _ in part]].copy()
            for b, (i, j) in enumerate(part):
                r, c = self.positions[j]
                batch[b, r:r + p, c:c + p] = fill[i]
            s, _, _ = self._score(tf.constant(batch), tf.constant(cls[[i for i, _ in part]]))
            for (i, j), v in zip(part, s.numpy()):
                r, c = self.positions[j]
                total[i, r:r + p, c:c + p] += score[i] - v
        maps = (total / count).astype(np.float32)
        if self.normalize:
            maps = normalize_maps(tf.constant(maps), signed=True).numpy()
        return Explanation(maps=maps, class_index=cls, logits=logits,
                           extra={"forward_passes": P, "positions": self.positions})

    def _empty_reason(self, ex: Explanation) -> str:
        fill = "its mean colour" if self.baseline == "mean" else f"the value {self.baseline:g}"
        return (f"Hiding any {self.patch} x {self.patch} patch with {fill} changes the class score by exactly 0: "
                "under every patch the image already equals the baseline, or the model ignores its input. Try "
                "another baseline (a number, or 'mean').")


#: The methods the explorer offers, by the name it shows. Each class says whether it takes a layer
#: (``takes_layer``): the CAM family explains one layer's feature maps, the others the input pixels.
METHODS = {
    "CAM": CAM,
    "Grad-CAM": GradCAM,
    "Grad-CAM++": GradCAMPlusPlus,
    "XGrad-CAM": XGradCAM,
    "HiResCAM": HiResCAM,
    "LayerCAM": LayerCAM,
    "Score-CAM": ScoreCAM,
    "Eigen-CAM": EigenCAM,
    "guided backpropagation": GuidedBackprop,
    "guided Grad-CAM": GuidedGradCAM,
    "vanilla gradient": VanillaGradient,
    "SmoothGrad": SmoothGrad,
    "Integrated Gradients": IntegratedGradients,
    "occlusion": Occlusion,
}
