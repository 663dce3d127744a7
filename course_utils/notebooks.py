"""Re-execute the course notebooks in place, in order, as Restart & Run All would.

    python -m course_utils.notebooks                  # every notebooks/NN_*.ipynb
    python -m course_utils.notebooks 04 05            # only those whose names start with these

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


def execute(path: Path, timeout: int = 900, kernel_name: str = "python3") -> float:
    """Execute one notebook in place; returns the seconds it took."""
    import nbformat
    from nbclient import NotebookClient

    from .student import mark_for_nbgrader

    nb = nbformat.read(path, as_version=4)
    mark_for_nbgrader(nb, path.stem[:2])     # solution cells: nbgrader's metadata, folded in JupyterLab
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="run only notebooks whose names start with these")
    parser.add_argument("--folder", type=Path, default=Path("notebooks"))
    args = parser.parse_args(argv)
    paths = sorted(p for p in args.folder.glob("[0-9][0-9]_*.ipynb")
                   if not args.prefixes or p.name.startswith(tuple(args.prefixes)))
    if not paths:
        sys.exit(f"No notebooks matched in {args.folder}/")
    for path in paths:
        print(f"{path.name}: running ...", end=" ", flush=True)
        print(f"{execute(path):.1f} s", flush=True)


if __name__ == "__main__":
    main()
