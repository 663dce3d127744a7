"""What notebook 07's and notebook 11's evaluations share: the constants, the removal areas (ROAD), the
confusable mosaics and their localisation scores, the random baseline, and reading and writing the results."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from .. import metrics
from ..files import write_atomic
from ..validation import (
    CourseError,
    CourseValueError,
    choice,
    describe,
    finite_number,
    nonnegative_int,
    positive_int,
)

if TYPE_CHECKING:
    import keras

__all__ = [
    "CONFUSABLE",
    "FRACTIONS",
    "RESULTS_11_PATH",
    "RESULTS_PATH",
    "SEED",
    "centre_prior",
    "confusable_mosaics",
    "correct_pool",
    "first_correct",
    "load",
    "localisation_scores",
    "random_map",
    "road_areas",
    "save",
    "squared",
    "to_saliency",
]

_ASSETS = Path(__file__).resolve().parent.parent / "assets"
RESULTS_PATH = _ASSETS / "evaluation_07.json"
RESULTS_11_PATH = _ASSETS / "evaluation_11.json"

#: Pairs of CIFAR-10 classes the course model confuses most (each way round).
CONFUSABLE = {
    "cat": "dog",
    "dog": "cat",
    "automobile": "truck",
    "truck": "automobile",
    "deer": "horse",
    "horse": "deer",
}
#: Fractions of the pixels removed: 0 %, 10 %, ..., 90 % (ROAD needs at least one pixel left).
FRACTIONS = tuple(round(0.1 * i, 1) for i in range(10))
SEED = 7


def squared(maps: ArrayLike) -> np.ndarray:
    """The control map: ``maps ** 2`` for maps >= 0 (Grad-CAM's, after its ReLU), so that the order of the
    pixels stays and only the peakiness grows. A map with negative values is refused (squaring would reorder it)."""
    m = np.asarray(maps, np.float64)
    if m.size and m.min() < 0:
        raise CourseValueError("squared() is a monotone sharpening only for maps >= 0; this map has negative values.")
    return m**2


#: ``areas[imputer][order][method]``: per-image arrays (or mean curves) of :func:`road_areas`.
Nested = dict[str, dict[str, dict[str, np.ndarray]]]


def to_saliency(maps: ArrayLike) -> np.ndarray:
    """Gradient methods give ``(N, H, W, 3)``: take the largest |value| over the channels."""
    m = np.asarray(maps)
    return np.abs(m).max(axis=-1) if m.ndim == 4 else m


def random_map(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """The random baseline ("random order", "random map"): uniform noise of ``shape`` from one seeded draw, so
    that map ``i`` is row ``i`` of the draw whatever else is computed."""
    return np.random.default_rng(seed).random(shape)


def first_correct(model: keras.Model, images: ArrayLike, labels: ArrayLike, n: int) -> np.ndarray:
    """Indices of the first ``n`` images the model labels correctly (``images``: (N, 32, 32, 3))."""
    n = positive_int(n, "n")
    idx = correct_pool(model, images, labels)
    if len(idx) < n:
        raise CourseValueError(
            f"Only {len(idx)} correctly classified images among {len(np.asarray(images))}; asked for {n}. "
            "Ask for fewer, or give more images."
        )
    return idx[:n]


def correct_pool(model: keras.Model, images: ArrayLike, labels: ArrayLike) -> np.ndarray:
    """Indices of every image of ``images`` that ``model`` labels correctly."""
    pred = model.predict(np.asarray(images, np.float32), batch_size=500, verbose=0).argmax(1)
    return np.flatnonzero(pred == np.asarray(labels))


def _predict(model: keras.Model, score: str = "probability") -> Callable[[np.ndarray], np.ndarray]:
    """The model's softmax probabilities (``score="probability"``) or its logits (``"logit"``) as a function."""
    import tensorflow as tf

    if score == "logit":
        forward = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
    else:
        forward = tf.function(lambda t: tf.nn.softmax(model(t, training=False)), reduce_retracing=True)
    return lambda batch: forward(tf.constant(batch, tf.float32)).numpy()


def road_areas(
    model: keras.Model,
    images: ArrayLike,
    classes: ArrayLike,
    maps: Mapping[str, np.ndarray],
    imputers: Iterable[str] | None = None,
    orders: Sequence[str] = ("morf", "lerf"),
    fractions: Sequence[float] = FRACTIONS,
    seed: int = SEED,
    score: str = "probability",
) -> tuple[Nested, Nested]:
    """Areas under the removal curves: ``areas[imputer][order][method]`` is ``(N,)``, ``curves`` the same
    keys with the mean curve ``(F,)``. Every method gets the same seed (common random numbers), so the same
    images are filled in whichever ``score`` the curves follow: the class's softmax ``"probability"`` or its
    ``"logit"`` (see :func:`course_utils.metrics.removal_curves`)."""
    score = choice(score, ("probability", "logit"), "score")
    predict = _predict(model, score)
    areas: Nested = {}
    curves: Nested = {}
    for imp in imputers or list(metrics.IMPUTERS):
        for order in orders:
            for name, s in maps.items():
                c = metrics.removal_curves(predict, images, s, classes, fractions, order, imp, rng=seed, score=score)
                areas.setdefault(imp, {}).setdefault(order, {})[name] = np.asarray(metrics.area_under(fractions, c))
                curves.setdefault(imp, {}).setdefault(order, {})[name] = c.mean(axis=0)
    return areas, curves


# long: the checks of every argument (the hostile-input tests send each wrong kind), then the draw itself
def confusable_mosaics(
    images: np.ndarray,
    labels: ArrayLike,
    pool: ArrayLike,
    n: int,
    class_names: Sequence[str],
    grid: int = 3,
    seed: int = SEED,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` mosaics of ``grid`` x ``grid`` test images where the target's confusable partner is present.

    Each mosaic: a target class drawn from :data:`CONFUSABLE`, one tile of it, one tile of its partner
    (cat with dog, automobile with truck, deer with horse), and ``grid**2 - 2`` tiles of other, distinct
    classes, all at random places. Tiles come from ``pool`` (indices of images the model labels correctly on
    their own). Returns ``mosaics (n, grid*32, grid*32, 3)`` float32 and a dict of ``(n,)`` / ``(n, grid**2)``
    arrays: ``target``, ``tile``, ``partner_tile``, ``tile_images``.
    """
    n = positive_int(n, "n")
    grid = positive_int(grid, "grid")
    seed = nonnegative_int(seed, "seed")
    names = _names_with_partners(class_names)
    if grid < 2 or grid * grid > len(names):
        raise CourseValueError(
            f"grid={grid}: a mosaic needs at least 2 x 2 tiles and one class per tile; with "
            f"{len(names)} classes grid can be 2 to {int(np.sqrt(len(names)))}."
        )
    labels = np.asarray(labels)
    pool = np.asarray(pool)
    if pool.ndim != 1 or pool.dtype.kind not in "iu" or (pool.size and not 0 <= pool.min() <= pool.max() < len(labels)):
        raise CourseValueError(
            f"pool must be indices of images (ints from 0 to {len(labels) - 1}); got {describe(pool)}."
        )
    if len(images) != len(labels):
        raise CourseValueError(f"images ({len(images)}) and labels ({len(labels)}) must have the same length.")
    by_class = [pool[labels[pool] == c] for c in range(len(names))]
    missing = [names[c] for c, b in enumerate(by_class) if len(b) == 0]
    if missing:
        raise CourseValueError(
            f"The pool holds no image of {', '.join(missing)}: every class must be in it (take the "
            "correctly labelled images of a larger part of the test set)."
        )
    targets = [names.index(c) for c in CONFUSABLE]
    rng = np.random.default_rng(seed)
    mosaics = []
    info: dict[str, list[Any]] = {"target": [], "tile": [], "partner_tile": [], "tile_images": []}
    for _ in range(n):
        t = int(rng.choice(targets))
        partner = names.index(CONFUSABLE[names[t]])
        others = rng.choice(
            [c for c in range(len(names)) if c not in (t, partner)], size=grid * grid - 2, replace=False
        )
        classes = np.concatenate([[t, partner], others])[rng.permutation(grid * grid)]
        picks = np.array([rng.choice(by_class[c]) for c in classes])
        mosaics.append(metrics.make_mosaic(images[picks]))
        info["target"].append(t)
        info["tile"].append(int(np.flatnonzero(classes == t)[0]))
        info["partner_tile"].append(int(np.flatnonzero(classes == partner)[0]))
        info["tile_images"].append(picks)
    return np.stack(mosaics).astype(np.float32), {k: np.asarray(v) for k, v in info.items()}


def _names_with_partners(class_names: Any) -> list[str]:
    """``class_names`` as a list of strings that holds every class of :data:`CONFUSABLE`."""
    if isinstance(class_names, (str, bytes)) or not hasattr(class_names, "__len__"):
        raise CourseValueError(f"class_names must be a list of class names; got {describe(class_names)}.")
    names = [str(c) for c in class_names]
    missing = [c for c in CONFUSABLE if c not in names]
    if missing:
        raise CourseValueError(
            f"class_names lacks {', '.join(missing)}: the confusable pairs need CIFAR-10's names "
            "(course_utils.data.CLASS_NAMES)."
        )
    return names


def centre_prior(shape: tuple[int, int], sigma: float | None = None) -> np.ndarray:
    """A map that ignores the image: a Gaussian bump at the centre (``sigma``: a third of the side)."""
    if not hasattr(shape, "__len__") or len(shape) != 2:
        raise CourseValueError(f"shape must be (H, W); got {describe(shape)}.")
    h = positive_int(shape[0], "shape[0] (the height)")
    w = positive_int(shape[1], "shape[1] (the width)")
    if sigma is not None:
        sigma = finite_number(sigma, "sigma", minimum=0.0, strict_minimum=True)
    sigma = sigma or min(h, w) / 3
    yy, xx = np.mgrid[:h, :w]
    return np.exp(-((yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2) / (2 * sigma**2))


def localisation_scores(
    maps: dict[str, np.ndarray], info: Mapping[str, Any], grid: int = 3, seed: int = SEED
) -> dict[str, dict[str, np.ndarray]]:
    """Per mosaic: pointing-game ``hit`` (0/1), ``focus`` (share on the target tile), ``focus_partner``
    (share on the confusable partner's tile) and ``focus_rank`` (Focus on the map's ranks,
    :func:`course_utils.metrics.focus_rank`: a sharper map with the same pixel order scores the same), for
    each map and for the two baselines (a centre prior and a random map, both added here)."""
    grid = positive_int(grid, "grid")
    seed = nonnegative_int(seed, "seed")
    if not isinstance(maps, dict) or not maps:
        raise CourseValueError(
            f"maps must be a dict {{name: (n, H, W) maps}} with at least one entry; got {describe(maps)}."
        )
    missing = [k for k in ("target", "tile", "partner_tile") if k not in info]
    if missing:
        raise CourseValueError(f"info lacks {', '.join(missing)}: pass the info that confusable_mosaics returned.")
    n = len(info["target"])
    shape = next(iter(maps.values())).shape[1:]
    maps = dict(maps)
    maps["centre prior"] = np.broadcast_to(centre_prior(shape), (n, *shape))
    maps["random map"] = random_map((n, *shape), seed)
    scores = {}
    for name, m in maps.items():
        rng = np.random.default_rng(seed)
        scores[name] = {
            "hit": np.array([metrics.pointing_hit(m[i], info["tile"][i], grid, rng) for i in range(n)], float),
            "focus": np.array([metrics.focus(m[i], info["tile"][i], grid) for i in range(n)]),
            "focus_partner": np.array([metrics.focus(m[i], info["partner_tile"][i], grid) for i in range(n)]),
            "focus_rank": np.array([metrics.focus_rank(m[i], info["tile"][i], grid) for i in range(n)]),
        }
    return scores


def save(results: dict[str, Any], path: Path | None) -> None:
    """Write ``results`` to ``path`` as compact JSON (floats rounded to 5 digits); nothing when ``path`` is None."""
    if path is not None:
        write_atomic(path, json.dumps(_tolist(results), separators=(",", ":")) + "\n")


def _tolist(tree: Any, digits: int = 5) -> Any:
    if isinstance(tree, dict):
        return {k: _tolist(v, digits) for k, v in tree.items()}
    arr = np.asarray(tree)
    return np.round(arr, digits).tolist() if arr.dtype.kind == "f" else arr.tolist()


def _toarray(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _toarray(v) for k, v in tree.items()}
    return np.asarray(tree)


def load(path: Path | str | None = None) -> dict[str, Any]:
    """The stored results of :func:`run` (or of :func:`run_beyond`: ``load(RESULTS_11_PATH)``), with lists
    turned back into numpy arrays."""
    path = Path(path) if path is not None else RESULTS_PATH
    if not path.is_file():
        command, minutes = (
            ("python -m course_utils.evaluation --beyond", 7)
            if path.name == RESULTS_11_PATH.name
            else ("python -m course_utils.evaluation", 4)
        )
        raise FileNotFoundError(
            f"No stored results at {path}: run `{command}` first (about {minutes} minutes on two CPU cores)."
        )
    try:
        return _toarray(json.loads(path.read_text(encoding="utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CourseError(
            f"The stored results at {path} are not valid JSON ({exc}): the file is damaged. Restore it "
            "(git checkout) or run the command that writes it again."
        ) from None
