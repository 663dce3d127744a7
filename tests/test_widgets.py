"""The functions behind the sliders: maps change where they must and agree where they must."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import course_utils as cu

cu.setup(quiet=True)


@pytest.fixture(scope="module")
def explorer(course_model, test_images):
    x, y = test_images
    return cu.widgets.Explorer(course_model, x[:6], y[:6])


def test_another_class_gives_another_map(explorer):
    a = explorer.compute(0, 3, "conv4", "Grad-CAM")["map"]
    b = explorer.compute(0, 8, "conv4", "Grad-CAM")["map"]
    assert a.shape == (32, 32) and np.abs(a - b).max() > 0.1


def test_another_layer_gives_another_map(explorer):
    a = explorer.compute(0, 3, "conv4", "Grad-CAM")["map"]
    b = explorer.compute(0, 3, "res1", "Grad-CAM")["map"]
    assert np.abs(a - b).max() > 0.1


def test_same_settings_agree_and_cam_equals_gradcam_at_the_last_layer(explorer):
    a = explorer.compute(2, 5, "conv4", "Grad-CAM")["map"]
    np.testing.assert_array_equal(a, explorer.compute(2, 5, "conv4", "Grad-CAM")["map"])
    np.testing.assert_allclose(explorer.compute(2, 5, "conv4", "CAM")["map"], a, atol=1e-4)


def test_predicted_class_is_the_default(explorer):
    r = explorer.compute(1)
    assert r["class_index"] == int(r["logits"].argmax())


def test_gradient_methods_and_cam_limits(explorer):
    r = explorer.compute(0, 3, "conv4", "guided backpropagation")
    assert r["kind"] == "gradient" and r["map"].shape == (32, 32, 3)
    g1 = explorer.compute(0, 3, "conv4", "guided Grad-CAM")["map"]
    g2 = explorer.compute(0, 8, "conv4", "guided Grad-CAM")["map"]
    assert np.abs(g1 - g2).max() > 0.05                      # class-specific
    bad = explorer.compute(0, 3, "conv2", "CAM")
    assert bad["map"] is None and "GradCAM" in bad["error"]  # shown as a message, not a crash
    with pytest.raises(ValueError, match="Unknown method"):
        explorer.compute(0, 3, "conv4", "LIME")
    with pytest.raises(ValueError, match="out of range"):
        explorer.compute(99)


def test_explainers_are_cached(explorer):
    assert explorer.explainer("Grad-CAM", "conv4") is explorer.explainer("Grad-CAM", "conv4")


def test_widget_redraws_when_a_control_moves(explorer):
    import matplotlib

    matplotlib.use("Agg")
    box = explorer.widget()
    assert set(box.controls) == {"image", "class", "layer", "method"}
    assert box.controls["layer"].options == tuple(cu.explain.conv_layers(explorer.model))
    first = box.picture.value
    assert first[:4] == b"\x89PNG"
    box.controls["class"].value = (explorer.compute(0)["class_index"] + 1) % 10   # not the predicted class
    second = box.picture.value
    assert second != first and box.last_redraw_ms > 0
    box.controls["layer"].value = "res1"
    assert box.picture.value != second
    assert repr(box) == "FigureControls(image, class, layer, method)"


def test_prediction_text_names_the_prediction_and_the_top_3():
    logits = np.log(np.array([1, 2, 3, 70, 4, 10, 5, 2, 2, 1], dtype=float))   # probabilities in percent
    text = cu.widgets.prediction_text(logits, truth=5)
    assert text == "Prediction: cat. Top 3: cat 70%, dog 10%, frog 5%. True class: dog."
    assert cu.widgets.prediction_text(logits).endswith("frog 5%.")


def test_every_explorer_picture_has_a_text_line_under_it(explorer, course_model):
    import ipywidgets as w
    import matplotlib

    matplotlib.use("Agg")
    box = explorer.widget()
    assert isinstance(box.caption, w.Label) and box.children[-1] is box.caption    # plain text, under the picture
    r = explorer.compute(0)
    expected = cu.widgets.prediction_text(r["logits"], truth=explorer.labels[0])
    assert box.caption.value == expected and expected.startswith("Prediction: ")
    box.controls["image"].value = 1
    assert box.caption.value == cu.widgets.prediction_text(explorer.compute(1)["logits"], truth=explorer.labels[1])
    photo = np.random.default_rng(0).integers(0, 256, (90, 150, 3)).astype(np.uint8)
    own = cu.widgets.own_image_explorer(course_model, image=photo)
    assert isinstance(own.caption, w.Label) and own.children[-1] is own.caption
    assert own.caption.value.startswith("Prediction: ") and own.caption.value.count("%") == 3


def test_one_perceptually_uniform_colour_map_and_a_projector_style(monkeypatch, capsys):
    import matplotlib as mpl

    assert cu.viz.CMAP == "inferno" and cu.viz.ALPHA == 0.45
    grey = mpl.colormaps[cu.viz.CMAP](np.linspace(0, 1, 64))[:, :3] @ [0.299, 0.587, 0.114]
    assert np.all(np.diff(grey) > 0)                      # brightness rises: readable in greyscale
    try:
        cu.setup(projector=True)
        assert mpl.rcParams["figure.dpi"] == 120 and mpl.rcParams["font.size"] == 12
        assert capsys.readouterr().out.rstrip().endswith("| seed 42 | projector")
        monkeypatch.setenv("COURSE_PROJECTOR", "0")
        cu.setup(quiet=True)
        assert mpl.rcParams["figure.dpi"] == 72 and mpl.rcParams["font.size"] == 9
        monkeypatch.setenv("COURSE_PROJECTOR", "1")
        cu.setup(quiet=True)
        assert mpl.rcParams["figure.dpi"] == 120
    finally:
        monkeypatch.delenv("COURSE_PROJECTOR")
        cu.setup(quiet=True)


def test_feature_map_figure_checks_k():
    A = np.random.default_rng(0).random((8, 8, 4))
    fig = cu.widgets.feature_map_figure(np.zeros((32, 32, 3)), A, np.arange(4.0), 2, "cat")
    assert "w_2 = +2.000" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="out of range"):
        cu.widgets.feature_map_figure(np.zeros((32, 32, 3)), A, np.arange(4.0), 4)


def test_compare_methods_figure(course_model, test_images):
    x, _ = test_images
    fig = cu.viz.compare_methods(course_model, x[0], class_index=3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["image", "CAM", "Grad-CAM", "guided backprop", "guided Grad-CAM"]
    assert "'cat'" in fig._suptitle.get_text()


def test_an_empty_map_is_stated_on_the_picture_not_warned_under_the_widget(course_model, cifar10, recwarn):
    """A class with no positive evidence gives an all-zero Grad-CAM: the explorer says so in the picture (the
    explainer's EmptyMapWarning is not printed under the widget); a class with evidence has no note."""
    (_, _), (x, y) = cifar10
    x = x[:200].astype("float32")
    grad_cam = cu.explain.GradCAM(course_model)
    empty = None
    for c in range(10):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = grad_cam.explain(x, np.full(len(x), c)).extra.get("empty_maps")
        if found is not None and len(found):
            empty = (int(found[0]), c)
            break
    if empty is None:
        pytest.skip("no image among these has a class with an empty Grad-CAM map")
    recwarn.clear()
    explorer = cu.widgets.Explorer(course_model, x[empty[0]:empty[0] + 1], y[empty[0]:empty[0] + 1])
    r = explorer.compute(0, empty[1], "conv4", "Grad-CAM")
    assert not r["map"].any() and r["empty"] and "positive" in r["empty"]
    explorer.render(0, empty[1], "conv4", "Grad-CAM")
    assert not [w for w in recwarn if issubclass(w.category, cu.explain.EmptyMapWarning)]
    assert explorer._canvas[3]["note"].get_text() == cu.widgets.EMPTY_NOTE
    explorer.render(0, None, "conv4", "Grad-CAM")
    assert explorer.compute(0)["empty"] is None and explorer._canvas[3]["note"].get_text() == ""


def test_own_image_parts_show_the_photo_the_map_the_overlay_and_the_top_3(course_model):
    """parts=True (the app, apps/explain_an_image.ipynb): four panels; the overlay and the bars are the two-panel
    figure's; a gradient method's map alone is an RGB image; a bad layer is still a message, not a traceback."""
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    photo = np.random.default_rng(1).integers(0, 256, (60, 100, 3)).astype(np.uint8)
    fig = cu.widgets.own_image_figure(course_model, photo, parts=True)
    images = [ax for ax in fig.axes if ax.get_images()]
    titles = [ax.get_title() for ax in images]
    assert titles[0] == "the photo (100 x 60)" and titles[1].startswith("the map alone")
    assert len(images) == 3 and titles[2].startswith("Grad-CAM for")
    assert [ax.get_title() for ax in fig.axes].count("top 3 classes") == 1
    assert images[1].get_images()[0].get_array().shape == (32, 32)
    two = cu.widgets.own_image_figure(course_model, photo)
    two_title = [ax.get_title() for ax in two.axes if ax.get_images()][0]
    assert two_title.split("\n")[0] == titles[2].split("\n")[0] and "100 x 60 photo" in two_title
    gradient = cu.widgets.own_image_figure(course_model, photo, method="guided backpropagation", parts=True)
    assert [ax for ax in gradient.axes if ax.get_images()][1].get_images()[0].get_array().shape == (32, 32, 3)
    plt.close("all")
    box = cu.widgets.own_image_explorer(course_model, image=photo, parts=True)
    assert box.caption.value.startswith("Prediction: ") and box.status.value == ""
    box.controls["method"].value = "CAM"
    first = box.picture.value
    box.controls["layer"].value = box.controls["layer"].options[0]
    assert "CAM" in box.status.value and box.picture.value == first   # an error message; the picture stays


def test_own_image_explorer_says_it_is_loading_then_shows_the_result(course_model, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    box = cu.widgets.own_image_explorer(course_model)
    seen = []
    photo = np.random.default_rng(2).integers(0, 256, (40, 40, 3)).astype(np.uint8)

    def fake_load(source):
        seen.append(box.status.value)
        if source == "bad":
            raise cu.images.ImageLoadError("<i>bad</i> address")
        return photo

    monkeypatch.setattr(cu.images, "load_image", fake_load)
    box.load_url("bad")
    assert seen == ["Loading the image ..."] and "&lt;i&gt;bad&lt;/i&gt; address" in box.status.value
    box.load_url("good")
    assert seen[-1] == "Loading the image ..." and box.status.value == "" and box.picture.value
