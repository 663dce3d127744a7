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


def test_check_cam_of_one_class_against_another():          # 04, Your turn 2
    W = rng.normal(size=(5, 4))
    y = np.array([0.5, 3.0, -1.0, 2.0])                      # class 1 first, runner-up class 3
    right = np.einsum("hwk,k->hw", A, W[:, 1] - W[:, 3])
    assert X.check_cam(right, A, W[:, 1], W[:, 3], W=W).passed
    _fails_with(X.check_cam(np.einsum("hwk,k->hw", A, W[:, 1]), A, W[:, 1], W[:, 3], W=W), "first class alone")
    _fails_with(X.check_cam(-right, A, W[:, 1], W[:, 3], W=W), "sign is reversed")
    after_relu = np.maximum(np.einsum("hwk,k->hw", A, W[:, 1]), 0) - np.maximum(np.einsum("hwk,k->hw", A, W[:, 3]), 0)
    _fails_with(X.check_cam(after_relu, A, W[:, 1], W[:, 3], W=W), "after a ReLU")
    second_smallest = int(np.argsort(y)[1])                  # the typical slip: argsort sorts upwards
    wrong = np.einsum("hwk,k->hw", A, W[:, 1] - W[:, second_smallest])
    _fails_with(X.check_cam(wrong, A, W[:, 1], W[:, 3], W=W), "np.argsort(y)[-2]")
    _fails_with(X.check_cam(..., A, W[:, 1], W[:, 3], W=W), "still empty")


def test_check_gap_for_a_batch():                            # 04, Your turn 1
    batch = np.maximum(rng.normal(size=(3, 4, 4, 5)), 0)
    assert X.check_gap(batch.mean(axis=(1, 2)), batch).passed
    _fails_with(X.check_gap(batch.mean(axis=(0, 1)), batch), "axes (1, 2)")
    _fails_with(X.check_gap(batch.mean(axis=(0, 1, 2)), batch), "averaged over the images too")
    _fails_with(X.check_gap(batch.mean(axis=-1), batch), "averaged over the channels")
    _fails_with(X.check_gap(batch.sum(axis=(1, 2)), batch), "divide by Z")


def test_check_prob_alpha():                                 # 05, Your turn 2
    W = rng.normal(size=(5, 4))
    p = np.array([0.1, 0.5, 0.3, 0.1])
    c, Z = 1, 64
    right = p[c] / Z * (W[:, c] - W @ p)
    assert X.check_prob_alpha(right, W, p, c, Z).passed
    _fails_with(X.check_prob_alpha(W[:, c] / Z, W, p, c, Z), "logit's alpha")
    _fails_with(X.check_prob_alpha((W[:, c] - W @ p) / Z, W, p, c, Z), "factor p^c")
    _fails_with(X.check_prob_alpha(p[c] * W[:, c] / Z, W, p, c, Z), "only the path through y^c")
    _fails_with(X.check_prob_alpha(p[c] * (1 - p[c]) * W[:, c] / Z, W, p, c, Z), "only the path through y^c")
    _fails_with(X.check_prob_alpha(p[c] * (W[:, c] - W @ p), W, p, c, Z), "divide by Z")
    _fails_with(X.check_prob_alpha(-right, W, p, c, Z), "sign is reversed")
    _fails_with(X.check_prob_alpha(float(right[0]), W, p, c, Z), "shape")     # a pasted number
    _fails_with(X.check_prob_alpha(..., W, p, c, Z), "still empty")


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
    assert X.check_guided_relu(lambda x, g: g * (x > 0) * (g > 0), x, dy).passed
    _fails_with(X.check_guided_relu(lambda x, g: g * (x > 0), x, dy), "plain backpropagation")
    _fails_with(X.check_guided_relu(lambda x, g: g * (g > 0), x, dy), "deconvnet rule")
    _fails_with(X.check_guided_relu(lambda x, g: np.maximum(g, 0) * np.maximum(x, 0), x, dy), "mask (x > 0)")
    _fails_with(X.check_guided_relu(lambda x, g: np.zeros_like(x), x, dy), "compare each entry")
    # numbers pasted for the example: right, but refused; a function that only fits the example is caught
    _fails_with(X.check_guided_relu([0, 0, 2, 0, 0, 0.5], x, dy), "these numbers are right")
    pasted = np.array([0, 0, 2, 0, 0, 0.5])
    _fails_with(X.check_guided_relu(lambda x, g: pasted if x.shape == (6,) else g * (x > 0), x, dy),
                "not on a second input")
    _fails_with(X.check_guided_relu(lambda x, g: 1 / 0, x, dy), "ZeroDivisionError")


def test_check_guided_gradcam_of():
    import course_utils as cu

    cu.setup(quiet=True)
    import keras
    from keras import layers

    keras.utils.set_random_seed(3)
    x = inputs = keras.Input((16, 16, 3))
    for i, pool in enumerate((True, True, False), start=1):
        x = layers.Conv2D(4 * i, 3, padding="same", activation="relu", name=f"c{i}")(x)
        x = layers.MaxPooling2D(name=f"p{i}")(x) if pool else x
    model = keras.Model(inputs, layers.Dense(4, name="scores")(layers.GlobalAveragePooling2D()(x)))
    img = np.random.default_rng(1).uniform(0, 255, (16, 16, 3)).astype("float32")
    pred = int(model.predict(img[None], verbose=0).argmax())
    c = (pred + 1) % 4

    def ggc(cls, layer, upsample=True, combine=np.multiply):
        g = cu.explain.GuidedBackprop(model)(img, cls)[0]
        cam = cu.explain.GradCAM(model, layer, upsample=upsample)(img, cls)[0]
        return combine(g, cam[..., None])

    right = ggc(c, "c2")
    assert np.abs(right).max() > 0
    assert X.check_guided_gradcam_of(right, model, img, c, "c2").passed
    assert X.check_guided_gradcam_of(3 * right / np.abs(right).max(), model, img, c, "c2").passed   # normalised
    _fails_with(X.check_guided_gradcam_of(ggc(pred, "c2"), model, img, c, "c2"), "*predicted* class")
    _fails_with(X.check_guided_gradcam_of(ggc(c, None), model, img, c, "c2"), "default (last) layer 'c3'")
    _fails_with(X.check_guided_gradcam_of(ggc(c, "c2", combine=np.add), model, img, c, "c2"), "multiplies")
    _fails_with(X.check_guided_gradcam_of(cu.explain.GuidedBackprop(model)(img, c)[0], model, img, c, "c2"),
                "guided backpropagation alone")
    _fails_with(X.check_guided_gradcam_of(np.ones((8, 8, 3)), model, img, c, "c2"), "upsample")
    _fails_with(X.check_guided_gradcam_of(right.max(-1), model, img, c, "c2"), "colour channels")
    _fails_with(X.check_guided_gradcam_of(right[None], model, img, c, "c2"), "batch of one")


def test_check_next_fixation():
    s = np.zeros((20, 20)); s[5, 5], s[5, 6], s[15, 12] = 1.0, 0.9, 0.8      # winner, its neighbour, elsewhere
    assert X.check_next_fixation((15, 12), s, radius=3).passed
    assert X.check_next_fixation(np.array([15, 12]), s, radius=3).passed
    _fails_with(X.check_next_fixation((5, 5), s, radius=3), "first fixation")
    _fails_with(X.check_next_fixation((5, 6), s, radius=3), "second-largest pixel")
    _fails_with(X.check_next_fixation((12, 15), s, radius=3), "swapped")
    _fails_with(X.check_next_fixation(15 * 20 + 12, s, radius=3), "flat index")
    _fails_with(X.check_next_fixation((0, 0), s, radius=3), "not the maximum")
    _fails_with(X.check_next_fixation("15, 12", s, radius=3), "two integers")


def test_check_centre_surround():
    from course_utils import saliency as S

    F = rng.random((64, 64))
    p = S.gaussian_pyramid(F, 5)
    right = np.abs(p[2] - S.resize(p[4], p[2].shape))
    assert X.check_centre_surround(right, F, 2, 4).passed
    _fails_with(X.check_centre_surround(p[2] - S.resize(p[4], p[2].shape), F, 2, 4), "absolute difference")
    _fails_with(X.check_centre_surround(np.abs(p[2] - S.resize(p[5], p[2].shape)), F, 2, 4), "s = 5")
    _fails_with(X.check_centre_surround(np.abs(p[2] - S.resize(p[3], p[2].shape)), F, 2, 4), "s = 3")
    _fails_with(X.check_centre_surround(np.abs(p[3] - S.resize(p[4], p[3].shape)), F, 2, 4), "level 3")
    _fails_with(X.check_centre_surround(p[2], F, 2, 4), "levels alone")
    _fails_with(X.check_centre_surround(np.abs(p[2] - S.resize(p[4], p[2].shape)) + 0.1, F, 2, 4), "differ")


def test_check_image_to_row():
    img = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    right = img.transpose(2, 0, 1).reshape(-1)
    assert X.check_image_to_row(right, img).passed
    assert np.array_equal(right.reshape(3, 32, 32).transpose(1, 2, 0), img)     # the file's way reads it back
    _fails_with(X.check_image_to_row(img.reshape(-1), img), "interleaves")
    _fails_with(X.check_image_to_row(img.transpose(2, 0, 1), img), "three planes")
    _fails_with(X.check_image_to_row(img.transpose(2, 1, 0).reshape(-1), img), "swapped")
    _fails_with(X.check_image_to_row(img.reshape(-1)[:1024], img), "shape")


def test_check_channel_means():
    x = (rng.integers(0, 200, (20, 32, 32, 3)) + np.array([0, 20, 50])).astype(np.uint8)   # channels differ
    assert X.check_channel_means(x.mean(axis=(0, 1, 2)) / 255, x).passed
    _fails_with(X.check_channel_means(x.mean(axis=(0, 1, 2)), x), "0-255")
    _fails_with(X.check_channel_means(x.mean() / 255, x), "over the channels")
    fb = X.check_channel_means(x.mean(axis=(0, 1, 2)) / 255, x)
    assert "training" in fb.message and "subtracts" not in fb.message      # not the layer's own numbers
    cf = x.transpose(0, 3, 1, 2)                                            # channels first (N, C, H, W)
    assert X.check_channel_means(cf.mean(axis=(0, 2, 3)) / 255, cf, channel_axis=1).passed
    _fails_with(X.check_channel_means(cf.mean(axis=(0, 1, 2)) / 255, cf, channel_axis=1), "channel axis 1")
    _fails_with(X.check_channel_means(cf.reshape(-1, 3).mean(axis=0) / 255, cf, channel_axis=1),
                "reshape(-1, 3) assumes")
    _fails_with(X.check_channel_means(cf.mean(axis=(0, 2, 3)), cf, channel_axis=1), "0-255")
    # a function of the batch (notebook 02): tried on a second batch, so a copied printout cannot pass
    assert X.check_channel_means(lambda b: b.mean(axis=(0, 2, 3)) / 255, cf, channel_axis=1).passed
    _fails_with(X.check_channel_means(lambda b: cf.mean(axis=(0, 2, 3)) / 255, cf, channel_axis=1),
                "same numbers for another batch")
    _fails_with(X.check_channel_means(lambda b: np.round(cf.mean(axis=(0, 2, 3)) / 255, 4), cf, channel_axis=1),
                "same numbers for another batch")
    _fails_with(X.check_channel_means(lambda b: b.mean(axis=(0, 1, 2)) / 255, cf, channel_axis=1), "channel axis 1")
    _fails_with(X.check_channel_means(lambda b: b.reshape(-1, 3).mean(axis=0) / 255, cf, channel_axis=1),
                "reshape(-1, 3) assumes")
    _fails_with(X.check_channel_means(lambda b: b.mean(axis=(0, 2, 3)), cf, channel_axis=1), "0-255")
    _fails_with(X.check_channel_means(lambda b: b.mean(axis=(0, 2, 3)) / 255 if len(b) == len(cf) else b.mean(), cf,
                                      channel_axis=1), "second one")
    _fails_with(X.check_channel_means(lambda b: b.nope, cf, channel_axis=1), "raised AttributeError")
    _fails_with(X.check_channel_means(..., cf, channel_axis=1), "still empty")


def test_check_round_bfloat16_matches_the_real_bfloat16():
    import ml_dtypes

    x = 10.0 ** rng.uniform(-3, 5, 500)
    assert np.array_equal(X._round_to_bits(x, 8), x.astype(ml_dtypes.bfloat16).astype(np.float64))
    normal16 = x[x < 6e4]                                       # float16's range: 11 significant bits
    assert np.array_equal(X._round_to_bits(normal16, 11), normal16.astype(np.float16).astype(np.float64))
    means = np.array([125.307, 122.950, 113.865])
    assert np.array_equal(X._round_to_bits(means, 8), [125.5, 123.0, 114.0])      # the model's constants


def test_check_round_bfloat16():
    import ml_dtypes

    def right(x):
        e = np.floor(np.log2(x))
        step = 2.0 ** (e - 7)
        return np.round(x / step) * step

    values = np.array([125.307, 122.950, 113.865])
    assert X.check_round_bfloat16(right, values).passed
    assert X.check_round_bfloat16(lambda x: x.astype(ml_dtypes.bfloat16), values).passed      # a cast passes too
    _fails_with(X.check_round_bfloat16(lambda x: x, values), "unchanged")
    _fails_with(X.check_round_bfloat16(lambda x: X._round_to_bits(x, 9), values), "9 significant bits")
    _fails_with(X.check_round_bfloat16(lambda x: X._round_to_bits(x, 11), values), "float16")
    _fails_with(X.check_round_bfloat16(lambda x: X._round_to_bits(x, 8, np.floor), values), "rounded down")
    _fails_with(X.check_round_bfloat16(np.round, values), "whole numbers")
    _fails_with(X.check_round_bfloat16(np.array([125.5, 123.0, 114.0]), values), "should be a function")
    _fails_with(X.check_round_bfloat16(lambda x: np.array([125.5, 123.0, 114.0]), values), "returned shape")
    _fails_with(X.check_round_bfloat16(lambda x: x.nope, values), "raised AttributeError")
    _fails_with(X.check_round_bfloat16(lambda x: np.round(x, 2), values), "differ")


def test_l2_toy_minimum_is_the_closed_form():
    for lam in (0.1, 0.5, 2.0):
        w1, w2 = X.l2_toy_minimum(lam)
        assert np.isclose(w1, 1 / (2 + lam)) and np.isclose(w2, w1)
        grad = 2 * (w1 + w2 - 1) + 2 * lam * np.array([w1, w2])     # the gradient vanishes there
        assert np.allclose(grad, 0, atol=1e-12)


def test_check_l2_minimum():
    assert X.check_l2_minimum(lambda lam: 1 / (2 + lam)).passed
    assert X.check_l2_minimum(lambda lam: (1 / (2 + lam), 1 / (2 + lam))).passed
    _fails_with(X.check_l2_minimum(lambda lam: 1 / (2 + 2 * lam)), "keep its factor 2")
    _fails_with(X.check_l2_minimum(lambda lam: 1 / (2 + lam / 2)), "only one weight's square")
    _fails_with(X.check_l2_minimum(lambda lam: 1 / (1 + lam)), "both weights")
    _fails_with(X.check_l2_minimum(lambda lam: 0.5), "lam = 0 point")
    _fails_with(X.check_l2_minimum(1 / 2.1), "right for lambda = 0.1")      # a pasted number
    _fails_with(X.check_l2_minimum(lambda lam: 1 / 2.1), "Hint")           # ... even inside a function
    _fails_with(X.check_l2_minimum(lambda lam: lam.missing), "raised AttributeError")
    _fails_with(X.check_l2_minimum(lambda lam: np.ones(3)), "one number")


def test_check_l2_penalty():
    ws = [rng.normal(size=(3, 3)), rng.normal(size=4)]
    sq = sum((w ** 2).sum() for w in ws)
    _fails_with(X.check_l2_penalty(0.1 * sq, ws, 0.1), "asks for a function")     # right, but a number
    _fails_with(X.check_l2_penalty(sq, ws, 0.1), "multiply by lambda")
    _fails_with(X.check_l2_penalty(0.1 * np.sqrt(sq), ws, 0.1), "squared norm")
    _fails_with(X.check_l2_penalty(0.1 * sum(np.abs(w).sum() for w in ws), ws, 0.1), "L1")


def test_check_l2_penalty_takes_a_function_and_tries_a_second_input():
    ws = [rng.normal(size=(3, 3)), rng.normal(size=4)]
    pasted = 0.1 * sum((w ** 2).sum() for w in ws)
    assert X.check_l2_penalty(lambda kernels, lam: lam * sum((k ** 2).sum() for k in kernels), ws, 0.1).passed
    _fails_with(X.check_l2_penalty(lambda kernels, lam: pasted, ws, 0.1), "from the function's arguments")
    _fails_with(X.check_l2_penalty(lambda kernels, lam: sum((k ** 2).sum() for k in kernels), ws, 0.1),
                "multiply by lambda")
    _fails_with(X.check_l2_penalty(lambda kernels, lam: lam * (kernels[0] ** 2).sum(), ws, 0.1), "first array only")
    _fails_with(X.check_l2_penalty(lambda kernels, lam: lam * np.sqrt(sum((k ** 2).sum() for k in kernels)), ws, 0.1),
                "squared norm")
    _fails_with(X.check_l2_penalty(lambda kernels: 0.0, ws, 0.1), "raised TypeError")


def test_check_tile_of_max():
    s = np.zeros((96, 96)); s[10, 70] = 1          # 3 x 3: top row, right column: tile 2

    def right(m, grid):
        r, c = np.unravel_index(np.argmax(m), m.shape)
        return int(r // (m.shape[0] // grid)) * grid + int(c // (m.shape[1] // grid))

    assert X.check_tile_of_max(right, s, grid=3).passed
    assert X.check_tile_of_max(right, s[:64, :64], grid=2).passed
    _fails_with(X.check_tile_of_max(..., s, grid=3), "still empty")
    _fails_with(X.check_tile_of_max(2, s, grid=3), "asks for a function")              # a number read off a figure

    def swapped(m, grid):
        r, c = np.unravel_index(np.argmax(m), m.shape)
        return int(c // (m.shape[1] // grid)) * grid + int(r // (m.shape[0] // grid))

    _fails_with(X.check_tile_of_max(swapped, s, grid=3), "swapped")

    def halves(m, grid):
        r, c = np.unravel_index(np.argmax(m), m.shape)
        return 2 * int(r >= m.shape[0] // 2) + int(c >= m.shape[1] // 2)

    _fails_with(X.check_tile_of_max(halves, s, grid=3), "2 x 2 answer")
    _fails_with(X.check_tile_of_max(lambda m, grid: int(np.argmax(m)), s, grid=3), "flat index")
    _fails_with(X.check_tile_of_max(lambda m, grid: right(m, grid) + 1, s, grid=3), "counted from 0")
    _fails_with(X.check_tile_of_max(lambda m, grid: np.unravel_index(np.argmax(m), m.shape), s, grid=3), "a pair")
    _fails_with(X.check_tile_of_max(lambda m, grid: 2, s, grid=3), "not for a 3 x 3 test map")  # constant
    _fails_with(X.check_tile_of_max(lambda m, grid: 1 / 0, s, grid=3), "ZeroDivisionError")


def test_check_linear_fill():
    def right(p):
        return (p[0, 1] + p[1, 0] + p[1, 2] + p[2, 1]) / 6 + (p[0, 0] + p[0, 2] + p[2, 0] + p[2, 2]) / 12

    assert X.check_linear_fill(right).passed
    _fails_with(X.check_linear_fill(...), "still empty")
    _fails_with(X.check_linear_fill(42.0), "asks for a function")
    _fails_with(X.check_linear_fill(lambda p: p.reshape(9, *p.shape[2:]).mean(axis=0)), "all nine pixels")
    ring = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2)]
    _fails_with(X.check_linear_fill(lambda p: sum(p[i, j] for i, j in ring) / 8), "equal-weight mean")
    _fails_with(X.check_linear_fill(
        lambda p: (p[0, 1] + p[1, 0] + p[1, 2] + p[2, 1]) / 12 + (p[0, 0] + p[0, 2] + p[2, 0] + p[2, 2]) / 6),
        "swapped")
    _fails_with(X.check_linear_fill(lambda p: (p[0, 1] + p[1, 0] + p[1, 2] + p[2, 1]) / 4), "diagonal ones")
    _fails_with(X.check_linear_fill(lambda p: right(p[..., 0]) if p.ndim == 3 else right(p)),
                "one value per colour channel")


def test_check_top3():
    names = ["a", "b", "c", "d", "e"]
    logits = np.array([0.1, 2.0, -1.0, 3.0, 1.0])
    assert X.check_top3(lambda y: [names[i] for i in np.argsort(y)[::-1][:3]], logits, names).passed
    _fails_with(X.check_top3(lambda y: [names[i] for i in np.argsort(y)[:3]], logits, names), "least")
    _fails_with(X.check_top3(lambda y: [names[i] for i in np.argsort(y)[-3:]], logits, names), "wrong order")
    _fails_with(X.check_top3(lambda y: list(np.argsort(y)[::-1][:3]), logits, names), "indices")
    # names typed in from a figure: right for this photo, refused; a function that returns them is caught
    _fails_with(X.check_top3(["d", "b", "e"], logits, names), "right three names for this photo")
    _fails_with(X.check_top3(lambda y: ["d", "b", "e"], logits, names), "not for another logit vector")


def test_check_centre_crop():
    img = rng.integers(0, 256, (40, 60, 3))

    def centre(im):
        h, w = im.shape[:2]
        s = min(h, w)
        return im[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]

    assert X.check_centre_crop(centre, img).passed
    assert X.check_centre_crop(centre, img.transpose(1, 0, 2)).passed          # a tall photo first
    _fails_with(X.check_centre_crop(lambda im: im[:min(im.shape[:2]), :min(im.shape[:2])], img), "top-left")
    _fails_with(X.check_centre_crop(lambda im: im[:, :max(im.shape[:2])], img), "largest square is 40 x 40")

    def swapped(im):
        h, w = im.shape[:2]
        s = min(h, w)
        return im[(w - s) // 2:(w - s) // 2 + s, (h - s) // 2:(h - s) // 2 + s]

    _fails_with(X.check_centre_crop(swapped, img), "offsets are swapped")
    # a slice typed in for this photo: right, refused; code that only cuts columns fails on a tall photo
    _fails_with(X.check_centre_crop(img[:, 10:50], img), "right square of this photo")
    wide_only = lambda im: im[:, (im.shape[1] - im.shape[0]) // 2:(im.shape[1] - im.shape[0]) // 2 + im.shape[0]]
    _fails_with(X.check_centre_crop(wide_only, img), "not for another shape")


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


# ---------------------------------------------------------------- 09 when explanations go wrong

def test_check_binary_alpha():
    kernel = rng.normal(size=(6, 1))
    p, Z = 0.8, 64
    right = -kernel[:, 0] / Z
    assert X.check_binary_alpha(right, kernel, Z, p).passed
    _fails_with(X.check_binary_alpha(-right, kernel, Z, p), "weights of class 1")
    _fails_with(X.check_binary_alpha(-kernel[:, 0], kernel, Z, p), "divide by Z = 64")
    _fails_with(X.check_binary_alpha(p * (1 - p) * right, kernel, Z, p), "differentiated the probability")
    _fails_with(X.check_binary_alpha(right[:, None], kernel, Z, p), "kernel[:, 0]")
    _fails_with(X.check_binary_alpha(right[:3], kernel, Z, p), "shape")
    _fails_with(X.check_binary_alpha(..., kernel, Z, p), "still empty")


def test_check_preprocessing_fix():
    assert X.check_preprocessing_fix(lambda im: im[..., ::-1] * 255).passed
    assert X.check_preprocessing_fix(lambda im: np.round(im[..., [2, 1, 0]] * 255).astype(np.uint8)).passed
    _fails_with(X.check_preprocessing_fix(lambda im: im * 255), "still B, G, R")
    _fails_with(X.check_preprocessing_fix(lambda im: im[..., ::-1]), "still 0-1")
    _fails_with(X.check_preprocessing_fix(lambda im: im[..., ::-1] / 255), "divided by 255")
    _fails_with(X.check_preprocessing_fix(lambda im: im[::-1] * 255), "order of the images")
    _fails_with(X.check_preprocessing_fix(lambda im: im[:, :, ::-1] * 255), "mirror image")
    pasted = X._bgr01_batch()[..., ::-1] * 255                         # an array, not a function: refused
    _fails_with(X.check_preprocessing_fix(pasted), "should be a function")
    _fails_with(X.check_preprocessing_fix(lambda im: im.nope), "raised AttributeError")
    _fails_with(X.check_preprocessing_fix(...), "still empty")


def test_check_to_uint8():
    assert X.check_to_uint8(lambda m: np.round(np.clip(m, 0, 1) * 255).astype(np.uint8)).passed
    # the notebook asks for rounding (each level within half a level of the map) and for 255, the top level
    _fails_with(X.check_to_uint8(lambda m: (np.clip(m, 0, 1) * 255).astype(np.uint8)), "round to the nearest level")
    _fails_with(X.check_to_uint8(lambda m: np.clip(m * 256, 0, 255).astype(np.uint8)), "scaled by 256")
    _fails_with(X.check_to_uint8(lambda m: m.astype(np.uint8)), "below 1 became 0")
    _fails_with(X.check_to_uint8(lambda m: (m * 255).astype(np.uint8)), "wrapped around")
    _fails_with(X.check_to_uint8(lambda m: np.uint8(np.round(m * 255))), "wrapped around")
    _fails_with(X.check_to_uint8(lambda m: (np.clip(m, 0, 1) * 256).astype(np.uint8)), "Multiply by 255")
    _fails_with(X.check_to_uint8(lambda m: np.round(np.clip(m, 0, 1) * 255)), "dtype is float64")
    _fails_with(X.check_to_uint8(np.zeros((2, 4), np.uint8)), "should be a function")
    _fails_with(X.check_to_uint8(...), "still empty")


# ---------------------------------------------------------------- 10 the CAM family

def test_check_cam_relatives():                              # 10, Your turn 1
    equal = {"XGrad-CAM", "HiResCAM"}
    assert X.check_cam_relatives({"HiResCAM", "XGrad-CAM"}, equal).passed
    assert X.check_cam_relatives(["hirescam", "xgrad-cam"], equal).passed           # any case, a list
    _fails_with(X.check_cam_relatives(set(X.CAM_RELATIVES), equal), "not the same as CAM")
    _fails_with(X.check_cam_relatives({"XGrad-CAM", "HiResCAM", "LayerCAM"}, equal), "drops the others")
    _fails_with(X.check_cam_relatives({"HiResCAM", "Grad-CAM++"}, equal), "total activation")
    _fails_with(X.check_cam_relatives({"HiResCAM"}, equal), "left out XGrad-CAM")
    _fails_with(X.check_cam_relatives(set(), equal), "left out HiResCAM")
    _fails_with(X.check_cam_relatives({"Score-CAM"}, equal), "not one of the four")
    _fails_with(X.check_cam_relatives(3, equal), "set of method names")
    _fails_with(X.check_cam_relatives(..., equal), "still empty")


def _pp(A, w):
    return np.maximum(w, 0) / (2 + A.mean(axis=(0, 1)) * w)


def test_check_pp_weights():                                 # 10, Your turn 2
    A10 = np.maximum(rng.normal(0.5, 1.0, (8, 8, 6)), 0)
    w10 = np.array([0.8, -0.4, 1.5, 0.0, -2.0, 0.3])
    assert X.check_pp_weights(_pp, A10, w10).passed
    _fails_with(X.check_pp_weights(lambda A, w: np.maximum(w, 0) / 2, A10, w10), "dropped the S_k g^3 term")
    _fails_with(X.check_pp_weights(lambda A, w: np.maximum(w, 0) / (2 + A.sum(axis=(0, 1)) * w), A10, w10),
                "forgot the 1/Z")
    _fails_with(X.check_pp_weights(lambda A, w: w / (2 + A.mean(axis=(0, 1)) * w), A10, w10), "only the positive")
    _fails_with(X.check_pp_weights(lambda A, w: w / (A.shape[0] * A.shape[1]), A10, w10), "Grad-CAM's alpha")
    _fails_with(X.check_pp_weights(lambda A, w: _pp(A, w) / (A.shape[0] * A.shape[1]), A10, w10), "over all Z")
    _fails_with(X.check_pp_weights(lambda A, w: _pp(A, w)[:3], A10, w10), "one weight per feature map")
    # numbers pasted for the notebook's input pass the first try and fail the second
    pasted = _pp(A10, w10)
    _fails_with(X.check_pp_weights(lambda A, w: pasted, A10, w10), "second test input")
    _fails_with(X.check_pp_weights(pasted, A10, w10), "asks for a function")
    _fails_with(X.check_pp_weights(lambda A, w: 1 / 0, A10, w10), "raised ZeroDivisionError")
    _fails_with(X.check_pp_weights(..., A10, w10), "still empty")


# ---------------------------------------------------------------- 11 pixel methods

def test_check_riemann_rule():                               # 11, Your turn 1
    def right(m):
        return np.arange(1, m + 1) / m, np.full(m, 1 / m)

    assert X.check_riemann_rule(right).passed
    assert X.check_riemann_rule(X.riemann_rule).passed
    _fails_with(X.check_riemann_rule(lambda m: (np.arange(m) / m, np.full(m, 1 / m))), "left Riemann sum")
    _fails_with(X.check_riemann_rule(lambda m: (np.linspace(0, 1, m), np.full(m, 1 / m))), "np.linspace(0, 1, m)")
    _fails_with(X.check_riemann_rule(lambda m: (np.linspace(0, 1, m + 1), np.full(m + 1, 1 / m))),
                "trapezoid rule's count")
    _fails_with(X.check_riemann_rule(lambda m: (right(m)[0], np.ones(m))), "sum to 32")
    _fails_with(X.check_riemann_rule(lambda m: right(m)[::-1]), "weights first")
    pasted = right(32)                                         # written for one m only
    _fails_with(X.check_riemann_rule(lambda m: pasted), "expected 5 points")
    _fails_with(X.check_riemann_rule(lambda m: right(m)[0]), "return two arrays")
    _fails_with(X.check_riemann_rule(right(32)), "asks for a function")
    _fails_with(X.check_riemann_rule(lambda m: 1 / 0), "raised ZeroDivisionError")
    _fails_with(X.check_riemann_rule(...), "still empty")


def test_answer_type_error_is_a_course_error_and_still_a_type_error():
    from course_utils.validation import CourseError

    assert issubclass(X.AnswerTypeError, CourseError) and issubclass(X.AnswerTypeError, TypeError)
    assert X.check_gap("the mean", np.ones((2, 2, 3))).message.startswith("pooled should be a numpy array")
