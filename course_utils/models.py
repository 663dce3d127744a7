"""The course model: a small residual CNN that ends in global average pooling and a linear layer.

Layout (spatial size on the right)::

    image (0-255) -> normalize (per-channel mean / std)                      32 x 32 x 3
    conv1 (32) -> conv2 (64) -> pool1                                         32 -> 16
    res1 = pool1 + res1b(res1a(pool1))            (two 64-filter convs)       16 x 16
    conv3 (128) -> pool2                                                      16 -> 8
    res2 = pool2 + res2b(res2a(pool2))            (two 128-filter convs)      8 x 8
    conv4 (256)                                   <- the last convolution     8 x 8 x 256
    gap (GlobalAveragePooling2D) -> logits (Dense(10), no softmax)

Every convolution is 3 x 3 with a ReLU and an L2 penalty (weight decay) on its kernel. For training,
each convolution is followed by batch normalisation; :func:`fold_batch_norm` folds those into the
convolutions' weights and biases for the shipped model, which therefore holds only
``Conv2D(activation='relu')`` layers and computes exactly the same function.

The model outputs **logits** y_c, not probabilities: explanations differentiate y_c, because the
softmax saturates on confident images and its gradients vanish (notebook 05 shows it).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .validation import CourseError

if TYPE_CHECKING:
    import keras

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "MODEL_CARD_PATH",
    "MODEL_PATH",
    "ModelFileError",
    "ModelNotFoundError",
    "any_size",
    "build_course_cnn",
    "data_archive_sha256",
    "fold_batch_norm",
    "load_course_model",
    "load_model_card",
]

ASSETS = Path(__file__).resolve().parent / "assets"
MODEL_PATH = ASSETS / "course_cnn.keras"
MODEL_CARD_PATH = ASSETS / "model_card.json"

#: Per-channel mean and standard deviation of the CIFAR-10 training images, on the 0-1 scale
#: (notebook 02 computes them from the data).
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

# (name, filters, pool after it); "res" entries are residual pairs of convolutions.
_LAYOUT = [
    ("conv1", 32, False),
    ("conv2", 64, True),
    ("res1", 64, False),
    ("conv3", 128, True),
    ("res2", 128, False),
    ("conv4", 256, False),
]


class ModelNotFoundError(CourseError, FileNotFoundError):
    """There is no model file where one was asked for."""


class ModelFileError(CourseError, ValueError):
    """A model file (or the model card) exists but cannot be read: cut short, damaged, or not a Keras model."""


def build_course_cnn(
    batch_norm: bool = False,
    weight_decay: float = 2.5e-4,
    mean: Sequence[float] = CIFAR10_MEAN,
    std: Sequence[float] = CIFAR10_STD,
) -> keras.Model:
    """Build the (untrained) course CNN.

    Args:
        batch_norm: True for the training form (Conv2D without bias -> BatchNormalization -> ReLU);
            False for the deployed form (Conv2D(activation='relu') with a bias), which is what
            :func:`load_course_model` returns.
        weight_decay: the L2 coefficient lambda; each kernel adds lambda * sum(W**2) to the loss.
        mean, std: per-channel statistics on the 0-1 scale, baked into the first layer so images go in
            as raw 0-255 values.

    Returns:
        a functional ``keras.Model``: ``(N, 32, 32, 3)`` float 0-255 -> ``(N, 10)`` logits.
    """
    import keras
    from keras import layers

    reg = keras.regularizers.L2(weight_decay) if weight_decay else None

    def conv(x, filters: int, name: str):
        if not batch_norm:
            return layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_regularizer=reg, name=name)(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=reg, name=name)(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    inputs = keras.Input((32, 32, 3), name="image")
    x = layers.Normalization(
        mean=[255.0 * m for m in mean], variance=[(255.0 * s) ** 2 for s in std], name="normalize"
    )(inputs)
    pools = 0
    for name, filters, pool in _LAYOUT:
        if name.startswith("res"):
            y = conv(x, filters, f"{name}a")
            y = conv(y, filters, f"{name}b")
            x = layers.Add(name=name)([x, y])
        else:
            x = conv(x, filters, name)
        if pool:
            pools += 1
            x = layers.MaxPooling2D(name=f"pool{pools}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(10, kernel_regularizer=reg, name="logits", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="course_cnn")


def fold_batch_norm(trained: keras.Model, weight_decay: float = 2.5e-4) -> keras.Model:
    """Return the deployed model: ``trained`` (built with ``batch_norm=True``) with every
    BatchNormalization folded into the convolution before it.

    BN computes ``gamma * (z - mu) / sqrt(var + eps) + beta`` on the convolution's output ``z = W * x``;
    that is again a convolution, with kernel ``W * s`` and bias ``beta - mu * s`` where
    ``s = gamma / sqrt(var + eps)``. The result is float32 whatever precision ``trained`` used.
    """
    import keras

    norm = trained.get_layer("normalize")
    mean = tuple(float(v) / 255.0 for v in np.ravel(norm.mean))
    std = tuple(float(np.sqrt(v)) / 255.0 for v in np.ravel(norm.variance))
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")  # ship float32 whatever the training used
    try:
        deployed = build_course_cnn(batch_norm=False, weight_decay=weight_decay, mean=mean, std=std)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    for layer in deployed.layers:
        if layer.__class__.__name__ == "Conv2D":
            kernel = np.asarray(trained.get_layer(layer.name).kernel, dtype=np.float64)
            bn = trained.get_layer(f"{layer.name}_bn")
            gamma, beta, mu, var = (
                np.asarray(w, dtype=np.float64) for w in (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance)
            )
            scale = gamma / np.sqrt(var + bn.epsilon)
            layer.set_weights([(kernel * scale).astype(np.float32), (beta - mu * scale).astype(np.float32)])
        elif layer.name == "logits":
            src = trained.get_layer("logits")
            layer.set_weights([np.asarray(w, dtype=np.float32) for w in src.get_weights()])
    return deployed


def any_size(model: keras.Model) -> keras.Model:
    """A copy of a fully convolutional ``model`` that takes images of any size (N, H, W, 3).

    The course model has no Flatten: its convolutions, pooling and GAP work on any size, so the same
    weights classify a 64 x 64 mosaic (notebook 07). The copy shares nothing with ``model``. After the
    weights are copied, preprocessing state is refreshed (an adapted ``Normalization`` keeps its mean and
    variance outside its weights) and the copy is checked against ``model`` on a probe batch of its own
    size: a ValueError if they differ (:func:`course_utils.explain.copies.sized_copy`).
    """
    from .explain.copies import sized_copy

    return sized_copy(model)


def load_course_model(path: str | Path | None = None) -> keras.Model:
    """Load the trained course model shipped with the package (Keras safe mode: no code is loaded).

    Returns a ``keras.Model`` mapping ``(N, 32, 32, 3)`` images with values 0-255 to ``(N, 10)`` logits.
    """
    import keras

    path = Path(path) if path is not None else MODEL_PATH
    if not path.is_file():
        what = "a folder, not a model file" if path.is_dir() else "no trained model there"
        raise ModelNotFoundError(
            f"No trained model at {path} ({what}). The course ships one inside the package; if you removed it, "
            "train it again with `python -m course_utils.train` (see README.md)."
        )
    fix = (
        'reinstall the course (pip install -e ".[lab]") or train the model again with '
        "`python -m course_utils.train` (see README.md)"
        if path == MODEL_PATH
        else "save the model again with model.save(path), or copy the file again"
    )
    if path.suffix == ".keras":
        problem = _keras_file_problem(path)
        if problem:
            raise ModelFileError(
                f"{path} exists ({path.stat().st_size:,} bytes) but is not a readable Keras model file: {problem}. "
                f"A .keras file is a zip archive holding config.json and the weights. To fix it, {fix}."
            )
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 - Keras's own reasons (a layer it refuses in safe mode, missing weights ...)
        reason = f"{type(exc).__name__}: {exc}".strip()[:600]
        raise ModelFileError(
            f"{path} exists but Keras could not load it in safe mode ({reason}). To fix it, {fix}."
        ) from None


def _keras_file_problem(path: Path) -> str:
    """Why ``path`` is not a readable ``.keras`` zip archive, or "" if it looks like one."""
    try:
        if not zipfile.is_zipfile(path):
            return "it is not a zip archive (cut short, or another kind of file)"
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                return f"the zip archive has no config.json (it holds {', '.join(sorted(names)[:5]) or 'nothing'})"
            bad = archive.testzip()
            if bad is not None:
                return f"the zip archive's member {bad} is damaged (its CRC does not match)"
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as exc:
        return f"the zip archive cannot be read ({type(exc).__name__}: {exc})"
    return ""


def load_model_card(path: str | Path | None = None) -> dict:
    """The model card written by ``python -m course_utils.train`` (accuracy, epochs, wall time, ...)."""
    path = Path(path) if path is not None else MODEL_CARD_PATH
    if not path.is_file():
        raise ModelNotFoundError(
            f"No model card at {path}: it is written by `python -m course_utils.train` next to "
            "the model (see README.md)."
        )
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(
            f"The model card {path} is not valid JSON ({exc}): reinstall the course, or train the "
            "model again with `python -m course_utils.train`."
        ) from None
    if not isinstance(card, dict):
        raise ModelFileError(
            f"The model card {path} holds a {type(card).__name__}, not a JSON object: reinstall "
            "the course, or train the model again."
        )
    return card


def data_archive_sha256() -> str | None:
    """The SHA-256 of the CIFAR-10 archive the course model was trained and tested on, from its model card (lower
    case), or ``None`` when there is no readable card or it names no 64-digit digest."""
    try:
        digest = load_model_card().get("data_archive_sha256")
    except (OSError, ValueError):  # ModelNotFoundError, ModelFileError
        return None
    return digest.lower() if isinstance(digest, str) and len(digest) == 64 else None
