"""``python -m course_utils.app``: the explain-an-image app, for someone who writes no code.

It serves ``apps/explain_an_image.ipynb`` with Voila (the ``app`` extra): the code is hidden, and the page shows
:func:`course_utils.widgets.own_image_explorer` with ``parts=True`` (an address box, an upload button, the method,
class and layer menus, the photo, the map, the overlay and the top 3). Voila runs with the course's template,
``course_utils/assets/voila/templates/course`` (Voila's ``lab`` template less the stylesheets and scripts it
would fetch from CDNs), so the page works offline, and it listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .validation import CourseValueError

#: The app's notebook, next to the course's notebooks (an editable install, ``pip install -e ".[app]"``).
APP_NOTEBOOK = Path(__file__).resolve().parents[1] / "apps" / "explain_an_image.ipynb"
#: A Jupyter data folder that holds ``voila/templates/course`` (put on ``JUPYTER_PATH`` for Voila).
TEMPLATE_ROOT = Path(__file__).resolve().parent / "assets"
TEMPLATE = "course"
DEFAULT_PORT = 8866
#: JupyterLab extensions the app's page does not load: Notebook 7's (the lab extra) and nbgrader's (the test extra).
NOT_IN_THE_APP = ("@jupyter-notebook/lab-extension", "@jupyter/nbgrader")


def voila_command(
    notebook: str | Path = APP_NOTEBOOK, port: int = DEFAULT_PORT, open_browser: bool = True
) -> list[str]:
    """The command line that serves ``notebook`` with Voila on 127.0.0.1:``port`` with the course's template."""
    path = Path(notebook)
    if not path.is_file():
        raise CourseValueError(
            f"The app's notebook {str(path)!r} does not exist. Run the app from the course folder after "
            '`pip install -e ".[app]"` (an editable install keeps apps/ next to course_utils).'
        )
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise CourseValueError(f"port must be a whole number from 1 to 65535, got {port!r}.")
    command = [sys.executable, "-m", "voila", str(path), f"--port={port}", "--Voila.ip=127.0.0.1"]
    command += [f"--template={TEMPLATE}", "--show_tracebacks=False"]
    # JupyterLab extensions that the course's environments install and that fail to load outside JupyterLab,
    # writing errors to the browser's console (the widgets' manager must stay: Voila's widgets need it)
    command += [f"--VoilaConfiguration.extension_denylist={name}" for name in NOT_IN_THE_APP]
    return command + ([] if open_browser else ["--no-browser"])


def voila_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's environment) with the course's template folder first on ``JUPYTER_PATH``."""
    out = dict(os.environ if env is None else env)
    out["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(TEMPLATE_ROOT), out.get("JUPYTER_PATH", "")) if p)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.app", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    args = parser.parse_args(argv)
    try:
        command = voila_command(port=args.port, open_browser=not args.no_browser)
    except CourseValueError as err:
        print(err, file=sys.stderr)
        return 2
    return subprocess.call(command, env=voila_env())


if __name__ == "__main__":
    raise SystemExit(main())
