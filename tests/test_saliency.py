"""The bottom-up saliency model: where its peak falls on pop-out and conjunction scenes."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils import saliency as S

SCALE = 4  # the saliency map is at pyramid level 2: one map pixel per 4 x 4 image pixels


def _nearest(peak, positions):
    r, c = peak[0] * SCALE + SCALE // 2, peak[1] * SCALE + SCALE // 2
    return int(np.argmin([(r - p[0]) ** 2 + (c - p[1]) ** 2 for p in positions]))


def _peak(s):
    return np.unravel_index(int(np.argmax(s)), s.shape)


@pytest.mark.parametrize("scene", [S.bars_scene, S.colour_scene])
def test_popout_peak_falls_on_the_odd_item(scene):
    for seed in range(10):
        img, target = scene(seed=seed)
        r, c = _peak(S.saliency_map(img))
        assert abs(r * SCALE + 2 - target[0]) <= 6 and abs(c * SCALE + 2 - target[1]) <= 6, (seed, target, (r, c))


def test_orientation_carries_the_bar_popout_and_colour_the_colour_popout():
    img, target = S.bars_scene(seed=1)
    parts = S.saliency_map(img, return_parts=True)
    assert parts["orientation"].max() > 2 * parts["colour"].max()   # every bar has the same colour
    img, target = S.colour_scene(seed=1)
    parts = S.saliency_map(img, return_parts=True)
    r, c = _peak(parts["colour"])
    assert abs(r * SCALE + 2 - target[0]) <= 6 and abs(c * SCALE + 2 - target[1]) <= 6


def test_conjunction_target_does_not_pop_out():
    hits = 0
    for seed in range(20):
        img, target, positions = S.conjunction_scene(seed=seed)
        hits += positions[_nearest(_peak(S.saliency_map(img)), positions)] == target
    assert hits <= 5, hits        # pop-out scenes hit 10 out of 10; here the peak lands on the target by chance at most


def test_normalization_promotes_one_peak_over_many():
    one = np.zeros((32, 32)); one[10, 10] = 1.0
    many = np.zeros((32, 32)); many[4::8, 4::8] = 1.0
    assert S.normalize_map(one).max() > 10 * S.normalize_map(many).max()
    assert not S.normalize_map(np.ones((8, 8))).any()


def test_winner_take_all_with_inhibition_of_return():
    s = np.zeros((20, 20)); s[5, 5], s[5, 7], s[15, 15] = 1.0, 0.9, 0.8
    assert S.winner_take_all(s, k=2, radius=1) == [(5, 5), (5, 7)]
    assert S.winner_take_all(s, k=2, radius=3) == [(5, 5), (15, 15)]   # the neighbour is inhibited
    with pytest.raises(ValueError, match="k >= 1"):
        S.winner_take_all(s, k=0)


def test_gabor_prefers_its_orientation():
    img, _ = S.bars_scene(seed=0)
    maps = S.orientation_maps(S.intensity(img))
    horizontal_bar = np.zeros((40, 40)); horizontal_bar[19:22, 10:30] = 1
    vertical_bar = horizontal_bar.T
    resp = {t: np.abs(S._convolve(horizontal_bar, S.gabor_kernel(t))).max() for t in (0, 90)}
    assert resp[0] > 2 * resp[90]
    assert np.abs(S._convolve(vertical_bar, S.gabor_kernel(90))).max() > 2 * np.abs(S._convolve(vertical_bar, S.gabor_kernel(0))).max()
    assert set(maps) == {0, 45, 90, 135}


def test_bad_input():
    with pytest.raises(ValueError, match="RGB"):
        S.saliency_map(np.zeros((64, 64)))
    with pytest.raises(ValueError, match="at least 32"):
        S.saliency_map(np.zeros((16, 16, 3)))


def test_top_down_gains_find_the_conjunction_target():
    """Guided search: asking for 'red' and 'vertical' together finds the red vertical target that
    bottom-up saliency misses."""
    hits = 0
    for seed in range(20):
        img, target, positions = S.conjunction_scene(seed=seed)
        guided = S.top_down_saliency(img, {"red": 1.0, "vertical": 1.0}, bottom_up_weight=0.0)
        hits += positions[_nearest(_peak(guided), positions)] == target
    assert hits >= 15, hits
    with pytest.raises(ValueError, match="Unknown feature"):
        S.feature_map(img, "purple")
