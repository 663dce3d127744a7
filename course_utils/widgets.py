"""The explorers behind the notebooks' sliders.

Every slider calls a plain function that is tested on its own (:meth:`Explorer.compute`,
:meth:`Explorer.figure`, :func:`feature_map_figure`); the ipywidgets part only wires controls to it.
Explainers are built once per (method, layer) and cached, so a moving slider reuses compiled code.
"""
from __future__ import annotations

import time

import numpy as np

from . import data, explain, viz

__all__ = ["Explorer", "FigureControls", "interact_figure", "figure_png", "feature_map_figure",
           "own_image_figure", "own_image_explorer", "prediction_text"]

PREDICTED = -1


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


#: Options the explorers give some methods so that one image is fast enough for a slider (measured in
#: benchmarks/run.py): Score-CAM keeps the 64 most varied of the layer's maps, as tf-keras-vis's ``max_N`` does;
#: Integrated Gradients takes 32 points on its path instead of 64.
SLIDER_OPTIONS = {"Score-CAM": {"max_channels": 64}, "Integrated Gradients": {"steps": 32}}


def _build(method: str, model, layer):
    """The explainer ``method`` (a name of :data:`course_utils.explain.METHODS`) for ``model``; ``layer`` only
    for the methods that take one, with the method's :data:`SLIDER_OPTIONS`."""
    cls, options = explain.METHODS[method], SLIDER_OPTIONS.get(method, {})
    return cls(model, layer, **options) if cls.takes_layer else cls(model, **options)


class Explorer:
    """Explain images of one model with any method, class and layer.

    Args:
        model: the Keras model (the course model by default in the notebooks).
        images: (N, H, W, 3) images, 0-255.
        labels: (N,) true labels, shown in the title when given.
        class_names: names for the class indices.
    """

    def __init__(self, model, images, labels=None, class_names=data.CLASS_NAMES):
        self.model = model
        self.images = np.asarray(images, dtype=np.float32)
        if self.images.ndim != 4:
            raise ValueError(f"images must be a batch (N, H, W, 3), got shape {self.images.shape}.")
        self.labels = None if labels is None else np.asarray(labels)
        self.class_names = list(class_names)
        self.layers = explain.conv_layers(model)
        self._cache: dict = {}

    def explainer(self, method: str, layer: str | None):
        """The (cached) explainer for a method name of :data:`course_utils.explain.METHODS`."""
        if method not in explain.METHODS:
            raise ValueError(f"Unknown method {method!r}; choose one of {', '.join(explain.METHODS)}.")
        cls = explain.METHODS[method]
        key = (method, layer if cls.takes_layer else None)
        if key not in self._cache:
            self._cache[key] = _build(method, self.model, key[1])
        return self._cache[key]

    def compute(self, index: int, class_index: int | None = None, layer: str | None = None,
                method: str = "Grad-CAM") -> dict:
        """Explain image ``index``. Returns a dict with ``map`` ((H, W) heat map or (H, W, 3) gradients),
        ``kind`` ('heat' or 'gradient'), ``class_index``, ``logits``, ``layer``, and ``error`` (a message
        instead of a map when the method cannot explain that layer, e.g. CAM before the last layer)."""
        if not 0 <= int(index) < len(self.images):
            raise ValueError(f"index {index} is out of range 0..{len(self.images) - 1}.")
        class_index = None if class_index in (None, PREDICTED) else int(class_index)
        layer = layer or self.layers[-1]
        out = {"index": int(index), "method": method, "layer": layer, "error": None}
        try:
            ex = self.explainer(method, layer).explain(self.images[index], class_index)
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
            art["note"].set_text("")
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
            "method": w.Dropdown(options=list(explain.METHODS), value=method, description="method"),
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


def own_image_figure(model, image, method: str = "Grad-CAM", class_index: int | None = None,
                     layer: str | None = None, class_names=data.CLASS_NAMES, explainers: dict | None = None):
    """Explain a photo of any size: it is centre-cropped and resized to the model's 32 x 32 input, explained,
    and the map is laid over the photo's centre square at the photo's own size, with the top-3 classes.

    ``explainers``: a dict used as a cache of built explainers (the explorer passes one).
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from . import images

    photo = np.asarray(image)
    small = images.to_model_input(photo).astype(np.float32)
    cache = {} if explainers is None else explainers
    cls = explain.METHODS[method]
    key = (method, layer if cls.takes_layer else None)
    if key not in cache:
        cache[key] = _build(method, model, key[1])
    class_index = None if class_index in (None, PREDICTED) else int(class_index)
    ex = cache[key].explain(small, class_index)
    top, probs = _top3(ex.logits[0])
    h, w = photo.shape[:2]
    side = min(h, w)
    top_px, left_px = (h - side) // 2, (w - side) // 2
    extent = (left_px - 0.5, left_px + side - 0.5, top_px + side - 0.5, top_px - 0.5)

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [3, 1.2]})
    ax0.imshow(photo)
    name = class_names[int(ex.class_index[0])]
    if ex.maps.ndim == 3:
        heat = ax0.imshow(ex.maps[0], cmap=viz.CMAP, alpha=viz.ALPHA, vmin=0, vmax=1, extent=extent,
                          interpolation="bilinear")
        plt.colorbar(heat, ax=ax0, fraction=0.046, pad=0.04)
    else:
        ax0.imshow(viz.gradient_image(ex.maps[0]), extent=extent, alpha=0.85)
    ax0.add_patch(Rectangle((left_px - 0.5, top_px - 0.5), side, side, fill=False, color="white", lw=1, ls="--"))
    ax0.set_xlim(-0.5, w - 0.5)
    ax0.set_ylim(h - 0.5, -0.5)
    ax0.set_title(f"{method} for '{name}'\n({w} x {h} photo; dashed: what the model sees at 32 x 32)")
    ax0.axis("off")
    ax1.barh([class_names[c] for c in top[::-1]], probs[top[::-1]], color="tab:blue")
    ax1.set_xlim(0, 1)
    ax1.set_title("top 3 classes")
    fig.tight_layout()
    return fig


def _error_html(message) -> str:
    """An error message for an ``ipywidgets.HTML`` status line. The message holds text from outside (a
    server's reason phrase, a redirect target, an address, a file name, a layer name), and the widget
    writes its value as HTML: escaped, so no markup or script from a web page runs in JupyterLab."""
    import html

    return "<span style='color:#b00'>" + html.escape(str(message)).replace("\n", "<br>") + "</span>"


def own_image_explorer(model, image=None, url: str = "", class_names=data.CLASS_NAMES):
    """A URL box, an upload button, and method / class / layer controls over :func:`own_image_figure`.

    Loading errors (unreachable address, not an image, too large) appear as a message under the controls;
    under the picture, a line of text gives the prediction and the top-3 probabilities (``box.caption``,
    :func:`prediction_text`). Returns the widget box; ``box.load_url(url)`` does what the Load button does.
    """
    import ipywidgets as w

    from . import images

    state = {"image": None if image is None else np.asarray(image)}
    cache: dict = {}
    url_box = w.Text(value=url, placeholder="https://... an image address", description="URL",
                     layout=w.Layout(width="420px"))
    load = w.Button(description="Load", button_style="primary")
    upload = w.FileUpload(accept="image/*", multiple=False, description="Upload")
    method = w.Dropdown(options=list(explain.METHODS), value="Grad-CAM", description="method")
    cls = w.Dropdown(options=[("predicted", PREDICTED)] + [(n, i) for i, n in enumerate(class_names)],
                     value=PREDICTED, description="class")
    layer = w.Dropdown(options=explain.conv_layers(model), value=explain.conv_layers(model)[-1], description="layer")
    status = w.HTML(value="")
    picture = w.Image(format="png")
    caption = w.Label(value="")
    FigureControls = _figure_controls_class()

    def redraw(_=None):
        if state["image"] is None:
            status.value = "Load an image from a URL or upload one."
            return
        start = time.perf_counter()
        try:
            fig = own_image_figure(model, state["image"], method.value, cls.value, layer.value, class_names, cache)
        except ValueError as err:          # e.g. CAM asked for an earlier layer
            status.value = _error_html(err)
            return
        picture.value = figure_png(fig)
        small = images.to_model_input(state["image"]).astype(np.float32)[None]
        caption.value = prediction_text(model(small, training=False).numpy()[0], class_names)
        status.value = ""
        box.last_redraw_ms = 1e3 * (time.perf_counter() - start)

    def set_image(source) -> None:
        try:
            state["image"] = images.load_image(source)
        except images.ImageLoadError as err:
            status.value = _error_html(err)
            return
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
