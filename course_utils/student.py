"""Write student copies of the notebooks: solutions replaced by stubs, outputs cleared.

    python -m course_utils.student                 # -> student/NN_*.ipynb
    python -m course_utils.student --out handout   # another folder

A solution cell is a code cell tagged ``solution`` (in the notebooks, right after each "Your turn"). In the
copy, every line that assigns the learner's answer (a name starting with ``my_``) becomes ``my_x = ...``;
comments and the other lines (they set up the exercise) stay. The checker cell below then tells the learner
to fill it in. The originals are never changed.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

STUB = re.compile(r"^(\s*)(my_\w+)\s*=.*$")


def stub_source(source: str) -> str:
    """The student's version of one solution cell."""
    lines = []
    for line in source.splitlines():
        m = STUB.match(line)
        lines.append(f"{m.group(1)}{m.group(2)} = ...  # your code here" if m else line)
    return "\n".join(lines)


def make_student_copy(src: Path, dst: Path) -> int:
    """Write the student copy of one notebook; returns how many solution cells were stubbed."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    stubbed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if "solution" in cell.metadata.get("tags", []):
            new = stub_source(cell.source)
            if new == cell.source:
                raise ValueError(f"{src.name}: a solution cell assigns no my_... answer:\n{cell.source}")
            cell.source = new
            cell.metadata["tags"] = [t for t in cell.metadata["tags"] if t != "solution"] + ["exercise"]
            stubbed += 1
    nb.metadata.pop("widgets", None)
    nbformat.validate(nb)
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)
    return stubbed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.student", description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    parser.add_argument("--out", type=Path, default=Path("student"))
    args = parser.parse_args(argv)
    if args.out.resolve() == args.notebooks.resolve():
        raise SystemExit("--out must differ from the notebooks folder: the originals are never overwritten.")
    for src in sorted(args.notebooks.glob("[0-9][0-9]_*.ipynb")):
        n = make_student_copy(src, args.out / src.name)
        print(f"{args.out / src.name}: {n} exercise(s) turned into stubs")


if __name__ == "__main__":
    main()
