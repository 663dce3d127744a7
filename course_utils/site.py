"""Build the course as a static website: the notebooks with their stored outputs, README as the home page and
the instructor guide, with a sidebar, previous/next links and search (Sphinx, MyST-NB, sphinx-book-theme).

    pip install -e ".[site]"
    python -m course_utils.site                 # into _site/
    python -m course_utils.site --out DIR       # elsewhere
    python -m http.server --bind 127.0.0.1 -d _site   # then open http://127.0.0.1:8000

Nothing is executed: every notebook is shown with the outputs committed with it. The Sphinx configuration is
``docs/site/conf.py``; this module assembles the source folder it reads (README.md becomes ``index.md`` with the
table of contents, in the order of :func:`course_utils.notebooks.course_notebooks`) and runs Sphinx. An
explorer's output (a live widget with image, class, layer and method controls) becomes a live explorer that
``_static/explorer.js`` draws in the browser from maps computed at build time for the first 12 test images
(:mod:`course_utils.live_explorer`, cached between builds); so does an explorer of image and class only whose cell
names its fixed layer and method in its metadata (:data:`FIXED_KEY`, notebook 04's CAM explorer); any other
widget is replaced by the first picture and text stored in the notebook. A solution cell is folded behind a button, as in JupyterLab. Every page loads its scripts, styles, fonts and
MathJax from the site itself.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from html import escape
from pathlib import Path
from typing import Any

from .notebooks import course_notebooks
from .validation import CourseError

#: The repository (a checkout installed with ``pip install -e``): README.md, notebooks/, docs/.
ROOT = Path(__file__).resolve().parents[1]
#: Where the Sphinx configuration lives.
CONF_DIR = Path("docs") / "site"
#: Pages after the notebooks, for teachers and maintainers.
GUIDES = ("docs/instructor_guide.md", "CONTRIBUTING.md", "CHANGELOG.md")
#: Files that README.md or the guides link to, copied along so that each link finds its file.
LINKED = ("docs/methods.png", "LICENSE", "CITATION.cff", "constraints.txt")
#: What Sphinx leaves in every HTML folder it builds: the mark that ``--out`` holds an earlier site.
BUILD_MARK = ".buildinfo"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
#: The tag of the cells that hold an exercise's solution (course_utils.student).
SOLUTION_TAG = "solution"


class SiteError(CourseError):
    """The website cannot be built: what is missing or wrong, and what to do."""


def _needs_sphinx() -> None:
    missing = []
    for module in ("sphinx", "myst_nb", "sphinx_book_theme", "jupyter_server_mathjax"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise SiteError(
            f"Building the website needs {', '.join(missing)}, which is not installed. "
            'Install the site extra: pip install -e ".[site]" (from the course folder).'
        )


def _widget_parts(state: dict[str, Any], model_id: str) -> Iterator[tuple[str, str]]:
    """("image/png", base64) and ("text", value) of a stored widget and its children, in display order."""
    model = state.get(model_id)
    if model is None:
        return
    fields = model.get("state", {})
    if model.get("model_name") == "ImageModel" and fields.get("format", "png") == "png":
        for buffer in model.get("buffers", []):
            if buffer.get("path") == ["value"] and buffer.get("encoding") == "base64":
                yield "image/png", buffer["data"]
    elif model.get("model_name") == "LabelModel" and fields.get("value"):
        yield "text", str(fields["value"])
    for child in fields.get("children", []):
        yield from _widget_parts(state, str(child).removeprefix("IPY_MODEL_"))


def static_explorer(output: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    """A widget output replaced by what the notebook stored of it: a note that the controls work in JupyterLab,
    its first picture (``image/png``) and its text line. Any other output comes back unchanged (in a list)."""
    view = output.get("data", {}).get(WIDGET_VIEW)
    if not isinstance(view, dict) or "model_id" not in view:
        return [output]
    parts = list(_widget_parts(state, str(view["model_id"])))
    note = "*An explorer: its controls work when the notebook runs in JupyterLab."
    note += " Here, the first picture the notebook stored.*" if any(k == "image/png" for k, _ in parts) else "*"
    shown = [("text/markdown", note)] + [(kind if kind == "image/png" else "text/plain", data) for kind, data in parts]
    return [{"output_type": "display_data", "data": {kind: data}, "metadata": {}} for kind, data in shown]


#: The controls of the notebooks' explorer (course_utils.widgets.Explorer.widget): a widget with all of them is
#: made live on the site (course_utils.live_explorer, docs/site/_static/explorer.js).
EXPLORER_CONTROLS = ("image", "class", "layer", "method")


def _controls(state: dict[str, Any], model_id: str) -> dict[str, str]:
    """description -> value (as text) of the sliders and menus in a stored widget and its children."""
    model = state.get(model_id)
    if model is None:
        return {}
    fields = model.get("state", {})
    found: dict[str, str] = {}
    name = str(fields.get("description", ""))
    if model.get("model_name") == "IntSliderModel" and name:
        found[name] = str(fields.get("value", ""))
    elif model.get("model_name") == "DropdownModel" and name:
        labels, i = fields.get("_options_labels", []), fields.get("index")
        found[name] = str(labels[i]) if isinstance(i, int) and 0 <= i < len(labels) else ""
    for child in fields.get("children", []):
        found.update(_controls(state, str(child).removeprefix("IPY_MODEL_")))
    return found


#: The cell metadata key that makes a notebook's own explorer of image and class live on the site, with the
#: layer and method its code fixes: ``{"live_explorer": {"layer": "conv4", "method": "CAM"}}`` (notebook 04).
FIXED_KEY = "live_explorer"


def live_explorer(
    output: dict[str, Any], state: dict[str, Any], fixed: dict[str, str] | None = None
) -> list[dict[str, Any]] | None:
    """An explorer's output (image, class, layer and method controls) as the site's live explorer: a
    ``<div class="live-explorer">`` holding the stored control values, which ``explorer.js`` fills with controls
    and a canvas. An output with only image and class controls is made live too when ``fixed`` (the cell's
    :data:`FIXED_KEY` metadata) names the layer and method its code uses; the page then offers image and class
    only. None for any other output."""
    view = output.get("data", {}).get(WIDGET_VIEW)
    if not isinstance(view, dict) or "model_id" not in view:
        return None
    values = _controls(state, str(view["model_id"]))
    if fixed and not ("layer" in values or "method" in values):
        values.update(layer=str(fixed.get("layer", "")), method=str(fixed.get("method", "")))
    else:
        fixed = None
    if not all(name in values for name in EXPLORER_CONTROLS):
        return None
    values["class"] = _class_value(values["class"])  # the menu's label -> the class index (-1: predicted)
    attrs = " ".join(f'data-{n}="{escape(values[n], quote=True)}"' for n in EXPLORER_CONTROLS)
    if fixed:
        attrs += ' data-fixed="layer method"'
        what = f"with any class ({escape(values['method'])} at layer {escape(values['layer'])}, as above)"
    else:
        what = "with any class, layer and method"
    note = (
        f"<p><em>A live explorer: move its controls to explain the first 12 test images {what} (maps computed "
        "when the site was built; the notebook in JupyterLab explores 100).</em></p>"
    )
    div = f'<div class="live-explorer" {attrs}><noscript>The live explorer needs JavaScript.</noscript></div>'
    return [{"output_type": "display_data", "data": {"text/html": note + div}, "metadata": {}}]


def _fixed(cell: dict[str, Any], source: Path) -> dict[str, str] | None:
    """The layer and method a cell's :data:`FIXED_KEY` metadata names, checked against its code: both must
    appear in it as strings, so that the site cannot show another method than the notebook's explorer."""
    fixed = cell.get("metadata", {}).get(FIXED_KEY)
    if fixed is None:
        return None
    code = "".join(cell.get("source", []))
    if not isinstance(fixed, dict) or not all(
        isinstance(fixed.get(k), str) and (f'"{fixed[k]}"' in code or f"'{fixed[k]}'" in code)
        for k in ("layer", "method")
    ):
        raise SiteError(
            f"{source.name}: a cell's {FIXED_KEY!r} metadata is {fixed!r}; expected the layer and method that its "
            'code passes to the explorer, e.g. {"layer": "conv4", "method": "CAM"}. Fix the metadata or the code.'
        )
    return fixed


def _class_value(name: str) -> str:
    from .data import CLASS_NAMES

    return str(list(CLASS_NAMES).index(name)) if name in CLASS_NAMES else "-1"


def _shown(
    output: dict[str, Any], state: dict[str, Any], live: bool, fixed: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    return (live_explorer(output, state, fixed) if live else None) or static_explorer(output, state)


def _static_notebook(source: Path, target: Path, live: bool = True) -> int:
    """Copy a notebook, its explorers made live (``live``) or replaced by their stored pictures, the widget state
    dropped, and its solution cells folded (MyST-NB's ``hide-input`` tag). Returns how many live explorers it
    has."""
    try:
        nb = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SiteError(f"{source} could not be read as a notebook ({err}); is it valid JSON?") from err
    state = nb.get("metadata", {}).pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.get("cells", []):
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if SOLUTION_TAG in tags and "hide-input" not in tags:
            tags.append("hide-input")  # folded as in JupyterLab: a "Show code cell source" toggle
        if "outputs" in cell:
            fixed = _fixed(cell, source)
            cell["outputs"] = [new for out in cell["outputs"] for new in _shown(out, state, live, fixed)]
    target.write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
    return sum(
        'class="live-explorer"' in str(o.get("data", {}).get("text/html", ""))
        for cell in nb.get("cells", [])
        for o in cell.get("outputs", [])
    )


def index_page(readme: str, notebooks: list[Path]) -> str:
    """README's text, then the (hidden) tables of contents that make the sidebar: the core path, the appendices,
    the guides. Their order is ``notebooks``' order."""
    core = [f"notebooks/{p.stem}" for p in notebooks if not p.name.startswith("A")]
    appendices = [f"notebooks/{p.stem}" for p in notebooks if p.name.startswith("A")]
    guides = [g.removesuffix(".md") for g in GUIDES]
    trees = [("The core path", core), ("Appendices", appendices), ("For teachers and maintainers", guides)]
    blocks = [
        "```{toctree}\n:hidden:\n:maxdepth: 1\n:caption: " + caption + "\n\n" + "\n".join(entries) + "\n```"
        for caption, entries in trees
        if entries
    ]
    return readme.rstrip() + "\n\n" + "\n\n".join(blocks) + "\n"


def assemble(root: Path, source: Path, live: bool = True) -> int:
    """Write Sphinx's source folder ``source`` from the repository ``root``; returns how many live explorers
    its notebooks have."""
    readme = root / "README.md"
    notebooks = course_notebooks(root / "notebooks")
    if not readme.is_file() or not notebooks:
        raise SiteError(
            f"{root} has no README.md or no notebooks (notebooks/NN_*.ipynb): the site is built from a checkout "
            'of the course. Run it in the course folder, installed with pip install -e ".[site]".'
        )
    (source / "notebooks").mkdir(parents=True)
    explorers = sum(_static_notebook(path, source / "notebooks" / path.name, live) for path in notebooks)
    for name in GUIDES + LINKED:
        if not (root / name).is_file():
            raise SiteError(
                f"{root / name} is missing; the site links to it (course_utils/site.py, GUIDES and LINKED)."
            )
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, source / name)
    (source / "index.md").write_text(index_page(readme.read_text(encoding="utf-8"), notebooks), encoding="utf-8")
    return explorers


def _check_out(out: Path, root: Path) -> None:
    """Refuse an output folder whose replacement would delete something that is not an earlier site."""
    resolved = out.resolve()
    if resolved == root.resolve() or resolved in root.resolve().parents or resolved == Path.home().resolve():
        raise SiteError(f"--out {out} is the course folder or above it; give a folder of its own, e.g. _site.")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / BUILD_MARK).is_file())):
        raise SiteError(
            f"--out {out} exists and is not a site built here (it has no {BUILD_MARK}); it would be replaced. "
            "Give a new or empty folder, or remove it first."
        )


def build(out: Path | str = "_site", root: Path | str | None = None, verbose: bool = False) -> Path:
    """Build the website into ``out`` (replaced when it holds an earlier site) and return its path.

    Raises :class:`SiteError` when Sphinx or its extensions are missing, the sources are not a course checkout,
    ``out`` is a folder that is not an earlier site, or Sphinx reports a warning (a broken link, a missing
    image): the site is built only when it is clean.
    """
    _needs_sphinx()
    from sphinx.cmd.build import build_main

    root = Path(ROOT if root is None else root)
    out = Path(out)
    _check_out(out, root)
    with tempfile.TemporaryDirectory(prefix="course-site-") as tmp:
        source, html, warnings = Path(tmp) / "source", Path(tmp) / "html", Path(tmp) / "warnings.txt"
        explorers = assemble(root, source)
        args = ["-b", "html", "-c", str(root / CONF_DIR), "-d", str(Path(tmp) / "doctrees"), "-w", str(warnings)]
        args += ["-W", "--keep-going", "-n"] + ([] if verbose else ["-q"]) + [str(source), str(html)]
        log = io.StringIO()
        if verbose:
            status = build_main(args)
        else:
            with redirect_stdout(log), redirect_stderr(log):
                status = build_main(args)
        if status != 0:
            text = warnings.read_text(encoding="utf-8") if warnings.exists() else log.getvalue()
            raise SiteError(f"Sphinx could not build the site cleanly (status {status}):\n{text.strip()[-4000:]}")
        if explorers:
            _explorer_data(html / "_static" / "explorer", verbose)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(html), str(out))
    return out


def _explorer_data(target: Path, verbose: bool) -> None:
    """The live explorers' maps (computed once, then cached: course_utils.live_explorer) into ``target``."""
    from . import live_explorer

    try:
        live_explorer.write(target, log=print if verbose else (lambda *_: None))
    except live_explorer.LiveExplorerError as err:
        raise SiteError(f"The site's live explorers cannot be built: {err}") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("_site"), help="the folder to build into (default: _site)")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        out = build(args.out, verbose=args.verbose)
    except SiteError as err:
        sys.exit(f"python -m course_utils.site: {err}")
    print(f"Built the site in {time.perf_counter() - start:.0f} s: {out}/index.html")
    print(f"Open it with: python -m http.server --bind 127.0.0.1 -d {out} (then http://127.0.0.1:8000)")


if __name__ == "__main__":
    main()
