"""Write student copies of the notebooks: solutions cleared, outputs cleared.

    python -m course_utils.student                 # -> student/NN_*.ipynb
    python -m course_utils.student --out handout   # another folder

The notebooks mark their solutions the way nbgrader does. A solution cell is a code cell tagged
``solution`` (right after each "Your turn"), carrying nbgrader's cell metadata, and its answer sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION``; above the markers each answer name is set to ``...``:

    my_cam = ...                          # your answer replaces the ...
    ### BEGIN SOLUTION
    my_cam = np.einsum("ijk,k->ij", A, W[:, ship])
    ### END SOLUTION

The copy is made by nbgrader's own ``ClearSolutions`` step with the code stub ``# YOUR CODE HERE`` (instead of
nbgrader's default, which raises ``NotImplementedError``), so in the copy the answer is ``...``, the checker
below says "Not yet", and Run All reaches the end. A teacher who grades with nbgrader can release the
notebooks as they are, with ``ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}`` in their
``nbgrader_config.py``. The originals are never changed.
"""
from __future__ import annotations

import argparse
from pathlib import Path

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
CODE_STUB = "# YOUR CODE HERE"


class StudentCopyError(ValueError):
    """A notebook's solution cells are not marked the way the student copies need."""


def _nbgrader():
    try:
        from nbgrader.preprocessors import ClearSolutions
    except ImportError:
        raise StudentCopyError("Making student copies needs nbgrader, which is not installed. Install the teaching "
                               "extra: pip install -e \".[teach]\" (or pip install nbgrader), then run this again.") \
            from None
    return ClearSolutions


def solution_regions(source: str) -> list[list[str]]:
    """The lines between each ``### BEGIN SOLUTION`` and ``### END SOLUTION`` of a cell's source."""
    regions, current = [], None
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


def mark_for_nbgrader(nb, prefix: str) -> int:
    """Give every ``solution`` cell nbgrader's metadata (a solution cell, not graded, id ``prefix``-N).

    Returns how many cells were marked. Cells already marked keep their ids.
    """
    marked = 0
    for cell in nb.cells:
        if cell.cell_type == "code" and "solution" in cell.metadata.get("tags", []):
            marked += 1
            meta = cell.metadata.get("nbgrader", {})
            cell.metadata["nbgrader"] = {"grade": False, "grade_id": meta.get("grade_id", f"{prefix}-{marked}"),
                                         "locked": False, "schema_version": 3, "solution": True, "task": False}
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True   # folded until opened
    return marked


def student_notebook(nb, name: str = "notebook"):
    """The student copy of one notebook (a new object; ``nb`` is not changed)."""
    import copy

    from nbconvert.preprocessors import ClearOutputPreprocessor

    ClearSolutions = _nbgrader()
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        is_solution = "solution" in cell.metadata.get("tags", [])
        regions = solution_regions(cell.source) if cell.cell_type == "code" else []
        if is_solution and not regions:
            raise StudentCopyError(f"{name}, cell {i}: a solution cell without {BEGIN} / {END}:\n{cell.source}")
        if regions and not is_solution:
            raise StudentCopyError(f"{name}, cell {i}: solution markers in a cell not tagged 'solution'.")
        if is_solution and not cell.metadata.get("nbgrader", {}).get("solution"):
            raise StudentCopyError(f"{name}, cell {i}: a solution cell without nbgrader's metadata; run "
                                   "course_utils.student.mark_for_nbgrader on the notebook.")
    nb, _ = ClearSolutions(code_stub={"python": CODE_STUB}, enforce_metadata=True).preprocess(nb, {})
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


def make_student_copy(src: Path, dst: Path) -> int:
    """Write the student copy of one notebook; returns how many solution cells were cleared."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    copy = student_notebook(nb, Path(src).name)
    nbformat.validate(copy)
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(copy, dst)
    return sum("exercise" in c.metadata.get("tags", []) for c in copy.cells)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.student", description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    parser.add_argument("--out", type=Path, default=Path("student"))
    args = parser.parse_args(argv)
    if args.out.resolve() == args.notebooks.resolve():
        raise SystemExit("--out must differ from the notebooks folder: the originals are never overwritten.")
    sources = sorted(args.notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise SystemExit(f"No notebooks named NN_*.ipynb in {args.notebooks}: pass --notebooks with the course's "
                         "notebooks folder.")
    for src in sources:
        try:
            n = make_student_copy(src, args.out / src.name)
        except StudentCopyError as err:
            raise SystemExit(str(err)) from None
        print(f"{args.out / src.name}: {n} exercise(s) cleared")


if __name__ == "__main__":
    main()
