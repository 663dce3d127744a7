"""The widgets in a real JupyterLab, driven by headless Chromium (marker ``browser``).

Starts JupyterLab on 127.0.0.1 (no token, temporary settings) over *copies* of the notebooks (so autosave
never touches the committed ones), runs all cells, moves the controls of the explorers in notebooks 06 and 04,
and checks that the picture's bytes change and that no cell shows an error. Screenshots go to
``artifacts/browser/``. Needs Debian's Chromium at /usr/bin/chromium (``apt-get install chromium``) and
Playwright for Python; skips, saying so, without them.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "browser"
# headless Chromium without sandbox, GPU or background traffic (also tests/test_hub.py, benchmarks/hub_load.py)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip(f"browser tests skipped: no Chromium at {CHROMIUM} (install it with `apt-get install chromium`)",
                allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests skipped: Playwright for Python is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory, cifar10):
    work = tmp_path_factory.mktemp("lab")
    for name in ("04_class_activation_maps.ipynb", "06_guided_backprop.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, work / name)
    settings = work / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    tracker = work / ".settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    # render every cell (JupyterLab 4 otherwise detaches cells scrolled out of view)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True}))
    port = _free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(work / ".config"), JUPYTER_RUNTIME_DIR=str(work / ".runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(work / ".settings"), JUPYTERLAB_WORKSPACES_DIR=str(work / ".workspaces"))
    log = open(work / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--IdentityProvider.token=", "--ServerApp.password=", f"--ServerApp.root_dir={work}",
         "--ServerApp.disable_check_xsrf=True", "--LabApp.news_url=None"]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=1)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail(f"JupyterLab did not start; see {work / 'jupyterlab.log'}")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _run_all(page, url: str, notebook: str) -> None:
    # a workspace of its own, reset: no tab of an earlier test is restored beside this notebook
    page.goto(f"{url}/lab/workspaces/{notebook[:2]}/tree/{notebook}?reset", wait_until="domcontentloaded")
    _start_run_all(page)
    _wait_run_all(page)


def _start_run_all(page) -> None:
    """In the notebook the page shows: wait for its kernel, clear the outputs, and click Run > Run All Cells."""
    _prepare_run_all(page)
    _click_run_all(page)


def _prepare_run_all(page) -> None:
    """In the notebook the page shows: wait for its kernel to be idle and clear the stored outputs."""
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    select = page.get_by_role("button", name="Select", exact=True)
    try:  # older settings may still ask which kernel to start
        select.click(timeout=5_000)
    except playwright_api.TimeoutError:
        pass
    page.wait_for_selector(KERNEL_IDLE, timeout=120_000)
    # clear the stored outputs first, so that every number in a prompt below comes from this run
    page.get_by_role("menuitem", name="Edit", exact=True).click()
    page.get_by_role("menuitem", name="Clear Outputs of All Cells", exact=True).click()
    page.wait_for_function("""() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .every(p => !/\\d/.test(p.textContent))""", timeout=30_000)


def _click_run_all(page) -> None:
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


KERNEL_IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
ALL_CELLS_RAN = """() => {
    const cells = [...document.querySelectorAll('.jp-CodeCell')];
    const prompts = cells.map(c => c.querySelector('.jp-InputArea .jp-InputPrompt'))
                         .filter(p => p !== null).map(p => p.textContent.trim());
    return prompts.length > 0 && prompts.every(t => /^\\[\\d+\\]:$/.test(t));
}"""


def _wait_run_all(page) -> None:
    """Wait until every code cell of the notebook the page shows has run and its kernel is idle."""
    # every code cell gets a number; none is left waiting ([*]) or unrun ([ ]). Solution cells are folded
    # (their input is hidden, a placeholder shows no prompt): their outputs' prompts are read instead, and a
    # folded cell without output is judged by the cells around it.
    page.wait_for_function(ALL_CELLS_RAN, timeout=300_000)
    page.wait_for_selector(KERNEL_IDLE, timeout=120_000)


def _run_all_done(page) -> bool:
    """Without waiting: has every code cell run, and is the kernel idle? (``_wait_run_all``'s test, once)"""
    return bool(page.evaluate(ALL_CELLS_RAN)) and page.query_selector(KERNEL_IDLE) is not None


def _errors(page) -> list[str]:
    return page.eval_on_selector_all(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", "els => els.map(e => e.innerText.slice(0, 300))")


def _picture_hash(page, widget) -> str:
    """SHA-256 of the PNG bytes an ipywidgets Image shows (its src is a blob: URL)."""
    img = widget.locator("img").first
    data = img.evaluate("""async (el) => {
        const buf = await (await fetch(el.src)).arrayBuffer();
        return Array.from(new Uint8Array(buf));
    }""")
    return hashlib.sha256(bytes(data)).hexdigest()


def _wait_for_new_picture(page, widget, old: str, timeout: float = 30.0) -> str:
    end = time.time() + timeout
    while time.time() < end:
        new = _picture_hash(page, widget)
        if new != old:
            return new
        time.sleep(0.3)
    return old


def _widget_with(page, selects: int):
    """The last widget box on the page with at least ``selects`` dropdowns and a picture."""
    boxes = page.locator(".jp-OutputArea-output .widget-vbox").filter(has=page.locator("img"))
    for i in reversed(range(boxes.count())):
        box = boxes.nth(i)
        if box.locator("select").count() >= selects:
            return box
    page.screenshot(path=str(ARTIFACTS / "no_widget_found.png"), full_page=True)
    raise AssertionError("no explorer widget with a picture found on the page (see artifacts/browser/no_widget_found.png)")


def test_explorer_in_notebook_06_reacts_to_class_layer_and_the_new_methods(lab, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _run_all(page, lab, "06_guided_backprop.ipynb")
    assert _errors(page) == []
    explorer = _widget_with(page, selects=3)          # class, layer, method
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "06_before.png"))
    first = _picture_hash(page, explorer)
    selects = explorer.locator("select")
    selects.nth(0).select_option(label="cat")        # the class control
    second = _wait_for_new_picture(page, explorer, first)
    assert second != first, "the heat map did not change when the class changed"
    page.screenshot(path=str(ARTIFACTS / "06_class_cat.png"))
    selects.nth(1).select_option(label="res1")       # the layer control
    third = _wait_for_new_picture(page, explorer, second)
    assert third != second, "the heat map did not change when the layer changed"
    page.screenshot(path=str(ARTIFACTS / "06_layer_res1.png"))
    method = selects.nth(2)                           # the method control offers notebooks 10 and 11's methods too
    offered = [t.replace("\xa0", " ") for t in method.locator("option").all_inner_texts()]   # ipywidgets: nbsp
    assert {"Score-CAM", "Integrated Gradients", "LayerCAM"} <= set(offered), offered
    method.select_option(index=offered.index("Score-CAM"))   # takes a layer: explains res1's maps by masking
    fourth = _wait_for_new_picture(page, explorer, third)
    assert fourth != third, "the picture did not change when the method became Score-CAM"
    page.screenshot(path=str(ARTIFACTS / "06_method_score_cam.png"))
    method.select_option(index=offered.index("Integrated Gradients"))   # takes no layer: a gradient image
    fifth = _wait_for_new_picture(page, explorer, fourth)
    assert fifth != fourth, "the picture did not change when the method became Integrated Gradients"
    page.screenshot(path=str(ARTIFACTS / "06_method_integrated_gradients.png"))
    assert _errors(page) == []
    page.close()


def test_cam_sliders_in_notebook_04_react(lab, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _run_all(page, lab, "04_class_activation_maps.ipynb")
    assert _errors(page) == []
    cam = _widget_with(page, selects=1)               # image slider + class dropdown
    cam.scroll_into_view_if_needed()
    first = _picture_hash(page, cam)
    cam.locator("select").first.select_option(label="ship")
    second = _wait_for_new_picture(page, cam, first)
    assert second != first, "the CAM did not change when the class changed"
    page.screenshot(path=str(ARTIFACTS / "04_class_ship.png"))
    page.close()
