"""The pre-class check (python -m course_utils.check): ready here, clear when something is missing, and it
never downloads."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import _data_available
from course_utils import check, data


def _run_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_utils.check"], env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
@pytest.mark.data
def test_says_ready_here_with_the_data():
    if not _data_available():
        pytest.skip("the real CIFAR-10 is not available: set CIFAR10_PATH to cifar-10-python.tar.gz")
    result = _run_check(dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("Python", "packages", "TensorFlow", "CIFAR-10", "course model", "widgets"):
        assert f"  ready      {name}: " in result.stdout, (name, result.stdout)
    assert "10 of 10 test images" in result.stdout
    assert result.stdout.rstrip().endswith("Ready: this computer can run the course.")
    assert result.stderr == "", result.stderr            # TensorFlow's start-up noise stays muted


@pytest.mark.slow
def test_fails_clearly_without_data_and_downloads_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CIFAR10_PATH"}
    env["KERAS_HOME"] = str(tmp_path)
    result = _run_check(env)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "  NOT READY  CIFAR-10: not found (CIFAR10_PATH is not set and Keras's cache is empty)" in out
    assert "this check downloads nothing" in out and "CIFAR10_PATH" in out and "163 MB" in out
    assert "cu.data.find_cifar10()" in out                 # how to get it
    assert "  skipped    course model: needs CIFAR-10" in out
    assert "  ready      TensorFlow: " in out                  # the rest is still checked
    assert out.rstrip().endswith("Not ready: fix CIFAR-10 (see 'fix:'), then run python -m course_utils.check again.")
    datasets = tmp_path / "datasets"                       # Keras writes only its keras.json there
    assert not datasets.exists() or list(datasets.iterdir()) == []


def test_the_data_check_never_downloads(monkeypatch, tmp_path):
    monkeypatch.delenv("CIFAR10_PATH", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    def no_download():
        raise AssertionError("the check must never download")

    monkeypatch.setattr(data.find, "_download", no_download)
    item, source = check.check_data()
    assert source is None and item.status == check.NOT_READY
    assert "CIFAR10_PATH" in item.fix and check.ARCHIVE_SIZE in item.fix


def test_an_archive_with_the_wrong_checksum_is_not_ready(monkeypatch, tmp_path):
    fake = tmp_path / "cifar-10-python.tar.gz"
    fake.write_bytes(b"not the archive")
    monkeypatch.setenv("CIFAR10_PATH", str(fake))
    item, _ = check.check_data()
    assert item.status == check.NOT_READY
    assert "SHA-256" in item.message and "neither the model card's nor the official" in item.message
    assert item.fix.startswith("delete it, then get CIFAR-10")


class _FakeDist:
    def __init__(self, requires_python: str, requires: list[str]):
        self.metadata = {"Requires-Python": requires_python}
        self.requires = requires


def test_versions_are_read_from_the_package_metadata():
    dist = check._distribution()
    assert dist is not None, "course_utils is not installed (pip install -e .)"
    floors = {r.name: str(r.specifier) for r in check._requirements(dist)}
    assert "tensorflow" in floors and "numpy" in floors and "pytest" not in floors   # extras are left out
    assert check.check_python(dist).ok and check.check_packages(dist).ok


def test_a_python_outside_the_range_is_not_ready():
    item = check.check_python(_FakeDist(">=3.10,<3.11" if sys.version_info >= (3, 11) else ">=3.11", []))
    assert item.status == check.NOT_READY and "the course needs Python" in item.message
    assert "README.md" in item.fix


def test_an_old_or_missing_package_is_named_with_its_floor():
    dist = _FakeDist(">=3.10", ["numpy>=1.26", "pillow>=10", "tensorflow>=2.16", 'pytest>=8; extra == "test"'])

    def version(name):
        if name == "pillow":
            raise check.metadata.PackageNotFoundError(name)
        return {"numpy": "1.25.2", "tensorflow": "2.21.0"}[name]

    item = check.check_packages(dist, version=version)
    assert item.status == check.NOT_READY
    assert "numpy 1.25.2 is installed (needs numpy>=1.26)" in item.message
    assert "pillow is not installed (needs pillow>=10)" in item.message
    assert "tensorflow" not in item.message and "pytest" not in item.message
    assert 'pip install -e ".[lab]"' in item.fix


def test_jupyterlab_without_the_widgets_extension_is_not_ready(tmp_path):
    try:
        check.metadata.version("jupyterlab")
    except check.metadata.PackageNotFoundError:
        pytest.skip("JupyterLab is not installed here")
    item = check.check_widgets(labextension_dirs=[tmp_path])
    assert item.status == check.NOT_READY and "jupyterlab_widgets" in item.fix
    assert check.check_widgets().ok


def test_report_and_exit_status(monkeypatch, capsys):
    good = check.Item("Python", check.READY, "fine")
    bad = check.Item("CIFAR-10", check.NOT_READY, "not found", "get it\nin one of two ways")
    assert bad.line().splitlines() == ["  NOT READY  CIFAR-10: not found", "             fix: get it",
                                       "                  in one of two ways"]
    monkeypatch.setattr(check, "run_checks", lambda: [good, bad])
    assert check.main([]) == 1
    assert "Not ready: fix CIFAR-10" in capsys.readouterr().out
    monkeypatch.setattr(check, "run_checks", lambda: [good])
    assert check.main([]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Ready: this computer can run the course."


# ---------------------------------------------------------------- issue 19: never "Ready" for data that does not load

def _tiny_folder(root, files: dict[str, bytes]):
    import pickle

    folder = root / data.FOLDER
    folder.mkdir(parents=True)
    meta = {b"label_names": [n.encode() for n in data.CLASS_NAMES], b"num_vis": 3072}
    for name, raw in {data.META: pickle.dumps(meta, protocol=4), **files}.items():
        (folder / name).write_bytes(raw)
    return folder


def _good_batch() -> bytes:
    import pickle

    import numpy as np

    rows = np.arange(10000 * 3072, dtype=np.uint32).astype(np.uint8).reshape(10000, 3072)
    return pickle.dumps({b"data": rows, b"labels": [i % 10 for i in range(10000)]}, protocol=4)


def test_a_folder_with_missing_training_batches_is_not_ready(monkeypatch, tmp_path):
    folder = _tiny_folder(tmp_path, {data.TEST_BATCH: _good_batch()})
    monkeypatch.setenv("CIFAR10_PATH", str(folder))
    item, _ = check.check_data()
    assert item.status == check.NOT_READY, item.line()
    assert "does not load" in item.message and "data_batch_1 is missing" in item.message
    assert item.fix.startswith("delete it, then get CIFAR-10")


def test_a_folder_with_a_corrupt_training_batch_is_not_ready(monkeypatch, tmp_path):
    good = _good_batch()
    files = {name: good for name in (*data.TRAIN_BATCHES, data.TEST_BATCH)}
    files["data_batch_3"] = good[:5000]
    monkeypatch.setenv("CIFAR10_PATH", str(_tiny_folder(tmp_path, files)))
    item, _ = check.check_data()
    assert item.status == check.NOT_READY and "data_batch_3 is corrupt or truncated" in item.message, item.line()
    files["data_batch_3"] = good
    monkeypatch.setenv("CIFAR10_PATH", str(_tiny_folder(tmp_path / "ok", files)))
    item, _ = check.check_data()
    assert item.ok and "six batches and batches.meta load" in item.message, item.line()


def test_an_archive_with_the_right_checksum_but_missing_batches_is_not_ready(monkeypatch, tmp_path):
    import hashlib
    import tarfile

    folder = _tiny_folder(tmp_path / "f", {data.TEST_BATCH: _good_batch()})
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=data.FOLDER)
    monkeypatch.setattr(data, "CIFAR10_SHA256", hashlib.sha256(archive.read_bytes()).hexdigest())
    monkeypatch.setenv("CIFAR10_PATH", str(archive))
    item, _ = check.check_data()
    assert item.status == check.NOT_READY and "does not contain data_batch_1" in item.message, item.line()
