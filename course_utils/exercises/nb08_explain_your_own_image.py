"""Checkers of notebook 08, explain your own image: the top 3 classes, the centre crop."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from ._core import Answer, AnswerTypeError, Feedback, _call, _needs_answer, _size

__all__ = ["check_centre_crop", "check_top3"]


def _second_logits(y: np.ndarray) -> np.ndarray:
    """Another logit vector of the same length, in another order (for trying the learner's function)."""
    return np.random.default_rng(8).permutation(y.size) * 0.7 - 2.0


def _names(answer: Answer) -> list:
    """A learner's list of class names as a list (a string is one name); anything that is not a sequence of
    names or numbers is refused with :class:`AnswerTypeError`."""
    if isinstance(answer, str):
        return [answer]
    try:
        items = list(answer)
    except TypeError:
        items = None
    if items is None or any(_size(v) != 1 for v in items):
        raise AnswerTypeError(
            f"expected a list of three class names, got {type(answer).__name__} ({str(answer)[:40]!r})."
        ) from None
    return items


@_needs_answer
def check_top3(answer: Answer, logits: ArrayLike, class_names: Sequence[str]) -> Feedback:
    """``answer``: a function ``top3(logits)`` that returns the names of the three most likely classes, most
    likely first. It is tried on ``logits`` and on a second logit vector, so names copied from a figure
    cannot pass. (A list of names is read as the answer for ``logits`` alone, and refused.)"""
    y = np.asarray(logits, np.float64).ravel()
    names = list(class_names)

    def top(v: np.ndarray) -> list[str]:
        return [names[i] for i in np.argsort(v)[::-1][:3]]

    if not callable(answer):
        got = _names(answer)
        return Feedback(
            False,
            ("these are the right three names for this photo, " if got == top(y) else "")
            + "but the exercise asks for a function: def my_top3(logits): return [...], so the check "
            "can try it on other logits too.",
        )
    for n, v in enumerate([y, _second_logits(y)]):
        got = _names(_call(answer, v.copy()))
        want = top(v)
        if got == want:
            continue
        where = "" if n == 0 else "right for this photo, but not for another logit vector: "
        if got == [names[i] for i in np.argsort(v)[:3]]:
            return Feedback(
                False, where + "these are the three *least* likely: sort in descending order (np.argsort(...)[::-1])."
            )
        if sorted(map(str, got)) == sorted(want):
            return Feedback(False, where + "the right three classes, in the wrong order: most likely first.")
        if got and all(isinstance(g, (int, np.integer)) for g in got):
            return Feedback(False, where + "these are class indices; turn them into names with names[i].")
        return Feedback(False, where + f"the three largest logits are {want}, your function gave {got[:5]}.")
    return Feedback(True, "The softmax keeps the order of the logits, so the top 3 can be read off the logits.")


def _centre(img: np.ndarray) -> tuple[int, int, int]:
    h, w = img.shape[:2]
    side = min(h, w)
    return side, (h - side) // 2, (w - side) // 2


@_needs_answer
def check_centre_crop(answer: Answer, image: ArrayLike) -> Feedback:
    """``answer``: a function ``crop(img)`` that cuts the largest square from the centre of an image
    ``(H, W, 3)``. It is tried on ``image`` and on a second image of another shape (``image`` with rows and
    columns swapped, a few columns cut: a wide photo becomes a tall one), so a slice typed in for one photo
    cannot pass. (An array is read as the crop of ``image`` alone, and refused.)"""
    img = np.asarray(image)
    other = np.ascontiguousarray(np.swapaxes(img, 0, 1)[:, :-3])
    if not callable(answer):
        side, top, left = _centre(img)
        try:
            right = np.array_equal(np.asarray(answer), img[top : top + side, left : left + side])
        except (TypeError, ValueError):  # a ragged list is no crop
            right = False
        return Feedback(
            False,
            ("this is the right square of this photo, " if right else "")
            + "but the exercise asks for a function: def my_centre_square(img): ..., so the check can "
            "try it on a photo of another shape too.",
        )
    for n, im in enumerate([img, other]):
        out = _call(answer, im.copy())
        try:
            got = np.asarray(out)
        except (TypeError, ValueError):  # a ragged list
            raise AnswerTypeError(f"your function returned {type(out).__name__}, expected an image array.") from None
        h, w = im.shape[:2]
        side, top, left = _centre(im)
        if got.shape[:2] == (side, side) and np.array_equal(got, im[top : top + side, left : left + side]):
            continue
        kind = "tall" if h > w else "wide" if w > h else "square"
        what = f"{'the' if n == 0 else 'a'} {kind} photo ({h} rows x {w} columns)"
        where = "" if n == 0 else "right for the photo above, but not for another shape: "
        if got.ndim < 2:
            return Feedback(False, f"{where}for {what} your function returned shape {got.shape}, not an image.")
        if np.array_equal(got, im[left : left + side, top : top + side]):
            return Feedback(
                False,
                f"{where}for {what} the row and column offsets are swapped: rows start at "
                "(H - side) // 2, columns at (W - side) // 2.",
            )
        if np.array_equal(got, im[:side, :side]):
            return Feedback(
                False,
                f"{where}for {what} the square starts at the top-left corner; centre it: "
                "start at ((H - side) // 2, (W - side) // 2).",
            )
        if got.shape[:2] != (side, side):
            return Feedback(
                False,
                f"{where}for {what} the crop has {got.shape[0]} rows x {got.shape[1]} columns; the largest "
                f"square is {side} x {side}: side = the shorter of H and W, and both the rows "
                "and the columns are cut around the centre.",
            )
        return Feedback(False, f"{where}for {what} the pixels differ from the centre square.")
    side, top, left = _centre(img)
    return Feedback(
        True,
        f"rows {top}:{top + side}, columns {left}:{left + side} of the photo, and the same rule "
        "for a photo of another shape: the centre square.",
    )
