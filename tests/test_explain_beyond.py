"""The CAM family and the pixel methods (notebooks 10 and 11): the CAM family's identities on a GAP -> linear
head, Integrated Gradients' completeness, Score-CAM and occlusion computed by hand on tiny models, and agreement
with tf-keras-vis where the definitions match."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils import explain as E

keras = pytest.importorskip("keras")


@pytest.fixture(scope="module")
def images(request):
    """Real test images when CIFAR-10 is there, otherwise random 0-255 images (the identities hold for any)."""
    try:
        (_, _), (x, _) = request.getfixturevalue("cifar10")
        return x[:12].astype(np.float32)
    except pytest.skip.Exception:
        return np.random.default_rng(0).uniform(0, 255, (12, 32, 32, 3)).astype(np.float32)


def _raw(cls, model, layer=None, **kw):
    return cls(model, layer, upsample=False, normalize=False, relu=False, **kw)


def test_on_the_last_layer_hirescam_xgradcam_and_gradcam_equal_cam(course_model, images):
    cam = _raw(E.CAM, course_model).explain(images)
    Z = 8 * 8
    for cls in (E.HiResCAM, E.XGradCAM, E.GradCAM):
        ex = _raw(cls, course_model).explain(images, cam.class_index)
        # dy^c/dA^k_ij = w_k^c / Z at every position: HiResCAM sums it times A, so it is CAM / Z
        scale = 1 / Z
        np.testing.assert_allclose(ex.maps, cam.maps * scale, rtol=1e-4, atol=1e-5 * np.abs(cam.maps).max() * scale)
    # the gradient the identities rest on
    g = _raw(E.GradCAM, course_model).explain(images[:2]).gradients
    np.testing.assert_allclose(g, np.broadcast_to(g[:, :1, :1], g.shape), rtol=1e-5, atol=1e-9)


def test_layercam_is_cam_without_its_negative_weights_and_gradcam_pp_has_a_closed_form(course_model, images):
    A_w = E.CAM(course_model).class_weights                       # (K, C)
    cam = _raw(E.CAM, course_model).explain(images)
    c = cam.class_index
    w = A_w[:, c].T                                                # (N, K)
    layer = _raw(E.LayerCAM, course_model).explain(images, c)
    want = np.einsum("nhwk,nk->nhw", cam.feature_maps, np.maximum(w, 0)) / 64
    np.testing.assert_allclose(layer.maps, want, rtol=1e-4, atol=1e-6)
    assert np.abs(layer.maps * 64 - cam.maps).max() > 0.1 * np.abs(cam.maps).max()   # they do differ
    pp = _raw(E.GradCAMPlusPlus, course_model).explain(images, c)
    mean_A = cam.feature_maps.mean(axis=(1, 2))
    np.testing.assert_allclose(pp.weights, np.maximum(w, 0) / (2 + mean_A * w), rtol=1e-4, atol=1e-7)


def test_at_an_earlier_layer_the_family_parts(course_model, images):
    layer = E.conv_layers(course_model)[-3]
    maps = {cls.name: cls(course_model, layer)(images[:4], 3) for cls in (E.GradCAM, E.HiResCAM, E.XGradCAM, E.LayerCAM)}
    names = list(maps)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(maps[a] - maps[b]).max() > 0.05, (layer, a, b)


def test_eigencam_does_not_depend_on_the_class(course_model, images):
    eig = E.EigenCAM(course_model)
    a, b = eig(images[:4], 0), eig(images[:4], 7)
    np.testing.assert_array_equal(a, b)
    assert (a.max(axis=(1, 2)) == 1).all()


def test_integrated_gradients_is_complete_and_converges(course_model, cifar10):
    # real images: on uniform noise the course model's gradient is rougher and 64 steps miss the 1 % aim
    x = cifar10[1][0][:8].astype(np.float32)
    errors = {}
    for steps in (8, 64):
        ex = E.IntegratedGradients(course_model, steps=steps).explain(x)
        assert ex.maps.shape == x.shape
        np.testing.assert_allclose(ex.maps.reshape(len(x), -1).sum(1) + ex.extra["delta"], ex.extra["score_gap"], rtol=1e-4, atol=1e-3)
        errors[steps] = ex.extra["relative_error"]
    assert np.median(errors[64]) < 0.01, errors[64]
    assert errors[64].mean() < errors[8].mean() / 2
    # the score gap is y^c(x) - y^c(black)
    logits = course_model.predict(np.concatenate([x[:1], np.zeros_like(x[:1])]), verbose=0)
    c = int(logits[0].argmax())
    ex = E.IntegratedGradients(course_model, steps=8).explain(x[:1])
    assert ex.extra["score_gap"][0] == pytest.approx(logits[0, c] - logits[1, c], rel=1e-4)


def test_integrated_gradients_on_a_linear_model_is_exact():
    inputs = keras.Input((4, 4, 1))
    y = keras.layers.Dense(2)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, y)
    x = np.random.default_rng(1).uniform(0, 1, (3, 4, 4, 1)).astype(np.float32)
    ex = E.IntegratedGradients(model, baseline=0.25, steps=2, value_range=(0, 1)).explain(x, 1)
    w = model.layers[-1].kernel.numpy()[:, 1].reshape(4, 4, 1)
    np.testing.assert_allclose(ex.maps, (x - 0.25) * w, rtol=1e-5, atol=1e-6)
    assert np.abs(ex.extra["delta"]).max() < 1e-5


def _tiny_gap_model():
    """4 x 4 x 1 input -> 1 x 1 conv with 2 filters (ReLU) -> GAP -> Dense(2): every weight known."""
    inputs = keras.Input((4, 4, 1))
    a = keras.layers.Conv2D(2, 1, activation="relu", name="conv")(inputs)
    y = keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D()(a))
    model = keras.Model(inputs, y)
    model.get_layer("conv").set_weights([np.array([[[[1.0, -1.0]]]], np.float32), np.array([0.0, 1.0], np.float32)])
    model.get_layer("logits").set_weights([np.array([[2.0, -1.0], [-1.0, 3.0]], np.float32), np.zeros(2, np.float32)])
    return model


def test_scorecam_weights_by_hand():
    model = _tiny_gap_model()
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1) / 15          # values 0 .. 1
    ex = E.ScoreCAM(model, "conv", value_range=(0, 1), upsample=False, normalize=False).explain(x, 0)
    A = np.stack([np.maximum(x[0, ..., 0], 0), np.maximum(1 - x[0, ..., 0], 0)], -1)   # the two feature maps
    want = []
    for k in range(2):
        mask = (A[..., k] - A[..., k].min()) / (A[..., k].max() - A[..., k].min())
        xm = x[0, ..., 0] * mask
        feats = np.stack([np.maximum(xm, 0), np.maximum(1 - xm, 0)], -1).mean(axis=(0, 1))
        logits = feats @ np.array([[2.0, -1.0], [-1.0, 3.0]])
        want.append(np.exp(logits[0]) / np.exp(logits).sum())
    np.testing.assert_allclose(ex.weights[0], want, rtol=1e-5)
    np.testing.assert_allclose(ex.maps[0], np.maximum(A @ np.array(want), 0), rtol=1e-5)
    # a feature map that is constant on the image masks nothing: weight 0, no forward pass spent on it
    flat = np.full((1, 4, 4, 1), 0.5, np.float32)
    with pytest.warns(E.EmptyMapWarning, match="constant over the image"):
        ex = E.ScoreCAM(model, "conv", value_range=(0, 1)).explain(flat, 0)
    assert (ex.weights == 0).all() and ex.extra["forward_passes"] == 0


def test_scorecam_batches_and_max_channels_give_the_same_weights(course_model, images):
    x = images[:3]
    full = E.ScoreCAM(course_model, batch_size=512).explain(x)
    small = E.ScoreCAM(course_model, batch_size=100).explain(x)
    np.testing.assert_allclose(full.weights, small.weights, rtol=1e-4, atol=1e-6)
    top = E.ScoreCAM(course_model, max_channels=32).explain(x)
    kept = top.weights != 0
    assert kept.sum(axis=1).max() <= 32
    np.testing.assert_allclose(top.weights[kept], full.weights[kept], rtol=1e-4, atol=1e-6)


def test_scorecam_in_bfloat16_changes_only_the_masked_passes_and_only_a_little(course_model, images):
    x = images[:3]
    before = [w.copy() for w in course_model.get_weights()]
    policies = [layer.dtype_policy.name for layer in course_model.layers]
    exact = E.ScoreCAM(course_model).explain(x)
    explainer = E.ScoreCAM(course_model, precision="bfloat16")
    fast = explainer.explain(x)
    assert fast.extra["precision"] == "bfloat16" and exact.extra["precision"] == "float32"
    # the masked passes run through a copy whose convolutions compute in bfloat16
    convs = [layer for layer in explainer._masked.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs and all(layer.compute_dtype == "bfloat16" for layer in convs)
    assert explainer._masked.get_layer("logits").compute_dtype == "float32"    # the head stays float32
    # the clean pass stays float32: same feature maps, logits and class
    np.testing.assert_array_equal(fast.feature_maps, exact.feature_maps)
    np.testing.assert_array_equal(fast.logits, exact.logits)
    np.testing.assert_array_equal(fast.class_index, exact.class_index)
    # the weights are probabilities from bfloat16 passes: close, but not the float32 ones
    diff = np.abs(fast.weights - exact.weights)
    assert 0 < diff.max() < 0.05
    for a, b in zip(fast.maps, exact.maps):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
    # the user's model is neither cast nor changed
    assert [layer.dtype_policy.name for layer in course_model.layers] == policies
    assert all(layer.compute_dtype == "float32" for layer in course_model.layers)
    for w, b in zip(course_model.get_weights(), before):
        np.testing.assert_array_equal(w, b)


def test_a_model_that_bfloat16_cannot_represent_is_refused():
    # the scores are the difference of two large, nearly equal maps (1001 x and 1000 x): bfloat16, with 8
    # significant bits, rounds 1001 to 1000 and the difference vanishes
    inputs = keras.Input((4, 4, 1))
    a = keras.layers.Conv2D(2, 1, activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D()(a)))
    model.get_layer("conv").set_weights([np.array([[[[1001.0, 1000.0]]]], np.float32), np.zeros(2, np.float32)])
    model.get_layer("logits").set_weights([np.array([[1.0, -1.0], [-1.0, 1.0]], np.float32), np.zeros(2, np.float32)])
    with pytest.raises(ValueError, match=r"(?s)class probabilities that differ from its float32 ones by 0\.\d+.*Use precision='float32'"):
        E.ScoreCAM(model, "conv", precision="bfloat16")
    E.ScoreCAM(model, "conv")                                           # float32 is fine


def test_bfloat16_copies_a_model_with_a_lambda_and_a_nested_block():
    init = keras.initializers.GlorotUniform(seed=1)
    inputs = keras.Input((8, 8, 3))
    h = keras.layers.Lambda(lambda t: t / 255.0, name="scale")(inputs)
    h = keras.Sequential([keras.layers.Conv2D(4, 3, padding="same", activation="relu", kernel_initializer=init)],
                         name="block")(h)
    a = keras.layers.Conv2D(6, 3, padding="same", activation="relu", kernel_initializer=init, name="conv")(h)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(a)))
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    exact = E.ScoreCAM(model, "conv").explain(x)
    explainer = E.ScoreCAM(model, "conv", precision="bfloat16")
    fast = explainer.explain(x)
    block = explainer._masked.get_layer("block")
    assert block.layers[0].compute_dtype == "bfloat16"                  # the nested block was cast too
    assert model.get_layer("block").layers[0].compute_dtype == "float32"  # but not the user's
    assert 0 < np.abs(fast.weights - exact.weights).max() < 0.05
    assert "precision='bfloat16'" in repr(explainer) and "batch_size=512" in repr(explainer)


class _Float32Only(keras.layers.Layer):
    """A user's layer that cannot be rebuilt in another precision."""

    def __init__(self, **kwargs):
        if kwargs.get("dtype") == "mixed_bfloat16":
            raise TypeError("_Float32Only computes in float32 only")
        super().__init__(**kwargs)

    def call(self, x):
        return x


def test_a_model_that_cannot_be_copied_in_bfloat16_is_refused_with_the_cause():
    inputs = keras.Input((4, 4, 1))
    a = keras.layers.Conv2D(2, 1, activation="relu", name="conv")(_Float32Only(name="picky")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D()(a)))
    with pytest.raises(ValueError, match=r"(?s)Could not make a bfloat16 copy of model .*\(TypeError: .*"
                                         r"_Float32Only computes in float32 only.*Use precision='float32'") as caught:
        E.ScoreCAM(model, "conv", precision="bfloat16", value_range=(0, 1))
    assert isinstance(caught.value.__cause__, TypeError)
    E.ScoreCAM(model, "conv", value_range=(0, 1))                       # float32 needs no copy


def test_occlusion_finds_the_one_patch_the_model_looks_at():
    mask = np.zeros((16, 16, 1), np.float32)
    mask[4:8, 8:12] = 1                                                # the model only sums this patch
    inputs = keras.Input((16, 16, 1))
    y = keras.layers.Dense(2, use_bias=False)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, y)
    model.layers[-1].set_weights([np.stack([mask.ravel(), np.zeros(256, np.float32)], 1)])
    x = np.ones((1, 16, 16, 1), np.float32)
    occ = E.Occlusion(model, patch=4, stride=4, normalize=False, value_range=(0, 1))
    ex = occ.explain(x, 0)
    assert ex.extra["forward_passes"] == 16
    want = np.zeros((16, 16), np.float32)
    want[4:8, 8:12] = 16                                               # hiding the whole patch removes all 16
    np.testing.assert_allclose(ex.maps[0], want, atol=1e-5)
    # with overlapping patches the drop is shared out, and nothing far from the patch moves
    ex = E.Occlusion(model, patch=4, stride=2, normalize=False, value_range=(0, 1)).explain(x, 0)
    assert ex.maps[0][4:8, 8:12].min() > 0 and np.abs(ex.maps[0][:, :4]).max() == 0 and ex.maps[0][12:].max() == 0


def test_smoothgrad_without_noise_is_the_gradient_and_vargrad_is_a_variance(course_model, images):
    x = images[:2]
    plain = E.VanillaGradient(course_model).explain(x)
    sg = E.SmoothGrad(course_model, samples=1, noise=0.0).explain(x)
    np.testing.assert_allclose(sg.maps, plain.maps, rtol=1e-5, atol=1e-7)
    a = E.SmoothGrad(course_model, samples=8, seed=3)(x)
    np.testing.assert_array_equal(a, E.SmoothGrad(course_model, samples=8, seed=3)(x))   # repeatable
    assert not np.allclose(a, plain.maps)
    var = E.SmoothGrad(course_model, samples=8, seed=3, var=True)(x)
    assert (var >= 0).all() and var.max() > 0
    guided = E.SmoothGrad(course_model, E.GuidedBackprop, samples=2)(x)
    assert guided.shape == x.shape


@pytest.mark.parametrize("make, message", [
    (lambda m: E.IntegratedGradients(m, steps=0), "steps must be a positive int"),
    (lambda m: E.IntegratedGradients(m, method="simpson"), "method must be"),
    (lambda m: E.SmoothGrad(m, "vanilla gradient"), "SmoothGrad smooths an explainer"),
    (lambda m: E.SmoothGrad(m, E.VanillaGradient(m)), "value_range=None"),
    (lambda m: E.SmoothGrad(m, noise=3), "fraction of each image's value range"),
    (lambda m: E.Occlusion(m, patch=40), "must fit in the model's fixed input size"),
    (lambda m: E.Occlusion(m, baseline="grey"), "baseline must be a number or 'mean'"),
    (lambda m: E.ScoreCAM(m, max_channels=0), "max_channels must be None or a positive int"),
    (lambda m: E.ScoreCAM(m, precision="float16"), "precision must be 'float32' or 'bfloat16'"),
])
def test_bad_options_are_refused_clearly(course_model, make, message):
    with pytest.raises(ValueError, match=message):
        make(course_model)


def test_a_baseline_of_the_wrong_shape_is_refused(course_model, images):
    with pytest.raises(ValueError, match=r"baseline has shape \(16, 16, 3\)"):
        E.IntegratedGradients(course_model, baseline=np.zeros((16, 16, 3))).explain(images[:1])


def test_every_method_says_whether_it_takes_a_layer(course_model):
    for name, cls in E.METHODS.items():
        assert isinstance(cls.takes_layer, bool), name
    assert E.METHODS["Score-CAM"].takes_layer and not E.METHODS["Integrated Gradients"].takes_layer
    assert len(E.METHODS) >= 14


# ------------------------------------------------------------------ against tf-keras-vis

def _tfkv():
    return pytest.importorskip("tf_keras_vis", reason="tf-keras-vis is in the test extra")


def test_gradcam_pp_layercam_scorecam_smoothgrad_agree_with_tf_keras_vis(course_model, images):
    _tfkv()
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.layercam import Layercam
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    x = images[:4]
    c = E.GradCAM(course_model).explain(x).class_index
    score = CategoricalScore(list(c))
    kw = dict(model_modifier=ReplaceToLinear(), clone=True)

    # LayerCAM: the same definition
    theirs = np.asarray(Layercam(course_model, **kw)(score, x, penultimate_layer="conv4", expand_cam=False,
                                                     normalize_cam=False))
    ours = E.LayerCAM(course_model, upsample=False, normalize=False).explain(x, c).maps
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6 * np.abs(ours).max())

    # Grad-CAM++: tf-keras-vis divides the pixel weights a_ij by their sum over i, j (the paper does not);
    # with that one step added, ours agrees.
    ex = E.GradCAMPlusPlus(course_model, upsample=False, normalize=False).explain(x, c)
    g, A = ex.gradients, ex.feature_maps
    g2 = g * g
    a = np.where(g != 0, g2 / np.where(2 * g2 + A.sum((1, 2), keepdims=True) * g2 * g == 0, 1,
                                       2 * g2 + A.sum((1, 2), keepdims=True) * g2 * g), 0)
    a = a / np.where(a.sum((1, 2), keepdims=True) == 0, 1, a.sum((1, 2), keepdims=True))
    w = (a * np.maximum(g, 0)).sum((1, 2))
    theirs = np.asarray(GradcamPlusPlus(course_model, **kw)(score, x, penultimate_layer="conv4", expand_cam=False,
                                                            normalize_cam=False))
    mine = np.maximum(np.einsum("nhwk,nk->nhw", A, w), 0)
    np.testing.assert_allclose(mine / mine.max((1, 2), keepdims=True), theirs / theirs.max((1, 2), keepdims=True),
                               rtol=1e-3, atol=1e-4)

    # Score-CAM: the same weights (softmax probability of the class on each masked image); tf-keras-vis
    # upsamples the masks with scipy's zoom, which aligns pixels differently from tf.image.resize, so the
    # weights agree closely but not to the last digit.
    theirs = np.asarray(Scorecam(course_model)(score, x, penultimate_layer="conv4", expand_cam=False,
                                               normalize_cam=True))
    ours = E.ScoreCAM(course_model, upsample=False).explain(x, c).maps
    for o, t in zip(ours, theirs):
        assert np.corrcoef(o.ravel(), t.ravel())[0, 1] > 0.98

    # SmoothGrad: the same noise (NumPy's global generator seeded alike), tf-keras-vis takes |gradient| and
    # the maximum over colour channels, then scales to [0, 1]
    np.random.seed(5)
    theirs = np.asarray(Saliency(course_model, **kw)(score, x, smooth_samples=6, smooth_noise=0.2,
                                                     normalize_map=False))
    ours = E.SmoothGrad(course_model, samples=6, noise=0.2, seed=5).explain(x, c).maps
    # tf-keras-vis averages |g| over the samples; ours averages g: compare the per-sample form through its mean of |g|
    ex_abs = _smoothgrad_abs(course_model, x, c, samples=6, noise=0.2, seed=5)
    np.testing.assert_allclose(ex_abs.max(-1), theirs, rtol=1e-3, atol=1e-4 * theirs.max())
    assert ours.shape == x.shape


def _smoothgrad_abs(model, x, c, samples, noise, seed):
    """Mean |gradient| over the same noisy copies SmoothGrad draws (what tf-keras-vis averages)."""
    sigma = noise * (x.max(axis=(1, 2, 3)) - x.min(axis=(1, 2, 3)))
    rng = np.random.RandomState(seed)
    noisy = x[None] + rng.normal(0.0, 1.0, (samples, *x.shape)).astype(np.float32) * sigma[None, :, None, None, None]
    grads = np.stack([E.VanillaGradient(model, value_range=None).explain(n, c).maps for n in noisy])
    return np.abs(grads).mean(axis=0)


# ---------------------------------------------------------------- targets other than a class (score functions)

def test_a_target_function_of_the_scores_equals_the_class_it_picks(course_model, images):
    """``target=lambda y: y[:, 3]`` is ``class_index=3``, for every method that takes a target."""
    x = images[:3]
    for make in (lambda m: E.GradCAM(m), lambda m: E.GradCAMPlusPlus(m, "conv3"), lambda m: E.LayerCAM(m),
                 lambda m: E.VanillaGradient(m), lambda m: E.GuidedGradCAM(m),
                 lambda m: E.IntegratedGradients(m, steps=4), lambda m: E.Occlusion(m, patch=8, stride=8),
                 lambda m: E.SmoothGrad(m, samples=2)):
        explainer = make(course_model)
        by_class = explainer.explain(x, 3)
        by_target = explainer.explain(x, target=lambda y: y[:, 3])
        np.testing.assert_allclose(by_target.maps, by_class.maps, rtol=1e-5, atol=1e-6, err_msg=explainer.name)
        assert (by_target.class_index == -1).all() and "target" in by_target.extra


def test_a_difference_of_classes_is_the_difference_of_their_linear_maps(course_model, images):
    """Before the ReLU, HiResCAM and Grad-CAM are linear in dy/dA: the map of y^3 - y^5 is map 3 - map 5."""
    x = images[:4]
    for cls in (E.HiResCAM, E.GradCAM, E.XGradCAM):
        explainer = _raw(cls, course_model, "conv3")
        diff = explainer(x, target=lambda y: y[:, 3] - y[:, 5])
        want = explainer(x, 3) - explainer(x, 5)
        np.testing.assert_allclose(diff, want, rtol=1e-4, atol=1e-5 * np.abs(want).max(), err_msg=cls.name)
    g = E.VanillaGradient(course_model)
    np.testing.assert_allclose(g(x, target=lambda y: 2.0 * y[:, 1] - y[:, 0]), 2 * g(x, 1) - g(x, 0), rtol=1e-4,
                               atol=1e-6)


@pytest.mark.parametrize("make, kw, message", [
    (lambda m: E.CAM(m), {"target": lambda y: y[:, 3]}, "CAM cannot explain a target"),
    (lambda m: E.ScoreCAM(m, max_channels=4), {"target": lambda y: y[:, 3]}, "Score-CAM cannot explain a target"),
    (lambda m: E.EigenCAM(m), {"target": lambda y: y[:, 3]}, "Eigen-CAM cannot explain a target"),
    (lambda m: E.GradCAM(m), {"target": lambda y: y[:, 3], "class_index": 3}, "class_index or target, not both"),
    (lambda m: E.GradCAM(m), {"target": 3}, "target must be a function"),
    (lambda m: E.GradCAM(m), {"target": lambda y: y[:, 3:4]}, "one score per image"),
    (lambda m: E.GradCAM(m), {"target": lambda y: np.zeros(2)}, "float tensor"),
    (lambda m: E.GradCAM(m), {"target": lambda y: y["logits"]}, "target failed on the class scores"),
    (lambda m: E.VanillaGradient(m), {"target": lambda y: keras.ops.stop_gradient(y[:, 0])}, "not computed from the class scores"),
    (lambda m: E.SmoothGrad(m, E.EigenCAM, samples=1), {"target": lambda y: y[:, 3]}, "Eigen-CAM"),
])
def test_a_target_a_method_cannot_take_is_refused_clearly(course_model, images, make, kw, message):
    from course_utils.validation import CourseValueError

    with pytest.raises(CourseValueError, match=message):
        make(course_model).explain(images[:2], **kw)


def test_smoothgrad_wraps_any_explainer_through_its_public_interface(course_model, images):
    x = images[:2]
    sg = E.SmoothGrad(course_model, E.GradCAM, samples=3, noise=0.0).explain(x, 3)
    np.testing.assert_allclose(sg.maps, E.GradCAM(course_model)(x, 3), rtol=1e-5, atol=1e-6)   # no noise: the map
    built = E.SmoothGrad(course_model, E.LayerCAM(course_model, "conv3", value_range=None), samples=2)
    assert built(x).shape == (2, 32, 32) and built.name == "SmoothGrad (LayerCAM)"
