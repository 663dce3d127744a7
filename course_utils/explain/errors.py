"""The explainers' warnings, and the course error that is also a TypeError."""

from __future__ import annotations

from ..validation import CourseValueError

__all__ = ["EmptyMapWarning", "ExplainerWarning"]


class ExplainerWarning(UserWarning):
    """Something about the model makes an explanation less than it seems (shown once per cause)."""


class EmptyMapWarning(ExplainerWarning):
    """Every map of a call is all zero; the message says why (often an answer, e.g. no positive evidence).

    Raised only when *every* map of the batch is empty (so always for a single image); which maps of a batch
    are empty is in ``explain().extra["empty_maps"]``. Silence it with
    ``warnings.filterwarnings("ignore", category=cu.explain.EmptyMapWarning)``."""


class _CourseTypeError(CourseValueError, TypeError):
    """An argument of the wrong type: a course error that ``except TypeError`` still catches."""
