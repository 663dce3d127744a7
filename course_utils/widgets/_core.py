"""What the explorers share: the checks on their arguments, the prediction line, a figure as PNG, the control
box that redraws a picture (:func:`interact_figure`), and the explainers as the sliders build them (the
registry's slider options)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import data, explain
from ..explain import registry
from ..explain.activations import softmax
from ..validation import CourseValueError, describe
from ..validation import class_index as _class_index

if TYPE_CHECKING:
    import ipywidgets
    import keras
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

    from ..explain.base import _Explainer

PREDICTED = -1


def _num_classes(model) -> int:
    """How many classes ``model`` scores: its output's last dimension (one sigmoid output: two classes)."""
    explain.conv_layers(model)  # checks that it is a Keras model with one input and one output
    n = int(model.outputs[0].shape[-1])
    return 2 if n == 1 else n


def _layers(model) -> list[str]:
    layers = explain.conv_layers(model)
    if not layers:
        raise CourseValueError(
            f"Model {model.name!r} has no layer with a spatial output (a convolution): there is "
            "nothing for the explorer's layer menu. Pass a CNN."
        )
    return layers


def _layer(layer, layers: list[str]) -> str:
    """``layer`` (None: the last) if it is one of the explorer's ``layers``, else a clear error."""
    if layer is None:
        return layers[-1]
    if not isinstance(layer, str) or layer not in layers:
        raise CourseValueError(
            f"layer must be one of the model's convolutional layers ({', '.join(layers)}); got {describe(layer)}."
        )
    return layer


def _wanted_class(class_index, num_classes: int) -> int | None:
    """None for the predicted class (None or :data:`PREDICTED`), else a class index in range."""
    if class_index is None or (
        isinstance(class_index, int) and not isinstance(class_index, bool) and class_index == PREDICTED
    ):
        return None
    return _class_index(class_index, num_classes)


def _top3(logits) -> tuple[np.ndarray, np.ndarray]:
    """The softmax of ``logits`` (10,) and the indices of its three largest values, largest first."""
    probs = softmax(np.asarray(logits, dtype=np.float64).reshape(-1))
    return np.argsort(probs)[::-1][:3], probs


def prediction_text(logits: ArrayLike, class_names: Sequence[str] = data.CLASS_NAMES, truth: int | None = None) -> str:
    """The line of text under an explorer's picture, for every reader (a screen reader too).

    ``logits``: (10,) the model's scores for one image; ``truth``: the true class index, if known.
    Returns e.g. ``"Prediction: cat. Top 3: cat 83%, dog 10%, frog 3%. True class: cat."``
    """
    top, probs = _top3(logits)
    text = (
        f"Prediction: {class_names[top[0]]}. Top 3: " + ", ".join(f"{class_names[c]} {probs[c]:.0%}" for c in top) + "."
    )
    return text + (f" True class: {class_names[int(truth)]}." if truth is not None else "")


def figure_png(fig: Figure) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _figure_controls_class():
    import ipywidgets as w

    class FigureControls(w.VBox):
        """Controls above a picture (an ``ipywidgets.Image``) that is redrawn when any control moves.

        ``controls``: name -> widget; ``picture``: the Image widget whose ``value`` holds the PNG bytes;
        ``last_redraw_ms``: how long the last redraw took, from value change to ready PNG.
        """

        def __repr__(self) -> str:  # short and stable: what a notebook stores as text
            return f"FigureControls({', '.join(self.controls)})"

    return FigureControls


def interact_figure(
    plot: Callable[..., Any], layout: Sequence[Sequence[str]] | None = None, **controls: Any
) -> ipywidgets.VBox:
    """Like ``ipywidgets.interact``, for a function that returns a matplotlib figure.

    ``plot(**values)`` is called with the controls' current values at once and whenever one changes; its
    figure (or the PNG bytes it returns) is shown in an ``ipywidgets.Image``. ``plot`` may also return a
    pair (figure or PNG bytes, text): the text is shown under the picture in an ``ipywidgets.Label``
    (plain text, which a screen reader reads; ``box.caption``). Unlike ``interact``, nothing is printed into an
    Output widget, so the notebook stores the same outputs however it is run (JupyterLab, nbclient,
    nbval), and a browser test can read the picture's bytes. ``layout``: rows of control names
    (default: all in one row).
    """
    import ipywidgets as w

    picture = w.Image(format="png")
    caption = w.Label(value="")
    FigureControls = _figure_controls_class()

    def redraw(_=None):
        start = time.perf_counter()
        out = plot(**{name: c.value for name, c in controls.items()})
        if isinstance(out, tuple):
            out, caption.value = out
        picture.value = out if isinstance(out, bytes) else figure_png(out)
        box.last_redraw_ms = 1e3 * (time.perf_counter() - start)

    rows = layout or [list(controls)]
    box = FigureControls([w.HBox([controls[n] for n in row]) for row in rows] + [picture, caption])
    box.controls, box.picture, box.caption, box.last_redraw_ms = controls, picture, caption, None
    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return box


#: Options the explorers give some methods so that one image is fast enough for a slider: each method's
#: ``slider`` options in :data:`course_utils.explain.registry.REGISTRY` (e.g. Score-CAM keeps 64 maps).
SLIDER_OPTIONS = registry.FastOptions("slider")


def _build(method: str, model: keras.Model, layer: str | None) -> _Explainer:
    """The explainer ``method`` for ``model`` as the explorers build it (the registry's slider options)."""
    return registry.make(method, model, layer, fast="slider")


def _explain_shown(explainer, image, class_index):
    """``explainer.explain(image, class_index)`` for a picture: an empty map is an answer that the picture states,
    so its :class:`~course_utils.explain.EmptyMapWarning` is returned as a message instead of printed under the
    widget; any other warning passes on. Returns the explanation and the message (or None)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", explain.EmptyMapWarning)
        ex = explainer.explain(image, class_index)
    empty = None
    for w in caught:
        if issubclass(w.category, explain.EmptyMapWarning):
            empty = str(w.message)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return ex, empty


EMPTY_NOTE = "Empty map: no positive evidence\nfor this class here."
