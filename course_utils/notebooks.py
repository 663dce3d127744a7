"""Re-execute the course notebooks in place, in order, as Restart & Run All would.

    python -m course_utils.notebooks                  # every notebook: NN_*.ipynb, then the appendices AN_*.ipynb
    python -m course_utils.notebooks 04 05            # only those whose names start with these
    python -m course_utils.notebooks --memory         # run each without saving; print time and the kernel's peak memory

Each notebook runs in a fresh kernel from the notebooks folder; its outputs and execution counts are
replaced, so that what nbval compares is always the output of the current code. Solution cells get
nbgrader's metadata and are folded (see ``course_utils.student``). A notebook that raises
stops the run (cells tagged ``raises-exception`` may raise on purpose).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

#: The core path's notebooks are ``NN_*.ipynb`` (00, 01, ...); the appendices, for tangents, ``AN_*.ipynb``.
CORE_PATTERN, APPENDIX_PATTERN = "[0-9][0-9]_*.ipynb", "A[0-9]_*.ipynb"


def course_notebooks(folder: Path | str, appendices: bool = True) -> list[Path]:
    """The course's notebooks in ``folder``: the core path in order, then (unless ``appendices=False``) the
    appendices in order. The one place that says which files are the course's notebooks."""
    folder = Path(folder)
    core = sorted(folder.glob(CORE_PATTERN))
    return core + (sorted(folder.glob(APPENDIX_PATTERN)) if appendices else [])


#: Printed by the last cell that :func:`measure` appends: the kernel's own peak resident memory, in bytes.
_PEAK_CELL = (
    "import resource as _r, sys as _s\n"
    "print('PEAK_RSS', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss * (1 if _s.platform == 'darwin' else 1024))"
)


def _run(path: Path, timeout: int, kernel_name: str, extra_cell: str | None = None):
    import nbformat
    from nbclient import NotebookClient

    from .student import mark_for_nbgrader

    nb = nbformat.read(path, as_version=4)
    mark_for_nbgrader(nb, path.stem[:2])  # solution cells: nbgrader's metadata, folded in JupyterLab
    if extra_cell is not None:
        nb.cells.append(nbformat.v4.new_code_cell(extra_cell))
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def execute(path: Path, timeout: int = 900, kernel_name: str = "python3") -> float:
    """Execute one notebook in place (written atomically); returns the seconds it took."""
    import nbformat

    from .files import write_atomic

    nb, seconds = _run(path, timeout, kernel_name)
    write_atomic(path, nbformat.writes(nb) + "\n")
    return seconds


def measure(path: Path, timeout: int = 900, kernel_name: str = "python3") -> tuple[float, int]:
    """Run one notebook top to bottom in a fresh kernel without saving it; returns the seconds it took and the
    kernel's peak resident memory in bytes (``ru_maxrss``: what a shared server must hold for one learner)."""
    nb, seconds = _run(path, timeout, kernel_name, _PEAK_CELL)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    return seconds, int(text.split("PEAK_RSS")[1].split()[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="run only notebooks whose names start with these")
    parser.add_argument("--folder", type=Path, default=Path("notebooks"))
    parser.add_argument(
        "--memory", action="store_true", help="do not save: print each notebook's run time and its kernel's peak memory"
    )
    args = parser.parse_args(argv)
    paths = [p for p in course_notebooks(args.folder) if not args.prefixes or p.name.startswith(tuple(args.prefixes))]
    if not paths:
        sys.exit(f"No notebooks matched in {args.folder}/")
    for path in paths:
        print(f"{path.name}: running ...", end=" ", flush=True)
        if args.memory:
            seconds, peak = measure(path)
            print(f"{seconds:.1f} s, kernel peak {peak / 1e9:.2f} GB ({peak / 2**30:.2f} GiB)", flush=True)
        else:
            print(f"{execute(path):.1f} s", flush=True)


if __name__ == "__main__":
    main()
