"""Path and noise: Integrated Gradients along a path from a baseline, SmoothGrad and VarGrad over noisy copies.

:class:`IntegratedGradients` averages the gradient along the straight path from a baseline to the image (with a
completeness check); :class:`SmoothGrad` averages any explainer's maps over noisy copies of the image through the
explainer's public ``explain`` (as Captum's ``NoiseTunnel``), or takes their variance (VarGrad, ``var=True``).
Both send ``batch_size`` images at a time through the model, so memory does not grow with N x steps or samples.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ..validation import CourseValueError, choice, describe, fraction, nonnegative_int, positive_int
from .backprop import VanillaGradient
from .base import Explanation, _Explainer, normalize_maps
from .errors import EmptyMapWarning
from .graph import _tf
from .inputs import PIXELS, ValueRange, _baseline_value, _flag, _value_range

if TYPE_CHECKING:
    import keras
    from numpy.typing import ArrayLike

__all__ = ["IntegratedGradients", "SmoothGrad"]


class IntegratedGradients(VanillaGradient):
    """Integrated Gradients (Sundararajan et al., 2017): the gradient averaged along the straight path from a
    baseline x' to the image, times (x - x').

    ``attr = (x - x') * sum_s w_s dy^c/dx (x' + a_s (x - x'))``, the path integral by a quadrature rule with
    ``steps`` intervals: ``method="trapezoid"`` (the default: ``steps`` equal intervals, ends included, the mean
    of the left and right Riemann sums; the paper writes a plain Riemann sum) or ``"gausslegendre"`` (``steps``
    Gauss-Legendre points, Captum's default). Gauss-Legendre is exact for polynomials of degree 2m - 1, but a
    ReLU network's gradient along the path is piecewise constant with jumps at every ReLU's kink, so that
    advantage does not apply: on the course model, at the same ``steps``, the trapezoid rule's integration error is as
    small or smaller at every step count appendix A6 measures (it evaluates one point more, both ends), hence the
    default. Completeness: ``sum(attr) = y^c(x) - y^c(x')`` up to the integration
    error, which :meth:`explain` reports (``extra["delta"]``, and relative to ``y^c(x) - y^c(x')`` in
    ``extra["relative_error"]``). ``baseline``: a finite number in ``value_range`` (0.0 is a black image for the
    course model's 0-255 input), an (H, W, C) image or one per image (N, H, W, C). Returns signed ``(N, H, W, C)``.
    The points of all paths go through the model ``batch_size`` at a time, whatever the number of images, so
    memory does not grow with ``N x steps``.
    """

    name = "Integrated Gradients"

    def __init__(
        self,
        model: keras.Model,
        baseline: float | ArrayLike = 0.0,
        steps: int = 64,
        *,
        method: str = "trapezoid",
        batch_size: int = 256,
        normalize: bool = False,
        value_range: ValueRange = PIXELS,
    ):
        steps = positive_int(
            steps,
            "steps",
            hint="It is the number of points on the path from the baseline to the image (the default is 64).",
        )
        batch_size = positive_int(
            batch_size, "batch_size", hint="It is how many points of the paths go through the model at once."
        )
        method = choice(method, ("gausslegendre", "trapezoid"), "method")
        normalize = _flag(normalize, "normalize")
        baseline = _baseline_value(baseline, _value_range(value_range))
        super().__init__(model, normalize=False, value_range=value_range)
        self.baseline, self.steps, self.batch_size, self.scale = baseline, steps, batch_size, normalize
        self.method = method

    def _baseline(self, x):
        b = np.asarray(self.baseline, dtype=np.float32)
        if b.ndim == 0:
            return np.full_like(x, float(b))
        if b.shape == x.shape[1:]:
            return np.broadcast_to(b, x.shape).copy()
        if b.shape == x.shape:
            return b.copy()
        raise CourseValueError(
            f"baseline has shape {b.shape}; expected a number, one image {x.shape[1:]} or one per image {x.shape}."
        )

    def _rule(self) -> tuple[np.ndarray, np.ndarray]:
        """The points a_s in [0, 1] and weights w_s of the quadrature rule (float32)."""
        if self.method == "gausslegendre":  # exact for polynomials of degree 2m - 1
            t, w = np.polynomial.legendre.leggauss(self.steps)
            return ((t + 1) / 2).astype(np.float32), (w / 2).astype(np.float32)
        a = np.linspace(0.0, 1.0, self.steps + 1, dtype=np.float32)  # the trapezoidal rule, ends included
        w = np.full(self.steps + 1, 1.0 / self.steps, np.float32)
        w[[0, -1]] /= 2
        return a, w

    def _path_average(self, fn, x, base, cls, a, w) -> np.ndarray:
        """sum_s w_s dy^c/dx (x' + a_s (x - x')) for every image. The (image, point) pairs are taken in order,
        ``batch_size`` at a time (the same batches as one big path array would give); each image's gradients
        wait in a buffer of ``steps`` rows until its path is complete, then are summed at once (the same sum
        as before, to the last bit). Memory: ``batch_size + steps`` images, not N x steps."""
        n, P = len(x), len(a)
        mean_grad = np.zeros_like(x)
        path_grads = np.empty((P, *x.shape[1:]), np.float32)  # the image whose path is under way
        for start in range(0, n * P, self.batch_size):
            rows = np.arange(start, min(start + self.batch_size, n * P))
            i, s = rows // P, rows % P
            path = base[i] + a[s][:, None, None, None] * (x[i] - base[i])
            g = fn(path, cls[i]).maps.numpy()
            for j in np.unique(i):
                part = i == j
                path_grads[s[part]] = g[part]
                if s[part][-1] == P - 1:  # its last point: the path is complete
                    mean_grad[j] = np.einsum("s,s...->...", w, path_grads)
        return mean_grad

    def _explain(self, images, class_index, target) -> Explanation:
        tf = _tf()
        x, cls = self._prepare(images, class_index)
        fn = self._compiled(target)
        base = self._baseline(x)
        cls, logits, score = self._chunked(fn, x, cls)  # the class: chosen on the image itself
        a, w = self._rule()
        n = len(x)
        mean_grad = self._path_average(fn, x, base, cls, a, w)  # the path-averaged gradient
        attr = (x - base) * mean_grad
        scores = np.stack([self._chunked(fn, base, cls)[2], score], axis=1)
        gap = scores[:, -1] - scores[:, 0]  # y^c(x) - y^c(x')
        delta = gap - attr.reshape(n, -1).sum(axis=1)
        maps = attr
        if self.scale:
            maps = normalize_maps(tf.constant(attr), signed=True).numpy()
        extra = {
            "delta": delta,
            "relative_error": np.abs(delta) / np.maximum(np.abs(gap), 1e-12),
            "score_gap": gap,
            "baseline": base,
            "steps": self.steps,
        }
        return Explanation(
            maps=maps.astype(np.float32),
            class_index=cls,
            logits=logits,
            gradients=mean_grad,
            extra={**extra, **({} if target is None else {"target": target})},
        )

    def _chunked(self, fn, x, cls):
        """The class, logits and score of the compiled pass ``fn`` over ``x``, in batches of ``batch_size``."""
        outs = [fn(x[s : s + self.batch_size], cls[s : s + self.batch_size]) for s in range(0, len(x), self.batch_size)]
        c, lg, sc = (np.concatenate([getattr(o, f).numpy() for o in outs]) for f in ("class_index", "logits", "score"))
        return c.astype(np.int32), lg, sc

    def _empty_reason(self, ex: Explanation) -> str:
        if np.asarray(ex.gradients).any():
            return (
                "The baseline equals the image wherever the gradient is not 0, so x - x' is 0 there and every "
                "attribution is 0. Choose a baseline that differs from the image (0.0, a black image, is the "
                "usual one)."
            )
        return (
            "The gradient of the class score is 0 at every point of the path from the baseline to the image "
            "(every ReLU on the way is off, or the model ignores its input), so every attribution is 0."
        )


class SmoothGrad(_Explainer):
    """SmoothGrad (Smilkov et al., 2017): an explainer's maps averaged over noisy copies of the image.

    ``method``: the explainer to smooth, called through its public ``explain`` as Captum's ``NoiseTunnel`` does:
    a class (:class:`VanillaGradient` by default, :class:`GuidedBackprop`, :class:`GradCAM` ..., built on the model
    with ``value_range=None``) or an explainer of the same model built with ``value_range=None``; a ``target``
    (see :meth:`explain`) is passed on to it. Noise is Gaussian with standard deviation ``noise * (max - min)`` of each
    image (the paper's 10-20 %), ``samples`` copies; the class is the one chosen on the clean image.
    ``var=True`` gives VarGrad (Adebayo et al., 2018): the variance of the gradients instead of their mean.
    ``seed`` makes the noise repeatable: it is drawn as ``np.random.RandomState(seed).normal(0, sigma,
    (samples, N, H, W, C))``. Returns the method's maps' shape: signed ``(N, H, W, C)`` for a gradient
    (non-negative for VarGrad). The noisy copies are
    drawn and sent through the model ``batch_size`` at a time (the same numbers, in the same order), so memory
    does not grow with ``N x samples``.
    """

    name = "SmoothGrad"
    #: np.random.RandomState's seed: an int, or a list of ints (the evaluation seeds image i with [seed, i]).
    seed: int | list[int] | None

    def __init__(
        self,
        model: keras.Model,
        method: type[_Explainer] | _Explainer | None = None,
        *,
        samples: int = 25,
        noise: float = 0.15,
        var: bool = False,
        seed: int | None = 0,
        batch_size: int = 256,
        value_range: ValueRange = PIXELS,
    ):
        method = _smoothable(VanillaGradient if method is None else method, model)
        samples = positive_int(samples, "samples", hint="It is the number of noisy copies of each image.")
        noise = fraction(noise, "noise (a fraction of each image's value range)")
        var = _flag(var, "var")
        if seed is not None:
            seed = nonnegative_int(seed, "seed", hint="It seeds np.random.RandomState (None: fresh noise each call).")
            if seed >= 2**32:
                raise CourseValueError(f"seed must be below 2**32 (np.random.RandomState's range); got {seed}.")
        batch_size = positive_int(
            batch_size, "batch_size", hint="It is how many noisy copies go through the model at once."
        )
        super().__init__(model, value_range=value_range)
        self.base = method(model, value_range=None) if isinstance(method, type) else method
        self.takes_target, self._no_target = self.base.takes_target, self.base._no_target
        self.samples, self.noise, self.var, self.seed, self.batch_size = samples, noise, var, seed, batch_size
        self.name = ("VarGrad" if var else "SmoothGrad") + f" ({self.base.name})"

    def _explain(self, images, class_index, target) -> Explanation:
        x, cls = self._prepare(images, class_index)
        n, S, size = len(x), self.samples, self.batch_size
        with warnings.catch_warnings():  # an empty map of one batch is no news: the average is checked once
            warnings.simplefilter("ignore", EmptyMapWarning)
            clean = [
                self._base_explain(x[k : k + size], None if class_index is None else cls[k : k + size], target)
                for k in range(0, n, size)
            ]
            cls = np.concatenate([e.class_index for e in clean])
            logits = np.concatenate([e.logits for e in clean])
            sigma = self.noise * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))
            rng = np.random.RandomState(self.seed)
            total: Any = None
            mean: Any = None
            squares: Any = None
            for start in range(0, S * n, size):  # row r is copy r // n of image r % n, as in (S, N, ...) order
                rows = np.arange(start, min(start + size, S * n))
                s, i = rows // n, rows % n
                eps = rng.normal(0.0, 1.0, (len(rows), *x.shape[1:])).astype(np.float32)
                noisy = x[i] + eps * sigma[i, None, None, None]
                g = self._base_explain(noisy, None if target is not None else cls[i], target).maps
                if total is None:  # float32, summed sample by sample: what grads.mean(axis=0) does
                    total = np.zeros((n, *g.shape[1:]), np.float32)
                    mean, squares = np.zeros(total.shape), np.zeros(total.shape)  # VarGrad: Welford's running sums
                for k in np.unique(s):
                    part = s == k
                    j, gk = i[part], g[part]
                    total[j] += gk
                    if self.var:
                        delta = gk - mean[j]
                        mean[j] += delta / (k + 1)
                        squares[j] += delta * (gk - mean[j])
        maps = squares / S if self.var else total / S
        extra = {"sigma": sigma, "samples": self.samples, **({} if target is None else {"target": target})}
        return Explanation(maps=maps.astype(np.float32), class_index=cls, logits=logits, gradients=maps, extra=extra)

    def _base_explain(self, images, class_index, target) -> Explanation:
        """The smoothed explainer's public ``explain``; its refusals (NaN maps) are said as SmoothGrad's."""
        try:
            return self.base.explain(images, class_index, target=target)
        except CourseValueError as err:
            raise CourseValueError(f"{self.name}: {err}") from None

    def _empty_reason(self, ex: Explanation) -> str:
        if self.var:
            return (
                "The gradients of the noisy copies do not vary at all"
                + (" (noise=0: every copy is the image itself)" if self.noise == 0 else "")
                + ", so their variance is 0. Use noise > 0 (0.1-0.2)."
            )
        return (
            "The gradient of the class score is 0 at every pixel of every noisy copy (every ReLU on the way is "
            "off, or the model ignores its input), so their mean is 0."
        )


def _smoothable(method, model):
    """``method`` if SmoothGrad can average it on ``model``: an explainer class (built later, on ``model`` with
    ``value_range=None``), or an explainer of ``model`` built with ``value_range=None`` (noisy copies leave the
    images' range)."""
    if isinstance(method, type) and issubclass(method, _Explainer):
        return method
    if isinstance(method, _Explainer):
        if method.model is not model:
            raise CourseValueError(
                f"SmoothGrad was given {method!r}, an explainer of another model than "
                f"{model.name!r}: build it on the model SmoothGrad explains."
            )
        if method.value_range is not None:
            raise CourseValueError(
                f"SmoothGrad was given {method!r}, which checks that images lie in "
                f"{method.value_range}; noisy copies leave that range. Build it with "
                "value_range=None (SmoothGrad checks the clean images itself)."
            )
        return method
    raise CourseValueError(
        f"SmoothGrad smooths an explainer: method must be an explainer class (VanillaGradient, the "
        f"default, GuidedBackprop, GradCAM ...) or an explainer built on the same model with "
        f"value_range=None; got {describe(method)}."
    )
