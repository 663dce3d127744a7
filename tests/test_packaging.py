"""pyproject.toml holds the one list of versions; environment.yml, README.md and .ci/run agree with it."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_pyproject_declares_the_course_dependencies():
    project = _pyproject()["project"]
    assert project["name"] == "course_utils" and project["requires-python"] == ">=3.10"
    names = {re.split(r"[<>=!~\[ ]", d)[0].lower() for d in project["dependencies"]}
    assert {"tensorflow", "numpy", "matplotlib", "ipywidgets", "jupyterlab"} <= names
    deps = " ".join(project["dependencies"])
    assert "tensorflow>=2.16" in deps and "ipywidgets>=8" in deps and "jupyterlab>=4" in deps
    test = {re.split(r"[<>=!~ ]", d)[0].lower() for d in project["optional-dependencies"]["test"]}
    assert {"pytest", "nbval"} <= test


def test_environment_yml_agrees_with_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    major, minor = map(int, python.split("=")[1].split(".")[:2])
    lowest = tuple(map(int, _pyproject()["project"]["requires-python"].lstrip(">=").split(".")))
    assert (major, minor) >= lowest
    assert "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    # it installs this package with its test extra, and repeats no version of its own
    assert pip == ['-e ".[test]"']
    extras = _pyproject()["project"]["optional-dependencies"]
    assert "test" in extras


def _readme_block(marker: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    after = text.split(f"<!-- {marker} -->", 1)[1]
    block = after.split("```", 2)[1]
    return [line for line in block.splitlines()[1:] if line.strip()]


def test_readme_has_the_two_commands():
    (open_cmd,) = _readme_block("open-command")
    (test_cmd,) = _readme_block("test-command")
    assert "pip install -e ." in open_cmd and "jupyter lab" in open_cmd
    assert 'pip install -e ".[test]"' in test_cmd and "pytest --nbval notebooks tests" in test_cmd


def test_readme_course_map_lists_every_notebook():
    text = (ROOT / "README.md").read_text()
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert f"`{nb.name}`" in text, f"README.md's course map misses {nb.name}"


def test_ci_runs_the_readme_command_with_the_real_data():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci and "CIFAR10_PATH" in ci and "shared/data/cifar-10-python.tar.gz" in ci
