"""The own-image explorer: a photo of any size from a URL or an upload, explained at the model's 32 x 32 input
and drawn at the photo's own size."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .. import data, viz
from ..explain import registry
from ..validation import CourseError
from ..validation import class_names as _class_names
from ._core import (
    PREDICTED,
    _build,
    _explain_shown,
    _figure_controls_class,
    _layer,
    _layers,
    _num_classes,
    _top3,
    _wanted_class,
    figure_png,
    prediction_text,
)

if TYPE_CHECKING:
    import ipywidgets
    import keras
    from matplotlib.figure import Figure
    from numpy.typing import ArrayLike

#: The own-image explorer draws a copy of the photo whose longest side is at most this many pixels (made once,
#: when the photo is loaded); the explanation and the model's input still come from the full photo.
DISPLAY_MAX_SIDE = 1024


class _Photo:
    """A photo made ready once for the own-image explorer: its size, a copy to draw whose longest side is at most
    ``max_side`` pixels, and the model's 32 x 32 input (made from the full photo). The full photo is not kept."""

    def __init__(self, image: ArrayLike | str | bytes, max_side: int = DISPLAY_MAX_SIDE) -> None:
        from .. import images

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
        k = max(1, max(h, w) // (2 * max_side))  # every k-th pixel first (a view), then area-averaging
        coarse = np.ascontiguousarray(rgb[::k, ::k])
        scale = max_side / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        return np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BOX))


def _own_image_figure(model, photo: _Photo, method: str, class_index, layer, class_names, cache: dict, parts=False):
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

    name = names[int(ex.class_index[0])]
    if parts:  # the photo, the map alone (at the model's 32 x 32), the overlay, the top 3
        fig, (ax_photo, ax_map, ax0, ax1) = plt.subplots(
            1, 4, figsize=(16, 3.8), gridspec_kw={"width_ratios": [2.4, 2, 3, 1.3]}
        )
        _show_photo(ax_photo, photo)
        ax_photo.set_title(f"the photo ({w} x {h})")
        ax_photo.axis("off")
        _show_map(plt, ax_map, ex.maps[0], (-0.5, 31.5, 31.5, -0.5))
        ax_map.set_title("the map alone\n(the model's 32 x 32 view)")
        ax_map.axis("off")
    else:
        fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [3, 1.2]})
    _show_photo(ax0, photo)
    _show_map(plt, ax0, ex.maps[0], extent, alpha=viz.ALPHA if ex.maps.ndim == 3 else 0.85)
    ax0.add_patch(Rectangle((left_px - 0.5, top_px - 0.5), side, side, fill=False, color="white", lw=1, ls="--"))
    ax0.set_xlim(-0.5, w - 0.5)
    ax0.set_ylim(h - 0.5, -0.5)
    ax0.set_title(
        f"{method} for '{name}'"
        + (" (empty map: no positive evidence)" if empty else "")
        + (
            "\n(dashed: what the model sees)"
            if parts
            else f"\n({w} x {h} photo; dashed: what the model sees at 32 x 32)"
        )
    )
    ax0.axis("off")
    ax1.barh([names[c] for c in top[::-1]], probs[top[::-1]], color="tab:blue")
    ax1.set_xlim(0, 1)
    ax1.set_title("top 3 classes")
    fig.tight_layout()
    return fig, ex.logits[0]


def _show_photo(ax, photo: _Photo) -> None:
    if photo.display.shape[:2] == (photo.height, photo.width):
        ax.imshow(photo.display)
    else:  # the reduced copy, laid over the full photo's pixel coordinates
        ax.imshow(photo.display, extent=(-0.5, photo.width - 0.5, photo.height - 0.5, -0.5))


def _show_map(plt, ax, heat_map: np.ndarray, extent, alpha: float = 1.0) -> None:
    """A class map (H, W) in the course's colour map with its colour bar, or a gradient image (H, W, 3)."""
    if heat_map.ndim == 2:
        heat = ax.imshow(heat_map, cmap=viz.CMAP, alpha=alpha, vmin=0, vmax=1, extent=extent, interpolation="bilinear")
        plt.colorbar(heat, ax=ax, fraction=0.046, pad=0.04)
    else:
        ax.imshow(viz.gradient_image(heat_map), extent=extent, alpha=alpha)


def own_image_figure(
    model: keras.Model,
    image: ArrayLike | str | bytes,
    method: str = "Grad-CAM",
    class_index: int | None = None,
    layer: str | None = None,
    class_names: Sequence[str] = data.CLASS_NAMES,
    explainers: dict | None = None,
    parts: bool = False,
) -> Figure:
    """Explain a photo of any size: it is centre-cropped and resized to the model's 32 x 32 input, explained,
    and the map is laid over the photo's centre square at the photo's own size, with the top-3 classes.
    Returns the figure.

    ``image``: (H, W, 3) RGB or any image :func:`course_utils.images.as_rgb` reads (a 0-1 float image from
    ``plt.imread`` too). A photo larger than :data:`DISPLAY_MAX_SIDE` pixels is drawn from a reduced copy (the
    axes keep the photo's own pixel coordinates). ``explainers``: a dict used as a cache of built explainers.
    ``parts=True`` draws four panels instead of two: the photo, the map alone (at 32 x 32), the overlay and the
    top 3 (the app, ``apps/explain_an_image.ipynb``). An unknown ``method`` or ``layer``, a class out of range or
    too few ``class_names`` raise :class:`~course_utils.validation.CourseValueError` naming what is valid.
    """
    registry.method(method)
    cache = {} if explainers is None else explainers
    return _own_image_figure(model, _Photo(image), method, class_index, layer, class_names, cache, bool(parts))[0]


def _error_html(message) -> str:
    """An error message for an ``ipywidgets.HTML`` status line. The message holds text from outside (a
    server's reason phrase, a redirect target, an address, a file name, a layer name), and the widget
    writes its value as HTML: escaped, so no markup or script from a web page runs in JupyterLab."""
    import html

    return "<span style='color:#b00'>" + html.escape(str(message)).replace("\n", "<br>") + "</span>"


#: What the explain-an-image app says for each kind of image that cannot be loaded (ImageLoadError.reason), in
#: words for someone who writes no code: what happened, what was expected, what to do with the page's own
#: controls. ``{subject}`` and ``{limit}`` come from the error; any other kind gets :data:`PLAIN_OTHER`.
PLAIN_MESSAGES = {
    "too_slow": "{subject} did not send the whole image within {limit}. Try again in a moment, or save the image "
    "on your computer and choose it with the Upload button.",
    "too_large": "{subject} is larger than {limit}, the most this app loads. Use a smaller copy of the image.",
    "too_many_pixels": "{subject} has more pixels than this app loads ({limit} at most). Use a smaller copy of "
    "the image; photos from phones and cameras are far below the limit.",
    "cut_off": "{subject} stopped sending before the whole image arrived. Try again, or save the image on your "
    "computer and choose it with the Upload button.",
    "unreachable": "Could not reach {subject}. Check the address and your internet connection, or save the image "
    "on your computer and choose it with the Upload button.",
    "http_error": "{subject} answered with an error (HTTP {limit}) instead of the image. Check the address: open "
    "it in a browser, or save the image on your computer and choose it with the Upload button.",
    "bad_address": "{subject} is not a web address this app can open. Type an address that starts with https:// "
    "(right-click the image, 'Copy image address'), or choose the file with the Upload button.",
    "bad_redirect": "{subject} sent the app on to another address without reaching the image. Open it in a "
    "browser and copy the image's own address (right-click the image, 'Copy image address').",
    "empty": "{subject} is empty: it holds no picture at all. Choose another file or address.",
    "no_memory": "{subject} is too large for this computer's memory. Use a smaller copy of the image.",
    "heic": "{subject} is a HEIC photo (the format iPhones save), which this app cannot read here. Save it as "
    "a JPEG and upload that.",
    "not_image": "{subject} is not a picture this app can read. Expected a JPEG, PNG, GIF, BMP or WebP image: "
    "check that the address leads to the picture itself (right-click the image, 'Copy image address'), or "
    "choose another file.",
    "empty_upload": "Nothing was uploaded yet. Choose a picture with the Upload button, or type an image's "
    "address and press Load.",
    "no_file": "No file at {subject}. Check the path, or type the image's web address (https://...), or "
    "choose the file with the Upload button.",
    "unreadable": "{subject} could not be opened: this computer does not let the app read it. Choose the file "
    "with the Upload button instead.",
    "home": "{subject} is not a path to a file here. Write the path in full, or choose the file with the Upload "
    "button.",
}

#: What the app says for an image that cannot be loaded for a reason not in :data:`PLAIN_MESSAGES`.
PLAIN_OTHER = (
    "{subject} could not be loaded as a picture. Try another image: type its web address (https://...) and press "
    "Load, or choose a file with the Upload button."
)


def plain_message(err: BaseException, method: str = "", layer: str = "", last_layer: str = "") -> str:
    """The explain-an-image app's words for ``err`` (plain text, not yet escaped): an image that cannot be
    loaded by its kind (:data:`PLAIN_MESSAGES`), CAM asked for a layer it cannot explain, else the error's own
    message. The notebooks show the errors' own messages, which name the options a coder can change."""
    from ..images import ImageLoadError

    if isinstance(err, ImageLoadError):
        template = PLAIN_MESSAGES.get(err.reason, PLAIN_OTHER)
        return template.format(subject=err.subject or "The image", limit=err.limit or "a limit")
    if method == "CAM" and isinstance(err, ValueError) and layer and layer != last_layer:
        return (
            f"CAM cannot explain the layer {layer}: it works only on the last layer of this model ({last_layer}). "
            f"Pick the layer {last_layer}, or the method Grad-CAM, which works on any layer."
        )
    return str(err)


def own_image_explorer(
    model: keras.Model,
    image: ArrayLike | str | bytes | None = None,
    url: str = "",
    class_names: Sequence[str] = data.CLASS_NAMES,
    parts: bool = False,
    plain: bool = False,
) -> ipywidgets.VBox:  # long: builds and wires nine widgets
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
    ``parts=True`` shows the photo, the map alone, the overlay and the top 3 side by side (:func:`own_image_figure`).
    ``plain=True`` words the messages for someone who writes no code (:func:`plain_message`; the app).
    ``image``, ``class_names`` and a model without convolutional layers are checked at the call
    (:class:`~course_utils.validation.CourseValueError`).
    """
    import ipywidgets as w

    from .. import images

    names = _class_names(class_names, _num_classes(model))
    layers = _layers(model)
    state = {"photo": None if image is None else _Photo(image)}
    cache: dict = {}
    url_box = w.Text(
        value=url, placeholder="https://... an image address", description="URL", layout=w.Layout(width="420px")
    )
    load = w.Button(description="Load", button_style="primary")
    upload = w.FileUpload(accept="image/*", multiple=False, description="Upload")
    method = w.Dropdown(options=list(registry.REGISTRY), value="Grad-CAM", description="method")
    cls = w.Dropdown(
        options=[("predicted", PREDICTED)] + [(n, i) for i, n in enumerate(names)], value=PREDICTED, description="class"
    )
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
            fig = _own_image_figure(
                model, state["photo"], method.value, cls.value, layer.value, names, cache, bool(parts)
            )[0]
        except (ValueError, CourseError) as err:  # e.g. CAM asked for an earlier layer
            status.value = _error_html(plain_message(err, method.value, layer.value, layers[-1]) if plain else err)
            return
        picture.value = figure_png(fig)
        caption.value = prediction_text(model(state["photo"].small[None], training=False).numpy()[0], names)
        status.value = ""
        box.last_redraw_ms = 1e3 * (time.perf_counter() - start)

    def set_image(source) -> None:
        status.value = "Loading the image ..."  # a download may take up to images.TIMEOUT_S
        try:
            photo = _Photo(images.load_image(source))
        except CourseError as err:  # ImageLoadError, or pixels that cannot be read
            status.value = _error_html(plain_message(err) if plain else err)
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

    def load_url(address: str) -> None:
        url_box.value = address
        on_load()

    box.load_url = load_url
    redraw()
    return box
