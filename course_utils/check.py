"""The pre-class check: is this computer ready for the course?

    python -m course_utils.check          # one line per item, "ready" or what to fix

It checks, in order: the Python version and the installed packages against what the course declares
(read from the installed package's own metadata, so there is one list of versions: ``pyproject.toml``),
that TensorFlow imports and runs, that CIFAR-10 is found (and that its archive's SHA-256 is the model
card's or the official one, and that all six batches and ``batches.meta`` load with the right shapes), that
the course model loads and labels one test image of each class
correctly, and that the ipywidgets front end is installed. It exits with status 0 when every item is
ready and 1 otherwise.

It never downloads anything: when the data is missing it says how to get it. In a notebook,
``cu.check.run()`` prints the same report and returns True when ready.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TextIO

__all__ = [
    "ARCHIVE_SIZE",
    "Item",
    "check_data",
    "check_model",
    "check_packages",
    "check_python",
    "check_tensorflow",
    "check_widgets",
    "main",
    "report",
    "run",
    "run_checks",
]

DIST = "course_utils"
#: The size the CIFAR-10 page gives for the "python version" archive.
ARCHIVE_SIZE = "163 MB"

READY, NOT_READY, SKIPPED = "ready", "NOT READY", "skipped"

GET_DATA = (
    "get CIFAR-10 (this check downloads nothing), in one of two ways:\n"
    "- from a copy (a USB stick, a shared folder): set CIFAR10_PATH to its cifar-10-python.tar.gz\n"
    "  (README.md, 'An offline classroom');\n"
    f"- from the internet, once ({ARCHIVE_SIZE}): run notebook 00, or\n"
    '  python -c "import course_utils as cu; cu.data.find_cifar10()"'
)


@dataclass
class Item:
    """One line of the report. ``status``: 'ready', 'NOT READY' or 'skipped'; ``fix``: what to do."""

    name: str
    status: str
    message: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status == READY

    def line(self) -> str:
        """``  status     name: message``, then the fix (if any) indented under it."""
        text = f"  {self.status:<10} {self.name}: {self.message}"
        if self.fix:
            text += "\n" + "\n".join(
                f"{'':<13}{'fix: ' if i == 0 else '     '}{part}" for i, part in enumerate(self.fix.splitlines())
            )
        return text


# --------------------------------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------------------------------


def _distribution():
    """The installed course_utils distribution. An ``.egg-info`` folder left in the course folder by an
    old install may shadow the real one when Python runs from there, so a ``.dist-info`` is preferred."""
    found = list(metadata.distributions(name=DIST))
    if not found:
        return None
    return next((d for d in found if str(getattr(d, "_path", "")).endswith(".dist-info")), found[0])


def _requirements(dist) -> list:
    """The dependencies that apply to this computer (no extras), as ``packaging`` Requirements."""
    from packaging.requirements import Requirement

    out = []
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(req)
    return out


def check_python(dist: metadata.Distribution | None = None) -> Item:
    """Python's version against the ``Requires-Python`` the package declares."""
    from packaging.specifiers import SpecifierSet

    dist = dist or _distribution()
    here = platform.python_version()
    if dist is None:
        return Item(
            "Python",
            SKIPPED,
            "course_utils is not installed, so its needs are unknown",
            'in the course folder, run: pip install -e ".[lab]"',
        )
    # an email.message.Message, which has get(); typeshed's PackageMetadata for 3.11 does not say so
    spec = SpecifierSet(dist.metadata.get("Requires-Python") or "")  # type: ignore[union-attr]
    if spec.contains(here, prereleases=True):
        return Item("Python", READY, "a version the course supports")
    return Item(
        "Python",
        NOT_READY,
        f"Python {here} is installed; the course needs Python {spec}",
        "install a Python in that range (python.org or conda), make a new environment with it and "
        "install the course again (README.md, 'Setup')",
    )


def check_packages(dist: metadata.Distribution | None = None, version: Callable[[str], str] = metadata.version) -> Item:
    """Each dependency is installed, at a version its floor (and any ceiling) allows.

    ``version``: how to look up an installed version (a parameter so that tests can pretend).
    """
    dist = dist or _distribution()
    if dist is None:
        return Item(
            "packages",
            NOT_READY,
            "course_utils is not installed in this Python",
            "in the course folder, run: pip install -e \".[lab]\" (README.md, 'Setup')",
        )
    wrong = []
    for req in _requirements(dist):
        try:
            installed = version(req.name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{req.name} is not installed (needs {req})")
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            wrong.append(f"{req.name} {installed} is installed (needs {req})")
    if wrong:
        return Item(
            "packages",
            NOT_READY,
            "; ".join(wrong),
            'in the course folder, run: pip install -e ".[lab]" (it installs the versions the course '
            "needs); on an Intel Mac or Python outside 3.11-3.13 see README.md, 'Setup'",
        )
    return Item("packages", READY, "every package the course needs is installed, at a version it allows")


# --------------------------------------------------------------------------------------------------
# TensorFlow, data, model
# --------------------------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:240]


def check_tensorflow() -> Item:
    """TensorFlow imports and runs one operation."""
    from . import _import_tensorflow_quietly, _quiet_tensorflow

    try:
        _quiet_tensorflow()
        _import_tensorflow_quietly()
        import tensorflow as tf

        value = float(tf.reduce_sum(tf.constant([1.0, 2.0])))
    except Exception as exc:  # noqa: BLE001 - ImportError, a DLL that fails to load, an illegal instruction is not caught
        return Item(
            "TensorFlow",
            NOT_READY,
            f"does not import ({_first_line(exc)})",
            'pip install --force-reinstall "tensorflow>=2.18" in this environment; TensorFlow has '
            "wheels for Python 3.10-3.13 only; the course needs 3.11-3.13 (README.md, 'Setup')",
        )
    if value != 3.0:
        return Item("TensorFlow", NOT_READY, f"1 + 2 gave {value}", "reinstall TensorFlow")
    return Item("TensorFlow", READY, "imports and runs an operation")


def _card_sha256() -> str | None:
    from . import models

    return models.data_archive_sha256()


# long: one branch per way the data can be missing, damaged or unverified, each with its own advice
def check_data() -> tuple[Item, Path | None]:
    """CIFAR-10 is found without downloading; an archive's SHA-256 is the model card's or the official one;
    all six batches and ``batches.meta`` load with the right shapes (:func:`course_utils.data.verify_cifar10`).

    Returns the item and where the data is (None when it is not found).
    """
    from . import data
    from .files import sha256

    try:
        source = data.find_cifar10(download=False)
    except data.CIFAR10DataError as err:
        message = str(err).splitlines()[0].replace("CIFAR-10 was not found", "not found", 1)
        return Item("CIFAR-10", NOT_READY, message, GET_DATA), None
    if source.is_dir():
        ready = Item(
            "CIFAR-10",
            READY,
            "found, as an extracted folder whose six batches and batches.meta load "
            "with the right shapes (no archive to compare with the model card's SHA-256)",
        )
    else:
        try:
            digest = sha256(source)
        except OSError as exc:
            return Item(
                "CIFAR-10",
                NOT_READY,
                f"{source} cannot be read ({exc.strerror or exc})",
                "check its permissions, or " + GET_DATA,
            ), source
        if digest == _card_sha256():
            ready = Item(
                "CIFAR-10",
                READY,
                "found, and its SHA-256 is the model card's (the archive the course model was tested on)",
            )
        elif digest == data.CIFAR10_SHA256:
            ready = Item(
                "CIFAR-10",
                READY,
                "found: the official archive (its SHA-256 is the one Keras checks; the "
                "model card's is a lossless rebuild with the same images)",
            )
        else:
            return (
                Item(
                    "CIFAR-10",
                    NOT_READY,
                    f"the archive's SHA-256 starts {digest[:12]}, neither the model "
                    "card's nor the official archive's: it is damaged, cut short or another file",
                    "delete it, then " + GET_DATA,
                ),
                source,
            )
    try:
        data.verify_cifar10(source)
    except data.CIFAR10DataError as err:
        return (
            Item(
                "CIFAR-10",
                NOT_READY,
                "found, but it does not load: " + str(err).splitlines()[0][:400],
                "delete it, then " + GET_DATA,
            ),
            source,
        )
    return ready, source


def check_model(source: Path | None, tensorflow_ok: bool = True) -> Item:
    """The course model loads and labels the first test image of each class correctly."""
    import numpy as np

    from . import data, models

    if not tensorflow_ok:
        return Item("course model", SKIPPED, "needs TensorFlow (see above)")
    if source is None:
        return Item("course model", SKIPPED, "needs CIFAR-10 to score test images (see above)")
    try:
        model = models.load_course_model()
        batch = data.load_raw_batch(data.TEST_BATCH, source)
        images = data.rows_to_images(batch[b"data"])
        labels = np.asarray(batch[b"labels"])
        first = [int(np.flatnonzero(labels == c)[0]) for c in range(10)]
        guesses = model(images[first].astype("float32"), training=False).numpy().argmax(axis=1)
    except Exception as exc:  # noqa: BLE001 - any failure of the model or the data is a NOT READY line
        return Item(
            "course model",
            NOT_READY,
            f"could not load or run ({_first_line(exc)})",
            'reinstall the course (pip install -e ".[lab]"); if CIFAR-10 is the cause, get it again',
        )
    right = int((guesses == labels[first]).sum())
    if right < len(first):
        wrong = [data.CLASS_NAMES[c] for c in range(10) if guesses[c] != c]
        return Item(
            "course model",
            NOT_READY,
            f"labels only {right} of {len(first)} test images (one per class) correctly; wrong: {', '.join(wrong)}",
            "the model file or the data is not the course's: reinstall the course and get CIFAR-10 again",
        )
    return Item(
        "course model", READY, f"loads and labels {right} of {len(first)} test images (one per class) correctly"
    )


# --------------------------------------------------------------------------------------------------
# The widgets' front end
# --------------------------------------------------------------------------------------------------


def _labextension_dirs() -> list[Path]:
    try:
        from jupyter_core.paths import jupyter_path
    except ImportError:
        return [Path(sys.prefix) / "share" / "jupyter" / "labextensions"]
    return [Path(p) for p in jupyter_path("labextensions")]


def check_widgets(labextension_dirs: list[Path] | None = None) -> Item:
    """ipywidgets is importable, and where JupyterLab is installed, its widgets extension is too."""
    try:
        import ipywidgets
    except ImportError as exc:
        return Item(
            "widgets",
            NOT_READY,
            f"ipywidgets does not import ({_first_line(exc)})",
            'pip install -e ".[lab]" in the course folder',
        )
    try:
        metadata.version("jupyterlab")
    except metadata.PackageNotFoundError:
        return Item(
            "widgets",
            READY,
            "ipywidgets is installed; JupyterLab is not, which is right in VS Code or "
            'Colab (their front end is built in); for JupyterLab: pip install -e ".[lab]"',
        )
    for folder in labextension_dirs if labextension_dirs is not None else _labextension_dirs():
        package = folder / "@jupyter-widgets" / "jupyterlab-manager" / "package.json"
        if package.is_file():
            try:
                major = int(json.loads(package.read_text(encoding="utf-8"))["version"].split(".")[0])
            except (OSError, ValueError, KeyError):
                major = 0
            if int(ipywidgets.__version__.split(".")[0]) >= 8 and major < 5:
                return Item(
                    "widgets",
                    NOT_READY,
                    "JupyterLab's widgets extension is older than ipywidgets 8 (the sliders would not show)",
                    "pip install -U jupyterlab_widgets",
                )
            return Item("widgets", READY, "the ipywidgets front end for JupyterLab is installed")
    return Item(
        "widgets",
        NOT_READY,
        "JupyterLab is installed but its widgets extension is not (the sliders would show as text)",
        "pip install jupyterlab_widgets, then restart JupyterLab",
    )


# --------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------


def run_checks() -> list[Item]:
    """Every item of the check, in order. Never downloads anything."""
    dist = _distribution()
    items = [check_python(dist), check_packages(dist)]
    tensorflow = check_tensorflow()
    data_item, source = check_data()
    items += [tensorflow, data_item, check_model(source if data_item.ok else None, tensorflow.ok), check_widgets()]
    return items


def report(items: list[Item]) -> str:
    """The report's text: one line per item (with a fix under each one that is not ready), then a verdict."""
    lines = ["Pre-class check of the course (python -m course_utils.check):"]
    lines += [item.line() for item in items]
    bad = [item.name for item in items if item.status == NOT_READY]
    if all(item.ok for item in items):
        lines.append("Ready: this computer can run the course.")
    else:
        lines.append(
            f"Not ready: fix {', '.join(bad) or 'the items above'} (see 'fix:'), "
            "then run python -m course_utils.check again."
        )
    return "\n".join(lines)


def run(file: TextIO | None = None) -> bool:
    """Run the check, print the report (to ``file``, default stdout) and return True when ready."""
    items = run_checks()
    print(report(items), file=file or sys.stdout, flush=True)
    return all(item.ok for item in items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.check", description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return 0 if run() else 1


if __name__ == "__main__":
    sys.exit(main())
