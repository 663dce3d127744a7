"""The explorers behind the notebooks' sliders.

Every slider calls a plain function that is tested on its own (:meth:`Explorer.compute`,
:meth:`Explorer.figure`, :func:`feature_map_figure`); the ipywidgets part only wires controls to it.
Explainers are built once per (method, layer) and cached, so a moving slider reuses compiled code.
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from . import data, explain, viz
from .explain import registry
from .validation import CourseError, CourseValueError, describe
from .validation import class_index as _class_index
from .validation import class_names as _class_names

__all__ = ["Explorer", "FigureControls", "interact_figure", "figure_png", "feature_map_figure",
           "own_image_figure", "own_image_explorer", "prediction_text"]

PREDICTED = -1
#: The own-image explorer draws a copy of the photo whose longest side is at most this many pixels (made once,
#: when the photo is loaded); the explanation and the model's input still come from the full photo.
DISPLAY_MAX_SIDE = 1024


def _num_classes(model) -> int:
    """How many classes ``model`` scores: its output's last dimension (one sigmoid output: two classes)."""
    explain.conv_layers(model)              # checks that it is a Keras model with one input and one output
    n = int(model.outputs[0].shape[-1])
    return 2 if n == 1 else n


def _layers(model) -> list[str]:
    layers = explain.conv_layers(model)
    if not layers:
        raise CourseValueError(f"Model {model.name!r} has no layer with a spatial output (a convolution): there is "
                               "nothing for the explorer's layer menu. Pass a CNN.")
    return layers


def _layer(layer, layers: list[str]) -> str:
    """``layer`` (None: the last) if it is one of the explorer's ``layers``, else a clear error."""
    if layer is None:
        return layers[-1]
    if not isinstance(layer, str) or layer not in layers:
        raise CourseValueError(f"layer must be one of the model's convolutional layers ({', '.join(layers)}); got "
                               f"{describe(layer)}.")
    return layer


def _wanted_class(class_index, num_classes: int) -> int | None:
    """None for the predicted class (None or :data:`PREDICTED`), else a class index in range."""
    if class_index is None or (isinstance(class_index, int) and not isinstance(class_index, bool)
                               and class_index == PREDICTED):
        return None
    return _class_index(class_index, num_classes)


def _top3(logits) -> tuple[np.ndarray, np.ndarray]:
    """The softmax of ``logits`` (10,) and the indices of its three largest values, largest first."""
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    return np.argsort(probs)[::-1][:3], probs


def prediction_text(logits, class_names=data.CLASS_NAMES, truth: int | None = None) -> str:
    """The line of text under an explorer's picture, for every reader (a screen reader too).

    ``logits``: (10,) the model's scores for one image; ``truth``: the true class index, if known.
    Returns e.g. ``"Prediction: cat. Top 3: cat 83%, dog 10%, frog 3%. True class: cat."``
    """
    top, probs = _top3(logits)
    text = (f"Prediction: {class_names[top[0]]}. Top 3: "
            + ", ".join(f"{class_names[c]} {probs[c]:.0%}" for c in top) + ".")
    return text + (f" True class: {class_names[int(truth)]}." if truth is not None else "")


def figure_png(fig) -> bytes:
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


def interact_figure(plot, layout=None, **controls):
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


def _build(method: str, model, layer: str | None):
    """The explainer ``method`` for ``model`` as the explorers build it (the registry's slider options)."""
    return registry.make(method, model, layer, fast="slider")


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

    def __init__(self, model, images, labels=None, class_names=data.CLASS_NAMES):
        from . import images as _images

        self.model = model
        self.layers = _layers(model)
        num_classes = _num_classes(model)
        self.class_names = _class_names(class_names, num_classes)
        try:
            batch = np.asarray(images)
        except (TypeError, ValueError) as exc:
            raise CourseValueError(f"images must be a batch (N, H, W, 3) of pixels; got {describe(images)} "
                                   f"({exc}).") from None
        if batch.ndim != 4 or batch.shape[-1] != 3 or 0 in batch.shape:
            raise CourseValueError(f"images must be a batch (N, H, W, 3), got shape {batch.shape}. For one image, "
                                   "pass images[None].")
        _, scale = _images._pixels(batch.reshape(-1, *batch.shape[2:]), "images")   # NaN, range, dtype: checked
        self.images = batch.astype(np.float32) * np.float32(scale) if scale != 1 else batch.astype(np.float32)
        self.labels = None if labels is None else self._check_labels(labels, len(batch), num_classes)
        self._cache: dict = {}

    @staticmethod
    def _check_labels(labels, n: int, num_classes: int) -> np.ndarray:
        arr = np.asarray(labels)
        if arr.shape != (n,) or arr.dtype.kind not in "iu":
            raise CourseValueError(f"labels must be ({n},) class indices, one per image; got {describe(labels)}.")
        if n and not (0 <= arr.min() and arr.max() < num_classes):
            raise CourseValueError(f"labels hold {arr.min()}..{arr.max()}, but the model has {num_classes} classes: "
                                   f"each label must be from 0 to {num_classes - 1}.")
        return arr

    def explainer(self, method: str, layer: str | None):
        """The (cached) explainer for a method name of :data:`course_utils.explain.METHODS`."""
        key = (method, layer if registry.method(method).takes_layer else None)
        if key not in self._cache:
            self._cache[key] = _build(method, self.model, key[1])
        return self._cache[key]

    def compute(self, index: int, class_index: int | None = None, layer: str | None = None,
                method: str = "Grad-CAM") -> dict:
        """Explain image ``index``. Returns a dict with ``map`` ((H, W) heat map or (H, W, 3) gradients),
        ``kind`` ('heat' or 'gradient'), ``class_index``, ``logits``, ``layer``, and ``error`` (a message
        instead of a map when the method cannot explain that layer, e.g. CAM before the last layer)."""
        n = len(self.images)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n:
            raise CourseValueError(f"index {describe(index)} is out of range 0..{n - 1}: give the number of an image "
                                   "of the batch.")
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
            logits = self.model(self.images[index:index + 1], training=False).numpy()
            out.update(map=None, kind="heat", error=str(err), logits=logits[0],
                       class_index=int(logits.argmax() if class_index is None else class_index))
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
        fig, ax0, ax1, art = canvas
        img = self.images[index].astype(np.uint8)
        art["image"].set_data(img)
        ax0.set_title(self._title(index, r), fontsize=8, fontweight="normal")
        name = self.class_names[r["class_index"]]
        heat_visible = r["error"] is None and r["kind"] == "heat"
        if r["error"]:
            art["base"].set_data(img)
            art["base"].set_alpha(0.3)
            art["note"].set_text("CAM cannot explain this layer:\nit needs GAP -> Dense right after it.\n"
                                 "Pick the last layer, or Grad-CAM.")
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

    def figure(self, index: int, class_index: int | None = None, layer: str | None = None,
               method: str = "Grad-CAM"):
        """The explorer's picture as a new matplotlib figure: the image with the true class and the top-3
        predictions, and the explanation (a heat map over the image, or a gradient image)."""
        canvas = self._new_canvas()
        self._draw(canvas, index, self.compute(index, class_index, layer, method), method)
        return canvas[0]

    def render(self, index: int, class_index: int | None = None, layer: str | None = None,
               method: str = "Grad-CAM") -> bytes:
        """The picture of :meth:`figure` as PNG bytes, drawn on one figure that is kept and updated
        (new pixels and titles only), which is what makes a slider responsive."""
        import io

        import matplotlib.pyplot as plt

        r = self.compute(index, class_index, layer, method)
        self.last_text = prediction_text(r["logits"], self.class_names,
                                         None if self.labels is None else self.labels[index])
        if not hasattr(self, "_canvas"):
            self._canvas = self._new_canvas()
            plt.close(self._canvas[0])  # drawn to PNG only, never shown by the notebook's backend
        self._draw(self._canvas, index, r, method)
        buf = io.BytesIO()
        self._canvas[0].savefig(buf, format="png")
        return buf.getvalue()

    def widget(self, index: int = 0, method: str = "Grad-CAM", class_index: int = PREDICTED,
               layer: str | None = None):
        """Sliders and menus for image, class, layer and method, wired to :meth:`figure`; under the picture,
        a line of text with the prediction and the top-3 probabilities (:func:`prediction_text`)."""
        import ipywidgets as w

        controls = {
            "image": w.IntSlider(value=index, min=0, max=len(self.images) - 1, description="image",
                                 continuous_update=False),
            "class": w.Dropdown(options=[("predicted", PREDICTED)] + [(n, i) for i, n in enumerate(self.class_names)],
                                value=class_index, description="class"),
            "layer": w.Dropdown(options=self.layers, value=layer or self.layers[-1], description="layer"),
            "method": w.Dropdown(options=list(registry.REGISTRY), value=method, description="method"),
        }

        def png(**v):
            return self.render(v["image"], v["class"], v["layer"], v["method"]), self.last_text

        return interact_figure(png, layout=[["image", "class"], ["layer", "method"]], **controls)


def feature_map_figure(image, A, weights, k: int, class_name: str = ""):
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


class _Photo:
    """A photo made ready once for the own-image explorer: its size, a copy to draw whose longest side is at most
    ``max_side`` pixels, and the model's 32 x 32 input (made from the full photo). The full photo is not kept."""

    def __init__(self, image, max_side: int = DISPLAY_MAX_SIDE) -> None:
        from . import images

        rgb = images.as_rgb(image)
        self.height, self.width = rgb.shape[:2]
        self.small = images.to_model_input(rgb).astype(np.float32)
        self.display = self._reduced(rgb, max_side)

    @staticmethod
    def _reduced(rgb: np.ndarray, max_side: int) -> np.ndarray:
        from PIL import Image

        h, w = rgb.shape[:2]
        if max(h, w) <= max_side:
            return rgb
        k = max(1, max(h, w) // (2 * max_side))       # every k-th pixel first (a view), then area-averaging
        coarse = np.ascontiguousarray(rgb[::k, ::k])
        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        return np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BOX))


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


def _own_image_figure(model, photo: _Photo, method: str, class_index, layer, class_names, cache: dict):
    """:func:`own_image_figure` for a prepared photo; returns the figure and the model's logits."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    layer = _layer(layer, _layers(model)) if registry.method(method).takes_layer else None
    names = _class_names(class_names, _num_classes(model))
    key = (method, layer)
    if key not in cache:
        cache[key] = _build(method, model, layer)
    ex, empty = _explain_shown(cache[key], photo.small, _wanted_class(class_index, len(names)))
    top, probs = _top3(ex.logits[0])
    h, w = photo.height, photo.width
    side = min(h, w)
    top_px, left_px = (h - side) // 2, (w - side) // 2
    extent = (left_px - 0.5, left_px + side - 0.5, top_px + side - 0.5, top_px - 0.5)

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [3, 1.2]})
    if photo.display.shape[:2] == (h, w):
        ax0.imshow(photo.display)
    else:                                   # the reduced copy, laid over the full photo's pixel coordinates
        ax0.imshow(photo.display, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    name = names[int(ex.class_index[0])]
    if ex.maps.ndim == 3:
        heat = ax0.imshow(ex.maps[0], cmap=viz.CMAP, alpha=viz.ALPHA, vmin=0, vmax=1, extent=extent,
                          interpolation="bilinear")
        plt.colorbar(heat, ax=ax0, fraction=0.046, pad=0.04)
    else:
        ax0.imshow(viz.gradient_image(ex.maps[0]), extent=extent, alpha=0.85)
    ax0.add_patch(Rectangle((left_px - 0.5, top_px - 0.5), side, side, fill=False, color="white", lw=1, ls="--"))
    ax0.set_xlim(-0.5, w - 0.5)
    ax0.set_ylim(h - 0.5, -0.5)
    ax0.set_title(f"{method} for '{name}'" + (" (empty map: no positive evidence)" if empty else "")
                  + f"\n({w} x {h} photo; dashed: what the model sees at 32 x 32)")
    ax0.axis("off")
    ax1.barh([names[c] for c in top[::-1]], probs[top[::-1]], color="tab:blue")
    ax1.set_xlim(0, 1)
    ax1.set_title("top 3 classes")
    fig.tight_layout()
    return fig, ex.logits[0]


def own_image_figure(model, image, method: str = "Grad-CAM", class_index: int | None = None,
                     layer: str | None = None, class_names=data.CLASS_NAMES, explainers: dict | None = None):
    """Explain a photo of any size: it is centre-cropped and resized to the model's 32 x 32 input, explained,
    and the map is laid over the photo's centre square at the photo's own size, with the top-3 classes.

    ``image``: (H, W, 3) RGB or any image :func:`course_utils.images.as_rgb` reads (a 0-1 float image from
    ``plt.imread`` too). A photo larger than :data:`DISPLAY_MAX_SIDE` pixels is drawn from a reduced copy (the
    axes keep the photo's own pixel coordinates). ``explainers``: a dict used as a cache of built explainers.
    An unknown ``method`` or ``layer``, a class out of range or too few ``class_names`` raise
    :class:`~course_utils.validation.CourseValueError` naming what is valid.
    """
    registry.method(method)
    return _own_image_figure(model, _Photo(image), method, class_index, layer, class_names,
                             {} if explainers is None else explainers)[0]


def _error_html(message) -> str:
    """An error message for an ``ipywidgets.HTML`` status line. The message holds text from outside (a
    server's reason phrase, a redirect target, an address, a file name, a layer name), and the widget
    writes its value as HTML: escaped, so no markup or script from a web page runs in JupyterLab."""
    import html

    return "<span style='color:#b00'>" + html.escape(str(message)).replace("\n", "<br>") + "</span>"


def own_image_explorer(model, image=None, url: str = "", class_names=data.CLASS_NAMES):
    """A URL box, an upload button, and method / class / layer controls over :func:`own_image_figure`.

    Loading errors (unreachable address, not an image, too large) appear as a message under the controls, with
    any password in the address hidden; under the picture, a line of text gives the prediction and the top-3
    probabilities (``box.caption``, :func:`prediction_text`). Returns the widget box; ``box.load_url(url)`` does
    what the Load button does.

    The photo is made ready once when it is loaded (:class:`_Photo`): the model's 32 x 32 input and a copy to
    draw whose longest side is at most :data:`DISPLAY_MAX_SIDE` pixels; the full photo is not kept. Measured
    for a 50-megapixel PNG (8000 x 6250): loading it and drawing the first picture peak 360 MB above what the
    kernel held, after which it keeps only the reduced copy (1024 x 800: 2.5 MB); a redraw takes 0.2-0.3 s and
    50 MB while it runs (before: every redraw drew all 50 megapixels, +3.2 GB and 3-13 s).
    ``image``, ``class_names`` and a model without convolutional layers are checked at the call
    (:class:`~course_utils.validation.CourseValueError`).
    """
    import ipywidgets as w

    from . import images

    names = _class_names(class_names, _num_classes(model))
    layers = _layers(model)
    state = {"photo": None if image is None else _Photo(image)}
    cache: dict = {}
    url_box = w.Text(value=url, placeholder="https://... an image address", description="URL",
                     layout=w.Layout(width="420px"))
    load = w.Button(description="Load", button_style="primary")
    upload = w.FileUpload(accept="image/*", multiple=False, description="Upload")
    method = w.Dropdown(options=list(registry.REGISTRY), value="Grad-CAM", description="method")
    cls = w.Dropdown(options=[("predicted", PREDICTED)] + [(n, i) for i, n in enumerate(names)],
                     value=PREDICTED, description="class")
    layer = w.Dropdown(options=layers, value=layers[-1], description="layer")
    status = w.HTML(value="")
    picture = w.Image(format="png")
    caption = w.Label(value="")
    FigureControls = _figure_controls_class()

    def redraw(_=None):
        if state["photo"] is None:
            status.value = "Load an image from a URL or upload one."
            return
        start = time.perf_counter()
        try:
            fig = _own_image_figure(model, state["photo"], method.value, cls.value, layer.value, names, cache)[0]
        except (ValueError, CourseError) as err:          # e.g. CAM asked for an earlier layer
            status.value = _error_html(err)
            return
        picture.value = figure_png(fig)
        caption.value = prediction_text(model(state["photo"].small[None], training=False).numpy()[0], names)
        status.value = ""
        box.last_redraw_ms = 1e3 * (time.perf_counter() - start)

    def set_image(source) -> None:
        try:
            photo = _Photo(images.load_image(source))
        except CourseError as err:                   # ImageLoadError, or pixels that cannot be read
            status.value = _error_html(err)
            return
        state["photo"] = photo
        redraw()

    def on_load(_=None):
        set_image(url_box.value.strip())

    def on_upload(change):
        if change["new"]:
            set_image(change["new"])

    load.on_click(on_load)
    upload.observe(on_upload, names="value")
    for control in (method, cls, layer):
        control.observe(redraw, names="value")
    controls = {"url": url_box, "load": load, "upload": upload, "method": method, "class": cls, "layer": layer}
    box = FigureControls([w.HBox([url_box, load, upload]), w.HBox([method, cls, layer]), status, picture, caption])
    box.controls, box.picture, box.status, box.last_redraw_ms = controls, picture, status, None
    box.caption = caption
    box.load_url = lambda address: (setattr(url_box, "value", address), on_load())
    redraw()
    return box
