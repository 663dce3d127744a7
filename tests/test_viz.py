"""The plotting helpers: signed maps are drawn on a diverging colour map centred on zero."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils import viz
from course_utils.validation import CourseValueError


def test_show_signed_centres_a_diverging_map_on_zero():
    m = np.array([[-0.5, 0.0], [1.0, 2.0]])
    fig, ax = plt.subplots()
    mappable = viz.show_signed(ax, m, title="signed")
    assert mappable.get_cmap().name == viz.SIGNED_CMAP
    assert mappable.get_clim() == (-2.0, 2.0)                  # m = max |map|: 0 is the middle colour
    white = mappable.to_rgba(0.0)[:3]
    assert min(white) > 0.9                                      # RdBu_r: zero is (nearly) white
    assert len(fig.axes) == 2                                    # a colour bar
    plt.close(fig)


def test_show_signed_over_an_image_an_empty_map_and_a_given_limit():
    fig, axes = plt.subplots(1, 2)
    image = np.zeros((32, 32, 3), np.uint8)
    over = viz.show_signed(axes[0], np.zeros((8, 8)), image=image, colorbar=False)
    assert over.get_clim() == (-1.0, 1.0)                        # nothing to scale: still centred on zero
    assert over.get_extent() == [-0.5, 31.5, 31.5, -0.5]         # stretched over the image
    fixed = viz.show_signed(axes[1], np.ones((4, 4)), limit=3.0, colorbar=False)
    assert fixed.get_clim() == (-3.0, 3.0)
    plt.close(fig)


@pytest.mark.parametrize("bad", [{"signed_map": np.full((4, 4), np.nan)}, {"signed_map": np.zeros(4)},
                                 {"signed_map": np.zeros((4, 4)), "limit": 0.0},
                                 {"signed_map": np.zeros((4, 4)), "image": np.zeros((4, 4))}])
def test_show_signed_refuses_bad_input_with_a_course_error(bad):
    fig, ax = plt.subplots()
    with pytest.raises(CourseValueError):
        viz.show_signed(ax, **bad)
    plt.close(fig)
