"""Reading a Keras model's graph: the layers an explanation can look at, and where the class scores come from.

:func:`conv_layers` lists the layers with a spatial output; :func:`_resolve_layer` checks a chosen one;
:func:`_logit_head` finds the scores before a final softmax or sigmoid however it is written (a ``Softmax``,
``Activation`` or ``Lambda`` layer, a Dense's activation, a ``keras.ops`` call, inside a nested head), by the
identity of its function or by what it computes on a probe; :func:`_op_family` names what an activation computes
(also used to find the ReLUs guided backpropagation replaces).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..validation import CourseValueError, describe
from .errors import ExplainerWarning, _CourseTypeError

__all__ = ["conv_layers", "RELU_LIKE"]

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


