"""Plotting helpers: the course's matplotlib style, heat-map overlays, gradient images.

One colour map and one overlay strength across the course, a colour bar on every heat map. Images and heat
maps with NaN or inf, an ``alpha`` outside [0, 1] and counts that are not positive ints are refused with
:class:`~course_utils.validation.CourseValueError` (a blank or black panel would look like a real result).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .validation import CourseValueError, describe, finite_array, finite_number, fraction, positive_int
from .validation import class_names as _class_names

if TYPE_CHECKING:
    import keras
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

__all__ = [
    "ALPHA",
    "CMAP",
    "SIGNED_CMAP",
    "STYLES",
    "gradient_image",
    "set_style",
    "show_heatmap",
    "show_images",
    "show_signed",
]

#: The heat-map colour map used everywhere in the course: "inferno", perceptually uniform (equal steps in
#: value look like equal steps in colour), its brightness rises monotonically from black to pale yellow, so
#: it reads the same in greyscale, on a washed-out projector and for red-green colour-blind learners (a
#: rainbow map does none of these). Never name a colour map for a heat map in a notebook: use this one.
CMAP = "inferno"
#: The colour map of *signed* maps (evidence for and against, before a ReLU): diverging, centred on zero by
#: :func:`show_signed`, so that zero is the neutral white and the sign is the hue (red for, blue against).
SIGNED_CMAP = "RdBu_r"
#: How strongly a heat map is laid over its image, the same everywhere.
ALPHA = 0.45

#: The matplotlib settings of :func:`set_style`: for a screen, and for a projector at the front of a room.
STYLES: dict[str, Any] = {
    "screen": {
        "figure.dpi": 72,
        "savefig.dpi": 72,
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.labelsize": "medium",
        "xtick.labelsize": "medium",
        "ytick.labelsize": "medium",
        "legend.fontsize": "medium",
        "lines.linewidth": 1.5,
    },
    "projector": {
        "figure.dpi": 120,
        "savefig.dpi": 120,
        "font.size": 12,
        "axes.titlesize": 13,
        "axes.labelsize": 12,
        "xtick.labelsize": 11,
        "ytick.labelsize": 11,
        "legend.fontsize": 11,
        "lines.linewidth": 2.0,
    },
}


def set_style(projector: bool = False) -> None:
    """The course's matplotlib defaults: inline figures of a fixed size and resolution.

    ``projector=True``: larger fonts, thicker lines and 120 dpi instead of 72, so that labels can be read
    from the back of a room (the same figure sizes in inches, so layouts stay the same).
    """
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.figsize": (6.0, 4.0),
            "image.interpolation": "nearest",
            "axes.titleweight": "bold",
            "svg.hashsalt": "course",
            **STYLES["projector" if projector else "screen"],
        }
    )


def _as_image(image: Any, name: str = "image") -> np.ndarray:
    img = finite_array(image, name, dtype=np.float32)
    if img.ndim != 3 or img.shape[-1] != 3:
        raise CourseValueError(f"Expected an RGB image (H, W, 3), got shape {img.shape}.")
    return np.clip(img / 255.0 if img.max() > 1.0 else img, 0.0, 1.0)


def _heat(heatmap: Any) -> np.ndarray:
    """A heat map ``(h, w)`` as float32, without NaN or inf."""
    heat = finite_array(heatmap, "heatmap", dtype=np.float32)
    if heat.ndim != 2:
        raise CourseValueError(f"Expected a heat map (h, w), got shape {heat.shape}.")
    return heat


def gradient_image(grad: ArrayLike, percentile: float = 99.0) -> np.ndarray:
    """Show signed gradients ``(H, W, 3)`` as an image: 0.5 is zero, brighter and darker are the signs.

    Scaled by the given percentile (0-100) of |grad| so that a few extreme pixels do not wash out the rest.
    """
    g = finite_array(grad, "grad", ndim=(2, 3), dtype=np.float32)
    percentile = finite_number(percentile, "percentile", minimum=0.0, maximum=100.0)
    scale = np.percentile(np.abs(g), percentile)
    if scale <= 0:
        return np.full(g.shape, 0.5, dtype=np.float32)
    return np.clip(0.5 + 0.5 * g / scale, 0.0, 1.0)


def show_heatmap(
    ax: Axes,
    image: ArrayLike,
    heatmap: ArrayLike,
    title: str = "",
    alpha: float = ALPHA,
    colorbar: bool = True,
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> AxesImage:
    """Draw ``image`` with ``heatmap`` laid over it on ``ax``, with a colour bar. Returns the mappable.

    Values outside [``vmin``, ``vmax``] show in the end colours of the colour bar (read off it, not clipped)."""
    import matplotlib.pyplot as plt

    img = _as_image(image)
    heat = _heat(heatmap)
    alpha = fraction(alpha, "alpha")
    vmin, vmax = finite_number(vmin, "vmin"), finite_number(vmax, "vmax")
    if vmin >= vmax:
        raise CourseValueError(f"vmin must be below vmax; got vmin={vmin!r}, vmax={vmax!r}.")
    ax.imshow(img)
    h, w = img.shape[:2]
    mappable = ax.imshow(
        heat,
        cmap=CMAP,
        alpha=alpha,
        vmin=vmin,
        vmax=vmax,
        extent=(-0.5, w - 0.5, h - 0.5, -0.5),
        interpolation="bilinear",
    )
    ax.set_title(title)
    ax.axis("off")
    if colorbar:
        plt.colorbar(mappable, ax=ax, fraction=0.046, pad=0.04)
    return mappable


def show_signed(
    ax: Axes,
    signed_map: ArrayLike,
    title: str = "",
    image: ArrayLike | None = None,
    colorbar: bool = True,
    label: str = "",
    limit: float | None = None,
) -> AxesImage:
    """Draw a signed map ``(h, w)`` on ``ax`` with :data:`SIGNED_CMAP`, centred on zero. Returns the mappable.

    The colour scale runs from ``-limit`` to ``+limit``, ``limit`` = max |map| unless given (1 for a map that is
    zero everywhere), so 0 is always the neutral middle colour. With ``image`` (H, W, 3), the map is laid over
    it, stretched to the image's size; ``label`` names the colour bar.
    """
    import matplotlib.pyplot as plt

    heat = _heat(signed_map)
    if limit is None:
        peak = float(np.abs(heat).max()) if heat.size else 0.0
        limit = peak if peak > 0 else 1.0
    limit = finite_number(limit, "limit")
    if limit <= 0:
        raise CourseValueError(f"limit must be positive (the colour scale runs from -limit to +limit); got {limit!r}.")
    options: dict[str, Any] = {"cmap": SIGNED_CMAP, "vmin": -limit, "vmax": limit}
    if image is not None:
        img = _as_image(image)
        ax.imshow(img)
        h, w = img.shape[:2]
        options.update(alpha=0.6, extent=(-0.5, w - 0.5, h - 0.5, -0.5), interpolation="bilinear")
    mappable = ax.imshow(heat, **options)
    ax.set_title(title)
    ax.axis("off")
    if colorbar:
        plt.colorbar(mappable, ax=ax, fraction=0.046, pad=0.04, label=label)
    return mappable


def show_images(images: ArrayLike, titles: Sequence[str] | None = None, ncols: int = 10, size: float = 1.2) -> Figure:
    """A grid of images ``(N, H, W, 3)`` with optional titles (one per image). Returns the figure."""
    import matplotlib.pyplot as plt

    images = finite_array(images, "images", ndim=4)
    ncols = positive_int(ncols, "ncols")
    size = finite_number(size, "size", minimum=0.0, strict_minimum=True)
    n = len(images)
    if titles is not None and (isinstance(titles, str) or not hasattr(titles, "__len__") or len(titles) != n):
        raise CourseValueError(f"titles must be a list with one title per image ({n}); got {describe(titles)}.")
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, min(n, ncols), figsize=(size * min(n, ncols), size * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(_as_image(images[i]))
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8, fontweight="normal")
    fig.tight_layout()
    return fig


def compare_methods(
    model: keras.Model, image: ArrayLike, class_index: int | None = None, class_names: Sequence[str] | None = None
) -> Figure:
    """One image and its CAM, Grad-CAM, guided backpropagation and guided Grad-CAM, side by side.

    ``image``: (H, W, 3), 0-255; ``class_index``: None for the predicted class. Returns the figure.
    """
    import matplotlib.pyplot as plt

    from . import data, explain

    num_classes = int(model.output_shape[-1])
    names = _class_names(data.CLASS_NAMES if class_names is None else class_names, num_classes)
    _as_image(image)  # (H, W, 3), finite: else a clear error
    x = np.asarray(image, dtype=np.float32)
    ggc = explain.GuidedGradCAM(model).explain(x, class_index)
    c = int(ggc.class_index[0])
    cam = explain.CAM(model)(x, c)[0]
    fig, axes = plt.subplots(1, 5, figsize=(12.5, 2.9))
    axes[0].imshow(_as_image(x))
    axes[0].set_title("image")
    show_heatmap(axes[1], x, cam, title="CAM", colorbar=False)
    show_heatmap(axes[2], x, ggc.extra["gradcam"][0], title="Grad-CAM", colorbar=False)
    assert ggc.gradients is not None  # guided Grad-CAM always keeps its guided gradients
    axes[3].imshow(gradient_image(ggc.gradients[0]))
    axes[3].set_title("guided backprop")
    axes[4].imshow(gradient_image(ggc.maps[0]))
    axes[4].set_title("guided Grad-CAM")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(f"Why '{names[c]}'? Four explanations of the course model", fontweight="bold")
    fig.tight_layout()
    return fig
