"""Student copies: every exercise is marked the nbgrader way, and each student copy runs top to bottom with
every checker saying "Not yet" and no line of any solution left on screen."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from course_utils import student
from course_utils.notebooks import course_notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = course_notebooks(ROOT / "notebooks")
CHECKER = re.compile(r"cu\.exercises\.check_\w+\(\s*(my_\w+)")
# an explorer cell: in a "predict, then explore" exercise it sits between the committed prediction and its check
EXPLORER = re.compile(r"cu\.widgets\.(Explorer|interact_figure|own_image_explorer)\(|\.widget\(")


def _tags(cell):
    return cell.metadata.get("tags", [])


def _giveaway(line: str) -> bool:
    """A solution line that would give the answer away: code, not a comment, a bracket or a blank."""
    line = line.strip()
    return bool(line) and not line.startswith("#") and bool(re.search(r"[A-Za-z0-9]", line))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_has_a_marked_solution_and_a_checker(path):
    nb = nbformat.read(path, as_version=4)
    turns = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "markdown" and re.search(r"^#+ Your turn", c.source, re.MULTILINE)]
    solutions = [i for i, c in enumerate(nb.cells) if "solution" in _tags(c)]
    if path.name.startswith("00"):
        assert not turns
        return
    if not path.name.startswith("A"):                      # an appendix may have none
        assert len(turns) >= 2, f"{path.name} has {len(turns)} exercises"
    assert len(solutions) == len(turns)
    for t in turns:
        sol = next(i for i in solutions if i > t)
        cell = nb.cells[sol]
        assert cell.metadata.get("nbgrader", {}).get("solution") is True, f"{path.name} cell {sol}: no nbgrader metadata"
        assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, f"{path.name} cell {sol}: not folded"
        assert student.solution_regions(cell.source), f"{path.name} cell {sol}: no BEGIN/END SOLUTION region"
        checker = next(c for c in nb.cells[sol + 1:] if c.cell_type == "code"
                       and (CHECKER.search(c.source) or not EXPLORER.search(c.source)))
        m = CHECKER.search(checker.source)
        assert m, f"{path.name}: no checker after the solution in cell {sol}"
        before = cell.source.split(student.BEGIN)[0]
        assert re.search(rf"^{m.group(1)}\s*=\s*\.\.\.", before, re.MULTILINE), \
            f"{path.name} cell {sol}: {m.group(1)} is not set to ... above the solution region"
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids)), f"{path.name}: nbgrader grade_ids repeat: {ids}"


def _notebook(*sources, tags=("solution",)):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    for src in sources:
        cell = nbformat.v4.new_code_cell(src)
        if "BEGIN SOLUTION" in src:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    return nb


def test_a_solution_region_becomes_the_stub_and_the_rest_stays():
    src = ("# Your turn: the CAM of ship\nmy_cam = ...\n### BEGIN SOLUTION\nship = names.index('ship')\n"
           "my_cam = np.einsum(\n    'ijk,k->ij', A, W[:, ship])\n### END SOLUTION\nprint('done')")
    nb = _notebook(src, "cu.exercises.check_cam(my_cam, A, w)")
    assert student.mark_for_nbgrader(nb, "t") == 1
    copy = student.student_notebook(nb)
    assert copy.cells[0].source == "# Your turn: the CAM of ship\nmy_cam = ...\n# YOUR CODE HERE\nprint('done')"
    assert _tags(copy.cells[0]) == ["exercise"] and "source_hidden" not in copy.cells[0].metadata.get("jupyter", {})
    assert copy.cells[1].source == nb.cells[1].source
    assert "np.einsum" in nb.cells[0].source                 # the original is untouched


def test_badly_marked_solutions_are_refused_with_the_cell_named():
    with pytest.raises(student.StudentCopyError, match="without ### BEGIN SOLUTION"):
        nb = _notebook("my_x = 3")
        nb.cells[0].metadata["tags"] = ["solution"]
        student.mark_for_nbgrader(nb, "t")
        student.student_notebook(nb, "nb.ipynb")
    with pytest.raises(student.StudentCopyError, match="without its ### END SOLUTION"):
        nb = _notebook("my_x = ...\n### BEGIN SOLUTION\nmy_x = 3")
        student.mark_for_nbgrader(nb, "t")
        student.student_notebook(nb)
    with pytest.raises(student.StudentCopyError, match="not tagged 'solution'"):
        student.student_notebook(_notebook("my_x = ...\n### BEGIN SOLUTION\nmy_x = 3\n### END SOLUTION", tags=()))
    with pytest.raises(student.StudentCopyError, match="nbgrader's metadata"):
        student.student_notebook(_notebook("my_x = ...\n### BEGIN SOLUTION\nmy_x = 3\n### END SOLUTION"))


def _run(path: Path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


@pytest.mark.slow
def test_student_copies_run_to_the_end_and_give_nothing_away(tmp_path, cifar10):
    student.main(["--notebooks", str(ROOT / "notebooks"), "--out", str(tmp_path)])
    copies = [tmp_path / src.name for src in NOTEBOOKS]
    for src, dst in zip(NOTEBOOKS, copies):
        original, copy = nbformat.read(src, as_version=4), nbformat.read(dst, as_version=4)
        nbformat.validate(copy)
        assert not any("solution" in _tags(c) for c in copy.cells)
        code = "\n".join(c.source for c in copy.cells if c.cell_type == "code")
        for cell in original.cells:
            for region in student.solution_regions(cell.source) if cell.cell_type == "code" else []:
                for line in filter(_giveaway, region):
                    assert line.strip() not in code, f"{src.name}: the solution line {line.strip()!r} is on screen"
    with ThreadPoolExecutor(2) as pool:                  # one kernel per core
        executed = list(pool.map(_run, copies))
    for path, nb in zip(copies, executed):
        checks = [c for c in nb.cells if c.cell_type == "code" and CHECKER.search(c.source)]
        assert len(checks) >= (0 if path.name.startswith(("00", "A")) else 2), path.name   # an appendix may have none
        for cell in checks:
            text = "".join(o.get("text", "") + "".join(o.get("data", {}).get("text/plain", ""))
                           for o in cell.outputs)
            assert "Not yet" in text and "Correct" not in text, f"{path.name}: {cell.source!r} printed {text!r}"
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
    # the originals still hold their solutions
    assert any(student.solution_regions(c.source) for c in nbformat.read(NOTEBOOKS[1], as_version=4).cells
               if c.cell_type == "code")


def test_hidden_tests_never_reach_a_student_copy():
    nb = _notebook("my_x = ...\n### BEGIN SOLUTION\nmy_x = 3\n### END SOLUTION",
                   "### BEGIN HIDDEN TESTS\ncu.exercises.check_x(my_x).assert_passed()\n### END HIDDEN TESTS\n"
                   "print(cu.exercises.check_x(my_x))")
    student.mark_for_nbgrader(nb, "t")
    nb.cells[1].metadata["nbgrader"] = {"grade": True, "grade_id": "t-check", "locked": True, "points": 2,
                                        "schema_version": 3, "solution": False, "task": False}
    copy = student.student_notebook(nb)
    assert copy.cells[1].source == "print(cu.exercises.check_x(my_x))"
    del nb.cells[1].metadata["nbgrader"]                   # a hidden region outside a graded cell is refused
    with pytest.raises(student.StudentCopyError, match="nb.ipynb: Hidden test region detected in a non-grade cell"):
        student.student_notebook(nb, "nb.ipynb")
