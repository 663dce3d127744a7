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
from typing import TYPE_CHECKING

import numpy as np

from ..validation import CourseValueError, describe
from .activations import _REFERENCE, _behaves_like, _family, _op_family, _probe, _tf
from .errors import ExplainerWarning, _CourseTypeError

if TYPE_CHECKING:
    import keras

__all__ = ["conv_layers"]

_PREPROCESSING = {
    "InputLayer",
    "Normalization",
    "Rescaling",
    "Resizing",
    "CenterCrop",
    "RandomFlip",
    "RandomCrop",
    "RandomTranslation",
    "RandomRotation",
    "RandomZoom",
    "RandomContrast",
    "RandomBrightness",
}


# --------------------------------------------------------------------------------------------------
# Looking at a model
# --------------------------------------------------------------------------------------------------


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
        raise CourseValueError(
            f"Expected a model with one image input and one class-score output; "
            f"{model.name!r} has {len(inputs)} inputs and {len(outputs)} outputs."
        )


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


def conv_layers(model: keras.Model) -> list[str]:
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
        if isinstance(layer, keras.Model) and (
            any(sub.name == name for sub in layer.layers) or _nested_owner(layer, name)
        ):
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
        raise CourseValueError(
            f"Model {model.name!r} has no layer {layer!r}. Layers with spatial outputs: {', '.join(choices)}."
        )
    if layer not in choices:
        shape = _output_shape(model.get_layer(layer))
        raise CourseValueError(
            f"Layer {layer!r} has output shape {shape}, not a spatial map (N, h, w, K); "
            f"explanations need one of: {', '.join(choices)}."
        )
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
    is_output: bool = False  # the model's own output: no softmax or sigmoid was found to skip

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


def _logit_head(model) -> _Head:  # long: one branch per way a softmax or sigmoid can be written
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
            return _Head(
                inputs[0],
                f"{inner.how}, inside the nested model {op.name!r}",
                tail=lambda t: inner.raw(sub(t, training=False)),
                binary=inner.binary,
            )
    elif len(inputs) == 1 and not getattr(op, "weights", None):
        # a bare activation: Softmax / Activation / Lambda layer, or a keras.ops op
        named = _op_family(op)
        family = _behaves_like(op, inputs[0].shape, ("softmax", "sigmoid"))
        if family is not None and named in (None, family):
            return _Head(
                inputs[0],
                f"logits: the input of the final {family} ({kind})",
                binary=family == "sigmoid" and n_out == 1,
            )
    elif len(inputs) == 1 and _family(getattr(op, "activation", None)) in ("softmax", "sigmoid"):
        family = str(_family(op.activation))  # softmax or sigmoid: checked just above
        if isinstance(op, keras.layers.Dense):
            head = _Head(
                inputs[0],
                f"logits: the final Dense {op.name!r} without its {family}",
                dense=op,
                binary=family == "sigmoid" and n_out == 1,
            )
        else:
            head = _Head(
                inputs[0],
                f"logits: a copy of the final {kind} without its {family}",
                tail=_linear_copy(op, inputs[0].shape),
                binary=family == "sigmoid" and n_out == 1,
            )
        t = _probe(inputs[0].shape, scale=1.0)
        want = np.asarray(op(t), np.float64)
        got = _REFERENCE[family](np.asarray(head.raw(_tf().constant(t)), np.float64))
        if not np.allclose(got, want, rtol=1e-4, atol=1e-5):
            raise CourseValueError(
                f"The last layer of model {model.name!r}, {kind}, applies a {family}, but the course could not "
                "separate its scores from it (a copy without the activation computes something else). Build a "
                "model that outputs the scores before the activation and explain that one."
            )
        return head
    if n_out == 1:
        return _Head(
            out, "logit: the model's single output z (class 1 scores z, class 0 scores -z)", binary=True, is_output=True
        )
    return _Head(out, "logits: the model's output", is_output=True)


def _warn_if_probabilities(model, head: _Head, value_range) -> None:
    """Warn when a model's outputs are probabilities although no softmax was found to skip."""
    if not head.is_output or head.binary:
        return
    try:
        y = np.asarray(model(_input_probe(model, value_range), training=False), np.float64)
    except Exception:  # noqa: BLE001 - a model that cannot take the probe's size (unknown sizes: 32 x 32)
        return
    if y.ndim == 2 and y.shape[1] > 1 and (y >= -1e-6).all() and np.allclose(y.sum(axis=-1), 1.0, atol=1e-3):
        op, _ = _producer_node(model.outputs[0])
        warnings.warn(
            f"The outputs of model {model.name!r} sum to 1 like probabilities, but its last operation "
            f"({type(op).__name__} {op.name!r}) is not a softmax the explainer can recognise, so the maps explain "
            "probabilities, which saturate on confident images (empty or noisy maps). Give the explainer a "
            "model that outputs the scores before the softmax: keras.Model(model.inputs, <that tensor>).",
            ExplainerWarning,
            stacklevel=4,
        )


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
