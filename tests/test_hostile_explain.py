"""Hostile input to the explainers (issue 19): every count, number, flag, baseline, class index and image a learner
can pass gives finite maps of the right shape or a course error (never NaN, never a raw TensorFlow or NumPy
exception); an all-zero map comes with a warning that says why; IG and SmoothGrad memory is bounded by batch_size."""
from __future__ import annotations

import math
import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import course_utils as cu

cu.setup(quiet=True)

import keras
from keras import layers

from course_utils import explain as E
from course_utils.validation import CourseError, CourseValueError

SIZE, CLASSES = 12, 5
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def small_model(seed: int = 0, name: str = "hostile"):
    """convs -> GAP -> Dense(5) on 12 x 12 x 3 images, 0-255 in: the course model's shape, tiny."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((SIZE, SIZE, 3))
    x = layers.Rescaling(1 / 255.0, name="scale")(x)
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(x)
    x = layers.MaxPooling2D(name="p1")(x)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, layers.Dense(CLASSES, name="scores")(x), name=name)


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (3, SIZE, SIZE, 3)).astype("float32")


#: Every explainer with small, fast options (the options under test are varied one at a time).
BUILD = {
    "CAM": lambda m, **kw: E.CAM(m, **kw),
    "Grad-CAM": lambda m, **kw: E.GradCAM(m, **kw),
    "Grad-CAM++": lambda m, **kw: E.GradCAMPlusPlus(m, **kw),
    "XGrad-CAM": lambda m, **kw: E.XGradCAM(m, **kw),
    "HiResCAM": lambda m, **kw: E.HiResCAM(m, **kw),
    "LayerCAM": lambda m, **kw: E.LayerCAM(m, **kw),
    "Score-CAM": lambda m, **kw: E.ScoreCAM(m, **{"batch_size": 64, **kw}),
    "Eigen-CAM": lambda m, **kw: E.EigenCAM(m, **kw),
    "guided backpropagation": lambda m, **kw: E.GuidedBackprop(m, **kw),
    "guided Grad-CAM": lambda m, **kw: E.GuidedGradCAM(m, **kw),
    "vanilla gradient": lambda m, **kw: E.VanillaGradient(m, **kw),
    "SmoothGrad": lambda m, **kw: E.SmoothGrad(m, **{"samples": 3, **kw}),
    "Integrated Gradients": lambda m, **kw: E.IntegratedGradients(m, **{"steps": 4, **kw}),
    "occlusion": lambda m, **kw: E.Occlusion(m, **{"patch": 4, "stride": 4, **kw}),
}


@pytest.fixture(scope="module")
def explainers(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", E.EmptyMapWarning)
        return {name: make(model) for name, make in BUILD.items()}


def assert_good_maps(maps, n: int, name: str = "") -> None:
    assert maps.shape[0] == n and maps.shape[1:3] == (SIZE, SIZE), (name, maps.shape)
    assert np.isfinite(maps).all(), name


def test_every_method_is_covered():
    assert set(BUILD) == set(E.METHODS)


# ---------------------------------------------------------------- the examples of issue 19

def test_occlusion_stride_larger_than_patch_is_refused_not_nan(model, images):
    with pytest.raises(CourseValueError, match=r"stride 5 is larger than patch 4.*never be hidden.*at most 4"):
        E.Occlusion(model, patch=4, stride=5)
    maps = E.Occlusion(model, patch=4, stride=4)(images)             # stride == patch: every pixel covered once
    assert_good_maps(maps, len(images))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_infinite_baselines_are_refused(model, bad):
    for make in (lambda: E.IntegratedGradients(model, baseline=bad), lambda: E.Occlusion(model, baseline=bad)):
        with pytest.raises(CourseValueError, match="baseline must be a finite number"):
            make()
    image = np.zeros((SIZE, SIZE, 3), np.float32)
    image[0, 0, 0] = bad
    with pytest.raises(CourseValueError, match=r"baseline holds 1 NaN or infinite value"):
        E.IntegratedGradients(model, baseline=image)


def test_a_baseline_outside_the_value_range_is_refused(model):
    with pytest.raises(CourseValueError, match=r"baseline has values in \[1e\+06, 1e\+06\], outside.*\[0, 255\]"):
        E.Occlusion(model, baseline=1e6)
    with pytest.raises(CourseValueError, match="outside the images' range"):
        E.IntegratedGradients(model, baseline=np.full((SIZE, SIZE, 3), -5.0))
    assert E.IntegratedGradients(model, baseline=-5.0, value_range=None).baseline == -5.0   # no range: no check


@pytest.mark.parametrize("bad", [-1, 0, True, 2.5, "8", None])
@pytest.mark.parametrize("make", [
    lambda m, b: E.IntegratedGradients(m, batch_size=b), lambda m, b: E.SmoothGrad(m, batch_size=b),
    lambda m, b: E.ScoreCAM(m, batch_size=b), lambda m, b: E.Occlusion(m, batch_size=b),
])
def test_bad_batch_sizes_are_refused_before_any_work(model, make, bad):
    """batch_size=-1 used to give all-zero occlusion maps and 0 'range() arg 3 must not be zero'."""
    with pytest.raises(CourseValueError, match=r"batch_size must be a positive int.*how many"):
        make(model, bad)


@pytest.mark.parametrize("name, option", [
    ("Integrated Gradients", "steps"), ("SmoothGrad", "samples"), ("Score-CAM", "max_channels"),
    ("occlusion", "patch"), ("occlusion", "stride"),
])
def test_true_is_not_a_count_of_one(model, name, option):
    with pytest.raises(CourseValueError, match=rf"{option} must be .*positive int.*got True \(bool\)"):
        BUILD[name](model, **{option: True})


def test_negative_class_index_is_not_the_last_class(explainers, images):
    for name in ("Grad-CAM", "Integrated Gradients", "occlusion"):
        with pytest.raises(CourseValueError, match=r"class_index -1 is out of range \(negative indices are refused"):
            explainers[name](images, -1)
        with pytest.raises(CourseValueError, match="class_index -1"):
            explainers[name](images, [0, -1, 2])


def test_nan_weights_give_an_error_that_names_the_method_never_a_nan_map(images):
    broken = small_model(seed=1, name="broken")
    kernel, bias = broken.get_layer("scores").get_weights()
    kernel[0] = np.nan                                                # one feature's weights: every score is NaN
    broken.get_layer("scores").set_weights([kernel, bias])
    for name in ("Grad-CAM", "CAM", "vanilla gradient", "Integrated Gradients", "occlusion", "Score-CAM",
                 "Eigen-CAM", "LayerCAM", "SmoothGrad"):
        with pytest.raises(CourseValueError, match=rf"(?s){name}.*NaN or infinite.*class scores are NaN"):
            BUILD[name](broken)(images)


def test_nan_in_the_scores_alone_is_refused_too(images):
    """A NaN bias leaves Grad-CAM's gradients finite, but the class it explains is the argmax of NaN scores."""
    broken = small_model(seed=2, name="nan_bias")
    kernel, bias = broken.get_layer("scores").get_weights()
    bias[3] = np.nan
    broken.get_layer("scores").set_weights([kernel, bias])
    with pytest.raises(CourseValueError, match="class scores are NaN"):
        E.GradCAM(broken)(images)


# ---------------------------------------------------------------- all-zero maps: a warning that says why

def _one_sided_model():
    """Class 0's weights are all negative and class 1's all positive, on ReLU features (>= 0): with relu=True,
    class 0 has no positive evidence anywhere, class 1 has some wherever a feature responds."""
    model = small_model(seed=3, name="one_sided")
    dense = model.get_layer("scores")
    kernel, bias = dense.get_weights()
    kernel[:, 0], kernel[:, 1] = -np.abs(kernel[:, 0]) - 0.1, np.abs(kernel[:, 1]) + 0.1
    dense.set_weights([kernel, bias])
    return model


def test_a_class_without_positive_evidence_warns_and_says_why(images):
    gradcam = E.GradCAM(_one_sided_model())
    with pytest.warns(E.EmptyMapWarning, match=r"(?s)The map of Grad-CAM \(class 0\) is all zero.*no evidence for"
                                                r".*relu=False"):
        maps = gradcam(images[0], 0)
    assert not maps.any()
    with pytest.warns(E.EmptyMapWarning, match="Every one of the 3 maps") as record:
        gradcam.explain(images, 0)
    assert record[0].filename == __file__                            # it points at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error", E.EmptyMapWarning)
        ex = gradcam.explain(images[:2], [0, 1])                      # one empty map in a batch: no warning ...
        assert list(ex.extra["empty_maps"]) == [0]                   # ... but it is reported
        assert E.GradCAM(_one_sided_model(), relu=False)(images[0], 0).min() < 0       # the evidence against
        assert E.GradCAM(_one_sided_model(), counterfactual=True)(images[0], 0).any()
    with pytest.warns(E.EmptyMapWarning, match="no evidence against"):
        E.GradCAM(_one_sided_model(), counterfactual=True)(images[0], 1)


def test_vargrad_without_noise_and_ig_from_the_image_itself_warn(model, images):
    with pytest.warns(E.EmptyMapWarning, match=r"VarGrad.*noise=0"):
        E.SmoothGrad(model, samples=2, noise=0.0, var=True)(images[0], 0)
    with pytest.warns(E.EmptyMapWarning, match="baseline equals the image"):
        E.IntegratedGradients(model, baseline=images[0], steps=2)(images[0], 0)


# ---------------------------------------------------------------- memory bounded by batch_size

@pytest.mark.parametrize("make", [
    lambda m: E.IntegratedGradients(m, steps=64, batch_size=32),
    lambda m: E.SmoothGrad(m, samples=64, batch_size=32),
])
def test_memory_does_not_grow_with_images_times_steps(model, make):
    """64 images x 64 path points (or noisy copies) of 12 x 12 x 3 floats are 7 MB; with batch_size=32 the
    explainer should hold a few batches of 32, whatever the number of images (numpy allocations traced)."""
    explainer = make(model)
    x = np.random.default_rng(1).integers(0, 256, (64, SIZE, SIZE, 3)).astype("float32")
    explainer(x[:2], 0)                                               # compile first
    sizes = []
    fn = explainer._fn if isinstance(explainer, E.IntegratedGradients) else explainer.base._fn
    seen = lambda a, c: (sizes.append(len(a)), fn(a, c))[1]
    if isinstance(explainer, E.IntegratedGradients):
        explainer._fn = seen
    else:
        explainer.base._fn = seen
    tracemalloc.start()
    try:
        maps = explainer(x, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_good_maps(maps, 64)
    assert max(sizes) <= 32
    full = 64 * 64 * SIZE * SIZE * 3 * 4
    assert peak < full / 3, f"peak {peak / 2**20:.1f} MiB against {full / 2**20:.1f} MiB for all points at once"


# ---------------------------------------------------------------- generated hostile values

def _bad_count():
    return st.one_of(st.integers(-10, 0), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(max_size=3), st.none(), st.just(np.int64(0)), st.just(np.float64(2.0)),
                     st.just([2]), st.just(np.bool_(True)))


COUNTS = [("Integrated Gradients", "steps"), ("Integrated Gradients", "batch_size"), ("SmoothGrad", "samples"),
          ("SmoothGrad", "batch_size"), ("Score-CAM", "batch_size"), ("Score-CAM", "max_channels"),
          ("occlusion", "patch"), ("occlusion", "stride"), ("occlusion", "batch_size")]


@FAST
@given(which=st.sampled_from(COUNTS), value=st.one_of(_bad_count(), st.integers(1, 4), st.just(np.int32(2))))
def test_generated_counts_give_finite_maps_or_a_course_error(model, images, which, value):
    name, option = which
    if option == "max_channels" and value is None:
        value = 2                                                     # None is valid there (all maps); tried below
    try:
        explainer = BUILD[name](model, **{option: value})
    except CourseError as err:
        assert option in str(err)
        return
    assert isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) and value >= 1
    assert_good_maps(explainer(images[:2], 1), 2, name)


def _bad_number():
    return st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=3), st.none(),
                     st.integers(-300, 300), st.just(np.float32(np.nan)), st.just(complex(1, 1)))


@FAST
@given(value=_bad_number())
def test_generated_noise_gives_finite_maps_or_a_course_error(model, images, value):
    try:
        explainer = E.SmoothGrad(model, samples=2, noise=value)
    except CourseError:
        return
    assert 0 <= value <= 1 and not isinstance(value, bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", E.EmptyMapWarning)
        assert_good_maps(explainer(images[:1], 0), 1)


def _bad_baseline():
    shapes = st.sampled_from([(SIZE, SIZE, 3), (2, SIZE, SIZE, 3), (SIZE, SIZE), (3,), (2, 2, 2), ()])
    arrays = st.builds(lambda shape, fill, spot: _array(shape, fill, spot), shapes,
                       st.one_of(st.floats(-10, 300), st.just(np.nan), st.just(np.inf)), st.booleans())
    return st.one_of(_bad_number(), arrays, st.just("mean"), st.just([[0.0]]), st.just(np.array(3.0)))


def _array(shape, fill, spot):
    a = np.full(shape, 10.0, np.float32)
    if spot and a.size:
        a.flat[0] = fill
    return a


@FAST
@given(value=_bad_baseline(), kind=st.sampled_from(["Integrated Gradients", "occlusion"]))
def test_generated_baselines_give_finite_maps_or_a_course_error(model, images, value, kind):
    try:
        explainer = BUILD[kind](model, baseline=value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", E.EmptyMapWarning)
            maps = explainer(images[:2], 2)
    except CourseError:
        return
    assert_good_maps(maps, 2, kind)
    b = np.asarray(explainer.baseline if not isinstance(explainer.baseline, str) else 0.0, np.float64)
    assert np.isfinite(b).all() and b.min() >= 0 and b.max() <= 255


@FAST
@given(name=st.sampled_from(sorted(BUILD)),
       option=st.sampled_from(["normalize", "relu", "upsample", "counterfactual", "var"]),
       value=st.one_of(st.integers(0, 2), st.text(max_size=2), st.none(), st.floats(allow_nan=True)))
def test_flags_that_are_not_bools_are_refused(model, name, option, value):
    try:
        BUILD[name](model, **{option: value})
    except TypeError as err:                                          # an option this method does not have
        assert "unexpected keyword" in str(err) and not isinstance(err, CourseError)
    except CourseError as err:
        assert option in str(err) and "True or False" in str(err)
    else:
        pytest.fail(f"{name}({option}={value!r}) was accepted")


@FAST
@given(name=st.sampled_from(sorted(BUILD)),
       value=st.one_of(st.tuples(_bad_number(), _bad_number()), st.just((255, 0)), st.just((0, 0)), st.just("0-255"),
                       st.just((0,)), st.just((0, 1, 2)), st.just(5), st.just([0, 255]), st.just((0.0, 255.0))))
def test_generated_value_ranges_give_finite_maps_or_a_course_error(model, images, name, value):
    try:
        explainer = BUILD[name](model, value_range=value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", E.EmptyMapWarning)
            maps = explainer(images[:1], 1)
    except CourseError as err:
        assert "value_range" in str(err) or "images have values" in str(err)
        return
    lo, hi = value
    assert math.isfinite(lo) and math.isfinite(hi) and lo < hi
    assert_good_maps(maps, 1, name)


def _class_index():
    return st.one_of(st.none(), st.integers(-20, 20), st.booleans(), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(max_size=2), st.lists(st.integers(-3, 7), min_size=0, max_size=4),
                     st.just([[0, 1]]), st.just(np.int64(4)), st.just(np.array([1.0, 2.0])), st.just([0, "a"]),
                     st.just(2 ** 70), st.just([True, False]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(BUILD)), class_index=_class_index())
def test_generated_class_indices_give_finite_maps_or_a_course_error(explainers, images, name, class_index):
    x = images[:2]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", E.EmptyMapWarning)
            ex = explainers[name].explain(x, class_index)
    except CourseError as err:
        assert "class_index" in str(err)
        return
    assert_good_maps(ex.maps, 2, name)
    chosen = np.asarray(ex.class_index)
    assert ((0 <= chosen) & (chosen < CLASSES)).all()
    if class_index is not None:
        want = np.broadcast_to(np.asarray(class_index), (2,))
        assert want.dtype != bool and np.array_equal(chosen, want.astype(np.int64))


def _images():
    good = np.random.default_rng(3).integers(0, 256, (2, SIZE, SIZE, 3)).astype("float32")
    return st.one_of(
        st.just(good), st.just(good[0]), st.just(good.astype(np.uint8)), st.just(good.tolist()),
        st.just(good[:, :5]), st.just(good[..., :1]), st.just(good[None]), st.just(good[:0]),
        st.just(good > 100), st.just(good.astype(np.complex64)), st.just([[1, 2], [3]]), st.just("image"),
        st.just(None), st.just(np.float32(3.0)),
        st.builds(lambda v: np.where(np.arange(good.size).reshape(good.shape) == 7, v, good).astype(np.float32),
                  st.floats(allow_nan=True, allow_infinity=True, width=32)),
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(BUILD)), x=_images())
def test_generated_images_give_finite_maps_or_a_course_error(explainers, name, x):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", E.EmptyMapWarning)
            maps = explainers[name](x)
    except CourseError as err:
        assert "image" in str(err)
        return
    arr = np.asarray(x, dtype=np.float64)
    assert arr.shape[-3:] == (SIZE, SIZE, 3) and np.isfinite(arr).all() and 0 <= arr.min() and arr.max() <= 255
    assert_good_maps(maps, 1 if arr.ndim == 3 else len(arr), name)


@FAST
@given(layer=st.one_of(st.integers(), st.none(), st.text(max_size=4), st.just(b"c2"), st.just(["c2"]), st.just("c2")),
       name=st.sampled_from(["CAM", "Grad-CAM", "guided Grad-CAM", "Score-CAM", "Eigen-CAM"]))
def test_generated_layers_give_finite_maps_or_a_course_error(model, images, layer, name):
    try:
        explainer = BUILD[name](model, layer=layer)
    except CourseError as err:
        assert "layer" in str(err).lower() or "CAM needs" in str(err)
        return
    assert layer in (None, "c1", "c2", "p1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", E.EmptyMapWarning)
        assert_good_maps(explainer(images[:1], 0), 1, name)


@FAST
@given(seed=st.one_of(st.integers(-5, 5), st.just(2 ** 32), st.booleans(), st.floats(), st.text(max_size=2)))
def test_generated_seeds_give_repeatable_maps_or_a_course_error(model, images, seed):
    try:
        explainer = E.SmoothGrad(model, samples=2, seed=seed)
    except CourseError as err:
        assert "seed" in str(err)
        return
    assert isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2 ** 32
    np.testing.assert_array_equal(explainer(images[:1], 0), explainer(images[:1], 0))


def test_the_wrong_kind_of_argument_is_a_course_error_that_old_except_clauses_still_catch(model):
    with pytest.raises(TypeError, match="keras.Model") as err:
        E.GradCAM("not a model")
    assert isinstance(err.value, CourseValueError)
    with pytest.raises(CourseValueError, match="SmoothGrad smooths an explainer"):
        E.SmoothGrad(model, np.mean)


# ---------------------------------------------------------------- the bottom-up saliency model (course_utils.saliency)

S = cu.saliency


def test_saliency_examples_refused_clearly():
    with pytest.raises(CourseValueError, match=r"size >= 96 pixels"):
        S.bars_scene(n=6, size=40)                         # bars would overlap and be cut off at the border
    with pytest.raises(CourseValueError, match="distractors is empty"):
        S.search_scene("orange vertical", [])
    with pytest.raises(CourseValueError, match=r"saliency map holds 1 NaN"):
        S.winner_take_all(np.array([[0.0, np.nan], [1.0, 0.5]]), k=1)
    with pytest.raises(CourseValueError, match="image holds"):
        S.saliency_map(np.full((32, 32, 3), np.nan))
    with pytest.raises(CourseValueError, match="positions is empty"):
        S.nearest_item((0, 0), [])


@FAST
@given(fn=st.sampled_from(["bars_scene", "colour_scene", "conjunction_scene", "search_scene"]),
       n=st.one_of(_bad_count(), st.integers(1, 4)), size=st.one_of(_bad_count(), st.integers(1, 80)),
       seed=st.one_of(st.integers(-2, 3), st.none(), st.booleans(), st.floats(allow_nan=True)))
def test_generated_scene_arguments_give_a_whole_scene_or_a_course_error(fn, n, size, seed):
    make = getattr(S, fn)
    args = (("orange vertical", ["blue vertical"]) if fn == "search_scene" else ())
    try:
        img, target, *_ = make(*args, n=n, size=size, seed=seed)
    except CourseError:
        return
    assert img.shape == (size, size, 3) and np.isfinite(img).all()
    lit = img.max(axis=-1) > 0
    assert lit.sum() == n * n * 11 * 3                     # every bar whole: none cut off, none overlapping
    assert lit[target]


@FAST
@given(k=st.one_of(_bad_count(), st.integers(1, 30)), radius=_bad_number(),
       cell=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1)))
def test_generated_fixation_arguments_give_distinct_fixations_or_a_course_error(k, radius, cell):
    s = np.random.default_rng(0).uniform(0, 1, (4, 5))
    s[1, 2] = cell
    try:
        path = S.winner_take_all(s, k=k, radius=radius)
    except CourseError:
        return
    assert 1 <= len(path) <= k and path[0] == np.unravel_index(np.argmax(s), s.shape)   # the first: the maximum
    assert all(0 <= r < 4 and 0 <= c < 5 for r, c in path)
    assert len(set(path)) == len(path), "a place was fixated twice (a fully inhibited map has no winner)"
    if len(path) < k:       # the path ends early only when inhibition of return has covered the whole map
        yy, xx = np.mgrid[:4, :5]
        covered = np.zeros((4, 5), bool)
        for r, c in path:
            covered |= (yy - r) ** 2 + (xx - c) ** 2 <= radius**2
        assert covered.all()


@FAST
@given(theta=_bad_number(), size=st.one_of(_bad_count(), st.integers(1, 9)), wavelength=_bad_number(),
       sigma=_bad_number())
def test_generated_gabor_arguments_give_a_finite_kernel_or_a_course_error(theta, size, wavelength, sigma):
    try:
        k = S.gabor_kernel(theta, size=size, wavelength=wavelength, sigma=sigma)
    except CourseError:
        return
    assert np.isfinite(k).all() and k.shape[0] == k.shape[1] == 2 * (size // 2) + 1


@FAST
@given(levels=st.one_of(_bad_count(), st.integers(0, 6)), centres=st.one_of(
    st.lists(st.integers(-1, 3), max_size=3), st.just("23"), st.none(), st.just((2.0,))))
def test_generated_pyramid_levels_give_maps_or_a_course_error(levels, centres):
    feature = np.random.default_rng(1).uniform(0, 1, (32, 32))
    try:
        pyramid = S.gaussian_pyramid(feature, levels)
        maps = S.centre_surround(feature, centres=centres, deltas=(1,))
    except CourseError:
        return
    assert len(pyramid) == levels + 1 and all(np.isfinite(p).all() for p in pyramid)
    assert len(maps) == len(centres) and all(np.isfinite(m).all() for m in maps)
