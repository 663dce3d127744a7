"""The course as a website (``python -m course_utils.site``): built once for this module into a temporary folder,
then checked as files (every notebook has a page, in course order; every internal link and anchor resolves; no
script, stylesheet, font or image comes from another host; equations are MathJax input) and in headless Chromium
served from 127.0.0.1 (no console error, no failed request, no request to another host; equations typeset;
search finds Grad-CAM). The checkers are tested on small planted pages too, so that they can fail.
"""

from __future__ import annotations

import functools
import http.server
import itertools
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

pytest.importorskip("sphinx", reason="site tests skipped: Sphinx is not installed (pip install -e \".[site]\")")
pytest.importorskip("myst_nb", reason="site tests skipped: MyST-NB is not installed (pip install -e \".[site]\")")
from bs4 import BeautifulSoup  # a dependency of pydata-sphinx-theme, hence of the site extra

from course_utils import site
from course_utils.notebooks import course_notebooks

# Sphinx 9 announces API changes for Sphinx 11 that MyST and the theme have not made yet: not this course's to fix.
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = course_notebooks(ROOT / "notebooks")
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
#: <link rel=...> values whose href the browser fetches (other rels, such as next or search, are links).
FETCHED_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "icon", "shortcut", "apple-touch-icon", "manifest"}


# ---------------------------------------------------------------------------------------------- the checkers


def _is_external(url: str) -> bool:
    return url.startswith("//") or urlsplit(url).scheme not in ("", "data")


def _resources(soup: BeautifulSoup) -> Iterator[str]:
    """Every URL the page makes the browser fetch by itself: scripts, fetched <link>s, images, frames, media."""
    for tag in soup.find_all(["script", "img", "iframe", "source", "audio", "video", "embed", "track", "input"]):
        if tag.get("src"):
            yield tag["src"]
        for part in (tag.get("srcset") or "").split(","):
            if part.strip():
                yield part.split()[0]
    for tag in soup.find_all("link", href=True):
        if {r.lower() for r in tag.get("rel", [])} & FETCHED_RELS:
            yield tag["href"]
    for tag in soup.find_all("object", data=True):
        yield tag["data"]
    for tag in soup.find_all(style=True):
        if "url(" in tag["style"]:
            yield from (u.strip("'\" ") for u in tag["style"].split("url(")[1:] for u in [u.split(")")[0]])


def external_resources(html: str) -> list[str]:
    """The resources of a page (script src, stylesheet href, img src, ...) that point outside the site.
    Links in prose (<a href="https://...">) are not resources and are not listed."""
    return [url for url in _resources(BeautifulSoup(html, "html.parser")) if _is_external(url)]


def site_pages(root: Path) -> list[Path]:
    """The HTML pages of a built site (not the theme's template fragments that Sphinx copies to _static/)."""
    return sorted(p for p in root.rglob("*.html") if "_static" not in p.relative_to(root).parts)


def broken_links(root: Path) -> list[str]:
    """Every relative link (<a href>) and resource of every page under ``root`` whose file does not exist, or
    whose #anchor is no id of the page it points at; as 'page: url' lines."""
    pages = {p: BeautifulSoup(p.read_text(encoding="utf-8"), "html.parser") for p in site_pages(root)}
    ids = {p: {t["id"] for t in soup.find_all(id=True)} | {t["name"] for t in soup.find_all("a", attrs={"name": True})}
           for p, soup in pages.items()}
    broken = []
    for page, soup in pages.items():
        urls = [a["href"] for a in soup.find_all("a", href=True)] + list(_resources(soup))
        for url in urls:
            if _is_external(url) or url.startswith(("mailto:", "javascript:")):
                continue
            parts = urlsplit(url)
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or root.resolve() not in (target.parents):
                broken.append(f"{page.relative_to(root)}: {url} (no such file in the site)")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in ids.get(target, set()):
                broken.append(f"{page.relative_to(root)}: {url} (no id {parts.fragment!r} on that page)")
    return broken


def test_the_checkers_catch_planted_mistakes(tmp_path):
    planted = """<html><head>
        <script src="https://cdn.example.org/x.js"></script><script src="_static/ok.js"></script>
        <link rel="stylesheet" href="//fonts.example.org/font.css"><link rel="next" href="https://example.org/next">
        <link rel="preload" as="font" href="http://example.org/f.woff2"></head><body>
        <img src="https://example.org/a.png"><img src="data:image/png;base64,AAAA"><img srcset="b.png 1x, https://example.org/b2.png 2x">
        <div style="background: url('https://example.org/bg.png')"></div>
        <a href="https://arxiv.org/abs/1610.02391">a paper, in prose</a></body></html>"""
    assert external_resources(planted) == [
        "https://cdn.example.org/x.js", "https://example.org/a.png", "https://example.org/b2.png",
        "//fonts.example.org/font.css", "http://example.org/f.woff2", "https://example.org/bg.png"]
    (tmp_path / "page.html").write_text('<a href="other.html">x</a><a href="page.html#here">y</a><p id="here"></p>'
                                        '<a href="page.html#gone">z</a><img src="_images/missing.png">')
    assert sorted(broken_links(tmp_path)) == ["page.html: _images/missing.png (no such file in the site)",
                                              "page.html: other.html (no such file in the site)",
                                              "page.html: page.html#gone (no id 'gone' on that page)"]


def test_the_builder_refuses_a_folder_that_is_not_a_site(tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("...")
    with pytest.raises(site.SiteError, match="not a site built here"):
        site.build(precious)
    assert (precious / "chapter1.tex").exists()
    with pytest.raises(site.SiteError, match="course folder or above it"):
        site.build(ROOT)


def test_an_explorer_becomes_its_stored_picture():
    state = {"box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_img", "IPY_MODEL_label"]}},
             "img": {"model_name": "ImageModel", "state": {"format": "png"},
                     "buffers": [{"data": "iVBORw0KGgo=", "encoding": "base64", "path": ["value"]}]},
             "label": {"model_name": "LabelModel", "state": {"value": "Prediction: dog."}}}
    output = {"output_type": "execute_result", "data": {site.WIDGET_VIEW: {"model_id": "box"}, "text/plain": "Box"}}
    shown = site.static_explorer(output, state)
    assert [list(o["data"]) for o in shown] == [["text/markdown"], ["image/png"], ["text/plain"]]
    assert "JupyterLab" in shown[0]["data"]["text/markdown"] and shown[1]["data"]["image/png"] == "iVBORw0KGgo="
    assert shown[2]["data"]["text/plain"] == "Prediction: dog."
    plain = {"output_type": "stream", "name": "stdout", "text": "hello"}
    assert site.static_explorer(plain, state) == [plain]


def test_a_broken_link_stops_the_build(tmp_path):
    """Sphinx's warnings are errors: a link to a notebook that does not exist gives a SiteError, and no site."""
    root = tmp_path / "course"
    for name in ("README.md", *site.GUIDES, *site.LINKED, "docs/site/conf.py",
                 "notebooks/00_start_here.ipynb", "notebooks/A1_bfloat16.ipynb"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, root / name)
    readme = root / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "\nSee [notebook 99](notebooks/99_gone.ipynb).\n")
    with pytest.raises(site.SiteError, match="99_gone"):
        site.build(tmp_path / "_site", root=root)
    assert not (tmp_path / "_site").exists()


# ------------------------------------------------------------------------------------------------ the site


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return site.build(tmp_path_factory.mktemp("site") / "_site")


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_every_notebook_has_a_page_in_course_order(built):
    for nb in NOTEBOOKS:
        assert (built / "notebooks" / f"{nb.stem}.html").is_file(), f"no page for {nb.name}"
    assert (built / "docs" / "instructor_guide.html").is_file()
    home = _soup(built / "index.html")
    assert "Course map" in home.get_text() and "How convolutional networks explain" in home.title.get_text()
    sidebar = [a["href"] for a in home.select("nav.bd-links a.reference.internal")]
    pages = [h for h in sidebar if h.startswith("notebooks/")]
    assert pages == [f"notebooks/{nb.stem}.html" for nb in NOTEBOOKS], "the sidebar is not in course order"
    assert "docs/instructor_guide.html" in sidebar
    # previous / next follow the course order, from the home page through the core path and the appendices
    order = ["index"] + [f"notebooks/{nb.stem}" for nb in NOTEBOOKS] + ["docs/instructor_guide"]
    for before, after in itertools.pairwise(order):
        page = built / f"{before}.html"
        nxt = _soup(page).find("link", rel="next")
        assert nxt is not None and (page.parent / nxt["href"]).resolve() == (built / f"{after}.html").resolve(), before


def test_every_internal_link_resolves(built):
    broken = broken_links(built)
    assert not broken, "links or resources that go nowhere:\n" + "\n".join(broken[:30])


def test_nothing_is_fetched_from_another_host(built):
    found = {str(p.relative_to(built)): urls for p in site_pages(built) if (urls := external_resources(p.read_text()))}
    assert not found, f"pages that load from other hosts: {found}"
    assert (built / "_static" / "mathjax" / "MathJax.js").is_file()
    assert list((built / "_static" / "mathjax" / "fonts" / "HTML-CSS" / "STIX-Web" / "woff").rglob("*.woff"))
    for css in built.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        urls = [u.split(")")[0].strip("'\" ") for u in text.split("url(")[1:]]
        assert not [u for u in urls if _is_external(u)], f"{css.relative_to(built)} loads from another host"


def test_equations_are_mathjax_input_and_notebooks_keep_their_figures(built):
    page = (built / "notebooks" / "05_grad_cam.html").read_text(encoding="utf-8")
    soup = BeautifulSoup(page, "html.parser")
    shown = soup.select("div.math")   # notebook 05 writes its two equations as display math
    assert len(shown) >= 2 and all(d.get_text().strip().startswith("\\[") for d in shown)
    everywhere = [m for p in site_pages(built) for m in _soup(p).select(".math")]
    assert len(everywhere) >= 8, f"only {len(everywhere)} equations on the whole site"
    assert all(m.get_text().strip()[:2] in ("\\(", "\\[") for m in everywhere), "an equation is not MathJax input"
    assert "$" not in " ".join(p.get_text() for p in soup.select("article p")), "a $...$ equation was not converted"
    assert soup.find("script", src=lambda s: bool(s) and s.startswith("../_static/mathjax/MathJax.js"))
    # its figures, and its explorer, now live (a canvas drawn by explorer.js) instead of its stored picture
    assert len(soup.select("article img")) >= 4 and len(soup.select("article div.live-explorer")) == 1
    assert soup.find("script", src=lambda s: bool(s) and "_static/explorer.js" in s)
    cam = _soup(built / "notebooks" / "04_class_activation_maps.html")  # image and class only: CAM at conv4, live
    (box,) = cam.select("article div.live-explorer")
    assert (box["data-method"], box["data-layer"], box["data-fixed"]) == ("CAM", "conv4", "layer method")
    assert "the first picture the notebook stored" not in cam.get_text()
    # the solutions are folded, as in JupyterLab: each solution cell's input sits in a closed <details>
    solutions = [d for d in soup.select("details") if "### BEGIN SOLUTION" in d.get_text()]
    assert solutions and all(not d.has_attr("open") for d in solutions)
    assert "### BEGIN SOLUTION" not in " ".join(c.get_text() for c in soup.select("div.cell_input:not(details *)"))
    assert "widget-view" not in page and "jupyter-widgets" not in page


# --------------------------------------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def served(built) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(built)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser_page(served):
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests skipped: no Chromium at {CHROMIUM} (install it with `apt-get install chromium`)")
    api = pytest.importorskip("playwright.sync_api", reason="browser tests skipped: Playwright for Python is not installed")
    with api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"])
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        problems: list[str] = []
        host = urlsplit(served).netloc

        def route(r):  # nothing leaves 127.0.0.1: a request elsewhere is recorded and refused
            if urlsplit(r.request.url).scheme in ("data", "blob") or urlsplit(r.request.url).netloc == host:
                r.continue_()
            else:
                problems.append(f"request to another host: {r.request.url}")
                r.abort()

        context.route("**/*", route)
        pg = context.new_page()
        pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        pg.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
        pg.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        pg.problems = problems
        yield pg
        context.close()
        browser.close()


def _typeset(pg) -> None:
    """Wait until MathJax, where the page loads it, has typeset every equation (its queue has run)."""
    if pg.query_selector('script[src*="MathJax.js"]') is None:
        return
    pg.wait_for_function("() => window.MathJax && MathJax.isReady === true", timeout=60_000)
    pg.evaluate("() => new Promise(done => MathJax.Hub.Queue(done))")


@pytest.mark.browser
def test_every_page_loads_offline_without_errors(built, served, browser_page):
    page = browser_page
    page.problems.clear()
    pages = [str(p.relative_to(built)) for p in site_pages(built)]
    assert len(pages) >= len(NOTEBOOKS) + 3
    for name in pages:
        page.goto(f"{served}/{name}", wait_until="load")
        _typeset(page)
        page.wait_for_load_state("networkidle")
        assert not page.problems, f"{name}: " + "\n".join(page.problems)
    page.goto(f"{served}/notebooks/05_grad_cam.html", wait_until="load")
    _typeset(page)
    # Sphinx's equations are .math.notranslate (MathJax's own output has spans of class math too)
    equations = page.eval_on_selector_all(".math.notranslate", "els => els.length")
    rendered = page.eval_on_selector_all(".math.notranslate", "els => els.filter(e => e.querySelector('.MathJax')).length")
    assert equations >= 2 and rendered == equations, f"MathJax typeset {rendered} of {equations} equations"
    fonts = page.evaluate("() => [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    assert any("STIX" in f for f in fonts), f"MathJax's own fonts did not load: {fonts}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("div.math").first.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "site_05_equation.png"))
    assert page.eval_on_selector_all(".MathJax .merror, .MathJax_Error", "els => els.length") == 0
    assert page.evaluate("() => MathJax.version").startswith("2.7")
    assert not page.problems, "\n".join(page.problems)


@pytest.mark.browser
def test_searching_grad_cam_finds_notebook_05(served, browser_page):
    page = browser_page
    page.problems.clear()
    page.goto(f"{served}/search.html?q=Grad-CAM", wait_until="load")
    page.wait_for_selector("#search-results ul.search li a", timeout=60_000)
    page.wait_for_load_state("networkidle")   # the search has fetched its results' summaries
    hrefs = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(a => a.getAttribute('href'))")
    assert any("notebooks/05_grad_cam.html" in h for h in hrefs[:5]), hrefs[:10]
    first = next(h for h in hrefs if "05_grad_cam" in h)
    page.click(f'#search-results a[href="{first}"]')
    page.wait_for_load_state("load")
    assert "05_grad_cam.html" in page.url and "Grad-CAM" in page.title()
    assert not page.problems, "\n".join(page.problems)


# ------------------------------------------------------------------------------------------ the live explorers

from course_utils import live_explorer  # noqa: E402


def test_an_explorer_widget_becomes_a_live_explorer():
    state = {"box": {"model_name": "VBoxModel", "state": {"children": [f"IPY_MODEL_{n}" for n in "iclm"]}},
             "i": {"model_name": "IntSliderModel", "state": {"description": "image", "value": 3}},
             "c": {"model_name": "DropdownModel", "state": {"description": "class", "index": 4,
                                                           "_options_labels": ["predicted", "airplane", "automobile", "bird", "cat"]}},
             "l": {"model_name": "DropdownModel", "state": {"description": "layer", "index": 0, "_options_labels": ["conv4"]}},
             "m": {"model_name": "DropdownModel", "state": {"description": "method", "index": 1,
                                                           "_options_labels": ["CAM", "Grad-CAM"]}}}
    output = {"output_type": "execute_result", "data": {site.WIDGET_VIEW: {"model_id": "box"}}}
    (shown,) = site.live_explorer(output, state)
    div = BeautifulSoup(shown["data"]["text/html"], "html.parser").find("div", class_="live-explorer")
    assert (div["data-image"], div["data-class"], div["data-layer"], div["data-method"]) == ("3", "3", "conv4", "Grad-CAM")
    del state["m"]
    assert site.live_explorer(output, state) is None  # not the explorer: its stored picture, as before
    # notebook 04's explorer has image and class only: live when its cell's metadata names the layer and method
    del state["l"]
    assert site.live_explorer(output, state) is None
    (shown,) = site.live_explorer(output, state, {"layer": "conv4", "method": "CAM"})
    div = BeautifulSoup(shown["data"]["text/html"], "html.parser").find("div", class_="live-explorer")
    assert (div["data-layer"], div["data-method"], div["data-fixed"]) == ("conv4", "CAM", "layer method")
    assert "CAM at layer conv4" in shown["data"]["text/html"]


def test_the_fixed_layer_and_method_must_be_the_cells_own(tmp_path):
    cell = {"cell_type": "code", "source": ['explorer.render(image, cls, "conv4", "CAM")'],
            "metadata": {site.FIXED_KEY: {"layer": "conv4", "method": "CAM"}}}
    assert site._fixed(cell, tmp_path / "04.ipynb") == {"layer": "conv4", "method": "CAM"}
    cell["metadata"][site.FIXED_KEY]["method"] = "Grad-CAM"  # the page would show another method than the notebook
    with pytest.raises(site.SiteError, match="Grad-CAM.*expected the layer and method that its code passes"):
        site._fixed(cell, tmp_path / "04.ipynb")
    assert site._fixed({"source": [], "metadata": {}}, tmp_path / "x.ipynb") is None


@pytest.fixture(scope="module")
def stored(built):
    return live_explorer.read(built / "_static" / "explorer")


@pytest.fixture(scope="module")
def explorer():
    import course_utils as cu

    _, (x, y) = cu.data.load_cifar10()
    return cu.widgets.Explorer(cu.models.load_course_model(), x[:live_explorer.N_IMAGES], y[:live_explorer.N_IMAGES])


@pytest.mark.parametrize("image, cls, layer, method", [
    (3, 5, "conv4", "Grad-CAM"), (7, 0, "res1", "Score-CAM"), (0, 2, "conv3", "Eigen-CAM"),
    (5, 9, "conv4", "CAM"), (1, 1, "conv4", "guided backpropagation"), (11, 4, "pool2", "guided Grad-CAM")])
def test_a_stored_map_is_the_explainers_map_to_its_rounding(stored, explorer, image, cls, layer, method):
    from course_utils import viz

    index, raw = stored
    assert index["n_images"] == 12 and len(index["class_names"]) == 10 and len(index["lut"]) == 256
    r = explorer.compute(image, cls, layer, method)
    want = viz.gradient_image(r["map"]) if r["kind"] == "gradient" else np.clip(r["map"], 0, 1)
    got = live_explorer.stored_map(index, raw, image, cls, layer, method).astype(np.float64) / 255
    assert got.shape == want.shape
    # 8-bit as drawn, from 16-bit stored values (a CAM-family map at its layer's size, guided backpropagation's
    # gradients) that move a value by far less than one step of 1/255 before that rounding
    assert np.abs(got - want).max() <= 0.5 / 255 + 1e-3
    assert np.array_equal(live_explorer.stored_image(index, raw, image), explorer.images[image].astype(np.uint8))
    assert index["top3"][image] == cu_prediction_text(explorer, image, r)


def cu_prediction_text(explorer, image, r):
    from course_utils.widgets import prediction_text

    return prediction_text(r["logits"], explorer.class_names, explorer.labels[image])


def test_the_cam_note_and_the_cache(stored, built, tmp_path):
    index, raw = stored
    assert live_explorer.stored_map(index, raw, 0, 0, "conv1", "CAM") is None and "conv1" in index["errors"]["CAM"]
    assert index["key"] == live_explorer.cache_key()
    info = live_explorer.write(tmp_path, log=lambda *_: None)  # computed by the build: from the cache now
    assert info["cached"] and info["seconds"] < 5 and info["bytes"] < 8e6
    kinds = {slot["kind"] for slot in index["slots"].values()}
    assert kinds == {"low", "heat", "gradient", "signed", "product"}, kinds  # CAM-family maps at 8x8 stored small
    assert index["slots"]["Grad-CAM|conv4"]["shape"] == [8, 8] and index["slots"]["Grad-CAM|conv1"]["shape"] == [32, 32]
    assert index["slots"]["guided Grad-CAM|res1"]["of"] == ["guided backpropagation|", "Grad-CAM|res1"]


def _explorer_state(page) -> dict:
    return page.evaluate("""() => {
        const box = document.querySelector('div.live-explorer.live-explorer-ready');
        return {drawn: box.dataset.drawn, text: box.querySelector('.live-explorer-text').textContent,
                picture: box.querySelector('canvas').toDataURL(),
                layerDisabled: box.querySelector('select.live-layer').disabled};
    }""")


@pytest.mark.browser
def test_moving_the_live_explorers_controls_redraws_it(served, browser_page):
    page = browser_page
    page.wait_for_load_state("networkidle")  # an earlier test's page (05, after a search) has loaded its explorer
    page.problems.clear()
    page.goto(f"{served}/notebooks/05_grad_cam.html", wait_until="load")
    page.wait_for_selector("div.live-explorer.live-explorer-ready", timeout=60_000)
    first = _explorer_state(page)
    assert first["text"].startswith("Prediction: ") and "Top 3: " in first["text"]
    slider = page.locator("div.live-explorer input.live-image").first
    slider.focus()
    page.keyboard.press("ArrowRight")
    moved = _explorer_state(page)
    assert moved["drawn"] != first["drawn"]
    assert moved["picture"] != first["picture"] and moved["text"] != first["text"]
    page.locator("div.live-explorer select.live-class").first.select_option("3")
    by_class = _explorer_state(page)
    assert by_class["picture"] != moved["picture"] and by_class["drawn"].split("|")[1] == "3"
    page.locator("div.live-explorer select.live-method").first.select_option("vanilla gradient")
    gradient = _explorer_state(page)
    assert gradient["layerDisabled"] and gradient["picture"] != by_class["picture"]
    page.locator("div.live-explorer select.live-method").first.select_option("Grad-CAM")
    assert not _explorer_state(page)["layerDisabled"]
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("div.live-explorer").first.screenshot(path=str(ARTIFACTS / "site_05_live_explorer.png"))
    assert not page.problems, "\n".join(page.problems)


@pytest.mark.browser
def test_notebook_04s_cam_explorer_is_live_with_image_and_class(served, browser_page):
    page = browser_page
    page.wait_for_load_state("networkidle")
    page.problems.clear()
    page.goto(f"{served}/notebooks/04_class_activation_maps.html", wait_until="load")
    page.wait_for_selector("div.live-explorer.live-explorer-ready", timeout=60_000)
    box = page.locator("div.live-explorer").first
    assert box.locator("input.live-image").is_visible() and box.locator("select.live-class").is_visible()
    assert not box.locator("select.live-layer").is_visible() and not box.locator("select.live-method").is_visible()
    first = _explorer_state(page)
    assert first["drawn"].endswith("|conv4|CAM") and "CAM for" in box.locator(".live-explorer-title").inner_text()
    box.locator("input.live-image").focus()
    page.keyboard.press("ArrowRight")
    moved = _explorer_state(page)
    assert moved["drawn"] != first["drawn"] and moved["drawn"].endswith("|conv4|CAM")
    assert moved["picture"] != first["picture"] and moved["text"] != first["text"]
    assert moved["text"].startswith("Prediction: ") and "Top 3: " in moved["text"]
    other = str((int(moved["drawn"].split("|")[1]) + 1) % 10)  # not the predicted class, whose map is shown now
    box.locator("select.live-class").select_option(other)
    by_class = _explorer_state(page)
    assert by_class["picture"] != moved["picture"] and by_class["drawn"].split("|")[1] == other
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    box.screenshot(path=str(ARTIFACTS / "site_04_live_explorer.png"))
    assert not page.problems, "\n".join(page.problems)


@pytest.mark.browser
@pytest.mark.parametrize("notebook, image, cls, layer, method", [
    ("10_the_cam_family", 4, 6, "res2", "Grad-CAM"), ("10_the_cam_family", 2, -1, "conv4", "guided Grad-CAM"),
    ("10_the_cam_family", 9, 3, "conv2", "CAM"), ("10_the_cam_family", 7, 0, "res1", "Score-CAM"),
    ("04_class_activation_maps", 5, 8, "conv4", "CAM")])
def test_the_canvas_shows_the_stored_map_in_the_course_colours(
        served, browser_page, stored, notebook, image, cls, layer, method):
    index, raw = stored
    page = browser_page
    page.wait_for_load_state("networkidle")  # an earlier test's page (05, after a search) has loaded its explorer
    page.problems.clear()
    page.goto(f"{served}/notebooks/{notebook}.html", wait_until="load")
    page.wait_for_selector("div.live-explorer.live-explorer-ready", timeout=60_000)
    box = page.locator("div.live-explorer").first
    if box.get_attribute("data-fixed") is None:  # notebook 04's explorer: CAM at conv4, fixed
        box.locator("select.live-method").select_option(method)
        box.locator("select.live-layer").select_option(layer)
    box.locator("select.live-class").select_option(str(cls))
    box.locator("input.live-image").fill(str(image))
    c = index["predicted"][image] if cls < 0 else cls
    assert box.get_attribute("data-drawn") == f"{image}|{c}|{layer}|{method}"
    h, w = index["size"]
    s, gap, bar = live_explorer.SCALE, live_explorer.GAP, live_explorer.BAR
    pixels = np.array(page.evaluate(
        "() => Array.from(document.querySelector('div.live-explorer canvas').getContext('2d')"
        ".getImageData(0, 0, %d, %d).data)" % (2 * w * s + 2 * gap + bar, h * s)), dtype=np.uint8)
    pixels = pixels.reshape(h * s, 2 * w * s + 2 * gap + bar, 4)
    assert (pixels[..., 3] == 255).all()
    left = pixels[:, : w * s, :3]
    right = pixels[:, w * s + gap : 2 * w * s + gap, :3]
    big = lambda a: np.repeat(np.repeat(a, s, axis=0), s, axis=1)  # noqa: E731
    assert np.array_equal(left, big(live_explorer.stored_image(index, raw, image)))
    assert np.array_equal(right, big(live_explorer.panel(index, raw, image, c, layer, method)))
    assert not page.problems, "\n".join(page.problems)
