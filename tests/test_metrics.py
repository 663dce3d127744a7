import numpy as np
import pytest

from course_utils.metrics import rank_correlation


def test_rank_correlation_known_cases():
    a = np.arange(10.0)
    assert rank_correlation(a, a ** 3) == pytest.approx(1.0)          # monotone: perfect by rank
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(a, np.zeros(10)) == 0.0
    # ties get their average rank: [1, 2, 2, 3] against [1, 2, 3, 4]
    assert rank_correlation([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486833, abs=1e-6)
    rng = np.random.default_rng(0)
    assert abs(rank_correlation(rng.random(5000), rng.random(5000))) < 0.05
    with pytest.raises(ValueError, match="same number"):
        rank_correlation(np.zeros(3), np.zeros(4))


from course_utils import metrics as MT


def test_mosaic_layout_and_pointing_game():
    tiles = np.stack([np.full((2, 2, 3), v) for v in (10, 20, 30, 40)])
    m = MT.make_mosaic(tiles)
    assert m.shape == (4, 4, 3) and m[0, 0, 0] == 10 and m[0, 3, 0] == 20 and m[3, 0, 0] == 30 and m[3, 3, 0] == 40
    for tile, (r, c) in enumerate([(5, 5), (5, 50), (50, 5), (50, 50)]):
        s = np.zeros((64, 64)); s[r, c] = 1
        assert MT.pointing_hit(s, tile) and not MT.pointing_hit(s, (tile + 1) % 4)
    with pytest.raises(ValueError, match="four images"):
        MT.make_mosaic(tiles[:3])


def test_three_by_three_mosaic_tiles_and_focus():
    tiles = np.stack([np.full((2, 2, 3), v) for v in range(9)])
    m = MT.make_mosaic(tiles)
    assert m.shape == (6, 6, 3) and m[0, 4, 0] == 2 and m[2, 0, 0] == 3 and m[5, 5, 0] == 8
    assert MT.tile_of(5, 0, (6, 6), grid=3) == 6 and MT.tile_of(2, 3, (6, 6), grid=3) == 4
    s = np.zeros((9, 9)); s[4, 4] = 3.0; s[0, 0] = 1.0; s[8, 8] = -5.0     # negative mass is ignored
    assert MT.pointing_hit(s, 4, grid=3) and not MT.pointing_hit(s, 0, grid=3)
    assert MT.focus(s, 4, grid=3) == pytest.approx(0.75)
    assert MT.focus(s, [0, 4], grid=3) == pytest.approx(1.0)
    assert MT.focus(np.ones((9, 9)), 2, grid=3) == pytest.approx(1 / 9)          # spread evenly: chance
    assert MT.focus(-np.ones((9, 9)), 2, grid=3) == pytest.approx(1 / 9)         # no positive mass: chance
    with pytest.raises(ValueError, match="0 .. 8"):
        MT.focus(s, 9, grid=3)


def test_pointing_ties_are_broken_at_random():
    """A constant map: argmax would always answer tile 0; random tie-breaking hits each tile 1 time in 4."""
    flat = np.ones((8, 8))
    rng = np.random.default_rng(0)
    hits = [MT.pointing_hit(flat, 3, rng=rng) for _ in range(800)]
    assert 0.2 < np.mean(hits) < 0.3


def test_area_under_known_curves():
    assert MT.area_under([0, 1], [1, 1]) == pytest.approx(1.0)
    assert MT.area_under([0, 0.5, 1], [[1, 1, 1], [1, 0, 0]]) == pytest.approx([1.0, 0.25])


# ---------------------------------------------------------------- ROAD

def test_linear_imputation_on_a_4x4_image_by_hand():
    """Weights: 1/6 for the 4 direct neighbours, 1/12 for the 4 diagonal ones, renormalised at the border."""
    img = np.arange(16, dtype=float).reshape(4, 4, 1)       # value = 4 * row + col
    one = np.zeros((4, 4), bool); one[1, 1] = True
    # (0 + 2 + 8 + 10) / 12 + (1 + 4 + 6 + 9) / 6 = 20/12 + 20/6 = 5
    out = MT.impute_linear(img, one, noise=0)
    assert out[1, 1, 0] == pytest.approx(5.0)
    assert np.array_equal(np.delete(out.ravel(), 5), np.delete(img.ravel(), 5))     # the rest untouched
    corner = np.zeros((4, 4), bool); corner[0, 0] = True
    # three neighbours inside: (1/6 * 1 + 1/6 * 4 + 1/12 * 5) / (1/6 + 1/6 + 1/12) = (15/12) / (5/12) = 3
    assert MT.impute_linear(img, corner, noise=0)[0, 0, 0] == pytest.approx(3.0)
    # two removed neighbours (1,1) and (1,2): one 2 x 2 system, solved by hand. (1,1) sees the known
    # diagonal values 0, 2, 8, 10, the known direct ones 1, 4, 9 and the unknown (1,2), weight 1/6:
    #   x11 = (0+2+8+10)/12 + (1+4+9)/6 + x12/6 = 20/12 + 14/6 + x12/6 = 4 + x12/6
    #   x12 = (1+3+9+11)/12 + (2+7+10)/6 + x11/6 = 2 + 19/6 + x11/6 = 31/6 + x11/6
    #   => x11 = 4 + 31/36 + x11/36 => x11 * 35/36 = 175/36 => x11 = 5, x12 = 31/6 + 5/6 = 6
    two = np.zeros((4, 4), bool); two[1, 1] = two[1, 2] = True
    out = MT.impute_linear(img, two, noise=0)
    assert out[1, 1, 0] == pytest.approx(5.0) and out[1, 2, 0] == pytest.approx(6.0)
    # a linear ramp is reproduced exactly wherever the holes are (the weights are symmetric)
    ramp = np.stack([np.add.outer(np.arange(6.0), 2 * np.arange(6.0))] * 3, axis=-1)
    holes = np.random.default_rng(0).random((6, 6)) < 0.5
    holes[0] = False; holes[-1] = False; holes[:, 0] = False; holes[:, -1] = False
    assert np.allclose(MT.impute_linear(ramp, holes, noise=0), ramp, atol=1e-4)


def test_linear_imputation_noise_batch_and_errors():
    rng = np.random.default_rng(1)
    imgs = rng.random((3, 8, 8, 3)) * 255
    rem = rng.random((3, 8, 8)) < 0.5
    clean = MT.impute_linear(imgs, rem, noise=0)
    for i in range(3):              # a batch is solved as one system: the same as one image at a time
        assert np.allclose(clean[i], MT.impute_linear(imgs[i], rem[i], noise=0), atol=1e-3)
    noisy = MT.impute_linear(imgs, rem, noise=0.01, rng=0)
    d = (noisy - clean)[rem]
    assert np.all((noisy - clean)[~rem] == 0) and 2.0 < d.std() < 3.1          # 0.01 * 255 = 2.55
    assert np.array_equal(noisy, MT.impute_linear(imgs, rem, noise=0.01, rng=0))   # seeded: reproducible
    with pytest.raises(ValueError, match="every pixel removed"):
        MT.impute_linear(imgs, np.ones((3, 8, 8), bool))


def test_mean_and_blur_imputation():
    img = np.zeros((8, 8, 3)); img[:, 4:] = 100
    rem = np.zeros((8, 8), bool); rem[0, 0] = True
    assert np.allclose(MT.impute_mean(img, rem)[0, 0], 50.0)
    blurred = MT.impute_blur(img, rem, sigma=2.0)
    assert 0 < blurred[0, 0, 0] < 50 and np.array_equal(blurred[1:], img[1:].astype(np.float32))


def test_morf_and_lerf_orders_with_random_ties():
    s = np.array([[4.0, 3.0], [2.0, 2.0]])
    morf = MT.removal_masks(s, [0, 0.25, 0.5, 1.0], "morf", rng=0)
    assert morf[1].tolist() == [[True, False], [False, False]] and morf[2][0].all() and morf[3].all()
    lerf = MT.removal_masks(s, [0.25, 0.75], "lerf", rng=0)
    assert lerf[0][1].sum() == 1 and not lerf[0][0].any() and lerf[1].sum() == 3 and not lerf[1][0, 0]
    # ties: a constant map is removed in random order, not from the top rows down
    firsts = [np.flatnonzero(MT.removal_masks(np.zeros((4, 4)), [1 / 16], rng=seed)[0].ravel())[0]
              for seed in range(200)]
    assert len(set(firsts)) == 16
    with pytest.raises(ValueError, match="morf"):
        MT.removal_masks(s, [0.5], "most")


def _quarter_model(x):
    """Class 0's probability is the mean brightness of the top-left 8 x 8 quarter, on a 0-255 scale."""
    p = np.asarray(x)[:, :8, :8].mean(axis=(1, 2, 3)) / 255.0
    return np.stack([p, 1 - p], axis=1)


def test_morf_and_lerf_on_a_model_whose_answer_is_known():
    """The evidence is the top-left quarter (white on black). A map that ranks it first: MoRF falls to 0
    once that quarter is gone (a quarter of the pixels), LeRF stays at 1 until then; the inverted map does the
    opposite; a random map lies between. Mean-colour filling shows the same ordering."""
    img = np.zeros((2, 16, 16, 3), np.float32); img[:, :8, :8] = 255
    right = np.zeros((2, 16, 16)); right[:, :8, :8] = 1
    f = np.array([0, 0.25, 0.5, 0.75])
    morf = MT.removal_curves(_quarter_model, img, right, 0, f, "morf", "mean colour", rng=0)
    lerf = MT.removal_curves(_quarter_model, img, right, 0, f, "lerf", "mean colour", rng=0)
    assert np.allclose(morf[:, 1:], 0.25)            # the quarter became the mean colour, 255 / 4
    assert np.allclose(lerf, 1.0)                    # LeRF replaced black pixels elsewhere; the quarter stays white
    morf_lin = MT.removal_curves(_quarter_model, img, right, 0, f, "morf", "linear (ROAD)", rng=0)
    lerf_lin = MT.removal_curves(_quarter_model, img, right, 0, f, "lerf", "linear (ROAD)", rng=0)
    wrong = 1 - right
    morf_bad = MT.removal_curves(_quarter_model, img, wrong, 0, f, "morf", "linear (ROAD)", rng=0)
    rand = MT.removal_curves(_quarter_model, img, np.random.default_rng(3).random((2, 16, 16)), 0, f, "morf",
                             "linear (ROAD)", rng=0)
    assert np.allclose(lerf_lin, 1.0, atol=0.02)
    a_good, a_bad, a_rand = (MT.area_under(f, c).mean() for c in (morf_lin, morf_bad, rand))
    assert a_good < a_rand < a_bad
    assert morf_lin[:, -1].max() < 0.1               # the quarter filled from black neighbours: dark
    # each image has its own random stream: the first image scores the same alone as in the batch
    assert np.array_equal(morf_lin[:1], MT.removal_curves(_quarter_model, img[:1], right[:1], 0, f, "morf",
                                                          "linear (ROAD)", rng=0))
    # identical maps and the same seed give identical curves (common random numbers)
    assert np.array_equal(morf_lin, MT.removal_curves(_quarter_model, img, right.copy(), 0, f, "morf",
                                                      "linear (ROAD)", rng=0))


def _zero_fill(images, removed, rng=None):
    """An imputer with a known answer: removed pixels become 0."""
    return np.where(np.asarray(removed)[..., None], 0.0, images)


def _linear_logits(x):
    """A tiny linear model: class 0's logit is the image's sum / (255 * 16), class 1's its negative. On a white
    4 x 4 image with a fraction f of its pixels set to 0, class 0's logit is 3 (1 - f) exactly."""
    z = np.asarray(x, np.float64).sum(axis=(1, 2, 3)) / (255.0 * 16)
    return np.stack([z, -z], axis=1)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_removal_curves_on_the_logit_follow_a_linear_model_in_closed_form():
    img = np.full((2, 4, 4, 3), 255.0, np.float32)
    sal = np.random.default_rng(0).random((2, 4, 4))
    f = np.array([0, 0.25, 0.5, 0.75])
    logit = MT.removal_curves(_linear_logits, img, sal, 0, f, "morf", _zero_fill, rng=0, score="logit")
    assert np.allclose(logit, 3 * (1 - f))                       # the logit itself: no softmax applied
    other = MT.removal_curves(_linear_logits, img, sal, 1, f, "lerf", _zero_fill, rng=0, score="logit")
    assert np.allclose(other, -3 * (1 - f))                      # negative logits are fine
    prob = MT.removal_curves(lambda x: _softmax(_linear_logits(x)), img, sal, 0, f, "morf", _zero_fill, rng=0)
    assert np.allclose(prob, 1 / (1 + np.exp(-6 * (1 - f))))     # the default: the probability, sigmoid(l0 - l1)
    # a softmax applied twice would give softmax([p, 1 - p]): about 0.6, not the logit and not p
    twice = _softmax(_softmax(_linear_logits(_zero_fill(img[:1], np.zeros((1, 4, 4), bool)))))[0, 0]
    assert not np.isclose(logit[0, 0], twice) and not np.isclose(prob[0, 0], twice)
    assert np.allclose(MT.area_under(f, logit), 3 * (0.75 - 0.75**2 / 2))   # area of 3 (1 - f) from 0 to 0.75
    # the same filled images under both scores: the probability is the softmax of the logits, image by image
    both = MT.removal_curves(_linear_logits, img, sal, 0, f, "morf", "linear (ROAD)", rng=3, score="logit")
    assert np.allclose(
        MT.removal_curves(lambda x: _softmax(_linear_logits(x)), img, sal, 0, f, "morf", "linear (ROAD)", rng=3),
        1 / (1 + np.exp(-2 * both)))


# ---------------------------------------------------------------- bootstrap

def test_bootstrap_interval_covers_the_true_mean():
    """Synthetic data with a known mean (skewed: exponential, mean 1): the 95 % interval over 60 values
    covers it in about 95 % of 300 repetitions (the percentile bootstrap runs a little short on small,
    skewed samples, so we accept 0.88 to 0.99)."""
    rng = np.random.default_rng(0)
    covered = []
    for _ in range(300):
        lo, hi = MT.bootstrap_interval(rng.exponential(1.0, 60), rng=rng, n_boot=1000)
        covered.append(lo <= 1.0 <= hi)
    assert 0.88 <= np.mean(covered) <= 0.99
    # hit rates: 0/1 values; about the Wilson interval for n = 400
    hits = np.r_[np.ones(300), np.zeros(100)]
    lo, hi = MT.bootstrap_interval(hits, rng=0)
    wlo, whi = 0.7053220081939279, 0.7899216715062317          # the Wilson interval of 300 hits in 400
    assert abs(lo - wlo) < 0.01 and abs(hi - whi) < 0.01
    # paired differences are narrower than either interval alone
    a = rng.normal(0.5, 0.2, 100); b = a + 0.02 + rng.normal(0, 0.01, 100)
    dlo, dhi = MT.bootstrap_interval(b - a, rng=0)
    assert 0 < dlo < 0.02 < dhi and dhi - dlo < np.ptp(MT.bootstrap_interval(a, rng=0))
    with pytest.raises(ValueError, match="at least two"):
        MT.bootstrap_interval([1.0])


# ---------------------------------------------------------------- against an independent implementation

def test_agrees_with_quantus_where_the_definitions_match():
    """Quantus 0.6.0 (Hedström et al., 2023): ROAD's imputation, Focus and the pointing game.

    Differences in definition, by design: Quantus' pointing game counts a hit when *any* of several tied
    maxima lies on the object (ours draws one at random); its Focus takes 2 x 2 mosaics only and gives a map
    without positive mass 0 (ours: any k x k grid, and chance level for such a map); its ROAD metric scores
    accuracy (argmax == label) after MoRF only, with unseeded noise and unbroken ties (ours: the class
    probability, MoRF and LeRF, seeded noise, random tie-breaking). Its imputation is the same system.
    """
    quantus = pytest.importorskip("quantus", reason="Quantus is optional: pip install -r benchmarks/requirements.txt")
    from quantus.functions.perturb_func import noisy_linear_imputation

    rng = np.random.default_rng(0)
    x = rng.random((32, 32, 3)) * 255
    removed = MT.removal_masks(rng.random((32, 32)), [0.6], rng=0)[0]
    theirs = noisy_linear_imputation(np.moveaxis(x, -1, 0), np.flatnonzero(removed.ravel()), noise=0.0)
    assert np.allclose(np.moveaxis(theirs, 0, -1), MT.impute_linear(x, removed, noise=0), atol=1e-3)

    maps = rng.normal(size=(20, 16, 16))                   # signed: both clip the negative part
    positions = rng.integers(0, 2, size=(20, 4))
    positions[:, 0] = 1                                     # at least one target tile
    focus = quantus.Focus(disable_warnings=True)
    theirs = focus.evaluate_batch(a_batch=maps[:, None], c_batch=positions)
    ours = [MT.focus(maps[i], np.flatnonzero(positions[i]), grid=2) for i in range(20)]
    assert np.allclose(theirs, ours, atol=1e-6)

    game = quantus.PointingGame(disable_warnings=True)
    boxes = np.zeros((20, 1, 16, 16)); tiles = rng.integers(0, 4, 20)
    for i, t in enumerate(tiles):
        boxes[i, 0, (t // 2) * 8:(t // 2 + 1) * 8, (t % 2) * 8:(t % 2 + 1) * 8] = 1
    theirs = game.evaluate_batch(a_batch=maps[:, None], s_batch=boxes)
    ours = [MT.pointing_hit(maps[i], int(tiles[i])) for i in range(20)]     # unique maxima: no ties
    assert np.array_equal(np.asarray(theirs, bool), ours)


# ---------------------------------------------------------------- notebook 07's stored experiments

def test_confusable_mosaics_and_their_scores():
    from course_utils import evaluation

    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    labels = np.repeat(np.arange(10), 3)
    images = np.zeros((30, 4, 4, 3), np.float32) + labels[:, None, None, None]       # pixel value = class
    mosaics, info = evaluation.confusable_mosaics(images, labels, np.arange(30), 12, names)
    assert mosaics.shape == (12, 12, 12, 3)
    for m, t, tile, partner in zip(mosaics, info["target"], info["tile"], info["partner_tile"]):
        assert names[t] in evaluation.CONFUSABLE and tile != partner
        assert m[(tile // 3) * 4, (tile % 3) * 4, 0] == t
        assert m[(partner // 3) * 4, (partner % 3) * 4, 0] == names.index(evaluation.CONFUSABLE[names[t]])
        assert len(np.unique(m[::4, ::4, 0])) == 9                                       # nine distinct classes
    first, _ = evaluation.confusable_mosaics(images, labels, np.arange(30), 3, names)
    assert np.array_equal(first, mosaics[:3])                      # the first k do not depend on how many follow
    perfect = np.zeros((12, 12, 12))
    for i, tile in enumerate(info["tile"]):
        perfect[i, (tile // 3) * 4:(tile // 3 + 1) * 4, (tile % 3) * 4:(tile % 3 + 1) * 4] = 1
    scores = evaluation.localisation_scores({"perfect": perfect}, info)
    assert scores["perfect"]["hit"].mean() == 1 and np.allclose(scores["perfect"]["focus"], 1)
    assert np.allclose(scores["perfect"]["focus_partner"], 0)
    assert np.all(scores["centre prior"]["hit"] == (info["tile"] == 4))
    assert abs(scores["random map"]["focus"].mean() - 1 / 9) < 0.01
    assert np.allclose(scores["perfect"]["focus_rank"], [MT.focus_rank(m, t, 3) for m, t in zip(perfect, info["tile"])])
    assert scores["perfect"]["focus_rank"].min() > 0.2 and abs(scores["random map"]["focus_rank"].mean() - 1 / 9) < 0.01
    assert np.array_equal(evaluation.squared(perfect * 3), perfect * 9)
    with pytest.raises(ValueError, match="negative"):
        evaluation.squared(perfect - 0.5)                          # squaring would reorder a signed map


def test_focus_rank_ignores_a_monotone_sharpening_and_focus_does_not():
    rng = np.random.default_rng(1)
    m = rng.random((9, 9)) ** 3
    m[3:6, 3:6] += 0.5                                             # the centre tile is brighter
    for sharper in (m ** 2, m ** 5, np.exp(10 * m), 4 * m + 1):
        assert MT.focus_rank(sharper, 4, 3) == pytest.approx(MT.focus_rank(m, 4, 3))
    assert MT.focus(m ** 5, 4, 3) > MT.focus(m ** 2, 4, 3) > MT.focus(m, 4, 3)     # Focus rewards the peak
    ranks = rng.permutation(81).reshape(9, 9) + 1.0                # a map that is already a ranking
    assert MT.focus_rank(ranks, [2, 7], 3) == pytest.approx(MT.focus(ranks, [2, 7], 3))
    assert np.array_equal(MT.map_ranks(ranks), ranks)
    for constant in (np.zeros((9, 9)), np.full((9, 9), 7.0)):      # a constant map: the tiles' share of the area
        assert MT.focus_rank(constant, 4, 3) == pytest.approx(1 / 9)
        assert MT.focus_rank(constant, [0, 1], 3) == pytest.approx(2 / 9)
    assert MT.map_ranks([[1.0, 2.0], [2.0, 5.0]]).tolist() == [[1.0, 2.5], [2.5, 4.0]]   # ties: average rank
    # by hand: 4 x 4, grid 2, the top-left tile holds the four largest of sixteen distinct values
    s = np.arange(16.0).reshape(4, 4)[::-1, ::-1].copy()
    assert MT.focus_rank(s, 0) == pytest.approx((16 + 15 + 12 + 11) / 136)
    with pytest.raises(ValueError, match="tile"):
        MT.focus_rank(m, 9, 3)


def test_the_stored_results_have_the_shape_the_notebook_reads():
    from course_utils import evaluation, metrics as M

    stored = evaluation.load()
    road = stored["road"]
    n = len(road["test_indices"])
    assert n == 200 and tuple(road["fractions"]) == evaluation.FRACTIONS
    for filling in M.IMPUTERS:
        for order in ("morf", "lerf"):
            assert set(road["areas"][filling][order]) == set(evaluation.ROAD_METHODS)
            assert all(a.shape == (n,) for a in road["areas"][filling][order].values())
    for order in ("morf", "lerf"):                                # ROAD on the logit too, same images
        assert set(road["areas_logit"]["linear (ROAD)"][order]) == set(evaluation.ROAD_METHODS)
        assert all(a.shape == (n,) for a in road["areas_logit"]["linear (ROAD)"][order].values())
        assert all(c.shape == (len(evaluation.FRACTIONS),) for c in road["curves_logit"]["linear (ROAD)"][order].values())
    scores = stored["mosaics"]["scores"]
    assert set(scores) == set(evaluation.LOCALISATION_METHODS) | {"centre prior", "random map"}
    assert evaluation.SQUARED_CONTROL in scores
    assert all(s["hit"].shape == (300,) and s["focus_rank"].shape == (300,) for s in scores.values())
    # the control keeps Grad-CAM conv4's pixel order: the same rank-based Focus, to rounding
    assert np.allclose(scores[evaluation.SQUARED_CONTROL]["focus_rank"], scores["Grad-CAM conv4"]["focus_rank"], atol=1e-4)
    with pytest.raises(FileNotFoundError, match="python -m course_utils.evaluation"):
        evaluation.load("/nonexistent/evaluation_07.json")


def test_notebook_10s_stored_results_hold_the_logit_and_the_focus_controls():
    from course_utils import evaluation

    stored = evaluation.load(evaluation.RESULTS_11_PATH)
    road, n = stored["road"], len(stored["road"]["test_indices"])
    for order in ("morf", "lerf"):
        for key, shape in (("areas", (n,)), ("areas_logit", (n,)), ("curves_logit", (len(evaluation.FRACTIONS),))):
            assert set(road[key][order]) == set(evaluation.ALL_METHODS), key
            assert all(v.shape == shape for v in road[key][order].values()), key
    # on the logit, as on the probability, the random order is the worst under MoRF
    morf = road["areas_logit"]["morf"]
    assert max(morf, key=lambda name: morf[name].mean()) == "random order"
    scores = stored["mosaics"]["scores"]
    assert set(scores) == {*evaluation.ALL_METHODS[:-1], evaluation.SQUARED_CONTROL_BEYOND, "centre prior", "random map"}
    assert all(set(s) == {"hit", "focus", "focus_partner", "focus_rank"} for s in scores.values())
    control, base = scores[evaluation.SQUARED_CONTROL_BEYOND], scores["Grad-CAM"]
    assert np.allclose(control["focus_rank"], base["focus_rank"], atol=1e-4)   # same pixel order, same ranks
    assert control["focus"].mean() > base["focus"].mean()                     # peakier: more Focus


@pytest.mark.data
def test_the_data_randomisation_twin_memorised_its_random_labels(cifar10):
    """The twin shipped for notebook 07 (python -m course_utils.train --random-labels ...): its card and its
    weights agree, it reproduces the permuted labels it was trained on, and it knows nothing of the classes."""
    import course_utils as cu

    cu.setup(quiet=True)
    card = cu.models.load_model_card(cu.models.ASSETS / "model_card_random_labels.json")
    twin = cu.models.load_course_model(cu.models.ASSETS / "course_cnn_random_labels.keras")
    (x_train, y_train), _ = cifar10
    n = card["train_images"]
    taught = np.random.default_rng(card["recipe"]["seed"]).permutation(y_train[:n])
    assert card["recipe"]["random_labels"] and np.mean(taught == y_train[:n]) < 0.2
    pred = twin.predict(x_train[:n].astype("float32"), batch_size=250, verbose=0).argmax(1)
    assert np.mean(pred == taught) == card["train_accuracy_on_random_labels"] == 1.0
    assert card["test_accuracy"] < 0.15 and twin.count_params() == card["parameters"]
