"""Sphinx configuration of the course website, the one place it is set.

``python -m course_utils.site`` builds with it: it assembles a source folder (README.md as the home page with
the table of contents, the notebooks in course order, the instructor guide) and runs Sphinx with this folder as
its configuration folder. Notebooks are rendered from their stored outputs (never executed), and every file a
page loads (MathJax, fonts, icons, scripts, styles) is served from the site itself: nothing is fetched from
another host.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jupyter_server_mathjax
from sphinx.application import Sphinx

project = "How convolutional networks explain their decisions"
author = "The course's authors"
copyright = "the course's authors; prose and figures CC BY 4.0, code MIT"

extensions = ["myst_nb"]  # MyST-NB brings MyST-Parser (markdown) and the notebook reader
root_doc = "index"
exclude_patterns = ["_build", ".venv", "**/.ipynb_checkpoints"]

# Notebooks: shown with the outputs committed with them, never run at build time.
nb_execution_mode = "off"
nb_merge_streams = True
# No widget JavaScript from a CDN: each explorer becomes a <div class="live-explorer"> when the source folder is
# assembled (course_utils.site), drawn by _static/explorer.js from maps computed at build time; any other widget
# becomes its stored first picture.
nb_ipywidgets_js: dict[str, dict[str, str]] = {}

# Markdown: $...$ and $$...$$ equations, \begin{align} blocks, anchors for the headings (README's #setup).
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# MathJax 2, served from the site: the copy that the PyPI package jupyter-server-mathjax ships (MathJax 2.7,
# with its STIX-Web fonts), copied to _static/mathjax. MyST's MathJax settings are written for MathJax 3 and 4.
myst_update_mathjax = False
MATHJAX = Path(jupyter_server_mathjax.__file__).parent / "static"  # MathJax.js, config/, jax/, fonts/ ...
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"  # relative: under _static/
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True},
    # only the fonts the package ships (STIX-Web, woff): no request for a font that is not there
    "HTML-CSS": {
        "availableFonts": [],
        "webFont": "STIX-Web",
        "imageFont": None,
        "preferredFont": None,
        # MathJax 2 probes web-font loading with a font that cannot load, at url('about:blank'), which Chrome
        # reports as a failed request and a console error (mathjax/MathJax#926, #2054). local() fails the same
        # way, silently, without a request.
        "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}},
    },
    "menuSettings": {"zoom": "None"},
    "messageStyle": "none",  # no "Processing math" box in the corner
}

html_static_path = ["_static"]  # explorer.js (this folder's _static); its data is added by course_utils.site
html_theme = "sphinx_book_theme"
html_title = project
html_copy_source = False  # the notebooks are in the repository; the site does not repeat them
html_show_sourcelink = False
html_last_updated_fmt = None
html_context = {"default_mode": "auto"}  # light or dark as the reader's system says
html_theme_options = {
    "use_download_button": False,
    "use_fullscreen_button": True,
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}


def _copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    """After a successful build, copy MathJax to _static/mathjax, where ``mathjax_path`` points."""
    if exception is None and app.builder.format == "html":
        shutil.copytree(MATHJAX, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def _explorer_script(app: Sphinx, pagename: str, templatename: str, context: dict, doctree: object) -> None:
    """explorer.js on the pages that have a live explorer, and on no other."""
    if 'class="live-explorer"' in context.get("body", ""):
        app.add_js_file("explorer.js", defer="defer")


def setup(app: Sphinx) -> None:
    app.connect("build-finished", _copy_mathjax)
    app.connect("html-page-context", _explorer_script)
