"""Student copies: every exercise has a solution, and the copies are valid notebooks that run up to the
first stub."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_utils import student

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _tags(cell):
    return cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_a_solution_and_a_checker(path):
    nb = nbformat.read(path, as_version=4)
    turns = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "markdown" and re.search(r"^#+ Your turn", c.source, re.MULTILINE)]
    solutions = [i for i, c in enumerate(nb.cells) if "solution" in _tags(c)]
    if path.name.startswith("00"):
        assert not turns
        return
    assert len(turns) >= 2, f"{path.name} has {len(turns)} exercises"
    assert len(solutions) == len(turns)
    for t in turns:
        sol = next(i for i in solutions if i > t)
        checker = next(c for c in nb.cells[sol + 1:] if c.cell_type == "code")
        assert "cu.exercises.check_" in checker.source, f"{path.name}: no checker after the solution in cell {sol}"


def test_stub_source():
    src = "# Your turn: compute it\nship = names.index('ship')\nmy_cam = np.einsum('ijk,k->ij', A, W[:, ship])"
    assert student.stub_source(src) == "# Your turn: compute it\nship = names.index('ship')\nmy_cam = ...  # your code here"


def test_student_copies_are_valid_and_run_up_to_the_first_stub(tmp_path, cifar10):
    from nbclient import NotebookClient

    student.main(["--notebooks", str(ROOT / "notebooks"), "--out", str(tmp_path)])
    for src in NOTEBOOKS:
        copy = nbformat.read(tmp_path / src.name, as_version=4)
        nbformat.validate(copy)
        assert all(not c.get("outputs") for c in copy.cells if c.cell_type == "code")
        assert not any("solution" in _tags(c) for c in copy.cells)
        stubs = [i for i, c in enumerate(copy.cells) if "exercise" in _tags(c)]
        if not stubs:
            continue
        assert all("= ...  # your code here" in copy.cells[i].source for i in stubs)
        copy.cells = copy.cells[:stubs[0] + 1]          # up to and including the first stub
        NotebookClient(copy, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    # the originals still hold their solutions
    assert any("solution" in _tags(c) for c in nbformat.read(NOTEBOOKS[1], as_version=4).cells)
