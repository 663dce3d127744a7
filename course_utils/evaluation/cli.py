"""``python -m course_utils.evaluation [--quick] [--beyond] [--out PATH]``: run and store an evaluation."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..files import private_temp_dir
from .shared import RESULTS_11_PATH, RESULTS_PATH

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Run notebook 07's experiments (or notebook 11's table of every method with ``--beyond``) and print where the results went."""
    # The runs are looked up on the package when called, so that a test can replace evaluation.run.
    from .. import evaluation, setup

    parser = argparse.ArgumentParser(
        prog="python -m course_utils.evaluation", description=(evaluation.__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="8 images and 6 mosaics, written to --out")
    parser.add_argument(
        "--beyond",
        action="store_true",
        help=f"notebook 11: every method of the course (default --out: {RESULTS_11_PATH})",
    )
    parser.add_argument("--out", type=Path, default=None, help=f"default: {RESULTS_PATH}")
    args = parser.parse_args(argv)

    setup(quiet=True)
    if args.beyond:
        out = args.out or (
            private_temp_dir("evaluation_") / "evaluation_11_quick.json" if args.quick else RESULTS_11_PATH
        )
        res = evaluation.run_beyond(6, 4, 6, out) if args.quick else evaluation.run_beyond(path=out)
        print(f"Wrote {out} in {res['about']['seconds']['total']:.0f} s.")
        return
    if args.quick:
        out = args.out or private_temp_dir("evaluation_") / "evaluation_07_quick.json"
        res = evaluation.run(8, 6, out)
    else:
        out = args.out or RESULTS_PATH
        res = evaluation.run(path=out)
    print(f"Wrote {out} in {res['about']['total_seconds']:.0f} s.")
