"""Write student copies of the notebooks: solutions cleared, outputs cleared.

    python -m course_utils.student                 # -> student/NN_*.ipynb and student/AN_*.ipynb
    python -m course_utils.student --out handout   # another folder

The notebooks mark their solutions the way nbgrader does. A solution cell is a code cell tagged
``solution`` (right after each "Your turn"), carrying nbgrader's cell metadata, and its answer sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION``; above the markers each answer name is set to ``...``:

    my_cam = ...                          # your answer replaces the ...
    ### BEGIN SOLUTION
    my_cam = np.einsum("ijk,k->ij", A, W[:, ship])
    ### END SOLUTION

The copy is made by nbgrader's own ``ClearSolutions`` step (and ``ClearHiddenTests``, which removes any
``### BEGIN HIDDEN TESTS`` region of a graded cell) with the code stub ``# YOUR CODE HERE`` (instead of
nbgrader's default, which raises ``NotImplementedError``), so in the copy the answer is ``...``, the checker
below says "Not yet", and Run All reaches the end. For graded assignments, :mod:`course_utils.grading` writes
nbgrader's source copies. The originals are never changed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from .files import UnsafePathError, write_atomic
from .validation import CourseError

if TYPE_CHECKING:
    from nbformat import NotebookNode

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_STUB = "# YOUR CODE HERE"


class StudentCopyError(CourseError, ValueError):
    """A notebook's solution cells are not marked the way the student copies need."""


def _nbgrader():
    try:
        from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions
    except ImportError:
        raise StudentCopyError(
            "Making student copies needs nbgrader, which is not installed. Install the teaching "
            'extra: pip install -e ".[teach]" (or pip install nbgrader), then run this again.'
        ) from None
    return ClearSolutions, ClearHiddenTests


def solution_regions(source: str) -> list[list[str]]:
    """The lines between each ``### BEGIN SOLUTION`` and ``### END SOLUTION`` of a cell's source."""
    regions: list[list[str]] = []
    current: list[str] | None = None
    for line in source.splitlines():
        if BEGIN in line:
            if current is not None:
                raise StudentCopyError(f"a {BEGIN} inside another solution region:\n{source}")
            current = []
        elif END in line:
            if current is None:
                raise StudentCopyError(f"an {END} without its {BEGIN}:\n{source}")
            regions.append(current)
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        raise StudentCopyError(f"a {BEGIN} without its {END}:\n{source}")
    return regions


def mark_for_nbgrader(nb: NotebookNode, prefix: str) -> int:
    """Give every ``solution`` cell nbgrader's metadata (a solution cell, not graded, id ``prefix``-N).

    Returns how many cells were marked. Cells already marked keep their ids.
    """
    marked = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            marked += 1
            meta = cell.metadata.get("nbgrader", {})
            cell.metadata["nbgrader"] = {
                "grade": False,
                "grade_id": meta.get("grade_id", f"{prefix}-{marked}"),
                "locked": False,
                "schema_version": 3,
                "solution": True,
                "task": False,
            }
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True  # folded until opened
    return marked


def student_notebook(nb: NotebookNode, name: str = "notebook") -> NotebookNode:
    """The student copy of one notebook (a new object; ``nb`` is not changed)."""
    import copy

    from nbconvert.preprocessors import ClearOutputPreprocessor

    ClearSolutions, ClearHiddenTests = _nbgrader()
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        is_solution = "solution" in cell.metadata.get("tags", [])
        regions = solution_regions(cell.source) if cell.cell_type == "code" else []
        if is_solution and not regions:
            raise StudentCopyError(f"{name}, cell {i}: a solution cell without {BEGIN} / {END}:\n{cell.source}")
        if regions and not is_solution:
            raise StudentCopyError(f"{name}, cell {i}: solution markers in a cell not tagged 'solution'.")
        if is_solution and not cell.metadata.get("nbgrader", {}).get("solution"):
            raise StudentCopyError(
                f"{name}, cell {i}: a solution cell without nbgrader's metadata; run "
                "course_utils.student.mark_for_nbgrader on the notebook."
            )
    nb, _ = ClearSolutions(code_stub={"python": CODE_STUB}, enforce_metadata=True).preprocess(nb, {})
    try:  # hidden tests (### BEGIN HIDDEN TESTS, in a graded cell) never reach a student either
        nb, _ = ClearHiddenTests(enforce_metadata=True).preprocess(nb, {})
    except RuntimeError as exc:  # nbgrader's own words: a region outside a graded cell, or one left open
        raise StudentCopyError(f"{name}: {exc}") from None
    nb, _ = ClearOutputPreprocessor().preprocess(nb, {})
    for cell in nb.cells:
        if "solution" in cell.metadata.get("tags", []):
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != "solution"] + ["exercise"]
            cell.metadata.get("jupyter", {}).pop("source_hidden", None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if BEGIN in cell.source or END in cell.source:  # pragma: no cover - nbgrader would have raised
            raise StudentCopyError(f"{name}: a solution region survived the clearing.")
    nb.metadata.pop("widgets", None)
    return nb


def _read_notebook(src: Path):
    import nbformat

    try:
        return nbformat.read(src, as_version=4)
    except (OSError, UnicodeDecodeError) as exc:
        raise StudentCopyError(
            f"Cannot read {src}: {exc}. Pass --notebooks with the course's notebooks folder."
        ) from None
    except Exception as exc:  # noqa: BLE001 - nbformat raises json's and its own validation errors
        raise StudentCopyError(
            f"{src} is not a notebook (nbformat could not read it as JSON: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}). Restore it from git "
            "(git checkout -- FILE) or remove it from the notebooks folder."
        ) from None


def make_student_copy(src: Path, dst: Path, *, inside: Path | None = None) -> int:
    """Write the student copy of one notebook; returns how many solution cells were cleared.

    The copy is written atomically (:func:`course_utils.files.write_atomic`): a symbolic or hard link at ``dst``
    is replaced, never written through, so the original notebook it may point to is never changed. ``inside``:
    the output folder the copy must stay in.
    """
    import nbformat

    src, dst = Path(src), Path(dst)
    nb = _read_notebook(src)
    copy = student_notebook(nb, src.name)
    nbformat.validate(copy)
    try:
        write_atomic(dst, nbformat.writes(copy) + "\n", inside=inside if inside is not None else dst.parent)
    except UnsafePathError as exc:
        raise StudentCopyError(str(exc)) from None
    return sum("exercise" in c.metadata.get("tags", []) for c in copy.cells)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.student", description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    parser.add_argument("--out", type=Path, default=Path("student"))
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        raise SystemExit(f"--out {args.out} is a file, not a folder: name a folder for the student copies.")
    if args.out.resolve() == args.notebooks.resolve():
        raise SystemExit("--out must differ from the notebooks folder: the originals are never overwritten.")
    if not args.notebooks.is_dir():
        raise SystemExit(f"--notebooks {args.notebooks} is not a folder: pass the course's notebooks folder.")
    from .notebooks import course_notebooks

    sources = course_notebooks(args.notebooks)
    if not sources:
        raise SystemExit(
            f"No notebooks named NN_*.ipynb or AN_*.ipynb in {args.notebooks}: pass --notebooks with the course's notebooks folder."
        )
    for src in sources:
        try:
            n = make_student_copy(src, args.out / src.name, inside=args.out)
        except StudentCopyError as err:
            raise SystemExit(str(err)) from None
        print(f"{args.out / src.name}: {n} exercise(s) cleared")


if __name__ == "__main__":
    main()
