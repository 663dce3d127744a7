"""course_utils: the shared, tested code of the course "How convolutional networks explain their decisions".

    import course_utils as cu
    cu.setup()                                   # seeds, determinism, quiet logs, plot defaults
    cu.setup(projector=True)                     # the same, with larger fonts and figures for a projector
    (x_train, y_train), (x_test, y_test) = cu.data.load_cifar10()
    model = cu.models.load_course_model()
    maps = cu.explain.GradCAM(model)(x_test[:8])

Submodules are imported on first use, so ``cu.data`` works without loading TensorFlow.
"""

from __future__ import annotations

import importlib
import os
import platform

__version__ = "0.2.0"

_SUBMODULES = (
    "data",
    "images",
    "models",
    "explain",
    "metrics",
    "saliency",
    "viz",
    "widgets",
    "exercises",
    "train",
    "notebooks",
    "check",
    "evaluation",
    "validation",
    "files",
)
__all__ = ["setup", "versions", "__version__", *_SUBMODULES]  # noqa: PLE0604 - _SUBMODULES holds only strings

#: The seed every notebook starts from.
SEED = 42


def __getattr__(name: str):
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'course_utils' has no attribute {name!r}")


def _quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ and Python logging before (or after) it is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging
    import warnings

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="keras")
    warnings.filterwarnings("ignore", category=UserWarning, module="keras")
    try:  # absl writes "WARNING: All log messages before absl::InitializeLog()..." otherwise
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover
        pass


#: True once :func:`_import_tensorflow_quietly` has imported TensorFlow with its start-up messages muted.
_TF_MUTED = False


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 pointed at /dev/null.

    TensorFlow's C++ start-up messages ("All log messages before absl::InitializeLog()", "oneDNN custom
    operations are on", "Could not find cuda drivers") are written straight to the process's stderr and
    ignore TF_CPP_MIN_LOG_LEVEL. In a Jupyter kernel they then land in whichever cell happens to run when
    they are flushed, which breaks nbval. Only this import and the device discovery are muted; Python's
    own warnings go through sys.stderr and stay visible.
    """
    import sys

    global _TF_MUTED
    if "tensorflow" in sys.modules and _TF_MUTED:
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):  # no real fd 2: nothing to mute
        import tensorflow as tf

        tf.config.list_physical_devices()
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()
        tf.constant(1.0) + 1.0  # the first op initialises oneDNN, which logs too
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    _TF_MUTED = True


def versions() -> dict[str, str]:
    """The versions that matter for reproducing the course's outputs."""
    import keras
    import matplotlib
    import numpy
    import tensorflow as tf

    return {
        "course_utils": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "matplotlib": matplotlib.__version__,
    }


def setup(seed: int = SEED, quiet: bool = False, projector: bool | None = None) -> dict[str, str]:
    """The one call at the top of every notebook, best made before TensorFlow or Keras is imported.

    - seeds Python, numpy and TensorFlow (``keras.utils.set_random_seed``) and turns on
      TensorFlow's op determinism, so the same cell gives the same numbers on every run;
    - silences TensorFlow's log messages (nothing on stderr for nbval to compare);
    - sets the course's matplotlib defaults (see :mod:`course_utils.viz`); ``projector=True`` makes the
      fonts larger and the figures sharper (120 dpi instead of 72) for a room that reads them on a projector.
      ``None`` (the default) reads the environment variable ``COURSE_PROJECTOR``: a teacher who starts
      JupyterLab with ``COURSE_PROJECTOR=1`` gets projector figures in every notebook without editing one;
    - prints one line of versions (unless ``quiet``) and returns them.
    """
    _quiet_tensorflow()
    _import_tensorflow_quietly()
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # e.g. retracing notes when a notebook builds many explainers
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    from . import viz

    if projector is None:
        projector = os.environ.get("COURSE_PROJECTOR", "").strip().lower() not in ("", "0", "false", "no")
    viz.set_style(projector=projector)
    info = versions()
    if not quiet:
        print(
            f"course_utils {info['course_utils']} | Python {info['python']} | TensorFlow {info['tensorflow']}"
            f" | Keras {info['keras']} | NumPy {info['numpy']} | seed {seed}" + (" | projector" if projector else "")
        )
    return info
