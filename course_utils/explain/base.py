"""The base of every explainer: one calling convention, one compiled pass, one exit check.

``explainer(images, class_index=None, *, target=None)`` returns the maps, ``explainer.explain(...)`` an
:class:`Explanation` with every piece. A method writes ``_body(x, cls, target)``, the pass over a batch that is
compiled on first use (:meth:`_Explainer._compiled`) and returns a :class:`Computed`, and says why its maps can
be empty (``_empty_reason``); the base class checks the inputs, turns the pass into numpy and checks every map on
the way out (:meth:`_Explainer._checked`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..validation import CourseValueError
from .errors import EmptyMapWarning
from .graph import _check_model, _logit_head, _tf, _warn_if_probabilities
from .inputs import Target, _as_batch, _class_indices, _few, _probe_target, _target, _target_score, _value_range

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["Computed", "Explanation", "normalize_maps"]


def normalize_maps(maps: tf.Tensor, signed: bool = False) -> tf.Tensor:
    """Scale each map of a batch ``(N, ...)`` so that its largest value is 1 (largest |value| if
    ``signed``). An all-zero map stays all zero, never NaN."""
    tf = _tf()
    axes = list(range(1, len(maps.shape)))
    peak = tf.reduce_max(tf.abs(maps) if signed else maps, axis=axes, keepdims=True)
    return tf.math.divide_no_nan(maps, peak)


@dataclass
class Explanation:
    """What one call computed, as numpy arrays.

    maps:          (N, H, W) heat maps (or (N, H, W, C) gradients for the gradient methods)
    class_index:   (N,) the class explained for each image (-1 where a ``target`` function was explained)
    logits:        (N, num_classes) class scores y before any softmax
    feature_maps:  (N, h, w, K) A, the chosen layer's output (None for pure input-gradient methods)
    weights:       (N, K) alpha for Grad-CAM, w[:, c] for CAM (None otherwise)
    gradients:     dy_c / dA (N, h, w, K) for Grad-CAM, dy_c / dx (N, H, W, C) for gradient methods
    extra:         what else the method reports (the layer, IG's completeness gap, the target ...)
    """

    maps: np.ndarray
    class_index: np.ndarray
    logits: np.ndarray
    feature_maps: np.ndarray | None = None
    weights: np.ndarray | None = None
    gradients: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


class Computed(NamedTuple):
    """What one compiled pass (``_body``) returns, as tensors; None where a method has no such piece. ``score``
    is the score explained for each image (N,): y^c, or the target's value."""

    class_index: Any
    logits: Any
    score: Any = None
    maps: Any = None
    feature_maps: Any = None
    weights: Any = None
    gradients: Any = None
    extra: dict | None = None


class _Explainer:
    """Shared plumbing: input checks, class choice, logits, and one compiled function per explainer."""

    name = "explainer"
    #: Whether the constructor takes a ``layer`` (the CAM family) or explains the input pixels only.
    takes_layer = False
    #: Whether ``explain(..., target=f)`` can explain a function of the class scores instead of one class;
    #: ``_no_target`` says why not where it cannot.
    takes_target = True
    _no_target = ""

    def __init__(self, model, *, value_range: tuple[float, float] | None = (0, 255)) -> None:
        value_range = _value_range(value_range)
        _check_model(model)
        self.model = model
        self.value_range = value_range
        self.input_shape = tuple(model.inputs[0].shape[1:])
        self._head = _logit_head(model)
        self._logit_tensor, self.scores = self._head.tensor, self._head.how
        _warn_if_probabilities(model, self._head, value_range)
        self.num_classes = 2 if self._head.binary else int(model.outputs[0].shape[-1])
        self._fn: Any = None
        self._target_fn: tuple[Target, Any] | None = None

    # y = logits from whatever tensor _logit_head picked
    def _logits(self, t):
        return self._head.scores(t)

    def _pick(self, logits, cls):
        tf = _tf()
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        cls = tf.where(cls < 0, predicted, cls)
        score = tf.gather(logits, cls, axis=1, batch_dims=1)
        return cls, score

    def _score(self, logits, cls, target: Target | None):
        """``(class, score)``: y^c of class ``cls`` (-1: the predicted one), or ``target(y)`` (the class stays -1)."""
        if target is None:
            return self._pick(logits, cls)
        return cls, _target_score(target, logits)

    def _body(self, x, cls, target: Target | None = None) -> Computed:  # pragma: no cover - abstract
        raise NotImplementedError

    def _compile(self, body, target: Target | None = None):
        """``body(x, cls, target)`` as a TensorFlow function of a batch of images and class indices."""
        tf = _tf()
        spec = [tf.TensorSpec((None, *self.input_shape), tf.float32), tf.TensorSpec((None,), tf.int32)]

        def run(x, cls):
            return body(x, cls, target)

        return tf.function(run, input_signature=spec, reduce_retracing=True)

    def _compiled(self, target: Target | None = None):
        """The compiled ``_body``, built on first use: one per explainer for class indices (``_fn``), and one for
        the last target function given."""
        if target is None:
            if self._fn is None:
                self._fn = self._compile(self._body)
            return self._fn
        if self._target_fn is None or self._target_fn[0] is not target:
            _probe_target(target, self.num_classes)  # its errors said plainly, not from inside a graph
            self._target_fn = (target, self._compile(self._body, target))
        return self._target_fn[1]

    def _prepare(self, images, class_index):
        x = _as_batch(images, self.input_shape, self.value_range)
        cls = _class_indices(class_index, len(x), self.num_classes)
        return x, cls

    def _extra(self) -> dict:
        """What every explanation of this explainer reports in ``extra`` (e.g. the layer)."""
        return {}

    def _explanation(self, out: Computed, target: Target | None = None, **extra: Any) -> Explanation:
        """The tensors of a pass as an :class:`Explanation` of numpy arrays."""

        def value(t):
            return None if t is None else t.numpy()

        extra = {**{k: value(v) for k, v in (out.extra or {}).items()}, **self._extra(), **extra}
        if target is not None:
            extra["target"] = target
        return Explanation(
            maps=value(out.maps),
            class_index=value(out.class_index),
            logits=value(out.logits),
            feature_maps=value(out.feature_maps),
            weights=value(out.weights),
            gradients=value(out.gradients),
            extra=extra,
        )

    def _explain(self, images, class_index, target: Target | None) -> Explanation:
        """One pass of the compiled ``_body`` over the batch (methods that need more override this)."""
        x, cls = self._prepare(images, class_index)
        return self._explanation(self._compiled(target)(x, cls), target)

    def explain(self, images, class_index=None, *, target: Target | None = None) -> Explanation:
        """Explain ``images`` for ``class_index`` (None: the predicted class), or for ``target``: a function of
        the class scores y (N, num_classes) that returns one score per image, e.g. ``lambda y: y[:, 3] - y[:, 5]``
        (``class_index=3`` is ``lambda y: y[:, 3]``). Every map is checked on the way out (see :meth:`_checked`)."""
        target = _target(target, class_index, self.name, self.takes_target, self._no_target)
        return self._checked(self._explain(images, class_index, target), stacklevel=3)

    def __call__(self, images, class_index=None, *, target: Target | None = None) -> np.ndarray:
        """Return only the maps; see :meth:`explain` for the pieces."""
        target = _target(target, class_index, self.name, self.takes_target, self._no_target)
        return self._checked(self._explain(images, class_index, target), stacklevel=3).maps

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
                f"class scores), so no map is returned. {self._nan_hint(ex, bad)}"
            )
        empty = np.flatnonzero(~flat.any(axis=1))
        ex.extra["empty_maps"] = empty
        if n and len(empty) == n:
            which = "The map" if n == 1 else f"Every one of the {n} maps"
            what = "the target given" if "target" in ex.extra else f"class {_few(np.unique(ex.class_index))}"
            warnings.warn(
                f"{which} of {self.name} ({what}) is all zero. {self._empty_reason(ex)}",
                EmptyMapWarning,
                stacklevel=stacklevel,
            )
        return ex

    def _nan_hint(self, ex: Explanation, bad) -> str:
        """What to check when the maps of images ``bad`` hold NaN or infinite values."""
        logits = np.asarray(ex.logits)[bad]
        if not np.isfinite(logits).all():
            return (
                "The model's own class scores are NaN or infinite on them: its weights or its arithmetic are "
                "broken (a training run that diverged, an overflow). Check model(images) and the weights "
                "(np.isfinite(w).all() for w in model.get_weights()) before explaining."
            )
        return (
            "The model's scores are finite, but a gradient or an activation overflowed float32 on the way: "
            "check that the images are in the model's range (value_range) and that no layer produces huge "
            "values (very large weights)."
        )

    def _empty_reason(self, ex: Explanation) -> str:
        """Why every map is all zero (each method says it in its own terms)."""
        return (
            "The class score does not change with the input here: its gradient is exactly 0 at every pixel "
            "(every ReLU on the way is off, or the model ignores its input). Try another class or image, "
            "and check that the model was trained."
        )

    @property
    def traces(self) -> int:
        """How many times the compiled function was traced (1 after any number of calls: no retracing)."""
        return 0 if self._fn is None else self._fn.experimental_get_tracing_count()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model.name!r})"
