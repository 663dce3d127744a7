"""The arguments every metric shares, checked: random generators and seeds, fractions, tiles, masks, class
indices, and the probabilities a model returns."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..validation import (
    CourseValueError,
    describe,
    finite_array,
    fraction,
    nonnegative_int,
)
from ..validation import class_index as _class_index

#: What an ``rng`` argument may be: None (fresh randomness), a seed (an int >= 0) or a numpy Generator.
RandomSource = int | np.random.Generator | None

_RNG_HINT = "rng must be None (fresh randomness), a seed (an int >= 0) or a numpy.random.Generator"


def _rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """``None`` (fresh entropy), a seed (an int >= 0 or a sequence of them), a ``SeedSequence`` or a
    ``numpy.random.Generator`` -> a Generator; anything else (a bool, a float, a negative seed) is refused."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (np.random.SeedSequence, np.random.BitGenerator)):
        return np.random.default_rng(rng)
    if isinstance(rng, Sequence) and not isinstance(rng, (str, bytes)) and len(rng) > 0:
        return np.random.default_rng([nonnegative_int(s, f"each seed in {name}", hint=_RNG_HINT + ".") for s in rng])
    return np.random.default_rng(nonnegative_int(rng, name, hint=_RNG_HINT + "."))


def _seed(rng: Any, name: str = "rng") -> int:
    """One int seed: drawn from ``None`` (fresh entropy) or a Generator, or the seed itself (an int >= 0)."""
    if rng is None or isinstance(rng, np.random.Generator):
        return int(_rng(rng).integers(2**63))
    return nonnegative_int(rng, name, hint=_RNG_HINT + ".")


def _per_image(rng: Any, n: int, *keys: int) -> list[np.random.Generator]:
    """One random stream per image, from a seed (or a Generator, which gives the seed): image ``i`` draws
    the same numbers whichever other images share the batch. A list of ``n`` Generators is used as it is."""
    if isinstance(rng, (list, tuple)):
        if len(rng) != n or not all(isinstance(g, np.random.Generator) for g in rng):
            raise CourseValueError(
                f"rng as a list must hold one numpy.random.Generator per image ({n}); got "
                f"{describe(rng)}. Or pass one seed (an int >= 0) for all of them."
            )
        return list(rng)
    seed = _seed(rng)
    return [np.random.default_rng([seed, *keys, i]) for i in range(n)]


def _fractions(values: Any, name: str = "fractions") -> np.ndarray:
    """A 1-D array of fractions, each in [0, 1] (never clamped: 1.2 or -0.1 is refused)."""
    raw = values.tolist() if isinstance(values, np.ndarray) and values.dtype == bool else values
    if isinstance(raw, (list, tuple)):  # each as given: True is not 1.0, "0.5" is not 0.5
        for i, v in enumerate(raw):
            if not isinstance(v, (list, tuple, np.ndarray)):
                fraction(v, f"{name}[{i}]")
    f = finite_array(values, name, ndim=1)
    for i, v in enumerate(f.tolist()):
        fraction(v, f"{name}[{i}]")
    return f


def _tile(value: Any, grid: int, name: str = "tile") -> int:
    """One tile index of a ``grid`` x ``grid`` mosaic: an int in 0 .. grid*grid - 1 (row-major, from 0)."""
    hint = f"Tiles are counted from 0, row by row: 0 .. {grid * grid - 1} for a {grid} x {grid} mosaic."
    t = nonnegative_int(value, name, hint=hint)
    if t >= grid * grid:
        raise CourseValueError(f"{name} must be one of 0 .. {grid * grid - 1} for a {grid} x {grid} mosaic, got {t}.")
    return t


def _mask(removed: Any, name: str = "removed") -> np.ndarray:
    """A mask of booleans (True = removed); 0/1 numbers are accepted, any other value is refused."""
    m = finite_array(removed, name, allow_empty=True)
    if not np.isin(m, (0.0, 1.0)).all():
        raise CourseValueError(
            f"{name} must be a mask of booleans (True = removed) or of 0 and 1; it holds other "
            "values. A saliency map is not a mask: make one with removal_masks(map, fractions)."
        )
    return m.astype(bool)


def _class_indices(class_index: Any, n: int) -> np.ndarray:
    """``class_index`` (an int or one per image) as ``(n,)`` ints >= 0; the upper bound is checked against the
    model's output by :func:`_probabilities`."""
    arr = np.asarray(class_index) if isinstance(class_index, (numbers.Integral, np.ndarray, list, tuple)) else None
    if arr is None or arr.dtype.kind not in "iu" or arr.ndim > 1:
        raise CourseValueError(f"class_index must be an int or one int per image; got {describe(class_index)}.")
    if arr.ndim == 1 and len(arr) != n:
        raise CourseValueError(
            f"class_index has {len(arr)} entries for {n} images: give one class per image, or one int for all."
        )
    if arr.size and arr.min() < 0:
        nonnegative_int(int(arr.min()), "class_index", hint="-1 is not 'the last class': give the class's index.")
    return np.broadcast_to(arr, (n,))


_PROB_SLACK = 0.01


def _model_outputs(predict: Callable, batch: np.ndarray, classes: np.ndarray, what: str) -> np.ndarray:
    """``predict(batch)`` checked: ``(len(batch), C)`` finite numbers, every class asked for below C; ``what``
    (``"probabilities"`` or ``"logits"``) names them in the messages."""
    out = np.asarray(predict(batch))
    if out.dtype.kind not in "fiu" or out.ndim != 2 or out.shape[0] != len(batch):
        raise CourseValueError(
            f"predict must map a batch ({len(batch)}, H, W, 3) to {what} "
            f"({len(batch)}, classes); it returned {describe(out)}."
        )
    finite_array(out, f"the {what} predict returned")
    for c in np.unique(classes):
        _class_index(int(c), out.shape[1])
    return out


def _probabilities(predict: Callable, batch: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``predict(batch)`` checked: ``(len(batch), C)`` finite probabilities, every class asked for below C.

    Values beyond [-0.01, 1.01] are refused as logits (a little slack for toy models whose "probability" is a
    mean brightness: imputation noise can push those just past 0 or 1)."""
    out = _model_outputs(predict, batch, classes, "probabilities")
    if out.size and (out.min() < -_PROB_SLACK or out.max() > 1 + _PROB_SLACK):
        raise CourseValueError(
            f"predict must return probabilities in [0, 1]; it returned values from "
            f"{out.min():.3g} to {out.max():.3g}. These look like logits: apply a softmax "
            '(tf.nn.softmax(model(x)).numpy()), or score the logits with score="logit".'
        )
    return out


def _logits(predict: Callable, batch: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``predict(batch)`` checked as logits: ``(len(batch), C)`` finite numbers (any sign, any size), every
    class asked for below C. No softmax is applied: the scores are the model's logits as they come."""
    return _model_outputs(predict, batch, classes, "logits")
