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


def test_wilson_interval():
    lo, hi = MT.wilson_interval(50, 100)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(0.192, abs=0.002)
    assert MT.wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12)


def test_deletion_and_insertion_on_a_known_model():
    """A 'model' whose class-0 probability is the mean brightness of the top-left quarter: a map that
    ranks that quarter first deletes fast; the inverted ranking deletes slowly."""
    def predict(x):
        p = x[:, :8, :8].mean(axis=(1, 2, 3)) / 255.0
        return np.stack([p, 1 - p], axis=1)

    img = np.zeros((16, 16, 3), np.float32); img[:8, :8] = 255
    perfect = np.zeros((16, 16)); perfect[:8, :8] = 1
    inverted = 1 - perfect
    f, d_good, i_good = MT.deletion_insertion(predict, img, perfect, 0, steps=8, baseline=np.zeros_like(img))
    _, d_bad, i_bad = MT.deletion_insertion(predict, img, inverted, 0, steps=8, baseline=np.zeros_like(img))
    assert d_good[0] == pytest.approx(1.0) and d_good[2] == pytest.approx(0.0)     # a quarter deleted: all gone
    assert MT.area_under(f, d_good) < MT.area_under(f, d_bad)
    assert MT.area_under(f, i_good) > MT.area_under(f, i_bad)
    assert MT.area_under([0, 1], [1, 1]) == pytest.approx(1.0)
