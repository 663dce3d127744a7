"""Graded assignments with nbgrader: the course's notebooks as nbgrader's ``source`` assignments.

    python -m course_utils.grading source                      # every notebook with exercises
    python -m course_utils.grading source 04 05                # only these (by prefix)
    python -m course_utils.grading source --predictions correct
    python -m course_utils.grading source --course deploy/nbgrader --notebooks notebooks

Each notebook with exercises becomes ``<course>/source/<name>/<name>.ipynb``, where ``<name>`` is the file's
stem (``04_class_activation_maps``), ready for ``nbgrader generate_assignment <name>``. The committed
notebooks are never changed: they keep printing feedback for learners, and their stored outputs stay valid.

In the source copy:

- each answer cell (tagged ``solution``) stays nbgrader's "autograded answer" (``solution: true,
  grade: false``) and is no longer folded;
- the cell that calls the exercise's checker becomes an "autograder tests" cell (``grade: true``, locked,
  with points). Its visible lines do not change: in the released copy the checker still prints "Not yet"
  and a hint. Above each checker call sits its assert form, between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``: ``cu.exercises.check_gap(my_pooled, A_batch).assert_passed()``. nbgrader removes
  that region on release and puts it back when it autogrades, where a wrong answer raises ``AssertionError``
  with the checker's own message, so the hint is in the student's feedback;
- every markdown cell (the instructions) is a read-only cell: locked in the student's notebook and put back
  as it was before autograding.

A "predict, then check" question (checked by ``check_choice``) is graded for the commitment by default: any
of the choices earns its point, because the cell under it computes and shows the outcome, and a learner can
always change the answer after seeing it. ``--predictions correct`` grades those for the right choice.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .files import UnsafePathError, write_atomic
from .student import BEGIN, StudentCopyError, solution_regions
from .validation import CourseError

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = [
    "POINTS",
    "Check",
    "Exercise",
    "GradingError",
    "exercises",
    "main",
    "source_notebook",
    "write_source",
]

BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
#: Points of an exercise's test cell: an answer that is computed, and a prediction.
POINTS = {"answer": 2, "prediction": 1}
PREDICTIONS = ("completion", "correct")
_ANSWER_NAME = re.compile(r"^(my_\w+)\s*=\s*\.\.\.", re.MULTILINE)


class GradingError(CourseError, ValueError):
    """A notebook's exercises cannot be turned into an nbgrader assignment (a checker not found, ...)."""


@dataclass
class Check:
    """One checker call in a cell: the checker's name, the call's source, the call with only the arguments
    that decide whether an answer was given (for ``check_choice``: the answer, the outcome and the choices;
    otherwise the whole call), and the first line of the top-level statement that holds it."""

    checker: str
    call: str
    short: str
    line: int
    #: where a call that is a statement of its own ends (line, UTF-8 column): its value is what the cell shows
    shown_end: tuple[int, int] | None = None
    #: the UTF-8 column where that statement starts (after ``x = 1;`` on the same line, say)
    shown_col: int = 0


@dataclass
class Exercise:
    """One "Your turn": its answer cell, the cell that checks it and the checker calls in that cell."""

    grade_id: str
    answer_cell: int
    check_cell: int
    names: list[str]
    calls: list[Check] = field(default_factory=list)

    @property
    def is_prediction(self) -> bool:
        """A "predict, then check" question: every call is ``check_choice``."""
        return all(c.checker == "check_choice" for c in self.calls)


def _checker_calls(source: str, names: list[str], where: str) -> list[Check]:
    """The ``cu.exercises.check_*(name, ...)`` calls in ``source`` whose first argument is one of ``names``."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise GradingError(f"{where}: the cell is not plain Python ({exc.msg}, line {exc.lineno}).") from None
    calls = []
    for stmt in tree.body:
        for node in ast.walk(stmt):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr.startswith("check_")
                and ast.unparse(node.func.value) == "cu.exercises"
                and node.args
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id in names
            ):
                continue
            if not isinstance(stmt, ast.Expr | ast.Assign):
                raise GradingError(
                    f"{where}: the checker {node.func.attr} is called inside a {type(stmt).__name__}; a checker "
                    "that can be graded is called in a statement of its own at the cell's top level."
                )
            call = str(ast.get_source_segment(source, node))
            short = call
            if node.func.attr == "check_choice" and len(node.args) >= 3:
                # whether an answer is one of the choices needs only the answer, the outcome and the choices
                short = f"cu.exercises.check_choice({', '.join(ast.unparse(a) for a in node.args[:3])}, why='')"
            shown = isinstance(stmt, ast.Expr) and stmt.value is node  # the cell's displayed value
            end = (stmt.end_lineno or stmt.lineno, stmt.end_col_offset or 0) if shown else None
            calls.append(Check(node.func.attr, call, short, stmt.lineno, end, stmt.col_offset))
    return calls


def exercises(nb: NotebookNode, name: str = "notebook") -> list[Exercise]:
    """Each exercise of ``nb``: the answer cell (tagged ``solution``) and the first code cell after it, before
    the next answer cell, that calls a checker on one of the answer's ``my_...`` names.

    Raises :class:`GradingError` when an answer cell is not marked for nbgrader or has no checker.
    """
    answers = [i for i, c in enumerate(nb.cells) if "solution" in c.metadata.get("tags", [])]
    found = []
    for k, i in enumerate(answers):
        cell = nb.cells[i]
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not cell.metadata.get("nbgrader", {}).get("solution") or not grade_id:
            raise GradingError(
                f"{name}, cell {i}: an answer cell without nbgrader's metadata; run "
                "course_utils.student.mark_for_nbgrader on the notebook."
            )
        try:
            if not solution_regions(cell.source):
                raise GradingError(f"{name}, cell {i}: an answer cell without {BEGIN}.")
        except StudentCopyError as exc:
            raise GradingError(f"{name}, cell {i}: {exc}") from None
        names = _ANSWER_NAME.findall(cell.source.split(BEGIN)[0])
        if not names:
            raise GradingError(f"{name}, cell {i}: no `my_... = ...` line above {BEGIN}.")
        end = answers[k + 1] if k + 1 < len(answers) else len(nb.cells)
        for j in range(i + 1, end):
            check = nb.cells[j]
            if check.cell_type != "code":
                continue
            calls = _checker_calls(check.source, names, f"{name}, cell {j}")
            if calls:
                found.append(Exercise(grade_id, i, j, names, calls))
                break
        else:
            raise GradingError(
                f"{name}, exercise {grade_id} (cell {i}): no cell below it calls a checker on {', '.join(names)}; "
                "an exercise that is graded needs a cu.exercises.check_... call on its answer."
            )
    return found


def _with_hidden_tests(source: str, ex: Exercise, predictions: str) -> str:
    """``source`` with each checker call's assert form in a hidden-tests region just above its statement.

    A checker call that is the cell's displayed value is wrapped in ``print(...)``: the learner reads the same
    line, but as printed text, because nbgrader reads a test cell's displayed value as a partial score.
    """
    lines = source.split("\n")
    by_line: dict[int, list[str]] = {}
    for c in ex.calls:
        if c.checker == "check_choice" and predictions == "completion":
            by_line.setdefault(c.line, []).append(f"{c.short}.assert_answered()")
        else:
            by_line.setdefault(c.line, []).append(f"{c.call}.assert_passed()")
        if c.shown_end is not None:
            end_line, end_col = c.shown_end
            raw = lines[end_line - 1].encode()
            lines[end_line - 1] = (raw[:end_col] + b")" + raw[end_col:]).decode()
            raw = lines[c.line - 1].encode()  # ")" went in first, after this column: the column still holds
            lines[c.line - 1] = (raw[: c.shown_col] + b"print(" + raw[c.shown_col :]).decode()
    out: list[str] = []
    for n, line in enumerate(lines, 1):
        if n in by_line:
            out += [BEGIN_HIDDEN, *by_line[n], END_HIDDEN]
        out.append(line)
    return "\n".join(out)


def _meta(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False, points: int = 0):
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def source_notebook(nb: NotebookNode, prefix: str, name: str = "notebook", predictions: str = "completion"):
    """The nbgrader source version of one notebook (a new object; ``nb`` is not changed).

    ``prefix``: the notebook's two-character prefix (``04``, ``A1``), used in the ids of the read-only cells.
    """
    if predictions not in PREDICTIONS:
        raise GradingError(f"predictions={predictions!r}: expected one of {', '.join(PREDICTIONS)}.")
    found = exercises(nb, name)
    nb = copy.deepcopy(nb)
    for ex in found:
        cell = nb.cells[ex.answer_cell]
        cell.metadata.get("jupyter", {}).pop("source_hidden", None)  # a released answer cell is open
        check = nb.cells[ex.check_cell]
        if BEGIN_HIDDEN in check.source:
            raise GradingError(f"{name}, cell {ex.check_cell}: it already has a {BEGIN_HIDDEN} region.")
        check.source = _with_hidden_tests(check.source, ex, predictions)
        points = POINTS["prediction" if ex.is_prediction else "answer"]
        check.metadata["nbgrader"] = _meta(f"{ex.grade_id}-check", grade=True, locked=True, points=points)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.metadata["nbgrader"] = _meta(f"{prefix}-text-{i}", locked=True)
    nb.metadata.pop("widgets", None)
    return nb


def write_source(src: Path, course: Path, predictions: str = "completion") -> Path | None:
    """Write ``course/source/<stem>/<stem>.ipynb`` for the notebook ``src``; ``None`` when it has no exercises."""
    import nbformat

    from .student import _read_notebook

    src = Path(src)
    try:
        nb = _read_notebook(src)
    except StudentCopyError as exc:
        raise GradingError(str(exc)) from None
    if not any("solution" in c.metadata.get("tags", []) for c in nb.cells):
        return None
    out = source_notebook(nb, src.name.split("_")[0], src.name, predictions)
    nbformat.validate(out)
    dst = Path(course) / "source" / src.stem / src.name
    try:
        write_atomic(dst, nbformat.writes(out) + "\n", inside=Path(course) / "source")
    except UnsafePathError as exc:
        raise GradingError(str(exc)) from None
    return dst


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.grading", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    source = sub.add_parser("source", help="write the nbgrader source assignments")
    source.add_argument("prefixes", nargs="*", help="only the notebooks with these prefixes (04, A1 ...)")
    source.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    source.add_argument("--course", type=Path, default=Path("deploy/nbgrader"), help="nbgrader's course folder")
    source.add_argument("--predictions", choices=PREDICTIONS, default="completion")
    args = parser.parse_args(argv)
    if not args.notebooks.is_dir():
        raise SystemExit(f"--notebooks {args.notebooks} is not a folder: pass the course's notebooks folder.")
    if args.course.exists() and not args.course.is_dir():
        raise SystemExit(f"--course {args.course} is a file, not a folder: name nbgrader's course folder.")
    from .notebooks import course_notebooks

    sources = course_notebooks(args.notebooks)
    if args.prefixes:
        unknown = [p for p in args.prefixes if not any(s.name.startswith(f"{p}_") for s in sources)]
        if unknown:
            known = ", ".join(s.name.split("_")[0] for s in sources)
            raise SystemExit(f"No notebook with the prefix {', '.join(unknown)} in {args.notebooks}; known: {known}.")
        sources = [s for s in sources if s.name.split("_")[0] in args.prefixes]
    if not sources:
        raise SystemExit(f"No notebooks named NN_*.ipynb or AN_*.ipynb in {args.notebooks}.")
    for src in sources:
        try:
            dst = write_source(src, args.course, args.predictions)
        except GradingError as err:
            raise SystemExit(str(err)) from None
        print(f"{src.name}: no exercises, not an assignment" if dst is None else f"{dst}")


if __name__ == "__main__":
    main()
