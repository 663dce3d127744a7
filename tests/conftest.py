"""Shared fixtures. Tests that need the real CIFAR-10 are marked ``data`` and skip, saying why, when
neither CIFAR10_PATH nor Keras's cache holds it. The course-model, explainer and widget tests use
``test_images``: 16 real test images when the data set is there, otherwise 16 random images (smooth
colour blobs, whole numbers 0-255, fixed seed), so a fresh clone still runs them."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from hypothesis import settings

# The property-based tests (tests/test_hostile_*.py): the same examples on every run in CI ("ci", derandomized, so
# a red run is reproducible and a green one stays green); HYPOTHESIS_PROFILE=explore draws new random examples, ten
# times as many, to look for new failures before a release.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _data_available() -> bool:
    from course_utils import data

    try:
        data.find_cifar10(download=False)
        return True
    except data.CIFAR10DataError:
        return False


@pytest.fixture(scope="session")
def cifar10():
    if not _data_available():
        pytest.skip("the real CIFAR-10 is not available: set CIFAR10_PATH to cifar-10-python.tar.gz")
    from course_utils import data

    return data.load_cifar10()


@pytest.fixture(scope="session")
def course_model():
    import course_utils as cu

    cu.setup(quiet=True)
    return cu.models.load_course_model()


def random_images(n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random 32 x 32 images with structure a CNN responds to (a few smooth colour blobs on a
    background, plus a little noise), whole numbers in 0-255, and random labels 0-9."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32]
    images = np.empty((n, 32, 32, 3), np.float32)
    for i in range(n):
        img = np.broadcast_to(rng.uniform(0, 255, 3), (32, 32, 3)).copy()
        for _ in range(rng.integers(2, 5)):
            cy, cx, r = rng.uniform(4, 28), rng.uniform(4, 28), rng.uniform(3, 9)
            blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r ** 2))[..., None]
            img = img * (1 - blob) + blob * rng.uniform(0, 255, 3)
        images[i] = np.clip(np.round(img + rng.normal(0, 8, img.shape)), 0, 255)
    return images, rng.integers(0, 10, n)


@pytest.fixture(scope="session")
def test_images():
    """(x, y): 16 CIFAR-10 test images (float32, 0-255) and labels, or random ones without the data set."""
    if not _data_available():
        return random_images()
    from course_utils import data

    (_, _), (x_test, y_test) = data.load_cifar10()
    return x_test[:16].astype(np.float32), y_test[:16]
