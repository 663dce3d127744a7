"""The course model: its architecture, batch-norm folding, training with resume, and the shipped file."""
from __future__ import annotations

import json

import numpy as np
import pytest

import course_utils as cu

cu.setup(quiet=True)

import keras  # noqa: E402
from keras import layers  # noqa: E402

M = cu.models


def test_architecture_is_what_the_course_teaches():
    for bn in (False, True):
        model = M.build_course_cnn(batch_norm=bn)
        assert isinstance(model.layers[1], layers.Normalization)             # raw 0-255 images go in
        convs = [l for l in model.layers if isinstance(l, layers.Conv2D)]
        assert all(l.kernel_regularizer is not None for l in convs)           # L2 weight decay
        last = model.get_layer("conv4")
        assert convs[-1] is last and tuple(last.output.shape[1:3]) >= (8, 8)  # CAM keeps >= 8 x 8 positions
        gap, head = model.layers[-2], model.layers[-1]
        assert isinstance(gap, layers.GlobalAveragePooling2D) and isinstance(head, layers.Dense)
        assert head.units == 10 and head.activation.__name__ == "linear"    # logits, no softmax
        assert model.output.shape[-1] == 10
    deployed = M.build_course_cnn()
    assert not any(isinstance(l, layers.BatchNormalization) for l in deployed.layers)
    assert all(l.activation.__name__ == "relu" for l in deployed.layers if isinstance(l, layers.Conv2D))


def test_normalization_uses_the_channel_statistics():
    model = M.build_course_cnn()
    x = np.zeros((1, 32, 32, 3), np.float32) + 255 * np.array(M.CIFAR10_MEAN, np.float32)
    normalized = keras.Model(model.inputs, model.get_layer("normalize").output)(x).numpy()
    np.testing.assert_allclose(normalized, 0, atol=1e-4)


def test_fold_batch_norm_computes_the_same_function():
    keras.utils.set_random_seed(0)
    trained = M.build_course_cnn(batch_norm=True)
    rng = np.random.default_rng(0)
    for layer in trained.layers:
        if isinstance(layer, layers.BatchNormalization):
            k = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, k), rng.normal(0, 0.2, k),
                               rng.normal(0, 0.5, k), rng.uniform(0.5, 2.0, k)])
    x = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    folded = M.fold_batch_norm(trained)
    np.testing.assert_allclose(folded.predict(x, verbose=0), trained.predict(x, verbose=0), rtol=1e-3, atol=1e-3)
    assert folded.count_params() < trained.count_params()


def test_training_resumes_after_an_interruption(tmp_path, cifar10, capsys):
    common = ["--epochs", "2", "--limit", "512", "--batch-size", "128", "--precision", "float32",
              "--checkpoints", str(tmp_path / "ck"), "--out", str(tmp_path / "out")]
    assert cu.train.main(common + ["--stop-after", "1"]) == {"stopped_after": 1}
    assert json.loads((tmp_path / "ck" / "train_state.json").read_text())["epoch"] == 1
    assert not (tmp_path / "out").exists()
    card = cu.train.main(common)
    assert "Resuming" in capsys.readouterr().out
    assert card["epochs"] == 2 and card["train_images"] == 512 and card["test_images"] == 10000
    model = M.load_course_model(tmp_path / "out" / "course_cnn.keras")
    assert 0 <= card["test_accuracy"] <= 1 and model.count_params() == card["parameters"]
    assert len(card["data_archive_sha256"] or "x" * 64) == 64


def test_shipped_model_loads_in_safe_mode_and_is_small():
    assert M.MODEL_PATH.stat().st_size <= 10 * 2**20
    model = M.load_course_model()
    assert model.dtype_policy.name == "float32"
    card = M.load_model_card()
    assert card["parameters"] == model.count_params()
    with pytest.raises(FileNotFoundError, match="course_utils.train"):
        M.load_course_model(M.ASSETS / "missing.keras")


@pytest.mark.data
def test_shipped_model_accuracy_on_the_official_test_set(course_model, cifar10):
    (_, _), (x_test, y_test) = cifar10
    logits = course_model.predict(x_test.astype("float32"), batch_size=500, verbose=0)
    accuracy = float((logits.argmax(1) == y_test).mean())
    assert accuracy >= 0.90, accuracy
    assert accuracy == pytest.approx(M.load_model_card()["test_accuracy"], abs=1e-3)


def test_any_size_copy_classifies_a_mosaic_like_its_tiles(course_model, test_images):
    x, _ = test_images
    big = M.any_size(course_model)
    mosaic = cu.metrics.make_mosaic(x[:4])
    assert big.predict(mosaic[None], verbose=0).shape == (1, 10)
    np.testing.assert_allclose(big.predict(x[:4], verbose=0), course_model.predict(x[:4], verbose=0), rtol=1e-4, atol=1e-4)
    assert cu.explain.GradCAM(big, value_range=(0, 255))(mosaic).shape == (1, 64, 64)


def test_any_size_copy_keeps_an_adapted_normalization():
    """any_size copies the weights with set_weights; an adapted Normalization keeps its statistics outside
    them (finalize_state), so without a refresh the copy normalised with mean 0 and variance 1."""
    keras.utils.set_random_seed(2)
    norm = layers.Normalization(name="norm")
    norm.adapt(np.random.default_rng(2).uniform(0, 255, (64, 32, 32, 3)).astype("float32"))
    x = inputs = keras.Input((32, 32, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(norm(x))
    model = keras.Model(inputs, layers.Dense(10)(layers.GlobalAveragePooling2D()(x)))
    images = np.random.default_rng(3).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    big = M.any_size(model)
    np.testing.assert_allclose(big.predict(images, verbose=0), model.predict(images, verbose=0), rtol=1e-5, atol=1e-5)
    assert big.predict(np.tile(images, (1, 2, 2, 1)), verbose=0).shape == (3, 10)


# ---------------------------------------------------------------- issue 19: a damaged model file is named as such

def test_a_truncated_keras_file_is_not_called_missing(tmp_path):
    from course_utils.validation import CourseError

    raw = M.MODEL_PATH.read_bytes()
    cases = {"truncated.keras": raw[: len(raw) // 2], "empty.keras": b""}
    import io
    import zipfile

    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("notes.txt", "not a model")
    cases["other.keras"] = other.getvalue()
    damaged = bytearray(raw)
    with zipfile.ZipFile(M.MODEL_PATH) as z:       # flip a byte inside the stored weights: the zip's CRC catches it
        info = z.getinfo("model.weights.h5")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    damaged[start + info.compress_size // 2] ^= 0xFF
    cases["flipped.keras"] = bytes(damaged)
    expected = {"truncated.keras": "not a zip archive", "empty.keras": "not a zip archive",
                "other.keras": "no config.json", "flipped.keras": "model.weights.h5 is damaged"}
    for name, payload in cases.items():
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(M.ModelFileError) as info:
            M.load_course_model(path)
        message = str(info.value)
        assert isinstance(info.value, CourseError) and isinstance(info.value, ValueError)
        assert "File not found" not in message and "exists" in message and expected[name] in message, message
        assert "not a readable Keras model file" in message and "model.save" in message
    with pytest.raises(M.ModelNotFoundError, match="a folder, not a model file") as info:
        M.load_course_model(tmp_path)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, CourseError)


def test_a_damaged_model_card_is_a_course_error(tmp_path):
    (tmp_path / "card.json").write_text("{not json")
    with pytest.raises(M.ModelFileError, match="not valid JSON"):
        M.load_model_card(tmp_path / "card.json")
    (tmp_path / "card.json").write_text("[1, 2]")
    with pytest.raises(M.ModelFileError, match="holds a list"):
        M.load_model_card(tmp_path / "card.json")
    with pytest.raises(M.ModelNotFoundError, match="course_utils.train"):
        M.load_model_card(tmp_path / "missing.json")
