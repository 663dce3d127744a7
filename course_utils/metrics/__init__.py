"""Numbers about explanations, each with an interval.

- sanity checks: :func:`rank_correlation` (Spearman) between two maps;
- localisation on mosaics: :func:`make_mosaic` (k x k tiles), :func:`pointing_hit` (is the maximum on the
  target tile?), :func:`focus` (which share of the map's positive mass is on it; Arias-Duart et al., 2022),
  :func:`focus_rank` (the same on the map's ranks, :func:`map_ranks`: a control that a peakier map cannot win);
- faithfulness by removing pixels: :func:`relevance_order` and :func:`removal_masks` (MoRF / LeRF, ties
  broken at random), three ways to fill what was removed (:func:`impute_mean`, :func:`impute_blur`,
  :func:`impute_linear`, the noisy linear imputation of ROAD, Rong et al., 2022), :func:`removal_curves`
  (of the class's probability, or with ``score="logit"`` of its logit) and :func:`area_under`;
- intervals: :func:`bootstrap_interval` (percentile bootstrap over images).

Every argument goes through the course's shared checks (:mod:`course_utils.validation`) first: a map or values
with NaN or inf, a negative class index or tile, a fraction outside [0, 1], a count that is 0, negative or
``True``, an unsorted ``x`` for :func:`area_under` raise :class:`~course_utils.validation.CourseValueError` (a
``ValueError``) saying what was wrong, instead of a number that is silently wrong.

The modules: :mod:`.arguments` (the shared checks), :mod:`.correlation`, :mod:`.localisation`, :mod:`.intervals`,
:mod:`.imputers` and :mod:`.removal`. Everything public is imported here: ``course_utils.metrics.focus`` and so on.
"""

from __future__ import annotations

from .correlation import rank_correlation
from .imputers import IMPUTERS, impute_blur, impute_linear, impute_mean

# ROAD_WEIGHTS is not in __all__ but public, as it was before the package.
from .imputers import ROAD_WEIGHTS as ROAD_WEIGHTS
from .intervals import bootstrap_interval
from .localisation import focus, focus_rank, make_mosaic, map_ranks, pointing_hit, tile_of
from .removal import area_under, relevance_order, removal_curves, removal_masks

__all__ = [
    "IMPUTERS",
    "area_under",
    "bootstrap_interval",
    "focus",
    "focus_rank",
    "impute_blur",
    "impute_linear",
    "impute_mean",
    "make_mosaic",
    "map_ranks",
    "pointing_hit",
    "rank_correlation",
    "relevance_order",
    "removal_curves",
    "removal_masks",
    "tile_of",
]
