"""The machinery every checker shares: :class:`Feedback`, "Not yet" for an empty answer, and the helpers
that read an answer as numbers and compare it with the course's reference.

A checker is a function ``check_...(answer, ...) -> Feedback`` decorated with :func:`_needs_answer`: it
never raises on a wrong answer, and an answer of the wrong kind (text where numbers were expected, a
function that raises, an array of the wrong shape) becomes feedback through :class:`AnswerTypeError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from ..validation import CourseError

__all__ = ["NOT_YET", "AnswerTypeError", "Feedback", "answer_or", "answered", "check_choice"]

#: Whatever the learner assigned to an exercise's variable: the stub ``...``, an array, a number, text, a
#: function ... Checkers accept anything and say what is off; they never raise on it.
Answer: TypeAlias = Any


class AnswerTypeError(CourseError, TypeError):
    """An answer of the wrong kind (text where numbers were expected ...); checkers turn it into feedback.

    A :class:`~course_utils.validation.CourseError` like every error the course raises on purpose, and still a
    ``TypeError``.
    """


def answered(answer: Answer) -> bool:
    """True when the learner has replaced the ``...`` stub of an exercise (``None`` counts as empty too)."""
    return not (answer is None or answer is Ellipsis)


#: What a checker says while the learner's answer is still the stub ``...``.
NOT_YET = (
    "your answer is still empty (...). Write your code in the cell above where it says "
    "# YOUR CODE HERE, run that cell, then run this check again."
)


def _needs_answer(check: Callable[..., Feedback]) -> Callable[..., Feedback]:
    """Every checker first makes sure the learner replaced the ``...`` stub.

    An empty answer is "Not yet", never an exception: a student copy must run top to bottom.
    """

    @functools.wraps(check)
    def wrapper(answer: Answer, *args: Any, **kwargs: Any) -> Feedback:
        if not answered(answer):
            return Feedback(False, NOT_YET, answered=False)
        try:
            return check(answer, *args, **kwargs)
        except AnswerTypeError as err:  # an answer of the wrong kind is feedback, not a traceback
            return Feedback(False, str(err))

    return wrapper


def answer_or(answer: Answer, reference: Any, name: str = "your answer") -> Any:
    """The learner's answer when it is filled in, otherwise the course's ``reference``.

    Cells below an exercise use it so that a student copy still runs to the end: with the stub ``...`` it
    prints one line saying so and returns ``reference`` (a value, or a zero-argument callable that is
    called only then).
    """
    if answered(answer):
        return answer
    print(f"Note: {name} is not filled in yet, so the cells below use the course's reference answer.")
    return reference() if callable(reference) else reference


@dataclass
class Feedback:
    """What a checker returns: whether the answer passed, and a message that says why or what is off.

    ``answered`` is False while the answer is still empty (the stub ``...``) or is not one of a question's
    choices. In a notebook the feedback is printed and never raises; the grading forms
    :meth:`assert_passed` and :meth:`assert_answered` raise instead, for nbgrader's hidden tests
    (:mod:`course_utils.grading`).
    """

    passed: bool
    message: str
    answered: bool = True

    def assert_passed(self) -> None:
        """Raise ``AssertionError`` with the checker's message unless the answer passed; silent when it did."""
        __tracebackhide__ = True  # IPython and pytest show the message, not this frame
        if not self.passed:
            raise AssertionError(str(self))

    def assert_answered(self) -> None:
        """Raise ``AssertionError`` unless an answer was given (for a prediction: one of the choices, right or not)."""
        __tracebackhide__ = True  # IPython and pytest show the message, not this frame
        if not self.answered:
            raise AssertionError(str(self))

    def __str__(self) -> str:
        return ("✅ Correct. " if self.passed else "❌ Not yet. ") + self.message

    def __repr__(self) -> str:  # what a notebook cell shows
        return str(self)

    def __bool__(self) -> bool:
        return self.passed


def _array(answer: Answer, name: str) -> np.ndarray:
    """The answer as an array of float64; an answer that is not numbers raises :class:`AnswerTypeError`."""
    try:
        arr = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise AnswerTypeError(
            f"{name} should be a numpy array of numbers, got {type(answer).__name__} ({str(answer)[:40]!r})."
        ) from None
    return arr


def _size(value: Any) -> int | None:
    """How many numbers ``value`` holds as an array, or ``None`` for a ragged list that is no array at all."""
    try:
        return int(np.size(value))
    except (TypeError, ValueError):
        return None


def _close(a: np.ndarray, b: np.ndarray, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    """Same shape and close, ``atol`` scaled by the reference's largest value (at least 1)."""
    return a.shape == b.shape and np.allclose(a, b, rtol=rtol, atol=atol * max(1.0, float(np.abs(b).max())))


def _shape_hint(got: np.ndarray, want: np.ndarray, what: str) -> Feedback | None:
    """A "Not yet" that names both shapes when they differ, otherwise ``None``."""
    if got.shape != want.shape:
        return Feedback(False, f"{what} has shape {got.shape}, expected {want.shape}.")
    return None


def _require_shape(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Stop a checker with the "Not yet" of :func:`_shape_hint` when the shapes differ.

    It raises :class:`AnswerTypeError`, which :func:`_needs_answer` turns into that same feedback.
    """
    if (hint := _shape_hint(got, want, what)) is not None:
        raise AnswerTypeError(hint.message)


def _matches(got: np.ndarray, want: np.ndarray, what: str) -> bool:
    """The first question of most checkers: is ``got`` the reference ``want``?

    An answer of another shape stops the checker with a "Not yet" that names both shapes
    (:func:`_require_shape`); otherwise the answer matches when it is :func:`_close` to ``want``.
    """
    _require_shape(got, want, what)
    return _close(got, want)


@_needs_answer
def check_choice(
    answer: Answer, correct: str, options: dict[str, str], why: str, hints: dict[str, str] | None = None
) -> Feedback:
    """A "predict, then check" question: ``answer`` is one key of ``options`` (e.g. ``"b"``).

    ``correct`` is the key the code below the question computes (not typed in by hand where it can be
    computed), ``why`` the explanation shown with a pass, ``hints`` a hint for each typical wrong choice.
    """
    key = str(answer).strip().lower()
    keys = {str(k).lower(): k for k in options}
    if key not in keys:
        listed = ", ".join(f"{k!r} ({v})" for k, v in options.items())
        return Feedback(False, f"your answer {str(answer)[:40]!r} is not one of the choices: {listed}.", answered=False)
    if keys[key] == correct:
        return Feedback(True, why)
    hint = (hints or {}).get(keys[key], f"the code below shows what happens: it is {correct!r} ({options[correct]}).")
    return Feedback(False, f"{keys[key]!r} ({options[keys[key]]}): {hint}")


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Call the learner's function; its exception becomes feedback (AnswerTypeError), never a traceback."""
    try:
        return fn(*args)
    except Exception as err:  # noqa: BLE001 - any error in the learner's code is feedback
        raise AnswerTypeError(f"your function raised {type(err).__name__}: {str(err)[:80]}") from None
