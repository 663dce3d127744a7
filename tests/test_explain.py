"""The explainers: correct gradients, the CAM = Grad-CAM identity, guided ReLUs, options and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils as cu

cu.setup(quiet=True)

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

E = cu.explain


def tiny_cnn(head: str = "linear", final: str | None = None, seed: int = 0, act="relu"):
    """A small model in the course's shape: convs -> GAP -> Dense(5). ``head='mlp'`` puts Dense-ReLU
    between GAP and the output; ``final`` adds a softmax ('dense' inside the Dense, 'layer' after it)."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Rescaling(1 / 255.0, name="scale")(x)
    x = layers.Conv2D(6, 3, padding="same", activation=act, name="c1")(x)
    x = layers.MaxPooling2D(name="p1")(x)
    x = layers.Conv2D(8, 3, padding="same", activation=act, name="c2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if head == "mlp":
        x = layers.Dense(7, activation="relu", name="hidden")(x)
    out = layers.Dense(5, activation="softmax" if final == "dense" else None, name="scores")(x)
    if final == "layer":
        out = layers.Softmax(name="probs")(out)
    return keras.Model(inputs, out, name=f"tiny_{head}_{final}")


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0, 255, (4, 12, 12, 3)).astype("float32")


# ---------------------------------------------------------------- gradients

def test_gradcam_gradients_match_central_finite_differences():
    keras.utils.set_random_seed(1)
    a_in = keras.Input((6, 6, 4))
    conv = layers.Conv2D(5, 3, padding="same", activation="tanh", name="late")
    gap, dense = layers.GlobalAveragePooling2D(), layers.Dense(3, name="y")
    head = keras.Model(a_in, dense(gap(conv(a_in))))
    x_in = keras.Input((6, 6, 2))
    body = layers.Conv2D(4, 3, padding="same", activation="tanh", name="A")
    model = keras.Model(x_in, dense(gap(conv(body(x_in)))))
    x = np.random.default_rng(2).normal(size=(2, 6, 6, 2)).astype("float32")

    ex = E.GradCAM(model, layer="A", value_range=None).explain(x, class_index=[2, 0])
    A = ex.feature_maps.astype(np.float64)
    eps = 1e-2
    numeric = np.zeros_like(A)
    for n, c in enumerate([2, 0]):
        for idx in np.ndindex(A.shape[1:]):
            for sign in (1, -1):
                Ap = A[n:n + 1].copy()
                Ap[(0, *idx)] += sign * eps
                numeric[(n, *idx)] += sign * float(head(Ap.astype("float32"))[0, c]) / (2 * eps)
    np.testing.assert_allclose(ex.gradients, numeric, atol=2e-3, rtol=2e-2)
    assert np.abs(numeric).max() > 1e-2  # the check compares real, non-zero gradients


def test_guided_relu_backward_rule_by_hand():
    x = tf.constant([-1.0, 2.0, 3.0, -4.0, 0.5])
    upstream = tf.constant([1.0, -1.0, 2.0, 3.0, 0.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        guided = E.guided_relu(x)
        plain = tf.nn.relu(x)
    np.testing.assert_array_equal(guided.numpy(), plain.numpy())             # same forward pass
    np.testing.assert_array_equal(tape.gradient(guided, x, upstream), [0, 0, 2, 0, 0])
    np.testing.assert_array_equal(tape.gradient(plain, x, upstream), [0, -1, 2, 0, 0])


# ---------------------------------------------------------------- the identity CAM = Grad-CAM for GAP + linear head

def test_gradcam_alpha_times_z_is_the_dense_weight_and_maps_equal_cam_on_course_model(course_model, test_images):
    x, _ = test_images
    g = E.GradCAM(course_model).explain(x, class_index=np.arange(16) % 10)
    c = E.CAM(course_model).explain(x, class_index=np.arange(16) % 10)
    Z = g.feature_maps.shape[1] * g.feature_maps.shape[2]
    w = course_model.get_layer("logits").kernel.numpy()[:, np.arange(16) % 10].T       # (N, K)
    rel = np.abs(g.weights * Z - w).max() / np.abs(w).max()
    assert rel < 1e-4, rel
    np.testing.assert_allclose(c.weights, w, rtol=1e-6)
    np.testing.assert_allclose(g.maps, c.maps, atol=1e-4)
    assert g.maps.max() == pytest.approx(1.0) and np.ptp(g.maps) > 0.5


def test_identity_breaks_for_a_nonlinear_head():
    rng = np.random.default_rng(7)   # four very different images, so the hidden ReLUs switch differently
    images = np.stack([rng.uniform(0, 40, (12, 12, 3)), rng.uniform(200, 255, (12, 12, 3)),
                       np.tile(np.linspace(0, 255, 12)[:, None, None], (1, 12, 3)),
                       np.where(rng.random((12, 12, 1)) < 0.5, 0.0, 255.0).repeat(3, -1)]).astype("float32")
    lin = E.GradCAM(tiny_cnn("linear"), layer="c2").explain(images, class_index=1)
    mlp_model = tiny_cnn("mlp")
    # put each hidden unit's threshold at the median of its input over the four images, so that every
    # unit is on for some images and off for others: the head is then truly non-linear on this batch
    hidden = mlp_model.get_layer("hidden")
    pooled = keras.Model(mlp_model.inputs, mlp_model.get_layer("gap").output)(images).numpy()
    kernel = hidden.kernel.numpy()
    hidden.set_weights([kernel, -np.median(pooled @ kernel, axis=0)])
    mlp = E.GradCAM(mlp_model, layer="c2").explain(images, class_index=1)
    # linear head: alpha is the same weight vector w_c / Z for every image ...
    assert np.allclose(lin.weights, lin.weights[0], atol=1e-6)
    # ... a Dense-ReLU-Dense head makes alpha depend on the image, so no fixed w_c can give Grad-CAM
    assert np.abs(mlp.weights - mlp.weights[0]).max() > 1e-2 * np.abs(mlp.weights).max()
    # and the map differs from a "CAM" built with the product of the two Dense kernels
    w_eff = mlp_model.get_layer("hidden").kernel.numpy() @ mlp_model.get_layer("scores").kernel.numpy()[:, 1]
    fake_cam = np.maximum(np.einsum("nhwk,k->nhw", mlp.feature_maps, w_eff), 0)
    fake_cam /= fake_cam.reshape(4, -1).max(1)[:, None, None] + 1e-12
    gc = E.GradCAM(mlp_model, layer="c2", upsample=False)(images, 1)
    assert np.abs(gc - fake_cam).max() > 0.05
    with pytest.raises(ValueError, match="GradCAM"):
        E.CAM(tiny_cnn("mlp"), layer="c2")


# ---------------------------------------------------------------- guided backpropagation

def test_guided_backprop_leaves_the_model_unchanged(course_model, test_images):
    x, _ = test_images
    before_w = [w.copy() for w in course_model.get_weights()]
    before_y = course_model.predict(x, verbose=0)
    vanilla_before = E.VanillaGradient(course_model)(x[:2], 3)
    gb = E.GuidedBackprop(course_model)
    guided = gb(x[:2], 3)
    assert gb.replaced == 8
    for a, b in zip(before_w, course_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(before_y, course_model.predict(x, verbose=0))
    np.testing.assert_allclose(E.VanillaGradient(course_model)(x[:2], 3), vanilla_before, rtol=1e-5, atol=1e-9)
    assert not np.allclose(guided, vanilla_before)      # guided really differs from the plain gradient
    assert all(l.activation.__name__ == "relu" for l in course_model.layers if isinstance(l, layers.Conv2D))


def test_every_kind_of_relu_is_replaced_and_none_is_an_error(images):
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(4, 3, activation="relu")(x)
    x = layers.Conv2D(4, 3)(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(4, 3)(x)
    x = layers.ReLU()(x)
    x = layers.LeakyReLU()(x)                              # not a plain ReLU: left alone
    out = layers.Dense(3)(layers.GlobalAveragePooling2D()(x))
    assert E.GuidedBackprop(keras.Model(inputs, out)).replaced == 3
    with pytest.raises(ValueError, match="no ReLU"):
        E.GuidedBackprop(tiny_cnn(act="tanh"))


def test_guided_gradcam_is_the_product(images):
    model = tiny_cnn()
    ggc = E.GuidedGradCAM(model, layer="c2", normalize=False).explain(images, 2)
    gb = E.GuidedBackprop(model)(images, 2)
    cam = E.GradCAM(model, layer="c2")(images, 2)
    np.testing.assert_allclose(ggc.maps, gb * cam[..., None], rtol=1e-5, atol=1e-12)


# ---------------------------------------------------------------- models of every shape

def test_sequential_model_works(images):
    keras.utils.set_random_seed(3)
    seq = keras.Sequential([keras.Input((12, 12, 3)), layers.Conv2D(4, 3, activation="relu", name="k"),
                            layers.GlobalAveragePooling2D(), layers.Dense(5)])
    assert E.conv_layers(seq) == ["k"]
    for cls in (E.CAM, E.GradCAM, E.GuidedGradCAM):
        assert cls(seq)(images, 0).shape[:3] == (4, 12, 12)


def test_nested_base_model_works_as_a_whole_or_refuses_clearly(images):
    keras.utils.set_random_seed(4)
    base_in = keras.Input((12, 12, 3))
    base = keras.Model(base_in, layers.Conv2D(6, 3, activation="relu", name="inner")(base_in), name="base")
    x = inputs = keras.Input((12, 12, 3))
    out = layers.Dense(5)(layers.GlobalAveragePooling2D()(base(x)))
    model = keras.Model(inputs, out)
    assert E.conv_layers(model) == ["base"]
    assert E.GradCAM(model)(images).shape == (4, 12, 12)
    assert E.GuidedBackprop(model).replaced == 1
    with pytest.raises(ValueError, match="nested model 'base'"):
        E.GradCAM(model, layer="inner")


@pytest.mark.parametrize("final", ["dense", "layer"])
def test_softmax_models_are_scored_on_their_logits(final, images):
    logits_model = tiny_cnn(final=None, seed=5)
    soft = tiny_cnn(final=final, seed=5)
    soft.set_weights(logits_model.get_weights())
    for cls in (E.GradCAM, E.GuidedGradCAM, E.VanillaGradient):
        ex_l, ex_s = cls(logits_model).explain(images, 1), cls(soft).explain(images, 1)
        np.testing.assert_allclose(ex_s.maps, ex_l.maps, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(ex_s.logits, ex_l.logits, rtol=1e-5, atol=1e-6)
    assert "softmax" in E.GradCAM(soft).scores
    assert soft.layers[-1].get_config() == tiny_cnn(final=final, seed=5).layers[-1].get_config()  # unchanged


# ---------------------------------------------------------------- CAM's limitation

def test_cam_needs_gap_then_dense():
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(4, 3, activation="relu", name="conv3")(x)
    out = layers.Dense(5)(layers.Flatten()(x))
    with pytest.raises(ValueError, match=r"'conv3' feeds Flatten.*GradCAM"):
        E.CAM(keras.Model(inputs, out))
    with pytest.raises(ValueError, match=r"'c1' feeds MaxPooling2D.*GradCAM"):
        E.CAM(tiny_cnn(), layer="c1")


# ---------------------------------------------------------------- options

def test_options_change_what_they_should(images):
    model = tiny_cnn()
    base = E.GradCAM(model, layer="c2")
    small = E.GradCAM(model, layer="c2", upsample=False)(images, 3)
    raw = E.GradCAM(model, layer="c2", upsample=False, normalize=False, relu=False)(images, 3)
    counter = E.GradCAM(model, layer="c2", upsample=False, normalize=False, relu=False, counterfactual=True)(images, 3)
    assert base(images, 3).shape == (4, 12, 12) and small.shape == (4, 6, 6)
    signed = E.GradCAM(model, layer="c1", normalize=False, relu=False)(images, 0)
    assert (signed < 0).any() and (signed > 0).any()           # without ReLU, negative evidence shows
    np.testing.assert_allclose(counter, -raw, rtol=1e-6)       # counterfactual: negated gradients
    unnorm = E.GradCAM(model, layer="c2", upsample=False, normalize=False)(images, 3)
    np.testing.assert_allclose(unnorm, np.maximum(raw, 0), rtol=1e-6)
    peaks = unnorm.reshape(4, -1).max(1)
    np.testing.assert_allclose(small, unnorm / peaks[:, None, None], rtol=1e-5)
    assert base(images, 3).dtype == np.float32 and 0 <= base(images, 3).min() and base(images, 3).max() <= 1


def test_class_index_none_explains_the_prediction_and_lists_work(images):
    g = E.GradCAM(tiny_cnn())
    ex = g.explain(images)
    np.testing.assert_array_equal(ex.class_index, ex.logits.argmax(1))
    np.testing.assert_array_equal(g.explain(images, [0, 1, 2, 3]).class_index, [0, 1, 2, 3])
    assert not np.allclose(g(images, 0), g(images, 4))
    assert g(images[0]).shape == (1, 12, 12)


def test_no_retracing_across_batch_sizes_and_classes(images):
    for cls in (E.CAM, E.GradCAM, E.GuidedBackprop, E.GuidedGradCAM, E.VanillaGradient):
        explainer = cls(tiny_cnn())
        for n, c in ((1, 0), (3, None), (4, [1, 2, 3, 4]), (2, 3)):
            explainer(images[:n], c)
        assert explainer.traces == 1, cls.__name__


def test_all_zero_feature_maps_give_zero_maps_not_nan(images):
    model = tiny_cnn()
    conv = model.get_layer("c2")
    conv.set_weights([np.zeros_like(w) for w in conv.get_weights()])
    for cls in (E.CAM, E.GradCAM, E.GuidedGradCAM):
        maps = cls(model, layer="c2")(images, 0)
        assert np.isfinite(maps).all() and not maps.any(), cls.__name__
    assert not E.normalize_maps(tf.zeros((2, 3, 3))).numpy().any()


def test_conv_layers_in_order_without_preprocessing(course_model):
    names = E.conv_layers(course_model)
    assert names[0] == "conv1" and names[-1] == "conv4" and "normalize" not in names
    assert names.index("res1") < names.index("conv3") < names.index("res2")
    assert E.GradCAM(course_model).layer == "conv4"


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 12, 12)), r"shape \(2, 12, 12\), but the model expects 12x12x3"),
    (np.zeros((1, 2, 12, 12, 3)), r"\(N, H, W, C\)"),
    (np.zeros((2, 16, 16, 3)), r"12x12x3"),
    (np.full((1, 12, 12, 3), np.nan), "NaN"),
    (np.full((1, 12, 12, 3), 0.5), "0-1"),
    (np.full((1, 12, 12, 3), 300.0), r"expected \[0, 255\]"),
    (np.zeros((0, 12, 12, 3)), "empty"),
    (np.array([["a"]]), "dtype"),
])
def test_bad_images_are_refused_clearly(bad, message):
    with pytest.raises(ValueError, match=message):
        E.GradCAM(tiny_cnn())(bad)


@pytest.mark.parametrize("class_index, message", [
    (5, r"out of range.*0\.\.4"), (-1, "out of range"), ([0, 1], r"one class per image"), (1.5, "int"),
])
def test_bad_class_index_is_refused_clearly(class_index, message, images):
    with pytest.raises(ValueError, match=message):
        E.GradCAM(tiny_cnn())(images, class_index)


@pytest.mark.parametrize("layer, message", [
    ("nope", r"no layer 'nope'.*c1, p1, c2"), ("gap", r"not a spatial map"), ("scale", "not a spatial map"),
])
def test_bad_layer_is_refused_clearly(layer, message):
    with pytest.raises(ValueError, match=message):
        E.GradCAM(tiny_cnn(), layer=layer)


def test_unbuilt_sequential_is_refused_clearly():
    with pytest.raises(ValueError, match="keras.Input"):
        E.GradCAM(keras.Sequential([layers.Conv2D(2, 3), layers.GlobalAveragePooling2D(), layers.Dense(2)]))
