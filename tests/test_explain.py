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
    assert guided.shape == vanilla_before.shape and np.isfinite(guided).all()
    assert all(l.activation.__name__ == "relu" for l in course_model.layers if isinstance(l, layers.Conv2D))


def _three_dense_model():
    """x (1 x 1 x 2 "image") -> Dense(3, relu) -> Dense(2, relu) -> Dense(2): small enough to do by hand."""
    x = inputs = keras.Input((1, 1, 2))
    x = layers.Dense(3, activation="relu", use_bias=False, name="h1")(x)
    x = layers.Dense(2, activation="relu", use_bias=False, name="h2")(x)
    model = keras.Model(inputs, layers.Dense(2, use_bias=False, name="y")(layers.Flatten()(x)))
    model.get_layer("h1").set_weights([np.array([[1.0, -1.0, 0.5], [1.0, 1.0, -1.0]])])
    model.get_layer("h2").set_weights([np.array([[1.0, -1.0], [-1.0, 1.0], [2.0, 1.0]])])
    model.get_layer("y").set_weights([np.array([[-1.0, 1.0], [1.0, 1.0]])])
    return model


def test_guided_backprop_equals_the_gradient_computed_by_hand():
    """x = (1, 2): z1 = x W1 = (3, 1, -1.5), a1 = (3, 1, 0); z2 = a1 W2 = (2, -2), a2 = (2, 0); y = a2 W3 = (-2, 2).
    Class 1: dy/da2 = (1, 1). Through ReLU 2 (z2 = (2, -2)) both rules give (1, 0); back, dy/da1 = W2 (1, 0) =
    (1, -1, 2). Through ReLU 1 (z1 = (3, 1, -1.5)): plain backprop keeps (1, -1, 0), guided also drops the
    negative -1: (1, 0, 0). Finally dy/dx = W1 g: plain (2, 0), guided (1, 1). Class 0: dy/da2 = (-1, 1);
    guided drops both at ReLU 2 (a negative gradient, a negative input), so guided = (0, 0), plain = (-2, 0)."""
    model = _three_dense_model()
    x = np.array([1.0, 2.0], np.float32).reshape(1, 1, 1, 2)
    np.testing.assert_allclose(model.predict(x, verbose=0), [[-2.0, 2.0]])
    guided, vanilla = E.GuidedBackprop(model, value_range=None), E.VanillaGradient(model, value_range=None)
    assert guided.replaced == 2
    np.testing.assert_allclose(guided(x, 1).ravel(), [1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(vanilla(x, 1).ravel(), [2.0, 0.0], atol=1e-6)
    with pytest.warns(E.EmptyMapWarning, match="none reached the input"):      # an empty map says why
        np.testing.assert_allclose(guided(x, 0).ravel(), [0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(vanilla(x, 0).ravel(), [-2.0, 0.0], atol=1e-6)


def test_every_kind_of_relu_is_replaced_and_none_is_an_error(images):
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(4, 3, activation="relu")(x)
    x = layers.Conv2D(4, 3)(x)
    x = layers.Activation("relu")(x)
    x = layers.Conv2D(4, 3)(x)
    x = layers.ReLU()(x)
    x = layers.LeakyReLU(name="leaky")(x)                  # not a plain ReLU: left alone, with a warning
    out = layers.Dense(3)(layers.GlobalAveragePooling2D()(x))
    with pytest.warns(E.ExplainerWarning, match=r"'leaky' \(LeakyReLU"):
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

def _conv_stack(seed: int):
    keras.utils.set_random_seed(seed)
    return [layers.Conv2D(4, 3, activation="relu", name="k"), layers.Conv2D(6, 3, activation="relu", name="k2"),
            layers.GlobalAveragePooling2D(name="gap"), layers.Dense(5, name="scores")]


def _functional(stack, seed: int = 99):
    """The same architecture as a functional model with its own (different) layers and weights."""
    x = inputs = keras.Input((12, 12, 3))
    for layer in _conv_stack(seed):
        x = layer(x)
    model = keras.Model(inputs, x)
    model.set_weights([w for layer in stack for w in layer.get_weights()])
    return model


METHODS = (E.CAM, E.GradCAM, E.GuidedGradCAM, E.GuidedBackprop, E.VanillaGradient)


def test_sequential_model_gives_the_maps_of_the_same_functional_model(images):
    seq = keras.Sequential([keras.Input((12, 12, 3)), *_conv_stack(3)])
    built = keras.Sequential(_conv_stack(4))
    built.build((None, 12, 12, 3))                                  # no Input, but built: fine too
    for model in (seq, built):
        assert E.conv_layers(model) == ["k", "k2"]
        flat = _functional(model.layers)
        for cls in METHODS:
            got, want = cls(model).explain(images, 2), cls(flat).explain(images, 2)
            assert got.maps.shape[:3] == (4, 12, 12)
            np.testing.assert_allclose(got.maps, want.maps, rtol=1e-5, atol=1e-7, err_msg=cls.__name__)
            np.testing.assert_allclose(got.logits, want.logits, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(E.GradCAM(model, layer="k")(images, 0), E.GradCAM(flat, layer="k")(images, 0),
                                   rtol=1e-5, atol=1e-7)


def test_nested_base_model_gives_the_maps_of_the_flat_model_or_refuses_clearly(images):
    keras.utils.set_random_seed(4)
    base_in = keras.Input((12, 12, 3))
    inner = layers.Conv2D(6, 3, activation="relu", name="inner")
    top = layers.Conv2D(5, 3, activation="relu", name="top")
    base = keras.Model(base_in, top(inner(base_in)), name="base")
    gap, dense = layers.GlobalAveragePooling2D(), layers.Dense(5)
    inputs = keras.Input((12, 12, 3))
    model = keras.Model(inputs, dense(gap(base(inputs))))
    flat = keras.Model(inputs, dense(gap(top(inner(inputs)))))          # the same layers, not nested
    assert E.conv_layers(model) == ["base"]
    np.testing.assert_allclose(E.GradCAM(model)(images, 3), E.GradCAM(flat, layer="top")(images, 3), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(E.CAM(model)(images, 3), E.CAM(flat)(images, 3), rtol=1e-5, atol=1e-7)
    gb = E.GuidedBackprop(model)
    assert gb.replaced == 2
    np.testing.assert_allclose(gb(images, 3), E.GuidedBackprop(flat)(images, 3), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(E.GuidedGradCAM(model)(images, 3), E.GuidedGradCAM(flat)(images, 3), rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError, match="nested model 'base'"):
        E.GradCAM(model, layer="inner")


def test_cam_with_a_dropout_head_uses_the_dense_weights(images):
    keras.utils.set_random_seed(6)
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(6, 3, activation="relu", name="conv")(x)
    x = layers.Dropout(0.5, name="drop")(layers.GlobalAveragePooling2D(name="gap")(x))
    model = keras.Model(inputs, layers.Dense(5, name="scores")(x))
    cam = E.CAM(model)
    assert cam.dense.name == "scores"
    np.testing.assert_array_equal(cam.class_weights, model.get_layer("scores").kernel.numpy())
    ex = cam.explain(images, 2)
    A = keras.Model(inputs, model.get_layer("conv").output)(images).numpy()
    raw = np.maximum(np.einsum("nhwk,k->nhw", A, cam.class_weights[:, 2]), 0)
    np.testing.assert_allclose(E.CAM(model, upsample=False, normalize=False)(images, 2), raw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ex.maps, E.GradCAM(model)(images, 2), atol=1e-5)   # dropout is off when explaining
    repeat = E.CAM(model)(images, 2)
    np.testing.assert_array_equal(ex.maps, repeat)


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
    cam_s, cam_l = E.CAM(soft).explain(images, 1), E.CAM(logits_model).explain(images, 1)      # CAM too
    assert cam_s.extra["scores"] != cam_l.extra["scores"]
    np.testing.assert_allclose(cam_s.maps, cam_l.maps, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(cam_s.logits, cam_l.logits, rtol=1e-5, atol=1e-6)


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
        with pytest.warns(E.EmptyMapWarning,
                          match=r"(?s)all zero.*(feature maps of layer 'c2' are all zero|Grad-CAM factor is all zero)"):
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
    (np.full((1, 12, 12, 3), 300.0), r"expects \[0, 255\]"),
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


# ---------------------------------------------------------------- any learner's model (issue 11)

def _head_model(head: str, seed: int = 5):
    """tiny_cnn's body with one of the many ways to end in a softmax; 'logits' is the same model without it."""
    keras.utils.set_random_seed(seed)
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Rescaling(1 / 255.0, name="scale")(x)
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(x)
    x = layers.MaxPooling2D(name="p1")(x)
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    act = {"dense_tf_nn": tf.nn.softmax, "dense_keras_ops": keras.ops.softmax,
           "dense_keras_activations": keras.activations.softmax}.get(head)
    if head == "einsum":
        return keras.Model(inputs, layers.EinsumDense("ab,bc->ac", output_shape=5, bias_axes="c",
                                                      activation="softmax", name="scores")(x))
    if head == "nested":
        head_model = keras.Sequential([keras.Input((8,)), layers.Dense(5, activation=tf.nn.softmax, name="scores")],
                                      name="head")
        return keras.Model(inputs, head_model(x))
    out = layers.Dense(5, activation=act, name="scores")(x)
    wrap = {"activation_tf_nn": layers.Activation(tf.nn.softmax), "op": keras.ops.softmax,
            "lambda_tf_nn": layers.Lambda(tf.nn.softmax), "softmax_layer": layers.Softmax(),
            "lambda_anonymous": layers.Lambda(lambda t: keras.ops.exp(t) / keras.ops.sum(keras.ops.exp(t), -1, keepdims=True))}
    return keras.Model(inputs, wrap[head](out) if head in wrap else out)


SOFTMAX_HEADS = ["dense_tf_nn", "dense_keras_ops", "dense_keras_activations", "activation_tf_nn", "op",
                 "lambda_tf_nn", "lambda_anonymous", "softmax_layer", "nested", "einsum"]


@pytest.mark.parametrize("head", SOFTMAX_HEADS)
def test_softmax_is_found_however_it_is_written(head, images):
    """tf.nn.softmax is softmax_v2 by name, a Lambda hides its function, a nested head hides its layers: the
    explainers used to score probabilities for these. They must score the logits, as on the model without."""
    soft, logits_model = _head_model(head), _head_model("logits")
    assert not np.allclose(soft.predict(images, verbose=0), logits_model.predict(images, verbose=0))
    before = [w.copy() for w in soft.get_weights()]
    for cls in (E.GradCAM, E.GuidedGradCAM, E.VanillaGradient, E.GuidedBackprop):
        ex_s, ex_l = cls(soft).explain(images, 1), cls(logits_model).explain(images, 1)
        np.testing.assert_allclose(ex_s.logits, ex_l.logits, rtol=1e-5, atol=1e-6, err_msg=cls.__name__)
        np.testing.assert_allclose(ex_s.maps, ex_l.maps, rtol=1e-4, atol=1e-6, err_msg=cls.__name__)
    assert "logits" in E.GradCAM(soft).scores and "softmax" in E.GradCAM(soft).scores
    for a, b in zip(before, soft.get_weights()):                       # the model itself is unchanged
        np.testing.assert_array_equal(a, b)
    if head.startswith("dense") or head in ("activation_tf_nn", "op", "softmax_layer", "lambda_tf_nn"):
        np.testing.assert_allclose(E.CAM(soft)(images, 1), E.CAM(logits_model)(images, 1), rtol=1e-4, atol=1e-6)


def test_probabilities_from_an_unrecognisable_softmax_give_a_warning(images):
    class Probabilities(layers.Layer):                     # weights and softmax in one custom layer
        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1], 5), initializer="glorot_uniform")

        def call(self, t):
            return keras.ops.softmax(t @ self.w)

    class BareSoftmax(layers.Layer):                       # no weights: recognised by what it computes
        def call(self, t):
            e = keras.ops.exp(t - keras.ops.max(t, axis=-1, keepdims=True))
            return e / keras.ops.sum(e, axis=-1, keepdims=True)

    x = inputs = keras.Input((12, 12, 3))
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(4, 3, activation="relu", name="k")(x))
    model = keras.Model(inputs, Probabilities(name="probs")(x))
    with pytest.warns(E.ExplainerWarning, match=r"sum to 1 like probabilities.*'probs'"):
        E.GradCAM(model)
    assert "softmax" in E.GradCAM(keras.Model(inputs, BareSoftmax()(layers.Dense(5)(x)))).scores


@pytest.mark.parametrize("final", ["dense_sigmoid", "activation_sigmoid", "linear"])
def test_one_sigmoid_output_is_explained_on_its_logit_and_its_negation(final, images):
    """A binary model, Dense(1, sigmoid): class 1 is scored by the logit z, class 0 by -z. Reference: the
    same model with two linear outputs (-z, z)."""
    keras.utils.set_random_seed(8)
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Rescaling(1 / 255.0)(x)
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(x)
    feats = layers.GlobalAveragePooling2D(name="gap")(layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x))
    z = layers.Dense(1, activation="sigmoid" if final == "dense_sigmoid" else None, name="z")(feats)
    binary = keras.Model(inputs, layers.Activation("sigmoid")(z) if final == "activation_sigmoid" else z)
    two = keras.Model(inputs, layers.Dense(2, name="two")(feats))
    kernel, bias = binary.get_layer("z").get_weights()
    two.set_weights(binary.get_weights()[:4] + [np.concatenate([-kernel, kernel], 1), np.concatenate([-bias, bias])])
    zs = two.predict(images, verbose=0)[:, 1]                          # the logit z, before any sigmoid
    for cls in (E.CAM, E.GradCAM, E.GuidedGradCAM, E.GuidedBackprop):
        explainer = cls(binary)
        assert explainer.num_classes == 2
        for c in (0, 1):
            np.testing.assert_allclose(explainer(images, c), cls(two)(images, c), rtol=1e-4, atol=1e-6)
    ex = E.GradCAM(binary).explain(images)
    np.testing.assert_allclose(ex.logits, np.stack([-zs, zs], 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ex.class_index, (zs > 0).astype(int))     # predicted: p > 0.5
    with pytest.raises(ValueError, match=r"0\.\.1"):
        E.GradCAM(binary)(images, 2)


def _adapted_normalization_model(seed: int = 9):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    norm = layers.Normalization(name="norm")
    norm.adapt(rng.uniform(0, 255, (64, 12, 12, 3)).astype("float32") * [1.0, 0.5, 0.2])
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(norm(x))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    return keras.Model(inputs, layers.Dense(5, name="scores")(layers.GlobalAveragePooling2D()(x)))


def test_guided_clone_keeps_an_adapted_normalization(images):
    """clone_model + set_weights copies the adapted mean and variance into variables, but the layer normalises
    with tensors made from them by finalize_state(): without it the clone normalises with 0 and 1."""
    model = _adapted_normalization_model()
    gb = E.GuidedBackprop(model)
    np.testing.assert_allclose(gb.guided_model.predict(images, verbose=0), model.predict(images, verbose=0),
                               rtol=1e-5, atol=1e-5)
    # the same network with the statistics given as arguments (nothing to adapt) gives the same gradients
    norm = model.get_layer("norm")
    fixed_in = keras.Input((12, 12, 3))
    fixed = keras.Model(fixed_in, model.layers[-1](model.layers[-2](model.get_layer("c2")(model.get_layer("c1")(
        layers.Normalization(mean=np.asarray(norm.mean).ravel(), variance=np.asarray(norm.variance).ravel())(fixed_in))))))
    np.testing.assert_allclose(gb(images, 2), E.GuidedBackprop(fixed)(images, 2), rtol=1e-4, atol=1e-7)


def test_a_clone_that_computes_another_function_is_refused(images):
    class Shift(layers.Layer):                     # state outside its weights and outside its config
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.offset = 0.0

        def call(self, t):
            return t + self.offset

    shift = Shift(name="shift")
    shift.offset = 40.0
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(4, 3, activation="relu")(shift(x))
    shifted = keras.Model(inputs, layers.Dense(3)(layers.GlobalAveragePooling2D()(x)))
    with pytest.raises(ValueError, match=r"guided clone .*computes a different function.*differ by up to"):
        E.GuidedBackprop(shifted)


def test_relu_relatives_that_stay_unguided_are_named_in_a_warning(images):
    x = inputs = keras.Input((12, 12, 3))
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="plain")(x)          # made guided
    x = layers.Conv2D(4, 3, padding="same", activation="relu6", name="six")(x)
    x = layers.ReLU(max_value=6.0, name="capped")(layers.Conv2D(4, 3, padding="same")(x))
    x = layers.ReLU(threshold=0.5, name="thresholded")(layers.Conv2D(4, 3, padding="same")(x))
    x = keras.ops.relu(layers.Conv2D(4, 3, padding="same")(x))                          # a functional op
    x = layers.Lambda(lambda t: keras.ops.silu(t), name="swishy")(layers.Conv2D(4, 3, padding="same")(x))
    model = keras.Model(inputs, layers.Dense(3)(layers.GlobalAveragePooling2D()(x)))
    with pytest.warns(E.ExplainerWarning) as record:
        gb = E.GuidedBackprop(model)
    message = str(record[0].message)
    assert gb.replaced == 1
    for text in ("'six' (Conv2D with activation relu6)", "'capped' (ReLU(max_value=6", "'thresholded' (ReLU(threshold=0.5",
                 "keras.ops.relu in the functional graph", "'swishy' (a Lambda that computes swish)"):
        assert text in message, (text, message)
    np.testing.assert_allclose(gb.guided_model.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5)
    only_functional = keras.Model(inputs, layers.Dense(3)(layers.GlobalAveragePooling2D()(
        keras.ops.relu(layers.Conv2D(4, 3)(inputs)))))
    with pytest.raises(ValueError, match=r"no ReLU.*keras\.ops\.relu"):
        E.GuidedBackprop(only_functional)


def test_dark_images_pass_and_0_1_images_get_value_range_advice(images):
    model = tiny_cnn()
    dark = np.zeros((2, 12, 12, 3), np.float32)
    dark[:, 3:6, 3:6] = 1.0                                      # a night sky: whole-number 0-255 values
    assert E.GradCAM(model)(dark, 0).shape == (2, 12, 12)
    assert E.GradCAM(model)(dark.astype(np.uint8), 0).shape == (2, 12, 12)
    scaled = images / 255.0
    with pytest.raises(ValueError, match=r"value_range=\(0, 1\)") as err:
        E.GradCAM(model)(scaled)
    assert "* 255" not in str(err.value)
    mixed = np.concatenate([images[:3], scaled[3:]])              # one 0-1 image among 0-255 ones
    with pytest.raises(ValueError, match=r"image 3 .*looks scaled to 0-1"):
        E.GradCAM(model)(mixed)
    assert E.GradCAM(model, value_range=(0, 1))(scaled).shape == (4, 12, 12)
    with pytest.raises(ValueError, match=r"look like 0-255 images.*value_range=\(0, 255\)"):
        E.GradCAM(model, value_range=(0, 1))(images)
