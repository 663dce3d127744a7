"""Notebook 11's evaluation: every method of the course (read from the registry) with notebook 07's metrics,
and the data-randomisation sanity check against the random-label twin."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike

from .. import metrics
from ..explain import registry
from ..validation import CourseValueError, nonnegative_int, positive_int
from . import shared
from .shared import FRACTIONS, RESULTS_11_PATH, SEED

if TYPE_CHECKING:
    import keras

    from ..explain.base import _Explainer
    from ..explain.path_noise import SmoothGrad

__all__ = [
    "ALL_METHODS",
    "EVAL_OPTIONS",
    "MOSAIC_OPTIONS",
    "SQUARED_CONTROL_BEYOND",
    "fixed_size",
    "make_explainer",
    "method_maps",
    "run_beyond",
    "sanity_scores",
    "twin_and_labels",
]

#: Every method of the course (the names of ``explain.METHODS``, read from its registry), then the random baseline.
ALL_METHODS = registry.Names(after=("random order",))
#: What keeps the evaluation affordable on two CPU cores (each method's ``evaluation`` options in the registry):
#: Score-CAM masks with the 64 most varied of conv4's 256 maps, Integrated Gradients takes 32 points on its path.
EVAL_OPTIONS = registry.FastOptions("evaluation")
#: On 96 x 96 mosaics occlusion moves its 8 x 8 patch by 8 pixels (144 positions instead of 529).
MOSAIC_OPTIONS = {"occlusion": {"stride": 8}}

#: The control for Focus on the mosaics: Grad-CAM's map squared (same pixel order, peakier).
SQUARED_CONTROL_BEYOND = "Grad-CAM, squared"

#: ``{method name: {option: value}}``, applied after :data:`EVAL_OPTIONS`.
Options = Mapping[str, Mapping[str, Any]]


def make_explainer(model: keras.Model, name: str, options: Options | None = None) -> _Explainer:
    """The explainer ``name`` (a key of ``explain.METHODS``) for ``model``, with :data:`EVAL_OPTIONS` and then
    ``options`` (``{name: {option: value}}``) applied; the CAM family explains its default, last layer."""
    method = registry.method(name)
    return method.make(model, fast="evaluation", **(options or {}).get(name, {}))


def method_maps(
    model: keras.Model,
    images: ArrayLike,
    classes: ArrayLike,
    names: str | Sequence[str] = ALL_METHODS,
    options: Options | None = None,
    seed: int = SEED,
    batch: int = 50,
) -> dict[str, np.ndarray]:
    """``{name: (N, H, W)}`` saliency maps of ``images`` (N, H, W, 3) for ``classes`` (N,), one per method.

    Gradient methods' (N, H, W, 3) maps become the largest |value| over the channels (:func:`to_saliency`).
    ``"random order"`` is uniform noise (row ``i`` of one draw with ``seed``). SmoothGrad's noise is drawn per
    image (image ``i``: seed ``[seed, i]``), so image ``i`` gets the same map whatever batch it is in.
    """
    batch = positive_int(batch, "batch")
    seed = nonnegative_int(seed, "seed")
    if isinstance(names, str):
        names = [names]
    x = np.asarray(images, np.float32)
    cls = np.asarray(classes)
    out = {}
    for name in names:
        if name == "random order":
            out[name] = shared.random_map(x.shape[:3], seed)
            continue
        method = make_explainer(model, name, options)
        if name == "SmoothGrad":
            smooth = cast("SmoothGrad", method)
            parts = []
            for i in range(len(x)):
                smooth.seed = [seed, i]
                parts.append(shared.to_saliency(method(x[i : i + 1], cls[i : i + 1])))
        else:
            parts = [shared.to_saliency(method(x[i : i + batch], cls[i : i + batch])) for i in range(0, len(x), batch)]
        out[name] = np.concatenate(parts).astype(np.float64)
    return out


def fixed_size(model: keras.Model, height: int, width: int) -> keras.Model:
    """A copy of the fully convolutional ``model`` for ``height`` x ``width`` images (occlusion needs a fixed
    size), checked against :func:`models.any_size` on a probe of that size."""
    from ..explain.copies import sized_copy

    return sized_copy(model, positive_int(height, "height"), positive_int(width, "width"))


def twin_and_labels(x_train: np.ndarray, y_train: ArrayLike) -> tuple[keras.Model, np.ndarray]:
    """The random-label twin of notebook 07 and the permuted labels it memorised: ``(twin, labels (n,))`` for
    its first ``n`` training images (the model card says n and the permutation's seed)."""
    from .. import models

    twin = models.load_course_model(models.ASSETS / "course_cnn_random_labels.keras")
    card = models.load_model_card(models.ASSETS / "model_card_random_labels.json")
    seen = card["train_images"]
    labels = np.asarray(y_train)
    if len(labels) < seen:
        raise CourseValueError(
            f"The twin memorised random labels for the first {seen} training images, but only "
            f"{len(labels)} labels were given: pass at least the first {seen} (y_train[:{seen}])."
        )
    return twin, np.random.default_rng(card["recipe"]["seed"]).permutation(labels[:seen])


def sanity_scores(
    maps_model: Mapping[str, np.ndarray], maps_twin: Mapping[str, np.ndarray]
) -> dict[str, dict[str, np.ndarray]]:
    """Data randomisation (Adebayo et al., 2018), as in notebook 07: per image ``same`` = Spearman correlation
    of the model's map with the twin's map of the same image, ``floor`` = with the twin's map of the next image
    (what any two maps share). A map that explains what the model learned has ``same - floor`` near 0."""
    out = {}
    for name, a in maps_model.items():
        b = maps_twin[name]
        n = len(a)
        out[name] = {
            "same": np.array([metrics.rank_correlation(a[j], b[j]) for j in range(n)]),
            "floor": np.array([metrics.rank_correlation(a[j], b[(j + 1) % n]) for j in range(n)]),
        }
    return out


# long: three experiments in a row (ROAD, mosaics, sanity), each timed, then one results dict that says all
def run_beyond(
    n_images: int = 100,
    n_mosaics: int = 60,
    n_sanity: int = 64,
    path: Path | None = RESULTS_11_PATH,
    seed: int = SEED,
) -> dict[str, Any]:
    """Evaluate every method of :data:`ALL_METHODS` with notebook 07's metrics and write notebook 11's table.

    - ROAD (linear imputation), MoRF and LeRF areas on the first ``n_images`` test images the model labels
      correctly (the first images of notebook 07's set), on the class's probability (``road["areas"]``,
      ``road["curves"]``) and on its logit (``road["areas_logit"]``, ``road["curves_logit"]``);
    - the pointing game, Focus and rank-based Focus on the first ``n_mosaics`` of notebook 07's confusable
      3 x 3 mosaics, with the control :data:`SQUARED_CONTROL_BEYOND` (Grad-CAM's map squared);
    - data randomisation: each method on the random-label twin against the course model, on the first
      ``n_sanity`` training images the twin memorised.

    Options: :data:`EVAL_OPTIONS` everywhere, :data:`MOSAIC_OPTIONS` on the mosaics. Per-image values are
    stored (JSON, ``path``) so that the notebook draws its own bootstrap intervals. Returns the results.
    """
    from .. import data, models

    n_images, n_mosaics = positive_int(n_images, "n_images"), positive_int(n_mosaics, "n_mosaics")
    n_sanity, seed = positive_int(n_sanity, "n_sanity"), nonnegative_int(seed, "seed")
    start = time.perf_counter()
    seconds = {}
    model = models.load_course_model()
    (x_train, y_train), (x_test, y_test) = data.load_cifar10()
    names = list(data.CLASS_NAMES)

    idx = shared.first_correct(model, x_test[:1000], y_test[:1000], n_images)
    images, classes = x_test[idx].astype(np.float32), y_test[idx]
    maps = method_maps(model, images, classes, seed=seed)
    areas, curves = shared.road_areas(model, images, classes, maps, imputers=["linear (ROAD)"], seed=seed)
    areas_logit, curves_logit = shared.road_areas(
        model, images, classes, maps, imputers=["linear (ROAD)"], seed=seed, score="logit"
    )
    seconds["road"] = round(time.perf_counter() - start, 1)

    t = time.perf_counter()
    pool = shared.correct_pool(model, x_test[:3000], y_test[:3000])
    mosaics, info = shared.confusable_mosaics(x_test, y_test, pool, n_mosaics, names, seed=seed)
    big = fixed_size(model, *mosaics.shape[1:3])
    mosaic_maps = method_maps(
        big, mosaics, info["target"], names=ALL_METHODS[:-1], options=MOSAIC_OPTIONS, seed=seed, batch=20
    )
    mosaic_maps[SQUARED_CONTROL_BEYOND] = shared.squared(mosaic_maps["Grad-CAM"])
    loc = shared.localisation_scores(mosaic_maps, info, seed=seed)
    seconds["mosaics"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    twin, twin_labels = twin_and_labels(x_train, y_train)
    x_seen = x_train[:n_sanity].astype(np.float32)
    sanity = sanity_scores(
        method_maps(model, x_seen, y_train[:n_sanity], seed=seed),
        method_maps(twin, x_seen, twin_labels[:n_sanity], seed=seed + 1),
    )
    seconds["sanity"] = round(time.perf_counter() - t, 1)
    seconds["total"] = round(time.perf_counter() - start, 1)

    results = {
        "about": {
            "command": "python -m course_utils.evaluation --beyond",
            "seed": seed,
            "seconds": seconds,
            "methods": list(ALL_METHODS),
            "options": dict(EVAL_OPTIONS),
            "mosaic_options": MOSAIC_OPTIONS,
        },
        "road": {
            "fractions": list(FRACTIONS),
            "test_indices": idx,
            "classes": classes,
            "areas": areas["linear (ROAD)"],
            "curves": curves["linear (ROAD)"],
            "areas_logit": areas_logit["linear (ROAD)"],
            "curves_logit": curves_logit["linear (ROAD)"],
        },
        "mosaics": {"grid": 3, **info, "scores": loc},
        "sanity": {
            "train_indices": np.arange(n_sanity),
            "model_classes": y_train[:n_sanity],
            "twin_classes": twin_labels[:n_sanity],
            "scores": sanity,
        },
    }
    shared.save(results, path)
    return results
