"""Notebook 07's fixed experiments: ROAD on five maps, the pointing game and Focus on confusable mosaics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ..explain import registry
from ..validation import nonnegative_int, positive_int
from . import shared
from .shared import FRACTIONS, RESULTS_PATH, SEED

if TYPE_CHECKING:
    import keras

__all__ = [
    "LAYERS",
    "LOCALISATION_METHODS",
    "ROAD_METHODS",
    "SQUARED_CONTROL",
    "attribution_maps",
    "localisation_maps",
    "run",
]

ROAD_METHODS = ("CAM", "Grad-CAM", "guided Grad-CAM", "vanilla gradient", "random order")
#: Grad-CAM at four depths (deepest first), then the pixel-level maps.
LAYERS = ("conv4", "res2", "conv3", "res1")
#: The control for Focus: Grad-CAM conv4's map squared, a monotone sharpening (same pixel order, peakier map).
SQUARED_CONTROL = "Grad-CAM conv4, squared"
LOCALISATION_METHODS = (
    *(f"Grad-CAM {layer}" for layer in LAYERS),
    "guided Grad-CAM",
    "vanilla gradient",
    SQUARED_CONTROL,
)


def attribution_maps(
    model: keras.Model, images: ArrayLike, classes: ArrayLike, seed: int = SEED
) -> dict[str, np.ndarray]:
    """The maps ROAD ranks pixels by: ``{name: (N, H, W)}`` for :data:`ROAD_METHODS`.

    The random order is a map of uniform noise (image ``i`` gets row ``i`` of one seeded draw).
    """
    seed = nonnegative_int(seed, "seed")
    x = np.asarray(images, np.float32)
    out = {name: shared.to_saliency(registry.make(name, model)(x, classes)) for name in ROAD_METHODS[:-1]}
    out["random order"] = shared.random_map(x.shape[:3], seed)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def localisation_maps(
    model: keras.Model, mosaics: np.ndarray, targets: np.ndarray, batch: int = 50
) -> dict[str, np.ndarray]:
    """``{name: (n, H, W)}`` for :data:`LOCALISATION_METHODS` on mosaics (the model runs at any size); the last,
    :data:`SQUARED_CONTROL`, is Grad-CAM conv4's map squared (:func:`shared.squared`)."""
    from .. import models

    batch = positive_int(batch, "batch")
    big = models.any_size(model)
    makers: dict[str, tuple[str, str | None]] = {f"Grad-CAM {layer}": ("Grad-CAM", layer) for layer in LAYERS}
    makers.update({name: (name, None) for name in LOCALISATION_METHODS[len(LAYERS) : -1]})
    out = {}
    for name, (method_name, layer) in makers.items():
        method = registry.make(method_name, big, layer)
        out[name] = np.concatenate(
            [
                shared.to_saliency(method(mosaics[i : i + batch], targets[i : i + batch]))
                for i in range(0, len(mosaics), batch)
            ]
        )
    out[SQUARED_CONTROL] = shared.squared(out["Grad-CAM conv4"])
    return out


def run(
    n_images: int = 200, n_mosaics: int = 300, path: Path | None = RESULTS_PATH, seed: int = SEED
) -> dict[str, Any]:
    """Compute every stored table of notebook 07 and write it to ``path`` (JSON). Returns the results."""
    from .. import data, models

    n_images, n_mosaics = positive_int(n_images, "n_images"), positive_int(n_mosaics, "n_mosaics")
    seed = nonnegative_int(seed, "seed")
    start = time.perf_counter()
    model = models.load_course_model()
    (_, _), (x_test, y_test) = data.load_cifar10()
    names = list(data.CLASS_NAMES)
    idx = shared.first_correct(model, x_test[:1000], y_test[:1000], n_images)
    images, classes = x_test[idx].astype(np.float32), y_test[idx]
    maps = attribution_maps(model, images, classes, seed)
    areas, curves = shared.road_areas(model, images, classes, maps, seed=seed)
    # ROAD again on the class's logit (what CAM and Grad-CAM decompose): the same filled images, another score
    areas_logit, curves_logit = shared.road_areas(
        model, images, classes, maps, imputers=["linear (ROAD)"], seed=seed, score="logit"
    )
    road_s = time.perf_counter() - start

    pool = shared.correct_pool(model, x_test[:3000], y_test[:3000])
    mosaics, info = shared.confusable_mosaics(x_test, y_test, pool, n_mosaics, names, seed=seed)
    loc = shared.localisation_scores(localisation_maps(model, mosaics, info["target"]), info, seed=seed)
    results = {
        "about": {
            "command": "python -m course_utils.evaluation",
            "seed": seed,
            "road_seconds": round(road_s, 1),
            "total_seconds": round(time.perf_counter() - start, 1),
        },
        "road": {
            "fractions": list(FRACTIONS),
            "test_indices": idx,
            "classes": classes,
            "areas": areas,
            "curves": curves,
            "areas_logit": areas_logit,
            "curves_logit": curves_logit,
        },
        "mosaics": {"grid": 3, **info, "scores": loc},
    }
    shared.save(results, path)
    return results
