"""``python -m course_utils.evaluation``: see :func:`course_utils.evaluation.cli.main`."""

from .cli import main

if __name__ == "__main__":
    main()
