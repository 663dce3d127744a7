"""A small bottom-up saliency model, after Itti, Koch & Niebur (1998), readable line by line.

    features (intensity, colour opponency, orientation)
      -> Gaussian pyramids
      -> centre-surround differences  |F(c) - F(s)|  (fine centre c, coarse surround s = c + delta)
      -> normalisation N(.), which promotes maps with one strong peak and suppresses maps with many
      -> conspicuity maps for intensity, colour and orientation
      -> saliency map = mean of the three normalised conspicuity maps

plus winner-take-all with inhibition of return (Koch & Ullman, 1985) to turn the map into a scan path,
and generated scenes (pop-out and conjunction search, after Treisman & Gelade, 1980) to try it on, drawn in
a colour-blind-safe pair: orange and blue (Okabe & Ito's palette) of the same intensity I = (r + g + b) / 3.
Images are (H, W, 3) floats in [0, 1] or uint8; sizes of 64 to 256 pixels work well. The saliency map is at
pyramid level 2: map pixel (row, col) covers image pixels 4 row ... 4 row + 3 (``to_image``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast, overload

import numpy as np
from numpy.typing import ArrayLike

from .validation import CourseValueError, describe, finite_array, finite_number, nonnegative_int, positive_int

__all__ = [
    "BLUE",
    "ORANGE",
    "bars_scene",
    "centre_surround",
    "colour_opponents",
    "colour_scene",
    "conjunction_scene",
    "feature_map",
    "gabor_kernel",
    "gaussian_pyramid",
    "intensity",
    "item_kind",
    "nearest_item",
    "normalize_map",
    "orientation_maps",
    "resize",
    "saliency_map",
    "search_scene",
    "to_image",
    "top_down_saliency",
    "winner_take_all",
]

CENTRES = (2, 3)
DELTAS = (2, 3)
ORIENTATIONS = (0, 45, 90, 135)
#: Image pixels per saliency-map pixel along each axis (the map is pyramid level CENTRES[0] = 2).
SCALE = 2 ** CENTRES[0]


def _as_float_image(image) -> np.ndarray:
    img = finite_array(image, "the image", allow_empty=True)
    if img.ndim != 3 or img.shape[-1] != 3 or img.size == 0:
        raise CourseValueError(f"Expected an RGB image (H, W, 3), got shape {img.shape}.")
    return img / 255.0 if img.max() > 1.0 else img


def _positive(value, name: str) -> float:
    return finite_number(value, name, minimum=0.0, strict_minimum=True)


def _map(a, name: str = "the map") -> np.ndarray:
    """A finite, non-empty 2-D map."""
    return finite_array(a, name, ndim=2)


def _blur(a: np.ndarray) -> np.ndarray:
    """Separable 5-tap binomial blur [1 4 6 4 1] / 16, edges reflected."""
    k = np.array([1, 4, 6, 4, 1], dtype=np.float64) / 16
    p = np.pad(a, 2, mode="reflect")
    p = sum(k[i] * p[i : i + a.shape[0], :] for i in range(5))
    return sum(k[i] * p[:, i : i + a.shape[1]] for i in range(5))


def resize(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a 2-D map ``a`` (h, w) to ``shape`` (pixel centres aligned): how a coarse
    surround level is brought back to the size of its centre level."""
    a = _map(a)
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise CourseValueError(f"shape must be (rows, cols), two positive ints; got {describe(shape)}.")
    shape = (positive_int(shape[0], "shape[0] (rows)"), positive_int(shape[1], "shape[1] (cols)"))
    h, w = a.shape
    ys = np.clip((np.arange(shape[0]) + 0.5) * h / shape[0] - 0.5, 0, h - 1)
    xs = np.clip((np.arange(shape[1]) + 0.5) * w / shape[1] - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bottom = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def gaussian_pyramid(a: np.ndarray, levels: int) -> list[np.ndarray]:
    """Level 0 is ``a``; each next level is blurred and halved."""
    levels = nonnegative_int(levels, "levels")
    _map(a)
    pyramid = [a]
    for _ in range(levels):
        pyramid.append(_blur(pyramid[-1])[::2, ::2])
    return pyramid


def intensity(image: ArrayLike) -> np.ndarray:
    """I = (r + g + b) / 3."""
    return _as_float_image(image).mean(axis=-1)


def colour_opponents(image: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Red-green and blue-yellow opponency (Itti et al.'s broadly tuned channels), as (RG, BY).

    Hue is separated from brightness by dividing by I where the image is bright enough.
    """
    img = _as_float_image(image)
    i = img.mean(axis=-1)
    scale = np.where(i > 0.1 * i.max(), i, np.inf)[..., None]
    r, g, b = np.moveaxis(img / scale, -1, 0)
    R = np.maximum(r - (g + b) / 2, 0)
    G = np.maximum(g - (r + b) / 2, 0)
    B = np.maximum(b - (r + g) / 2, 0)
    Y = np.maximum((r + g) / 2 - np.abs(r - g) / 2 - b, 0)
    return R - G, B - Y


def gabor_kernel(theta_deg: float, size: int = 9, wavelength: float = 5.0, sigma: float = 2.0) -> np.ndarray:
    """A zero-mean Gabor kernel that responds to bars at ``theta_deg`` (0 = horizontal)."""
    theta_deg = finite_number(theta_deg, "theta_deg")
    size = positive_int(size, "size")
    wavelength, sigma = _positive(wavelength, "wavelength"), _positive(sigma, "sigma")
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    t = np.deg2rad(theta_deg)
    across = -x * np.sin(t) + y * np.cos(t)  # distance across the bar's direction
    k = np.exp(-(x**2 + y**2) / (2 * sigma**2)) * np.cos(2 * np.pi * across / wavelength)
    return k - k.mean()


def _convolve(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    half = k.shape[0] // 2
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(a, half, mode="reflect"), k.shape)
    return np.einsum("ijkl,kl->ij", windows, k)


def orientation_maps(gray: np.ndarray) -> dict[int, np.ndarray]:
    """|Gabor response| of an intensity map at 0, 45, 90 and 135 degrees."""
    return {theta: np.abs(_convolve(gray, gabor_kernel(theta))) for theta in ORIENTATIONS}


def centre_surround(
    feature: np.ndarray, centres: Sequence[int] = CENTRES, deltas: Sequence[int] = DELTAS
) -> list[np.ndarray]:
    """Feature maps |F(c) - F(s)| for each centre level c and surround level s = c + delta, each at the
    resolution of level c."""
    for name, levels, check in (("centres", centres, nonnegative_int), ("deltas", deltas, positive_int)):
        if isinstance(levels, (str, bytes)) or not hasattr(levels, "__iter__") or not len(levels):
            raise CourseValueError(
                f"{name} must be a non-empty sequence of pyramid levels, e.g. (2, 3); got {describe(levels)}."
            )
        for level in levels:
            check(level, f"each of {name}")
    pyramid = gaussian_pyramid(feature, max(centres) + max(deltas))
    maps = []
    for c in centres:
        for d in deltas:
            maps.append(np.abs(pyramid[c] - resize(pyramid[c + d], pyramid[c].shape)))
    return maps


def _local_maxima(a: np.ndarray) -> np.ndarray:
    p = np.pad(a, 1, mode="constant", constant_values=-np.inf)
    neighbours = np.stack(
        [
            p[1 + dy : 1 + dy + a.shape[0], 1 + dx : 1 + dx + a.shape[1]]
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if dy or dx
        ]
    )
    return a >= neighbours.max(axis=0)


def normalize_map(a: np.ndarray, M: float = 1.0) -> np.ndarray:
    """Itti et al.'s N(.): scale to [0, M], then multiply by (M - m)^2, m the mean of the other local maxima.

    One strong peak (m small) is promoted; many similar peaks (m close to M) are suppressed.
    """
    a = _map(a)
    M = _positive(M, "M")
    lo, hi = a.min(), a.max()
    if hi - lo <= 1e-12:
        return np.zeros_like(a)
    a = M * (a - lo) / (hi - lo)
    peaks = np.sort(a[_local_maxima(a) & (a > 0.05 * M)])[::-1]
    others = peaks[1:]  # every local maximum but the global one
    m = others.mean() if others.size else 0.0
    return a * (M - m) ** 2


@overload
def saliency_map(image: ArrayLike, return_parts: Literal[False] = False) -> np.ndarray: ...


@overload
def saliency_map(image: ArrayLike, return_parts: Literal[True]) -> dict[str, Any]: ...


def saliency_map(image: ArrayLike, return_parts: bool = False) -> np.ndarray | dict[str, Any]:
    """The bottom-up saliency map of an RGB image, at the resolution of pyramid level 2 (H/4 x W/4).

    Returns the map in [0, 1], or with ``return_parts`` a dict that also holds the three conspicuity maps
    ('intensity', 'colour', 'orientation') and the feature maps they came from.
    """
    img = _as_float_image(image)
    if min(img.shape[:2]) < 32:
        raise CourseValueError(
            f"The image is {img.shape[0]} x {img.shape[1]}; the pyramid needs at least 32 x 32 pixels."
        )
    target = gaussian_pyramid(img[..., 0], CENTRES[0])[CENTRES[0]].shape

    def conspicuity(features: list[np.ndarray]) -> np.ndarray:
        return cast(np.ndarray, sum(resize(normalize_map(f), target) for f in features))  # sum: starts at 0

    gray = intensity(img)
    rg, by = colour_opponents(img)
    feats = {
        "intensity": centre_surround(gray),
        "colour": centre_surround(rg) + centre_surround(by),
        "orientation": [m for o in orientation_maps(gray).values() for m in centre_surround(o)],
    }
    parts = {name: normalize_map(conspicuity(f)) for name, f in feats.items()}
    total = cast(np.ndarray, sum(parts.values())) / 3
    total = total / total.max() if total.max() > 0 else total
    if return_parts:
        return {"saliency": total, **parts, "features": feats}
    return total


FEATURES = ("red", "green", "blue", "yellow", "bright", "horizontal", "diagonal_45", "vertical", "diagonal_135")


def feature_map(image: ArrayLike, feature: str) -> np.ndarray:
    """The normalised centre-surround map of one specific feature (e.g. 'red', 'vertical'), at the
    saliency map's resolution. Bottom-up saliency pools opposite features ('red' and 'green' both raise the
    colour map); a task can ask for one of them."""
    if not isinstance(feature, str) or feature not in FEATURES:
        raise CourseValueError(f"Unknown feature {feature!r}; choose one of {', '.join(FEATURES)}.")
    img = _as_float_image(image)
    gray = intensity(img)
    if feature in ("red", "green", "blue", "yellow"):
        rg, by = colour_opponents(img)
        source = {"red": rg, "green": -rg, "blue": by, "yellow": -by}[feature]
        source = np.maximum(source, 0)
    elif feature == "bright":
        source = gray
    else:
        angle = {"horizontal": 0, "diagonal_45": 45, "vertical": 90, "diagonal_135": 135}[feature]
        source = np.abs(_convolve(gray, gabor_kernel(angle)))
    target = gaussian_pyramid(img[..., 0], CENTRES[0])[CENTRES[0]].shape
    return normalize_map(cast(np.ndarray, sum(resize(normalize_map(m), target) for m in centre_surround(source))))


def top_down_saliency(image: ArrayLike, gains: dict[str, float], bottom_up_weight: float = 1.0) -> np.ndarray:
    """A task-driven map: bottom-up saliency plus the feature maps the task asks for, each times its gain
    (in the spirit of guided search: Wolfe, 1994; Navalpakkam & Itti, 2005). Scaled to a maximum of 1."""
    bottom_up_weight = finite_number(bottom_up_weight, "bottom_up_weight")
    if not isinstance(gains, dict):
        raise CourseValueError(f"gains must be a dict {{feature: gain}}, e.g. {{'red': 2.0}}; got {describe(gains)}.")
    gains = {feature: finite_number(gain, f"the gain of {feature!r}") for feature, gain in gains.items()}
    total = bottom_up_weight * saliency_map(image)
    for feature, gain in gains.items():
        total = total + gain * feature_map(image, feature)
    return total / total.max() if total.max() > 0 else total


def winner_take_all(saliency: np.ndarray, k: int = 5, radius: float = 3.0) -> list[tuple[int, int]]:
    """The first ``k`` fixations (row, col) on a saliency map.

    Each step the most salient place wins (winner-take-all); inhibition of return then suppresses a disk
    of ``radius`` (in map pixels) around it, so attention moves on to the next place. Once every place is
    inhibited there is nothing left to attend to, and the path ends there: it may be shorter than ``k``.
    """
    s = np.array(finite_array(saliency, "the saliency map", allow_empty=True), dtype=np.float64, copy=True)
    if s.ndim != 2 or s.size == 0:
        raise CourseValueError(f"Expected a 2-D saliency map, got shape {s.shape}.")
    k = positive_int(k, "k", hint="Need k >= 1 fixations.")
    radius = _positive(radius, "radius")
    yy, xx = np.mgrid[: s.shape[0], : s.shape[1]]
    path = []
    for _ in range(k):
        if np.isneginf(s).all():  # the whole map is inhibited: no winner is left
            break
        r, c = np.unravel_index(int(np.argmax(s)), s.shape)
        path.append((int(r), int(c)))
        s[(yy - r) ** 2 + (xx - c) ** 2 <= radius**2] = -np.inf
    return path


# ---------------------------------------------------------------- scenes

#: Each bar of a scene gets a square cell of at least this many pixels (its 11-pixel length, a jitter of a
#: sixth of the cell either way, and a gap), so bars never overlap or leave the image.
CELL = 16


def _scene_args(n, size, seed) -> None:
    n, size = positive_int(n, "n"), positive_int(size, "size")
    if size < CELL * n:
        raise CourseValueError(
            f"A scene of {n} x {n} bars needs size >= {CELL * n} pixels ({CELL} per bar); got "
            f"size={size}. Use fewer bars or a larger size."
        )
    if seed is not None:
        nonnegative_int(seed, "seed")


def _grid_positions(n: int, size: int, rng) -> list[tuple[int, int]]:
    step = size // n
    jitter = step // 6
    return [
        (
            int(step * (i + 0.5) + rng.integers(-jitter, jitter + 1)),
            int(step * (j + 0.5) + rng.integers(-jitter, jitter + 1)),
        )
        for i in range(n)
        for j in range(n)
    ]


def _draw_bar(img, centre, colour, horizontal: bool, length=11, width=3):
    r, c = centre
    hl, hw = (width // 2, length // 2) if horizontal else (length // 2, width // 2)
    img[r - hl : r + hl + 1, c - hw : c + hw + 1] = colour


def _scene(items, size):
    img = np.zeros((size, size, 3), dtype=np.float64)
    for centre, colour, horizontal in items:
        _draw_bar(img, centre, colour, horizontal)
    return img


#: Okabe & Ito's orange (#E69F00), and their blue (#0072B2) brightened to the same intensity
#: I = (r + g + b) / 3 = 0.51: the two differ in hue only, so an odd colour pops out through the colour
#: channels, not through brightness. Orange and blue stay distinct for red-green colour-blind viewers.
ORANGE = (0.902, 0.624, 0.0)
BLUE = (0.0, 0.596, 0.930)
_COLOURS = {"orange": ORANGE, "blue": BLUE}


def bars_scene(n: int = 6, size: int = 128, seed: int = 0) -> tuple[np.ndarray, tuple[int, int]]:
    """Vertical blue bars and one horizontal one. Returns (image, (row, col) of the odd bar)."""
    _scene_args(n, size, seed)
    rng = np.random.default_rng(seed)
    pos = _grid_positions(n, size, rng)
    odd = int(rng.integers(len(pos)))
    return _scene([(p, BLUE, i == odd) for i, p in enumerate(pos)], size), pos[odd]


def colour_scene(n: int = 6, size: int = 128, seed: int = 0) -> tuple[np.ndarray, tuple[int, int]]:
    """Vertical blue bars and one orange one. Returns (image, (row, col) of the orange bar)."""
    _scene_args(n, size, seed)
    rng = np.random.default_rng(seed)
    pos = _grid_positions(n, size, rng)
    odd = int(rng.integers(len(pos)))
    return _scene([(p, ORANGE if i == odd else BLUE, False) for i, p in enumerate(pos)], size), pos[odd]


def conjunction_scene(
    n: int = 6, size: int = 128, seed: int = 0
) -> tuple[np.ndarray, tuple[int, int], list[tuple[int, int]]]:
    """An orange vertical target among orange horizontal and blue vertical bars: it differs from every
    distractor only in the conjunction of colour and orientation. Returns (image, target, positions)."""
    _scene_args(n, size, seed)
    rng = np.random.default_rng(seed)
    pos = _grid_positions(n, size, rng)
    odd = int(rng.integers(len(pos)))
    items = []
    for i, p in enumerate(pos):
        if i == odd:
            items.append((p, ORANGE, False))
        elif rng.random() < 0.5:
            items.append((p, ORANGE, True))
        else:
            items.append((p, BLUE, False))
    return _scene(items, size), pos[odd], pos


def _parse_kind(kind: str) -> tuple[tuple[float, float, float], bool]:
    words = kind.split() if isinstance(kind, str) else []
    if len(words) != 2 or words[0] not in _COLOURS or words[1] not in ("horizontal", "vertical"):
        raise CourseValueError(
            f"A bar is described as '<colour> <orientation>' with colour in {sorted(_COLOURS)} and "
            f"orientation 'horizontal' or 'vertical', e.g. 'orange vertical'; got {kind!r}."
        )
    return _COLOURS[words[0]], words[1] == "horizontal"


def search_scene(
    target: str, distractors: Sequence[str], n: int = 6, size: int = 128, seed: int = 0
) -> tuple[np.ndarray, tuple[int, int], list[tuple[int, int]]]:
    """A visual-search scene of n x n bars: one ``target`` (e.g. ``"orange vertical"``) among distractors,
    each drawn at random from the kinds in ``distractors`` (e.g. ``["blue vertical", "blue horizontal"]``).
    Returns (image, (row, col) of the target, positions of all bars)."""
    _scene_args(n, size, seed)
    colour, horizontal = _parse_kind(target)
    kinds = [_parse_kind(k) for k in ([distractors] if isinstance(distractors, str) else distractors)]
    if not kinds:
        raise CourseValueError("distractors is empty: give at least one kind, e.g. ['blue vertical'].")
    rng = np.random.default_rng(seed)
    pos = _grid_positions(n, size, rng)
    odd = int(rng.integers(len(pos)))
    items = [
        (p, colour, horizontal) if i == odd else (p, *kinds[int(rng.integers(len(kinds)))]) for i, p in enumerate(pos)
    ]
    return _scene(items, size), pos[odd], pos


# ---------------------------------------------------------------- reading fixations


def to_image(rc: Sequence[int]) -> tuple[int, int]:
    """The image pixel (row, col) at the centre of saliency-map pixel ``rc`` = (row, col)."""
    if isinstance(rc, (str, bytes)) or not hasattr(rc, "__len__") or len(rc) != 2:
        raise CourseValueError(f"rc must be a map pixel (row, col), two ints >= 0; got {describe(rc)}.")
    rc = (nonnegative_int(rc[0], "rc[0] (row)"), nonnegative_int(rc[1], "rc[1] (col)"))
    return int(rc[0]) * SCALE + SCALE // 2, int(rc[1]) * SCALE + SCALE // 2


def nearest_item(rc: Sequence[int], positions: Sequence[Sequence[int]]) -> int:
    """Index of the item (among ``positions``, image pixels) nearest to saliency-map pixel ``rc``."""
    r, c = to_image(rc)
    if not len(positions):
        raise CourseValueError("positions is empty: there is no item to be nearest to.")
    return int(np.argmin([(r - p[0]) ** 2 + (c - p[1]) ** 2 for p in positions]))


def item_kind(image: ArrayLike, centre: Sequence[int]) -> str:
    """What the bar centred at image pixel ``centre`` is: e.g. ``"orange vertical"``."""
    img = _as_float_image(image)
    r, c = centre
    patch = img[max(r - 5, 0) : r + 6, max(c - 5, 0) : c + 6]
    colour = min(
        _COLOURS,
        key=lambda k: float(np.abs(patch.reshape(-1, 3)[patch.sum(-1).ravel().argmax()] - np.array(_COLOURS[k])).sum()),
    )
    lit = patch.max(axis=-1) > 0.3
    across, down = lit[lit.shape[0] // 2].sum(), lit[:, lit.shape[1] // 2].sum()
    return f"{colour} {'horizontal' if across > down else 'vertical'}"
