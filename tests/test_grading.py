"""Graded assignments: notebooks 04 and 05 go through real nbgrader (generate_assignment, autograde,
generate_feedback) with a correct submission (full points), the released copy left empty (zero) and a
typical wrong one (partial, with the checker's hint in the feedback)."""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils import grading, student
from course_utils.notebooks import course_notebooks
from course_utils.exercises import Feedback, check_choice, check_gap

ROOT = Path(__file__).resolve().parents[1]
A04, A05 = "04_class_activation_maps", "05_grad_cam"


def test_the_assert_forms_raise_with_the_checkers_message():
    import numpy as np

    A = np.random.default_rng(0).random((2, 4, 4, 3))
    check_gap(A.mean(axis=(1, 2)), A).assert_passed()                 # silent on a pass
    with pytest.raises(AssertionError, match="Not yet. these are sums over the 16 positions"):
        check_gap(A.sum(axis=(1, 2)), A).assert_passed()
    with pytest.raises(AssertionError, match="still empty"):
        check_gap(..., A).assert_answered()
    options = {"a": "one", "b": "two"}
    check_choice("b", "a", options, why="").assert_answered()         # wrong, but a committed choice
    with pytest.raises(AssertionError, match="not one of the choices"):
        check_choice("z", "a", options, why="").assert_answered()
    assert Feedback(False, "x").answered and not Feedback(False, "x", answered=False).answered


def test_the_source_notebook_grades_each_checker_and_locks_the_instructions():
    nb = nbformat.read(ROOT / "notebooks" / f"{A04}.ipynb", as_version=4)
    src = grading.source_notebook(nb, "04", A04)
    graded = [c for c in src.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert [c.metadata.nbgrader.grade_id for c in graded] == ["04-1-check", "04-2-check", "04-3-check", "04-4-check"]
    assert [c.metadata.nbgrader.points for c in graded] == [2, 2, 1, 1]
    assert all(c.metadata.nbgrader.locked and not c.metadata.nbgrader.solution for c in graded)
    assert graded[0].source == ("### BEGIN HIDDEN TESTS\ncu.exercises.check_gap(my_pooled, A_batch).assert_passed()\n"
                                "### END HIDDEN TESTS\nprint(cu.exercises.check_gap(my_pooled, A_batch))")
    assert "why='').assert_answered()" in graded[2].source
    assert all(c.metadata.nbgrader.locked for c in src.cells if c.cell_type == "markdown")
    answers = [c for c in src.cells if "solution" in c.metadata.get("tags", [])]
    assert all(c.metadata.nbgrader.solution and not c.metadata.nbgrader.grade for c in answers)
    assert not any(c.metadata.get("jupyter", {}).get("source_hidden") for c in answers)
    ids = [c.metadata.nbgrader.grade_id for c in src.cells if "nbgrader" in c.metadata]
    assert len(ids) == len(set(ids))
    assert "BEGIN HIDDEN" not in "".join(c.source for c in nb.cells)      # the original is untouched
    right = grading.source_notebook(nb, "04", A04, predictions="correct")
    assert ".assert_passed()" in right.cells[src.cells.index(graded[2])].source


def test_every_notebook_with_exercises_becomes_a_source_assignment(tmp_path):
    grading.main(["source", "--notebooks", str(ROOT / "notebooks"), "--course", str(tmp_path)])
    made = sorted(p.name for p in (tmp_path / "source").glob("*/*.ipynb"))
    with_exercises = [p.name for p in course_notebooks(ROOT / "notebooks")
                      if any("solution" in c.metadata.get("tags", []) for c in nbformat.read(p, as_version=4).cells)]
    assert made == sorted(with_exercises) and len(made) >= 15


def test_a_checker_that_cannot_be_found_is_named():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("my_x = ...\n### BEGIN SOLUTION\nmy_x = 3\n### END SOLUTION")
    cell.metadata["tags"] = ["solution"]
    nb.cells = [cell, nbformat.v4.new_code_cell("print(my_x)")]
    student.mark_for_nbgrader(nb, "t")
    with pytest.raises(grading.GradingError, match="no cell below it calls a checker on my_x"):
        grading.source_notebook(nb, "t", "t.ipynb")
    nb.cells[1].source = "for _ in range(2):\n    cu.exercises.check_gap(my_x, A)"
    with pytest.raises(grading.GradingError, match="inside a For"):
        grading.source_notebook(nb, "t", "t.ipynb")
    nb.cells[1].source = "A = 1; cu.exercises.check_gap(my_x, A)  # the check"  # shown after another statement
    check = grading.source_notebook(nb, "t", "t.ipynb").cells[1].source
    assert check.endswith("\nA = 1; print(cu.exercises.check_gap(my_x, A))  # the check"), check
    compile(check, "check", "exec")
    with pytest.raises(grading.GradingError, match="expected one of completion, correct"):
        grading.source_notebook(nb, "t", predictions="strict")


def test_the_configuration_sets_the_stub_and_finds_student_ids_in_lms_file_names():
    from traitlets.config import Config

    config = Config()
    exec((ROOT / "deploy" / "nbgrader" / "nbgrader_config.py").read_text(), {"get_config": lambda: config})
    assert config.ClearSolutions.code_stub == {"python": student.CODE_STUB}
    regexp = re.compile(config.FileNameCollectorPlugin.named_regexp)
    m = regexp.match(f"/course/downloaded/{A04}/extracted/lms/mei.li_{A04}.ipynb")
    assert m and m.group("student_id") == "mei.li" and m.group("file_id") == f"{A04}.ipynb"
    m = regexp.match("/x/jdoe_A1_bfloat16.ipynb")
    assert m and m.group("student_id") == "jdoe" and m.group("file_id") == "A1_bfloat16.ipynb"
    assert not regexp.match(f"/x/{A04}.ipynb")                 # no student id: skipped, never misfiled


def _nbgrader(course: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}           # the kernels import this checkout's course_utils
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"nbgrader {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _answer(nb, grade_id: str, code: str) -> None:
    """Fill in an exercise of a released notebook: its stub becomes ``code``."""
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert student.CODE_STUB in cell.source, cell.source
    cell.source = cell.source.replace(student.CODE_STUB, code)


def _solutions(name: str) -> dict[str, str]:
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    return {c.metadata.nbgrader.grade_id: "\n".join(student.solution_regions(c.source)[0])
            for c in nb.cells if "solution" in c.metadata.get("tags", [])}


def _submit(course: Path, who: str, name: str, answers: dict[str, str]) -> None:
    nb = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
    for grade_id, code in answers.items():
        _answer(nb, grade_id, code)
    (course / "submitted" / who / name).mkdir(parents=True)
    nbformat.write(nb, course / "submitted" / who / name / f"{name}.ipynb")


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.slow
def test_nbgrader_scores_full_zero_and_partial_with_the_hint_in_the_feedback(tmp_path, cifar10):
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(ROOT / "deploy" / "nbgrader" / "nbgrader_config.py", course)
    grading.main(["source", "04", "05", "--notebooks", str(ROOT / "notebooks"), "--course", str(course)])
    for name in (A04, A05):
        _nbgrader(course, "generate_assignment", name)
        released = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
        code = "\n".join(c.source for c in released.cells)
        assert "HIDDEN TESTS" not in code and "assert_passed" not in code and "BEGIN SOLUTION" not in code
        assert "print(cu.exercises.check_gap(my_pooled, A_batch))" in code or name == A05
    right04, right05 = _solutions(A04), _solutions(A05)
    assert right04["04-1"] == "my_pooled = A_batch.mean(axis=(1, 2))"
    _submit(course, "right", A04, right04)
    _submit(course, "right", A05, right05)
    _submit(course, "empty", A04, {})
    _submit(course, "empty", A05, {})
    # typical mistakes: a sum where GAP takes a mean (04); summed gradients for alpha (05), and a wrong but
    # committed prediction, which keeps its point
    _submit(course, "wrong", A04, {**right04, "04-1": "my_pooled = A_batch.sum(axis=(1, 2))"})
    wrong05 = {**right05, "05-3": 'my_prediction = "a"'}
    wrong05["05-1"] = right05["05-1"].replace("grads3.mean(axis=(0, 1))", "grads3.sum(axis=(0, 1))")
    assert wrong05["05-1"] != right05["05-1"] and right05["05-3"] != 'my_prediction = "a"'
    _submit(course, "wrong", A05, wrong05)
    for name in (A04, A05):
        _nbgrader(course, "autograde", name)
        _nbgrader(course, "generate_feedback", name)

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        score = {(a, s): (gb.find_submission(a, s).score, gb.find_submission(a, s).max_score)
                 for a in (A04, A05) for s in ("right", "empty", "wrong")}
        failed = {(a, s): sorted(g.name for g in gb.find_submission(a, s).notebooks[0].grades
                                 if g.cell_type == "code" and g.max_score and not g.score)
                  for a in (A04, A05) for s in ("right", "empty", "wrong")}
    assert score[A04, "right"] == (6, 6) and score[A05, "right"] == (4, 4)
    assert score[A04, "empty"] == (0, 6) and score[A05, "empty"] == (0, 4)
    assert score[A04, "wrong"] == (4, 6) and score[A05, "wrong"] == (2, 4)
    assert failed[A04, "wrong"] == ["04-1-check"] and failed[A05, "wrong"] == ["05-1-check"]
    for name in (A04, A05):                          # the correct submission runs without any error
        nb = nbformat.read(course / "autograded" / "right" / name / f"{name}.ipynb", as_version=4)
        assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    feedback04 = _text((course / "feedback" / "wrong" / A04 / f"{A04}.html").read_text())
    assert "Not yet. these are sums over the 64 positions; GAP takes the mean (divide by Z = h * w)." in feedback04
    feedback05 = _text((course / "feedback" / "wrong" / A05 / f"{A05}.html").read_text())
    assert "you summed over the positions; alpha_k^c = (1/Z) sum_ij, so divide by Z = 256." in feedback05
    empty04 = _text((course / "feedback" / "empty" / A04 / f"{A04}.html").read_text())
    assert "your answer is still empty (...)" in empty04
