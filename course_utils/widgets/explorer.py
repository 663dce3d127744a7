"""The explorer of a batch of images: any method, class and layer (:class:`Explorer`), and one feature map
next to its image (:func:`feature_map_figure`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import data, viz
from ..explain import registry
from ..validation import CourseValueError, describe
from ..validation import class_names as _class_names
from ._core import (
    EMPTY_NOTE,
    PREDICTED,
    _build,
    _explain_shown,
    _layer,
    _layers,
    _num_classes,
    _top3,
    _wanted_class,
    interact_figure,
    prediction_text,
)

if TYPE_CHECKING:
    import ipywidgets
    import keras
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

    from ..explain.base import _Explainer


class Explorer:
    """Explain images of one model with any method, class and layer.

    Args:
        model: the Keras model (the course model by default in the notebooks).
        images: (N, H, W, 3) images, 0-255 (integers, or floats 0-255); floats that all lie in 0-1 are read
            as 0-1 and scaled by 255, uint16 as 16-bit (see :func:`course_utils.images.as_rgb`).
        labels: (N,) true labels, shown in the title when given.
        class_names: one name for each of the model's classes.

    Raises :class:`~course_utils.validation.CourseValueError` for images that are not a batch of pixels (NaN,
    negative values, the wrong shape), labels that are not class indices, and too few or too many class names.
    """

    def __init__(
        self,
        model: keras.Model,
        images: ArrayLike,
        labels: ArrayLike | None = None,
        class_names: Sequence[str] = data.CLASS_NAMES,
    ) -> None:
        from .. import images as _images

        self.model = model
        self.layers = _layers(model)
        num_classes = _num_classes(model)
        self.class_names = _class_names(class_names, num_classes)
        try:
            batch = np.asarray(images)
        except (TypeError, ValueError) as exc:
            raise CourseValueError(
                f"images must be a batch (N, H, W, 3) of pixels; got {describe(images)} ({exc})."
            ) from None
        if batch.ndim != 4 or batch.shape[-1] != 3 or 0 in batch.shape:
            raise CourseValueError(
                f"images must be a batch (N, H, W, 3), got shape {batch.shape}. For one image, pass images[None]."
            )
        _, scale = _images._pixels(batch.reshape(-1, *batch.shape[2:]), "images")  # NaN, range, dtype: checked
        self.images = batch.astype(np.float32) * np.float32(scale) if scale != 1 else batch.astype(np.float32)
        self.labels = None if labels is None else self._check_labels(labels, len(batch), num_classes)
        self._cache: dict = {}

    @staticmethod
    def _check_labels(labels, n: int, num_classes: int) -> np.ndarray:
        arr = np.asarray(labels)
        if arr.shape != (n,) or arr.dtype.kind not in "iu":
            raise CourseValueError(f"labels must be ({n},) class indices, one per image; got {describe(labels)}.")
        if n and not (0 <= arr.min() and arr.max() < num_classes):
            raise CourseValueError(
                f"labels hold {arr.min()}..{arr.max()}, but the model has {num_classes} classes: "
                f"each label must be from 0 to {num_classes - 1}."
            )
        return arr

    def explainer(self, method: str, layer: str | None) -> _Explainer:
        """The (cached) explainer for a method name of :data:`course_utils.explain.METHODS`."""
        key = (method, layer if registry.method(method).takes_layer else None)
        if key not in self._cache:
            self._cache[key] = _build(method, self.model, key[1])
        return self._cache[key]

    def compute(
        self, index: int, class_index: int | None = None, layer: str | None = None, method: str = "Grad-CAM"
    ) -> dict:
        """Explain image ``index``. Returns a dict with ``map`` ((H, W) heat map or (H, W, 3) gradients),
        ``kind`` ('heat' or 'gradient'), ``class_index``, ``logits``, ``layer``, and ``error`` (a message
        instead of a map when the method cannot explain that layer, e.g. CAM before the last layer)."""
        n = len(self.images)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise CourseValueError(
                f"index {describe(index)} is out of range 0..{n - 1}: give the number of an image of the batch."
            )
        index = int(index)
        class_index = _wanted_class(class_index, len(self.class_names))
        layer = _layer(layer, self.layers)
        registry.method(method)
        out = {"index": index, "method": method, "layer": layer, "error": None, "empty": None}
        try:
            ex, out["empty"] = _explain_shown(self.explainer(method, layer), self.images[index], class_index)
        except ValueError as err:
            if method != "CAM":
                raise
            logits = self.model(self.images[index : index + 1], training=False).numpy()
            out.update(
                map=None,
                kind="heat",
                error=str(err),
                logits=logits[0],
                class_index=int(logits.argmax() if class_index is None else class_index),
            )
            return out
        kind = "gradient" if ex.maps.ndim == 4 else "heat"
        out.update(map=ex.maps[0], kind=kind, logits=ex.logits[0], class_index=int(ex.class_index[0]))
        return out

    def _title(self, index: int, r: dict) -> str:
        top, probs = _top3(r["logits"])
        truth = f"true: {self.class_names[self.labels[index]]}\n" if self.labels is not None else ""
        return truth + "top 3: " + ", ".join(f"{self.class_names[c]} {probs[c]:.0%}" for c in top)

    def _new_canvas(self):
        """A figure with the image on the left and the explanation on the right, ready to be updated."""
        import matplotlib.pyplot as plt

        fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(7.2, 3.4))
        blank = np.zeros(self.images.shape[1:3])
        art = {
            "image": ax0.imshow(self.images[0].astype(np.uint8)),
            "base": ax1.imshow(self.images[0].astype(np.uint8)),
            "heat": ax1.imshow(blank, cmap=viz.CMAP, alpha=viz.ALPHA, vmin=0, vmax=1, interpolation="bilinear"),
            "note": ax1.text(0.5, 0.5, "", ha="center", va="center", fontsize=8, transform=ax1.transAxes),
        }
        art["bar"] = fig.colorbar(art["heat"], ax=ax1, fraction=0.046, pad=0.04)
        for ax in (ax0, ax1):
            ax.axis("off")
        fig.subplots_adjust(left=0.02, right=0.92, top=0.82, bottom=0.03, wspace=0.15)  # fixed: no layout pass
        return fig, ax0, ax1, art

    def _draw(self, canvas, index: int, r: dict, method: str) -> None:
        """Put the result ``r`` of :meth:`compute` on a canvas: new pixels and titles only."""
        _fig, ax0, ax1, art = canvas
        img = self.images[index].astype(np.uint8)
        art["image"].set_data(img)
        ax0.set_title(self._title(index, r), fontsize=8, fontweight="normal")
        name = self.class_names[r["class_index"]]
        heat_visible = r["error"] is None and r["kind"] == "heat"
        if r["error"]:
            art["base"].set_data(img)
            art["base"].set_alpha(0.3)
            art["note"].set_text(
                "CAM cannot explain this layer:\nit needs GAP -> Dense right after it.\n"
                "Pick the last layer, or Grad-CAM."
            )
            ax1.set_title(f"{method} for '{name}' at {r['layer']}")
        elif r["kind"] == "gradient":
            art["base"].set_data(viz.gradient_image(r["map"]))
            art["base"].set_alpha(1.0)
            art["note"].set_text("")
            ax1.set_title(f"{method} for '{name}'")
        else:
            art["base"].set_data(img)
            art["base"].set_alpha(1.0)
            art["heat"].set_data(r["map"])
            art["note"].set_text(EMPTY_NOTE if r["empty"] else "")
            ax1.set_title(f"{method} for '{name}' at {r['layer']}")
        art["heat"].set_visible(heat_visible)
        art["bar"].ax.set_visible(heat_visible)

    def figure(
        self, index: int, class_index: int | None = None, layer: str | None = None, method: str = "Grad-CAM"
    ) -> Figure:
        """The explorer's picture as a new matplotlib figure: the image with the true class and the top-3
        predictions, and the explanation (a heat map over the image, or a gradient image)."""
        canvas = self._new_canvas()
        self._draw(canvas, index, self.compute(index, class_index, layer, method), method)
        return canvas[0]

    def render(
        self, index: int, class_index: int | None = None, layer: str | None = None, method: str = "Grad-CAM"
    ) -> bytes:
        """The picture of :meth:`figure` as PNG bytes, drawn on one figure that is kept and updated
        (new pixels and titles only), which is what makes a slider responsive."""
        import io

        import matplotlib.pyplot as plt

        r = self.compute(index, class_index, layer, method)
        self.last_text = prediction_text(
            r["logits"], self.class_names, None if self.labels is None else self.labels[index]
        )
        if not hasattr(self, "_canvas"):
            self._canvas = self._new_canvas()
            plt.close(self._canvas[0])  # drawn to PNG only, never shown by the notebook's backend
        self._draw(self._canvas, index, r, method)
        buf = io.BytesIO()
        self._canvas[0].savefig(buf, format="png")
        return buf.getvalue()

    def widget(
        self, index: int = 0, method: str = "Grad-CAM", class_index: int = PREDICTED, layer: str | None = None
    ) -> ipywidgets.VBox:
        """Sliders and menus for image, class, layer and method, wired to :meth:`figure`; under the picture,
        a line of text with the prediction and the top-3 probabilities (:func:`prediction_text`)."""
        import ipywidgets as w

        controls = {
            "image": w.IntSlider(
                value=index, min=0, max=len(self.images) - 1, description="image", continuous_update=False
            ),
            "class": w.Dropdown(
                options=[("predicted", PREDICTED)] + [(n, i) for i, n in enumerate(self.class_names)],
                value=class_index,
                description="class",
            ),
            "layer": w.Dropdown(options=self.layers, value=layer or self.layers[-1], description="layer"),
            "method": w.Dropdown(options=list(registry.REGISTRY), value=method, description="method"),
        }

        def png(**v):
            return self.render(v["image"], v["class"], v["layer"], v["method"]), self.last_text

        return interact_figure(png, layout=[["image", "class"], ["layer", "method"]], **controls)


def feature_map_figure(image: ArrayLike, A: np.ndarray, weights: np.ndarray, k: int, class_name: str = "") -> Figure:
    """Feature map A^k of one image, next to the image, with its weight for the class in the title.

    ``A``: (h, w, K); ``weights``: (K,) the class's weights w_k^c.
    """
    import matplotlib.pyplot as plt

    A, weights = np.asarray(A), np.asarray(weights)
    if not 0 <= k < A.shape[-1]:
        raise ValueError(f"k = {k} is out of range 0..{A.shape[-1] - 1}.")
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(6.4, 3.0))
    ax0.imshow(np.asarray(image).astype(np.uint8))
    ax0.set_title("image")
    ax0.axis("off")
    im = ax1.imshow(A[..., k], cmap=viz.CMAP)
    ax1.set_title(f"A^{k}: weight w_{k} = {weights[k]:+.3f} for '{class_name}'")
    ax1.axis("off")
    plt.colorbar(im, ax=ax1, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig
