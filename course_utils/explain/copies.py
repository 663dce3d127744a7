"""Copies of a model that explanations and evaluations need, each checked against the model it copies.

:func:`make_guided_model` (guided backpropagation: every ReLU made guided), :func:`_clone_in_bfloat16` and
:func:`_bfloat16_copy` (Score-CAM's bfloat16 passes), :func:`sized_copy` (a fully convolutional model for images of
any size, or of one other fixed size: ``models.any_size``, ``evaluation.fixed_size``). After copying weights,
:func:`finalize_state` refreshes preprocessing state and :func:`check_same_function` compares the copy with the
model on a probe batch. The user's model is never changed.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection
from typing import TYPE_CHECKING

import numpy as np

from ..validation import CourseValueError
from .activations import RELU_LIKE, _behaves_like, _family, _is_plain_relu, _op_family, _tf
from .errors import ExplainerWarning
from .graph import _input_probe, _operations, _producer

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

__all__ = ["check_same_function", "finalize_state", "guided_relu", "make_guided_model", "sized_copy"]


def guided_relu(x: tf.Tensor) -> tf.Tensor:
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


def finalize_state(model: keras.Model) -> None:
    """Refresh what preprocessing layers derive from their variables, after ``set_weights`` on a copy.

    An adapted ``Normalization`` keeps its mean and variance in variables (copied by ``set_weights``) *and*
    in tensors computed from them by ``finalize_state()`` (not copied): a clone would normalise with the
    values it was built with. Calling this on the clone brings them in line.
    """
    for layer in _all_layers(model):
        refresh = getattr(layer, "finalize_state", None)
        if callable(refresh) and getattr(layer, "built", False):
            refresh()


def check_same_function(model: keras.Model, copy: keras.Model, what: str, probe: np.ndarray | None = None) -> float:
    """Raise ValueError unless ``copy`` computes what ``model`` computes on a probe batch (two fixed random
    images, 0-255, unless ``probe`` is given). Returns the largest difference (NaN when the model itself
    cannot take the probe, e.g. a model of unknown input size that needs images larger than 32 x 32)."""
    x = _input_probe(model) if probe is None else probe
    try:
        want = np.asarray(model(x, training=False), np.float64)
    except Exception:  # noqa: BLE001 - the model cannot take the probe (unknown sizes are probed at 32 x 32)
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
            "variance=...)) or build the model again from code, then explain it."
        )
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
                family = _behaves_like(
                    op, inputs[0].shape, ("relu", "relu6", "swish", "gelu", "gelu (exact)", "elu", "softplus")
                )
        if family is None or (family == "relu" and isinstance(op, (L.ReLU, L.Activation))):
            continue  # not ReLU-like, or made guided
        if family != "relu" and family not in RELU_LIKE:
            continue
        if isinstance(op, L.Lambda):
            found.append(f"{label} (a Lambda that computes {family})")
        elif not isinstance(op, L.Layer):
            found.append(f"{label} (keras.ops.{type(op).__name__.lower()} in the functional graph)")
        elif isinstance(op, L.ReLU):
            args = {
                "relu6": "max_value=6",
                "capped_relu": f"max_value={op.max_value}",
                "thresholded_relu": f"threshold={op.threshold}",
            }.get(family, f"negative_slope={op.negative_slope}")
            found.append(f"{label} (ReLU({args}))")
        else:
            found.append(f"{label} ({type(op).__name__}, {family})")
    return found


def make_guided_model(
    model: keras.Model,
) -> tuple[keras.Model, int]:  # long: its docstring says every case it handles; the code is one clone
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
            config["activation"] = act  # the function itself: tf.nn.softmax has no config to rebuild it from
            return type(layer).from_config(config)
        if isinstance(layer, keras.layers.Lambda):
            return layer  # weightless; its Python function cannot be rebuilt from a config in safe mode
        return type(layer).from_config(config)

    try:
        clone = keras.models.clone_model(model, clone_function=replace, recursive=True)
    except Exception as exc:  # noqa: BLE001 - any failure of Keras's cloning, said in a course error
        raise CourseValueError(
            f"Could not clone {model.name!r} to make its ReLUs guided ({type(exc).__name__}: "
            f"{exc}). Guided backpropagation needs a functional or Sequential model."
        ) from None
    clone.set_weights(model.get_weights())
    finalize_state(clone)
    unguided = _unguided_relus(model)
    if count[0] == 0:
        also = f" It has ReLU relatives that cannot be made guided: {', '.join(unguided)}." if unguided else ""
        raise CourseValueError(
            f"Model {model.name!r} has no ReLU (activation='relu', Activation('relu') or ReLU()) "
            "to make guided; guided backpropagation would silently equal the vanilla gradient."
            f"{also} Use VanillaGradient for this model."
        )
    check_same_function(model, clone, "guided clone")
    if unguided:
        warnings.warn(
            f"Guided backpropagation on model {model.name!r}: {len(unguided)} ReLU-like operation(s) cannot be "
            f"made guided and pass gradients back as usual, so the result is partly the plain gradient: "
            f"{', '.join(unguided)}. Only activation='relu', Activation('relu') and layers.ReLU() become guided.",
            ExplainerWarning,
            stacklevel=3,
        )
    return clone, count[0]


def _clone_in_bfloat16(model: keras.Model, keep: Collection[str] = ()) -> keras.Model:
    """A copy of ``model`` whose layers compute in bfloat16 (Keras's ``mixed_bfloat16`` policy: float32 weights,
    bfloat16 arithmetic) with the same weights, except the layers in ``keep``, which stay float32. Nested models
    are copied too; weightless ``Lambda`` layers are shared (they cannot always be rebuilt from their config).
    ``model`` is not changed. Errors from Keras pass through: callers wrap them."""
    import keras

    keep = list(keep)

    def rebuild(layer):
        if isinstance(layer, keras.layers.Lambda):
            return layer  # weightless; it computes in float32 on the bfloat16 values it is given
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

    def probabilities(model, x):  # ``features`` takes a list of one input, the copy the input itself
        return tf.nn.softmax(to_logits(tf.cast(model(x, training=False)[1], tf.float32))).numpy().astype(np.float64)

    x = _input_probe(features, value_range)
    h, w = x.shape[1:3]
    ramps = [
        np.linspace(0, 1, w, dtype=np.float32)[None, :],
        np.linspace(1, 0, h, dtype=np.float32)[:, None],
        np.outer(np.hanning(h), np.hanning(w)).astype(np.float32),
    ]
    x = np.concatenate([x] + [x * np.broadcast_to(r, (h, w))[None, :, :, None] for r in ramps])
    want = probabilities(features, [x])
    try:
        bf16 = _clone_in_bfloat16(features, keep=[_producer(features.outputs[1])])
        bf16 = keras.Model(bf16.inputs[0], bf16.outputs, name=f"{bf16.name}_bfloat16")  # one image input, not a list
        got = probabilities(bf16, x)
    except Exception as exc:
        raise CourseValueError(
            f"Could not make a bfloat16 copy of model {model_name!r} ({type(exc).__name__}: {exc}). "
            "Use precision='float32'."
        ) from exc
    diff = float(np.abs(want - got).max()) if want.shape == got.shape else float("inf")
    if not diff <= 0.05:
        raise CourseValueError(
            f"In bfloat16, model {model_name!r} computes class probabilities that differ from its "
            f"float32 ones by {diff:.3g} on probe images, more than 0.05: its masked passes cannot be "
            "trusted in bfloat16. Use precision='float32'."
        )
    return bf16


def sized_copy(model: keras.Model, height: int | None = None, width: int | None = None) -> keras.Model:
    """A copy of the fully convolutional ``model`` for ``height`` x ``width`` images (None, None: any size).

    The course model has no Flatten: its convolutions, pooling and GAP work on any size, so the same weights
    classify a 64 x 64 mosaic (notebook 07). The copy shares nothing with ``model``. After the weights are
    copied, preprocessing state is refreshed (an adapted ``Normalization`` keeps its mean and variance outside its
    weights) and the copy is checked (:func:`check_same_function`): an any-size copy against ``model`` on a probe
    batch of the model's size, a fixed-size copy against the any-size copy on a probe of its own size.
    """
    import keras

    config = model.get_config()
    first = config["layers"][0]["config"]
    first["batch_shape"] = [None, height, width, first["batch_shape"][-1]]
    copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    finalize_state(copy)
    if height is None and width is None:
        check_same_function(model, copy, "any-size copy")
    else:
        size = (2, height or 32, width or 32, 3)
        probe = np.random.default_rng(0).uniform(0, 255, size).astype(np.float32)
        check_same_function(sized_copy(model), copy, f"{height} x {width} copy", probe=probe)
    return copy
