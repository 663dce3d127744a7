"""One registry of methods: a method added there (one class, one line) appears in the explorers' method menus
and in the evaluation's method list with no other edit; the old names are views of it."""

from __future__ import annotations

import numpy as np
import pytest

import course_utils as cu
from course_utils import evaluation, widgets
from course_utils.explain import registry
from course_utils.validation import CourseValueError

cu.setup(quiet=True)


class GradientTimesInput(cu.explain.VanillaGradient):
    """A method the course does not have: the gradient times the image (Shrikumar et al., 2016)."""

    name = "gradient x input"

    def _body(self, x, cls, target=None):
        out = super()._body(x, cls, target)
        return out._replace(maps=out.maps * x)


@pytest.fixture
def added(monkeypatch):
    """The one line a new method needs, registered for this test only."""
    entry = registry.Method("gradient x input", GradientTimesInput)
    monkeypatch.setitem(registry.REGISTRY, entry.name, entry)
    return entry


def test_a_registered_method_appears_in_the_menus_and_the_evaluation(added, course_model, test_images):
    x, y = test_images
    explorer = widgets.Explorer(course_model, x[:2], y[:2])
    menu = explorer.widget().controls["method"].options
    assert menu[-1] == "gradient x input" and list(menu) == list(registry.REGISTRY)
    own = widgets.own_image_explorer(course_model, image=x[0].astype(np.uint8))
    assert "gradient x input" in own.controls["method"].options
    assert evaluation.ALL_METHODS[-2:] == ("gradient x input", "random order")
    assert cu.explain.METHODS["gradient x input"] is GradientTimesInput

    r = explorer.compute(0, 3, None, "gradient x input")
    assert r["kind"] == "gradient" and r["map"].shape == (32, 32, 3)
    maps = evaluation.method_maps(course_model, x[:2], y[:2], names=["gradient x input"])["gradient x input"]
    g = cu.explain.VanillaGradient(course_model)(x[:2], y[:2])
    np.testing.assert_allclose(maps, evaluation.to_saliency(g * x[:2]), rtol=1e-6)


def test_without_it_the_lists_are_the_registry(course_model):
    assert "gradient x input" not in evaluation.ALL_METHODS
    assert list(evaluation.ALL_METHODS) == [*registry.REGISTRY, "random order"] == [*cu.explain.METHODS, "random order"]
    assert len(evaluation.ALL_METHODS) == 15 and evaluation.ALL_METHODS[:2] == ("CAM", "Grad-CAM")
    fast = {"Score-CAM": {"max_channels": 64}, "Integrated Gradients": {"steps": 32}}
    assert dict(widgets.SLIDER_OPTIONS) == fast == dict(evaluation.EVAL_OPTIONS)
    for name, entry in registry.REGISTRY.items():
        assert entry.name == name == entry.cls.name and entry.takes_layer == entry.cls.takes_layer


def test_one_factory_builds_every_method(course_model):
    ig = registry.make("Integrated Gradients", course_model, fast="slider")
    assert ig.steps == 32 and registry.make("Integrated Gradients", course_model).steps == 64
    assert registry.make("Grad-CAM", course_model, "conv3").layer == "conv3"
    assert evaluation.make_explainer(course_model, "Score-CAM").max_channels == 64
    assert widgets._build("Score-CAM", course_model, "conv3").max_channels == 64
    with pytest.raises(CourseValueError, match="Unknown method 'LIME'.*'Grad-CAM'"):
        registry.make("LIME", course_model)
    with pytest.raises(CourseValueError, match="takes no layer"):
        registry.make("vanilla gradient", course_model, "conv3")
    with pytest.raises(CourseValueError, match="fast must be"):
        registry.make("Grad-CAM", course_model, fast="quick")
