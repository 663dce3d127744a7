"""The fixed experiments of notebook 07, run once by a command and read back by the notebook.

    python -m course_utils.evaluation              # about 4 minutes on two CPU cores
    python -m course_utils.evaluation --quick      # a smoke run on a few images, written to a new private temporary folder

Notebook 07 has to run in under a minute. Its tables need more: ROAD and the two older fillings (mean colour,
blur) for five maps, two orders and ten fractions on 200 test images (60,000 forward passes), ROAD once more on
the class's logit instead of its probability (``road["areas_logit"]``, ``road["curves_logit"]``), and six
localisation maps plus the control "Grad-CAM conv4, squared" on 300 mosaics of 96 x 96 pixels (pointing game,
Focus and rank-based Focus). This command computes them with the functions below and
writes ``course_utils/assets/evaluation_07.json`` (per-image areas and per-mosaic scores, so that the
notebook draws its own bootstrap intervals). The notebook recomputes a slice of each live and shows that it
gives the stored numbers.

Every random choice is seeded; each image has its own random stream (tie-breaking, noise, the random
order), so the first ``k`` images give the same numbers whether ``k`` or 200 images are scored.

Notebook 10 evaluates every method of the course with the same metrics (:func:`run_beyond`)::

    python -m course_utils.evaluation --beyond      # about 7 minutes on two CPU cores

The package's files: ``shared.py`` (constants, ROAD areas, mosaics and their scores, the random baseline,
reading and writing results), ``notebook07.py`` (:func:`run`), ``notebook11.py`` (:func:`run_beyond`, the
registry's methods) and ``cli.py`` (the command). Every name is importable from ``course_utils.evaluation``.
"""

from __future__ import annotations

from .cli import main
from .notebook07 import (
    LAYERS,
    LOCALISATION_METHODS,
    ROAD_METHODS,
    SQUARED_CONTROL,
    attribution_maps,
    localisation_maps,
    run,
)
from .notebook11 import (
    ALL_METHODS,
    EVAL_OPTIONS,
    MOSAIC_OPTIONS,
    SQUARED_CONTROL_BEYOND,
    fixed_size,
    make_explainer,
    method_maps,
    run_beyond,
    sanity_scores,
    twin_and_labels,
)
from .shared import (
    CONFUSABLE,
    FRACTIONS,
    RESULTS_11_PATH,
    RESULTS_PATH,
    SEED,
    centre_prior,
    confusable_mosaics,
    first_correct,
    load,
    localisation_scores,
    road_areas,
    squared,
    to_saliency,
)

__all__ = [
    "ALL_METHODS",
    "CONFUSABLE",
    "EVAL_OPTIONS",
    "FRACTIONS",
    "LAYERS",
    "LOCALISATION_METHODS",
    "MOSAIC_OPTIONS",
    "RESULTS_11_PATH",
    "RESULTS_PATH",
    "ROAD_METHODS",
    "SEED",
    "SQUARED_CONTROL",
    "SQUARED_CONTROL_BEYOND",
    "attribution_maps",
    "centre_prior",
    "confusable_mosaics",
    "first_correct",
    "fixed_size",
    "load",
    "localisation_maps",
    "localisation_scores",
    "main",
    "make_explainer",
    "method_maps",
    "road_areas",
    "run",
    "run_beyond",
    "sanity_scores",
    "squared",
    "to_saliency",
    "twin_and_labels",
]
