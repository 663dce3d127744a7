"""Shared fixtures. Tests that need the real CIFAR-10 are marked ``data`` and skip, saying why, when
neither CIFAR10_PATH nor Keras's cache holds it."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest


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


@pytest.fixture(scope="session")
def test_images(cifar10):
    (_, _), (x_test, y_test) = cifar10
    return x_test[:16].astype(np.float32), y_test[:16]
