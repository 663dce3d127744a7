"""Every checker: a right answer passes, and each typical wrong answer gets its own hint."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils import exercises as X

rng = np.random.default_rng(0)
A = np.maximum(rng.normal(size=(8, 8, 5)), 0)
w = rng.normal(size=5)
G = rng.normal(size=(8, 8, 5))


def _fails_with(fb, text):
    assert not fb.passed and text in fb.message, fb.message
    assert str(fb).startswith("❌")


def test_check_gap():
    assert X.check_gap(A.mean(axis=(0, 1)), A).passed
    assert str(X.check_gap(A.mean(axis=(0, 1)), A)).startswith("✅")
    _fails_with(X.check_gap(A.sum(axis=(0, 1)), A), "mean (divide by Z")
    _fails_with(X.check_gap(A.mean(axis=-1), A), "averaged over the channels")
    _fails_with(X.check_gap(A.max(axis=(0, 1)), A), "global *max* pooling")
    _fails_with(X.check_gap(A.mean(axis=(0, 1)) + 1, A), "differ")
    _fails_with(X.check_gap(..., A), "still empty")
    _fails_with(X.check_gap("the mean", A), "numpy array of numbers, got str")


def test_check_cam():
    cam = np.einsum("hwk,k->hw", A, w)
    assert X.check_cam(cam, A, w).passed
    _fails_with(X.check_cam(cam / 64, A, w), "divided by Z")
    _fails_with(X.check_cam(np.maximum(cam, 0), A, w), "applied a ReLU")
    _fails_with(X.check_cam(A.sum(-1), A, w), "without the class weights")
    _fails_with(X.check_cam(np.kron(cam, np.ones((4, 4))), A, w), "feature-map resolution")
    _fails_with(X.check_cam(np.einsum("hwk,k->hw", A, -w), A, w), "column of the Dense kernel")


def test_check_alpha():
    assert X.check_alpha(G.mean(axis=(0, 1)), G).passed
    _fails_with(X.check_alpha(G.sum(axis=(0, 1)), G), "divide by")
    _fails_with(X.check_alpha(G.mean(axis=-1), G), "averaged over the channels")
    _fails_with(X.check_alpha(np.abs(G).mean(axis=(0, 1)), G), "keep the sign")


def test_check_gradcam():
    alpha = G.mean(axis=(0, 1))
    raw = np.einsum("hwk,k->hw", A, alpha)
    assert (raw < 0).any()
    assert X.check_gradcam(np.maximum(raw, 0), A, alpha).passed
    assert X.check_gradcam(np.maximum(raw, 0) / raw.max(), A, alpha).passed
    _fails_with(X.check_gradcam(raw, A, alpha), "apply the ReLU")
    _fails_with(X.check_gradcam(np.abs(raw), A, alpha), "absolute value")
    _fails_with(X.check_gradcam(raw[:4], A, alpha), "shape")
    # when the weighted sum happens to be positive everywhere, the ReLU changes nothing: a right answer
    # written with np.abs or without the ReLU is then also right, and must pass
    pos_alpha = np.abs(alpha)
    assert X.check_gradcam(np.einsum("hwk,k->hw", A, pos_alpha), A, pos_alpha).passed


def test_check_guided_relu():
    x = np.array([-1.0, 2.0, 3.0, -4.0, 0.5, 1.0])
    dy = np.array([1.0, -1.0, 2.0, 3.0, -2.0, 0.5])
    assert X.check_guided_relu([0, 0, 2, 0, 0, 0.5], x, dy).passed
    _fails_with(X.check_guided_relu(dy * (x > 0), x, dy), "plain backpropagation")
    _fails_with(X.check_guided_relu(dy * (dy > 0), x, dy), "deconvnet rule")
    _fails_with(X.check_guided_relu(np.zeros(6), x, dy), "compare each entry")


def test_check_guided_gradcam():
    g = rng.normal(size=(32, 32, 3))
    cam = rng.uniform(size=(32, 32))
    assert X.check_guided_gradcam(g * cam[..., None], g, cam).passed
    _fails_with(X.check_guided_gradcam(g + cam[..., None], g, cam), "multiplies")
    _fails_with(X.check_guided_gradcam(g, g, cam[:8, :8]), "upsample")


def test_check_peak():
    s = np.zeros((10, 12)); s[3, 8] = 1
    assert X.check_peak((3, 8), s).passed
    _fails_with(X.check_peak((8, 3), s), "swapped")
    _fails_with(X.check_peak(int(np.argmax(s)), s), "flat index")
    _fails_with(X.check_peak((0, 0), s), "not the largest")


def test_check_centre_surround():
    c, s = rng.random((8, 8)), rng.random((8, 8))
    assert X.check_centre_surround(np.abs(c - s), c, s).passed
    _fails_with(X.check_centre_surround(c - s, c, s), "absolute difference")
    _fails_with(X.check_centre_surround(c, c, s), "difference")


def test_check_row_to_image():
    row = rng.integers(0, 256, 3072).astype(np.uint8)
    right = row.reshape(3, 32, 32).transpose(1, 2, 0)
    assert X.check_row_to_image(right, row).passed
    _fails_with(X.check_row_to_image(row.reshape(32, 32, 3), row), "interleaved")
    _fails_with(X.check_row_to_image(row.reshape(3, 32, 32), row), "channels first")
    _fails_with(X.check_row_to_image(row.reshape(3, 32, 32).transpose(2, 1, 0), row), "transposed")


def test_check_channel_means():
    x = rng.integers(0, 256, (20, 32, 32, 3)).astype(np.uint8)
    assert X.check_channel_means(x.mean(axis=(0, 1, 2)) / 255, x).passed
    _fails_with(X.check_channel_means(x.mean(axis=(0, 1, 2)), x), "0-255")
    _fails_with(X.check_channel_means(x.mean() / 255, x), "over the channels")


def test_check_dense_params():
    assert X.check_dense_params(16384 * 10 + 10, 16384, 10).passed
    _fails_with(X.check_dense_params(16384 * 10, 16384, 10), "bias")
    _fails_with(X.check_dense_params(16394, 16384, 10), "multiply")


def test_check_l2_penalty():
    ws = [rng.normal(size=(3, 3)), rng.normal(size=4)]
    sq = sum((w ** 2).sum() for w in ws)
    assert X.check_l2_penalty(0.1 * sq, ws, 0.1).passed
    _fails_with(X.check_l2_penalty(sq, ws, 0.1), "multiply by lambda")
    _fails_with(X.check_l2_penalty(0.1 * np.sqrt(sq), ws, 0.1), "squared norm")
    _fails_with(X.check_l2_penalty(0.1 * sum(np.abs(w).sum() for w in ws), ws, 0.1), "L1")


def test_check_tile_of_max():
    s = np.zeros((64, 64)); s[10, 50] = 1          # top-right: tile 1
    assert X.check_tile_of_max(1, s).passed
    _fails_with(X.check_tile_of_max(2, s), "swapped")
    _fails_with(X.check_tile_of_max(3, s), "which quarter")


def test_check_auc():
    f = np.linspace(0, 1, 5)
    y = np.array([1.0, 0.6, 0.3, 0.2, 0.1])
    assert X.check_auc(np.sum((y[1:] + y[:-1]) / 2 * np.diff(f)), f, y).passed
    _fails_with(X.check_auc(y.sum(), f, y), "summed the heights")
    _fails_with(X.check_auc(y.mean(), f, y), "trapezoid rule gives")


def test_check_top3():
    names = ["a", "b", "c", "d", "e"]
    logits = np.array([0.1, 2.0, -1.0, 3.0, 1.0])
    assert X.check_top3(["d", "b", "e"], logits, names).passed
    _fails_with(X.check_top3(["c", "a", "e"], logits, names), "least")
    _fails_with(X.check_top3(["b", "d", "e"], logits, names), "wrong order")
    _fails_with(X.check_top3([3, 1, 4], logits, names), "indices")


def test_check_centre_crop():
    img = rng.integers(0, 256, (40, 60, 3))
    assert X.check_centre_crop(img[:, 10:50], img).passed
    _fails_with(X.check_centre_crop(img[:, :40], img), "top-left")
    _fails_with(X.check_centre_crop(img[:30, 10:50], img), "largest square")


# ---------------------------------------------------------------- shared machinery


def test_every_checker_says_not_yet_to_the_stub_and_never_raises():
    checkers = [getattr(X, n) for n in X.__all__ if n.startswith("check_")]
    assert len(checkers) >= 10
    for check in checkers:
        fb = check(...)          # the other arguments are never looked at while the answer is empty
        assert not fb.passed and "Not yet" in str(fb) and "YOUR CODE HERE" in fb.message, check.__name__


def test_answer_or_uses_the_reference_only_for_an_empty_answer(capsys):
    assert X.answer_or(3, 5) == 3
    assert capsys.readouterr().out == ""
    assert X.answer_or(..., 5, "my_x") == 5
    assert "my_x is not filled in yet" in capsys.readouterr().out
    calls = []
    assert X.answer_or(..., lambda: calls.append(1) or 7) == 7 and calls == [1]
    assert X.answer_or(np.zeros(2), lambda: calls.append(1)).shape == (2,) and calls == [1]


def test_check_choice():
    options = {"a": "it pops out", "b": "it does not"}
    assert X.check_choice("B", "b", options, "a conjunction needs a serial search").passed
    _fails_with(X.check_choice("a", "b", options, "why", {"a": "two features, not one"}), "two features, not one")
    _fails_with(X.check_choice("a", "b", options, "why"), "'b' (it does not)")
    _fails_with(X.check_choice("c", "b", options, "why"), "not one of the choices")
