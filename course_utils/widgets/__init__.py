"""The explorers behind the notebooks' sliders.

Every slider calls a plain function that is tested on its own (:meth:`Explorer.compute`,
:meth:`Explorer.figure`, :func:`feature_map_figure`); the ipywidgets part only wires controls to it.
Explainers are built once per (method, layer) and cached, so a moving slider reuses compiled code.
"""

from ._core import EMPTY_NOTE, PREDICTED, SLIDER_OPTIONS, _build, figure_png, interact_figure, prediction_text
from .explorer import Explorer, feature_map_figure
from .own_image import DISPLAY_MAX_SIDE, PLAIN_MESSAGES, _Photo, own_image_explorer, own_image_figure, plain_message

__all__ = [
    "DISPLAY_MAX_SIDE",
    "EMPTY_NOTE",
    "PLAIN_MESSAGES",
    "PREDICTED",
    "SLIDER_OPTIONS",
    "Explorer",
    "_Photo",
    "_build",
    "feature_map_figure",
    "figure_png",
    "interact_figure",
    "own_image_explorer",
    "own_image_figure",
    "plain_message",
    "prediction_text",
]
