"""The checks that every public function of the course shares, and the course's error classes.

Every argument a learner passes reaches one of these checks before any TensorFlow op runs, so a wrong value
gives one clear message (what was received, what was expected, what to do) instead of a traceback from deep
inside a library, and never a silently wrong result:

    from course_utils.validation import positive_int, fraction, finite_array
    steps = positive_int(steps, "steps")                 # 64 -> 64; True, 0, -1, 2.5, "8" -> CourseValueError
    frac = fraction(frac, "fraction")                    # 0.3 -> 0.3; 1.2, nan -> CourseValueError
    heat = finite_array(heat, "the map")                 # NaN or inf anywhere -> CourseValueError

All of the course's errors derive from :class:`CourseError`; an argument that is wrong raises
:class:`CourseValueError`, which is also a ``ValueError`` (so ``except ValueError`` keeps working).
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any, Literal, overload

import numpy as np

__all__ = [
    "CourseError",
    "CourseValueError",
    "choice",
    "class_index",
    "class_names",
    "describe",
    "finite_array",
    "finite_number",
    "fraction",
    "nonnegative_int",
    "positive_int",
]


class CourseError(Exception):
    """The base of every error the course raises on purpose (bad input, bad data, a file it will not write)."""


class CourseValueError(CourseError, ValueError):
    """An argument with a wrong value or type: the message says what was received and what was expected."""


def describe(value: Any) -> str:
    """A short, safe description of ``value`` for an error message (type and a clipped repr)."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _is_int(value: Any) -> bool:
    """True for Python and numpy integers, never for a bool (``True`` is not a count of 1)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


@overload
def positive_int(value: Any, name: str, *, allow_none: Literal[False] = False, hint: str = "") -> int: ...


@overload
def positive_int(value: Any, name: str, *, allow_none: bool, hint: str = "") -> int | None: ...


def positive_int(value: Any, name: str, *, allow_none: bool = False, hint: str = "") -> int | None:
    """``value`` as an ``int`` >= 1, or :class:`CourseValueError`; ``None`` passes through when ``allow_none``."""
    if value is None and allow_none:
        return None
    if not _is_int(value) or operator.index(value) < 1:
        expected = "None or a positive int" if allow_none else "a positive int (1, 2, 3, ...)"
        raise CourseValueError(f"{name} must be {expected}; got {describe(value)}.{(' ' + hint) if hint else ''}")
    return int(value)


def nonnegative_int(value: Any, name: str, *, hint: str = "") -> int:
    """``value`` as an ``int`` >= 0 (not a bool), or :class:`CourseValueError`."""
    if not _is_int(value) or operator.index(value) < 0:
        raise CourseValueError(f"{name} must be an int >= 0; got {describe(value)}.{(' ' + hint) if hint else ''}")
    return int(value)


def finite_number(
    value: Any, name: str, *, minimum: float | None = None, maximum: float | None = None, strict_minimum: bool = False
) -> float:
    """``value`` as a finite ``float`` (not a bool, not NaN or infinite), optionally within bounds."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    number = float(value) if ok else math.nan
    if not ok or not math.isfinite(number):
        raise CourseValueError(f"{name} must be a finite number; got {describe(value)}.")
    if minimum is not None and (number <= minimum if strict_minimum else number < minimum):
        bound = f"> {minimum}" if strict_minimum else f">= {minimum}"
        raise CourseValueError(f"{name} must be {bound}; got {number!r}.")
    if maximum is not None and number > maximum:
        raise CourseValueError(f"{name} must be <= {maximum}; got {number!r}.")
    return number


def fraction(value: Any, name: str) -> float:
    """``value`` as a float in [0, 1] (a share of pixels, of images, of mass), never clamped."""
    number = finite_number(value, name)
    if not 0.0 <= number <= 1.0:
        raise CourseValueError(
            f"{name} must be a fraction in [0, 1]; got {number!r}. A percentage such as 30 is written 0.3."
        )
    return number


def finite_array(
    value: Any, name: str, *, ndim: int | tuple[int, ...] | None = None, allow_empty: bool = False, dtype: Any = float
) -> np.ndarray:
    """``value`` as a numpy array of ``dtype`` with no NaN or infinite entry (and the given number of axes)."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a value too large for dtype becomes inf: refused below
            arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise CourseValueError(f"{name} must be an array of numbers; got {describe(value)} ({exc}).") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if arr.ndim not in allowed:
            raise CourseValueError(f"{name} must have {' or '.join(map(str, allowed))} axes; got shape {arr.shape}.")
    if arr.size == 0 and not allow_empty:
        raise CourseValueError(f"{name} is empty (shape {arr.shape}); it needs at least one value.")
    if np.issubdtype(arr.dtype, np.inexact) and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise CourseValueError(
            f"{name} holds {bad} NaN or infinite value(s) out of {arr.size}; every value must be "
            "finite. Find where they come from (a division by zero, a log of 0) and fix that "
            "first."
        )
    return arr


def class_index(value: Any, num_classes: int, name: str = "class_index") -> int:
    """One class index in ``range(num_classes)``. Negative indices are refused: -1 is not 'the last class'."""
    if not _is_int(value):
        raise CourseValueError(f"{name} must be an int from 0 to {num_classes - 1}; got {describe(value)}.")
    index = int(value)
    if not 0 <= index < num_classes:
        raise CourseValueError(
            f"{name} {index} is out of range: the model has {num_classes} classes, so it must be "
            f"from 0 to {num_classes - 1}."
        )
    return index


def class_names(names: Any, num_classes: int, name: str = "class_names") -> list[str]:
    """A list of exactly ``num_classes`` strings (the label of each class)."""
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence | np.ndarray):
        raise CourseValueError(f"{name} must be a list of {num_classes} strings; got {describe(names)}.")
    out = [str(n) for n in names]
    if len(out) != num_classes:
        raise CourseValueError(
            f"{name} has {len(out)} entries but the model has {num_classes} classes: give one "
            "name per class, in the order of the model's outputs."
        )
    return out


def choice(value: Any, options: Sequence[str], name: str) -> str:
    """``value`` if it is one of ``options`` (strings), else :class:`CourseValueError` listing them."""
    if not isinstance(value, str) or value not in options:
        raise CourseValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {describe(value)}.")
    return value
