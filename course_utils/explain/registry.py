"""One registry of the course's explanation methods: the one place that says which methods exist.

Each :class:`Method` holds the name the menus show, the class, and the options that make it fast enough for an
explorer's slider and for notebook 11's evaluation; :func:`make` builds any of them. ``explain.METHODS``, the
explorers' method menus (``course_utils.widgets``), ``widgets.SLIDER_OPTIONS``, ``evaluation.ALL_METHODS`` and
``evaluation.EVAL_OPTIONS`` are views of :data:`REGISTRY`, read when used, so adding a method is one class and one
line below (and its tests).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

from ..validation import CourseValueError, describe
from .backprop import GuidedBackprop, GuidedGradCAM, VanillaGradient
from .base import _Explainer
from .cam import CAM, EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM, XGradCAM
from .path_noise import IntegratedGradients, SmoothGrad
from .perturbation import Occlusion, ScoreCAM

if TYPE_CHECKING:
    import keras

__all__ = ["METHODS", "REGISTRY", "FastOptions", "Method", "Names", "make", "method"]

Fast = Literal["slider", "evaluation"]


@dataclass(frozen=True)
class Method:
    """One explanation method: ``name`` as the menus show it, its explainer class ``cls``, and the options that
    make one image fast enough for a slider (``slider``) and a few hundred images affordable for notebook 11's
    evaluation on two CPU cores (``evaluation``)."""

    name: str
    cls: type[_Explainer]
    slider: Mapping[str, Any] = field(default_factory=dict)
    evaluation: Mapping[str, Any] = field(default_factory=dict)

    @property
    def takes_layer(self) -> bool:
        """Whether the method explains one layer's feature maps (the CAM family) rather than the pixels."""
        return bool(self.cls.takes_layer)

    def options(self, fast: Fast | None = None) -> dict[str, Any]:
        """The constructor options for ``fast`` ("slider", "evaluation"; None: the class's own defaults)."""
        if fast is None:
            return {}
        if fast not in ("slider", "evaluation"):
            raise CourseValueError(f"fast must be None, 'slider' or 'evaluation'; got {describe(fast)}.")
        return dict(self.slider if fast == "slider" else self.evaluation)

    def make(
        self, model: keras.Model, layer: str | None = None, *, fast: Fast | None = None, **options: Any
    ) -> _Explainer:
        """The explainer for ``model``: ``layer`` for the methods that take one (None: the last spatial layer),
        the ``fast`` options, then ``options``."""
        kw = {**self.options(fast), **options}
        if self.takes_layer:
            return self.cls(model, layer, **kw)  # type: ignore[arg-type,call-arg]
        if layer is not None:
            raise CourseValueError(f"{self.name} explains the input pixels and takes no layer; got layer={layer!r}.")
        return self.cls(model, **kw)


# Score-CAM keeps the 64 most varied of the layer's maps (tf-keras-vis's max_N); Integrated Gradients takes 32
# points on its path instead of 64 (measured in benchmarks/run.py). The same options serve both uses.
_SCORE_CAM_FAST = {"max_channels": 64}
_IG_FAST = {"steps": 32}

#: Every method of the course, in menu order: name -> :class:`Method`.
REGISTRY: dict[str, Method] = {
    m.name: m
    for m in (
        Method("CAM", CAM),
        Method("Grad-CAM", GradCAM),
        Method("Grad-CAM++", GradCAMPlusPlus),
        Method("XGrad-CAM", XGradCAM),
        Method("HiResCAM", HiResCAM),
        Method("LayerCAM", LayerCAM),
        Method("Score-CAM", ScoreCAM, slider=_SCORE_CAM_FAST, evaluation=_SCORE_CAM_FAST),
        Method("Eigen-CAM", EigenCAM),
        Method("guided backpropagation", GuidedBackprop),
        Method("guided Grad-CAM", GuidedGradCAM),
        Method("vanilla gradient", VanillaGradient),
        Method("SmoothGrad", SmoothGrad),
        Method("Integrated Gradients", IntegratedGradients, slider=_IG_FAST, evaluation=_IG_FAST),
        Method("occlusion", Occlusion),
    )
}


def method(name: str) -> Method:
    """The registered method ``name``; a :class:`~course_utils.validation.CourseValueError` naming the choices."""
    if not isinstance(name, str) or name not in REGISTRY:
        got = repr(name) if isinstance(name, str) else describe(name)
        raise CourseValueError(f"Unknown method {got}; choose one of {', '.join(map(repr, REGISTRY))}.")
    return REGISTRY[name]


def make(
    name: str, model: keras.Model, layer: str | None = None, *, fast: Fast | None = None, **options: Any
) -> _Explainer:
    """The explainer ``name`` (a key of :data:`REGISTRY`) for ``model``: see :meth:`Method.make`."""
    return method(name).make(model, layer, fast=fast, **options)


class _Classes(Mapping[str, type]):
    """``explain.METHODS``: name -> explainer class, in the registry's order, read live."""

    def __getitem__(self, name: str) -> type:
        return REGISTRY[name].cls

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)

    def __repr__(self) -> str:
        return repr({name: m.cls for name, m in REGISTRY.items()})


class Names(Sequence[str]):
    """The registry's method names in order, read live, then ``after`` (e.g. a baseline); indexes and slices
    like the tuple it prints as."""

    def __init__(self, after: Sequence[str] = ()) -> None:
        self._after = tuple(after)

    def _names(self) -> tuple[str, ...]:
        return (*REGISTRY, *self._after)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[str, ...]: ...
    def __getitem__(self, i):
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __eq__(self, other: object) -> bool:
        return self._names() == (tuple(other) if isinstance(other, (tuple, list, Names)) else other)

    def __hash__(self) -> int:
        return hash(self._names())

    def __repr__(self) -> str:
        return repr(self._names())


class FastOptions(Mapping[str, dict]):
    """``{name: options}`` for the methods with ``fast`` options ("slider" or "evaluation"), read live."""

    def __init__(self, fast: Fast) -> None:
        self._fast = fast

    def _table(self) -> dict[str, dict]:
        return {name: o for name, m in REGISTRY.items() if (o := m.options(self._fast))}

    def __getitem__(self, name: str) -> dict:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return repr(self._table())


#: The methods the explorer offers, by the name it shows: name -> class (a view of :data:`REGISTRY`). Each class
#: says whether it takes a layer (``takes_layer``): the CAM family explains one layer's feature maps, the others
#: the input pixels.
METHODS = _Classes()
