"""What an activation computes: softmax, sigmoid, the ReLU and its relatives, by the identity of the function
(``keras.activations``, ``keras.ops``, ``tf.nn``, ``tf.math``), its name, its layer, or what it computes on a probe.

The logit head (:mod:`.graph`) looks for a final softmax or sigmoid with these; guided backpropagation
(:mod:`.copies`) looks for the ReLUs it can make guided, and names the relatives it cannot (:data:`RELU_LIKE`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["RELU_LIKE", "softmax"]


def _tf():
    import tensorflow as tf

    return tf


# What an activation computes, by the function's identity (keras.activations, keras.ops, tf.nn, tf.math),
# else by its name: tf.nn.softmax is called softmax_v2, keras.ops.silu is swish under another name.
_FAMILY_BY_NAME = {
    "softmax": "softmax",
    "softmax_v2": "softmax",
    "sigmoid": "sigmoid",
    "relu": "relu",
    "relu6": "relu6",
    "leaky_relu": "leaky_relu",
    "elu": "elu",
    "selu": "selu",
    "celu": "celu",
    "gelu": "gelu",
    "silu": "swish",
    "swish": "swish",
    "hard_silu": "hard_swish",
    "hard_swish": "hard_swish",
    "mish": "mish",
    "softplus": "softplus",
}
# keras.ops.* applied to a symbolic tensor leaves an op of these classes in a functional model
_OP_FAMILIES = {
    "Softmax": "softmax",
    "Sigmoid": "sigmoid",
    "Relu": "relu",
    "Relu6": "relu6",
    "LeakyRelu": "leaky_relu",
    "Elu": "elu",
    "Selu": "selu",
    "Celu": "celu",
    "Gelu": "gelu",
    "Silu": "swish",
    "HardSilu": "hard_swish",
    "Softplus": "softplus",
    "Threshold": "threshold",
}
#: Relatives of the ReLU that guided backpropagation cannot make guided: its rule is defined for the ReLU.
RELU_LIKE = frozenset(
    {
        "relu6",
        "capped_relu",
        "thresholded_relu",
        "threshold",
        "leaky_relu",
        "prelu",
        "elu",
        "selu",
        "celu",
        "gelu",
        "swish",
        "hard_swish",
        "mish",
        "softplus",
    }
)


_TABLE: dict[int, tuple[Any, str]] = {}


def _family_table() -> dict[int, tuple[Any, str]]:
    """id(function) -> (function, family) for the activations of Keras and TensorFlow, built on first use."""
    if not _TABLE:
        import keras

        tf = _tf()
        for module in (keras.activations, keras.ops, keras.ops.nn, tf.nn, tf.math):
            for attr, family in _FAMILY_BY_NAME.items():
                fn = getattr(module, attr, None)
                if callable(fn):
                    _TABLE[id(fn)] = (fn, family)  # fn kept alive: its id stays its own
    return _TABLE


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
    return (
        getattr(layer, "max_value", None) is None
        and not getattr(layer, "negative_slope", 0)
        and not getattr(layer, "threshold", 0)
    )


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


def softmax(z: np.ndarray) -> np.ndarray:
    """The softmax of ``z`` over its last axis, in numpy (the largest value is subtracted first, so no overflow).

    The explorers' top-3 line and the recognition of a softmax op (:func:`_behaves_like`) both use it."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _np_gelu_exact(z):
    from math import erf

    return 0.5 * z * (1.0 + np.vectorize(erf)(z / np.sqrt(2.0)))


# What each family computes, in numpy, to recognise an op by what it does
_REFERENCE = {
    "softmax": softmax,
    "sigmoid": _np_sigmoid,
    "relu": lambda z: np.maximum(z, 0.0),
    "relu6": lambda z: np.clip(z, 0.0, 6.0),
    "swish": lambda z: z * _np_sigmoid(z),
    "gelu": lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))),
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
    except Exception:  # noqa: BLE001 - an op that needs other arguments: not a bare activation
        return None
    for family in families:
        want = _REFERENCE[family](z.astype(np.float64))
        if out.shape == want.shape and np.allclose(out, want, rtol=1e-4, atol=1e-5):
            return family.split(" ")[0]
    return None
