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
    """Guided search: asking for 'yellow' (orange's end of blue-yellow) and 'vertical' together finds the
    orange vertical target that bottom-up saliency misses."""
    hits = 0
    for seed in range(20):
        img, target, positions = S.conjunction_scene(seed=seed)
        guided = S.top_down_saliency(img, {"yellow": 1.0, "vertical": 1.0}, bottom_up_weight=0.0)
        hits += positions[_nearest(_peak(guided), positions)] == target
    assert hits >= 15, hits
    with pytest.raises(ValueError, match="Unknown feature"):
        S.feature_map(img, "purple")


def test_palette_is_orange_and_blue_of_equal_intensity():
    """Issue 14: no red against green. The two colours differ in hue, not in intensity, so an odd colour
    pops out through the colour channels alone."""
    orange, blue = np.array(S.ORANGE), np.array(S.BLUE)
    assert abs(orange.mean() - blue.mean()) < 0.005
    assert orange[0] > orange[1] > orange[2] and blue[2] > blue[1] > blue[0]
    img, target = S.colour_scene(seed=2)
    colours = {tuple(np.round(c, 3)) for c in img.reshape(-1, 3) if c.any()}
    assert colours == {tuple(np.round(orange, 3)), tuple(np.round(blue, 3))}
    assert S.item_kind(img, target) == "orange vertical"
    parts = S.saliency_map(img, return_parts=True)
    assert parts["colour"].max() > 2 * parts["intensity"].max()     # every bar has the same intensity


def test_scene_reading_helpers():
    img, target, positions = S.conjunction_scene(seed=0)
    kinds = [S.item_kind(img, p) for p in positions]
    assert kinds[positions.index(target)] == "orange vertical"
    assert set(kinds) == {"orange vertical", "orange horizontal", "blue vertical"}
    assert kinds.count("orange vertical") == 1
    i = positions.index(target)
    rc = ((target[0] - 2) // S.SCALE, (target[1] - 2) // S.SCALE)
    assert S.nearest_item(rc, positions) == i
    assert S.to_image((3, 5)) == (14, 22)
    with pytest.raises(ValueError, match="orange vertical"):
        S.search_scene("red vertical", ["blue vertical"])


def test_colour_singleton_pops_out_among_mixed_orientations():
    """Notebook 01's prediction exercise: an orange bar among blue bars of both orientations pops out, and
    it is the colour map (not the orientation map) that singles it out."""
    for seed in range(10):
        img, target, positions = S.search_scene("orange vertical", ["blue vertical", "blue horizontal"], seed=seed)
        kinds = {S.item_kind(img, p) for p in positions if p != target}
        assert kinds == {"blue vertical", "blue horizontal"}
        parts = S.saliency_map(img, return_parts=True)
        assert positions[S.nearest_item(_peak(parts["saliency"]), positions)] == target, seed
        assert positions[S.nearest_item(_peak(parts["colour"]), positions)] == target, seed
        assert positions[S.nearest_item(_peak(parts["orientation"]), positions)] != target, seed


def test_tasks_move_the_first_fixation_except_where_bottom_up_already_goes():
    """Notebook 01's top-down section: asking for blue bars or for the orange vertical target moves the
    first fixation; asking for horizontal bars does not, because bottom-up saliency already goes to the
    orange horizontal bars (the colour map peaks on an orange bar)."""
    tasks = {"free": {}, "blue": {"blue": 2.0}, "horizontal": {"horizontal": 2.0},
             "target": {"yellow": 2.0, "vertical": 2.0}}
    first = {name: [] for name in tasks}
    colour_on_orange = 0
    for seed in range(20):
        img, target, positions = S.conjunction_scene(seed=seed)
        for name, gains in tasks.items():
            i = S.nearest_item(S.winner_take_all(S.top_down_saliency(img, gains), k=1)[0], positions)
            first[name].append("target" if positions[i] == target else S.item_kind(img, positions[i]))
        parts = S.saliency_map(img, return_parts=True)
        colour_on_orange += S.item_kind(img, positions[S.nearest_item(_peak(parts["colour"]), positions)]).startswith("orange")
    assert first["free"].count("orange horizontal") >= 17
    assert first["horizontal"].count("orange horizontal") == 20
    assert first["blue"].count("blue vertical") == 20
    assert first["target"].count("target") >= 15
    assert colour_on_orange == 20
