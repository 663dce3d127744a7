"""pyproject.toml holds the floors, constraints.txt the tested versions; environment.yml, README.md and
.ci/run agree with them."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from course_utils.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def test_pyproject_declares_the_course_dependencies():
    project = _pyproject()["project"]
    assert project["name"] == "course_utils"
    names = {re.split(r"[<>=!~\[ ]", d)[0].lower() for d in project["dependencies"]}
    assert {"tensorflow", "keras", "numpy", "matplotlib", "ipywidgets"} <= names
    deps = " ".join(project["dependencies"])
    assert "ipywidgets>=8" in deps
    extras = project["optional-dependencies"]
    assert "jupyterlab>=4" in extras["lab"] and "jupyterlab>=4" in extras["test"]
    test = {re.split(r"[<>=!~ \[]", d)[0].lower() for d in extras["test"]}
    assert {"pytest", "nbval", "pyyaml"} <= test


def test_floors_match_what_the_code_needs():
    """Issue 11, item 4: the floors the code needs (each failed before the fix)."""
    project = _pyproject()["project"]
    # tests import tomllib (3.11); TensorFlow has wheels for 3.10-3.13 only
    assert SpecifierSet(project["requires-python"]) == SpecifierSet(">=3.11,<3.14")
    floors = {Requirement(d).name.lower(): Requirement(d).specifier for d in project["dependencies"]}
    assert floors["keras"] == SpecifierSet(">=3.14")          # the last of Keras's safe-mode loading fixes
    assert floors["numpy"] == SpecifierSet(">=2")             # numpy 1.26 excluded on purpose (README, Setup)
    assert floors["tensorflow"] == SpecifierSet(">=2.18")     # the first TensorFlow built for numpy 2
    # HEIC photos: an optional extra, which the test extra pulls in so the tests open a real HEIC
    extras = project["optional-dependencies"]
    assert any(Requirement(d).name == "pillow-heif" for d in extras["heic"])
    assert "course_utils[heic]" in extras["test"]
    # the website's tools: an extra of their own, which the test extra pulls in so that CI builds the site
    site = {Requirement(d).name.lower() for d in extras["site"]}
    assert {"sphinx", "myst-nb", "sphinx-book-theme", "jupyter-server-mathjax"} <= site
    assert "course_utils[site]" in extras["test"]
    # the app's server: an extra of its own, in the test extra so that tests/test_app.py serves the app
    assert [Requirement(d).name for d in extras["app"]] == ["voila"]
    assert "course_utils[app]" in extras["test"]


def test_constraints_pin_versions_that_the_floors_allow():
    """constraints.txt (pip freeze of the environment the suite passed in) pins every dependency exactly,
    never the course itself, and at versions that satisfy pyproject.toml's floors."""
    pins = _constraints()
    assert "course-utils" not in pins and all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", v) for v in pins.values())
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    for text in project["dependencies"] + extras["test"] + extras["heic"] + extras["lab"] + extras["site"] + extras["app"] + extras["hub"]:
        req = Requirement(text)
        if req.name == "course_utils":
            continue
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"constraints.txt does not pin {req.name}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} breaks {req}"


def test_environment_yml_agrees_with_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python"))
    version = python.split("=")[1]
    assert SpecifierSet(_pyproject()["project"]["requires-python"]).contains(version + ".0")
    assert "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    # it installs this package with its test extra and the tested versions, and repeats no version of its own
    assert pip == ['-e ".[test]"', "-c constraints.txt"]
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
    assert "pip install -e " in open_cmd and "jupyter lab" in open_cmd
    assert 'pip install -e ".[test]" -c constraints.txt' in test_cmd and "pytest --nbval notebooks tests" in test_cmd


def test_readme_has_the_site_command():
    (site_cmd,) = _readme_block("site-command")
    assert 'pip install -e ".[site]"' in site_cmd and "python -m course_utils.site" in site_cmd
    section = (ROOT / "README.md").read_text().split("## The course as a website", 1)[1].split("\n## ", 1)[0]
    # publishing is .github/workflows/pages.yml, which cannot run where the course is built, and README says so
    assert ".github/workflows/pages.yml" in section and "cannot run here" in section
    assert "_site/" in (ROOT / ".gitignore").read_text().split()


def test_readme_says_how_to_test_against_the_newest_versions():
    text = (ROOT / "README.md").read_text()
    note = text.split("**Testing against the newest versions**", 1)[1].split("\n\n", 1)[0]
    assert 'pip install -U -e ".[test]"' in note and "constraints.txt" not in note.split("pytest")[0]
    assert "CI_NEWEST=1 bash .ci/run" in note


def test_readme_course_map_lists_every_notebook():
    text = (ROOT / "README.md").read_text()
    for nb in course_notebooks(ROOT / "notebooks"):
        assert f"`{nb.name}`" in text, f"README.md's course map misses {nb.name}"


def test_ci_runs_the_readme_command_with_the_real_data():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci and "CIFAR10_PATH" in ci and "shared/data/cifar-10-python.tar.gz" in ci
    # it refuses a README command that lost the constraints, and CI_NEWEST=1 drops them on purpose
    assert '*"-c constraints.txt"*' in ci and "CI_NEWEST" in ci


def _workflow(name: str) -> dict:
    data = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))   # YAML 1.1 reads the key `on` as True
    return data


def _run_lines(job: dict) -> list[str]:
    return [line.strip() for step in job["steps"] for line in step.get("run", "").splitlines()]


def _supported_pythons() -> list[str]:
    spec = SpecifierSet(_pyproject()["project"]["requires-python"])
    return [f"3.{minor}" for minor in range(8, 20) if spec.contains(f"3.{minor}.5")]


def test_the_tests_workflow_runs_the_readme_command_on_every_system_and_python():
    """.github/workflows/tests.yml: Linux, Windows and macOS on Apple Silicon, times every Python that
    pyproject.toml allows, each running .ci/run (README's test command) with the real CIFAR-10 and a Chromium."""
    wf = _workflow("tests.yml")
    assert "push" in wf["on"] and "pull_request" in wf["on"]
    (job,) = wf["jobs"].values()
    matrix = job["strategy"]["matrix"]
    assert set(matrix["os"]) == {"ubuntu-latest", "windows-latest", "macos-14"}   # macos-14: arm64
    assert matrix["python"] == _supported_pythons() == ["3.11", "3.12", "3.13"]
    assert job["strategy"]["fail-fast"] is False and job["defaults"]["run"]["shell"] == "bash"
    steps = job["steps"]
    cifar = next(i for i, step in enumerate(steps) if step.get("uses") == "./.github/actions/cifar10")
    tests = next(i for i, step in enumerate(steps) if step.get("run", "").strip() == "bash .ci/run")
    assert cifar < tests, "CIFAR-10 must be there before the tests run"
    setup = next(step for step in job["steps"] if step.get("uses", "").startswith("actions/setup-python@"))
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    assert any("CHROMIUM_PATH" in line for line in _run_lines(job))
    # .ci/run runs README's command, and on Windows only swaps in the venv's Scripts folder and `python`
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and ".venv/Scripts/activate" in ci and 'bash -euo pipefail -c "$cmd"' in ci


def test_the_pages_workflow_builds_the_site_with_the_readme_command_and_publishes_it():
    wf = _workflow("pages.yml")
    assert wf["permissions"]["pages"] == "write" and wf["permissions"]["id-token"] == "write"
    build, deploy = wf["jobs"]["build"], wf["jobs"]["deploy"]
    (site_cmd,) = _readme_block("site-command")
    runs = _run_lines(build)
    assert "python -m course_utils.site" in site_cmd and "python -m course_utils.site" in runs
    assert any('pip install -e ".[site]" -c constraints.txt' in line for line in runs)
    uses = [step.get("uses", "") for step in build["steps"]]
    assert "./.github/actions/cifar10" in uses   # the live explorers' maps need the real test images
    upload = next(step for step in build["steps"] if step.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_site"
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any(step.get("uses", "").startswith("actions/deploy-pages@") for step in deploy["steps"])


def test_the_workflows_fetch_the_official_cifar10_and_check_it():
    """The composite action downloads the file course_utils.data knows, with the same SHA-256."""
    from course_utils.data import constants

    action = yaml.safe_load((ROOT / ".github" / "actions" / "cifar10" / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    cache, fetch = action["runs"]["steps"]
    assert cache["uses"].startswith("actions/cache@") and "cifar-10-python.tar.gz" in cache["with"]["key"]
    script = fetch["run"]
    assert f'URL = "{constants.CIFAR10_URL}"' in script and f'SHA256 = "{constants.CIFAR10_SHA256}"' in script
    assert "GITHUB_ENV" in script and "CIFAR10_PATH=" in script
    # the script itself is valid Python
    compile(script, "action.yml", "exec")


def test_readme_says_the_workflows_cannot_run_here():
    text = (ROOT / "README.md").read_text()
    for name in ("tests.yml", "pages.yml"):
        assert f".github/workflows/{name}" in text, name
    assert "cannot run here" in text
