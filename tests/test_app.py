"""The explain-an-image app (``python -m course_utils.app``: Voila over ``apps/explain_an_image.ipynb``).

Fast tests check the launcher (its command, its template, its refusals). The browser tests (marker ``browser``)
start Voila on 127.0.0.1 at a free port, and a local HTTP server with test images (Chelsea the cat and the rocket
from skimage.data, a text file, a 404, a 404 whose reason phrase is HTML), then drive the page in headless
Chromium: an address gives a picture and the top-3 line; a class changes the picture; an upload gives a picture; a
404, a non-image and a wrong scheme give the message ``cu.images.load_image`` raises (notebook 08's), shown as text
(escaped); after each error a good address works again; no console error, no failed request, no request to a host
other than 127.0.0.1. Needs Debian's Chromium at /usr/bin/chromium and Playwright; skips, saying so, without them.
Screenshots and the measured times go to ``artifacts/browser/``.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

import course_utils as cu
from course_utils import app

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "browser"


# ---- fast tests: the launcher ----------------------------------------------------------------------------------


def test_the_command_serves_the_app_notebook_on_localhost_with_the_course_template():
    cmd = app.voila_command(port=8899, open_browser=False)
    assert cmd[1:3] == ["-m", "voila"] and cmd[3] == str(app.APP_NOTEBOOK)
    assert "--port=8899" in cmd and "--Voila.ip=127.0.0.1" in cmd and "--no-browser" in cmd
    assert "--template=course" in cmd and "--show_tracebacks=False" in cmd
    assert "--VoilaConfiguration.extension_denylist=@jupyter-notebook/lab-extension" in cmd
    assert "--no-browser" not in app.voila_command(port=8899)


def test_the_template_is_found_on_jupyter_path_and_loads_nothing_from_other_hosts():
    env = app.voila_env({"JUPYTER_PATH": "/elsewhere"})
    first, rest = env["JUPYTER_PATH"].split(os.pathsep, 1)
    assert Path(first) == app.TEMPLATE_ROOT and rest == "/elsewhere"
    assert app.voila_env({})["JUPYTER_PATH"] == str(app.TEMPLATE_ROOT)
    folder = app.TEMPLATE_ROOT / "voila" / "templates" / app.TEMPLATE
    assert json.loads((folder / "conf.json").read_text()) == {"base_template": "lab"}
    text = (folder / "index.html.j2").read_text()
    code = text.split("-#}", 1)[1]  # the comment above it names the hosts it leaves out
    assert "http" not in code and "super.super()" in code


def test_the_app_notebook_is_one_explorer_with_its_parts_and_no_outputs():
    nb = json.loads(app.APP_NOTEBOOK.read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any("own_image_explorer(model, parts=True, plain=True)" in c for c in code)  # messages for a person
    assert all(not c["outputs"] and c["execution_count"] is None for c in nb["cells"] if c["cell_type"] == "code")


def test_readme_has_the_app_command():
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = text.split("<!-- app-command -->", 1)[1].split("```", 2)[1]
    (command,) = [line for line in block.splitlines()[1:] if line.strip()]
    assert command == 'pip install -e ".[app]" && python -m course_utils.app'


@pytest.mark.parametrize("port", [0, 65536, "8866", True, 1.5])
def test_a_bad_port_is_refused(port):
    with pytest.raises(cu.validation.CourseValueError, match="port"):
        app.voila_command(port=port)


def test_a_missing_notebook_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(cu.validation.CourseValueError, match=r"does not exist.*pip install -e"):
        app.voila_command(tmp_path / "nowhere.ipynb")
    assert app.main(["--port", "0"]) == 2


# ---- browser tests ---------------------------------------------------------------------------------------------

browser_only = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"browser tests skipped: no Chromium at {CHROMIUM} (install it with `apt-get install chromium`)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/evil"):  # a server whose reason phrase is markup
            self.send_response(404, "<b id='evil'>Gone</b>")
            self.end_headers()
            return
        if self.path.startswith("/huge"):  # says it sends 50 MiB (the limit is 10 MiB), sends nothing
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(50 * 2**20))
            self.end_headers()
            return
        if self.path.startswith("/slow"):  # answers after load_image's whole-download limit (10 s)
            time.sleep(cu.images.TIMEOUT_S + 2)
            self.send_error(404)
            return
        super().do_GET()

    def handle(self):
        try:
            super().handle()
        except ConnectionError:
            pass


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    import skimage.data
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    Image.fromarray(skimage.data.chelsea()).save(folder / "cat.png")
    Image.fromarray(skimage.data.rocket()).save(folder / "rocket.jpg", quality=90)
    (folder / "notes.txt").write_text("this is not an image")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def voila(tmp_path_factory):
    pytest.importorskip("voila", reason="app tests skipped: Voila is not installed (pip install -e '.[app]')")
    log_path = tmp_path_factory.mktemp("voila") / "voila.log"
    port = _free_port()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            app.voila_command(port=port, open_browser=False), env=app.voila_env(), stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        end = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url + "voila/static/voila.js", timeout=5).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > end:
                    pytest.fail(f"Voila did not start; see {log_path}:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="browser tests skipped: no Playwright")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


class _Watched:
    """A page with everything that must not happen recorded: console errors, page errors, failed requests and
    requests to any host but 127.0.0.1."""

    def __init__(self, browser, url: str):
        self.problems: list[str] = []
        self.page = browser.new_page(viewport={"width": 1500, "height": 1100})
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on("request", self._request)
        start = time.perf_counter()
        self.page.goto(url, wait_until="domcontentloaded", timeout=180_000)
        self.page.wait_for_selector(".widget-vbox .widget-text input", timeout=180_000)
        self.open_s = time.perf_counter() - start
        self.box = self.page.locator(".widget-vbox").filter(has=self.page.locator(".widget-text input")).last

    def _request(self, request) -> None:
        parts = urllib.parse.urlsplit(request.url)
        if parts.scheme not in ("blob", "data") and parts.hostname != "127.0.0.1":
            self.problems.append(f"request to another host: {request.url}")

    def status(self) -> str:
        return self.box.locator(".widget-html").first.inner_text().strip()

    def caption(self) -> str:
        return self.box.locator(".widget-label").last.inner_text().strip()

    def picture(self) -> str:
        """SHA-256 of the PNG bytes the Image widget shows ('' while it shows none)."""
        data = self.box.locator("img").first.evaluate(
            """async (el) => {
                if (!el.src || !el.src.startsWith('blob:')) return [];
                const buf = await (await fetch(el.src)).arrayBuffer();
                return Array.from(new Uint8Array(buf));
            }"""
        )
        return hashlib.sha256(bytes(data)).hexdigest() if len(data) > 1000 else ""

    def wait_for(self, what, timeout: float = 120.0):
        end = time.time() + timeout
        while time.time() < end:
            value = what()
            if value:
                return value
            time.sleep(0.2)
        self.page.screenshot(path=str(ARTIFACTS / "app_timeout.png"), full_page=True)
        raise AssertionError(f"timed out; status {self.status()!r}, caption {self.caption()!r}")

    def load(self, address: str) -> None:
        self.box.locator(".widget-text input").first.fill(address)
        self.box.get_by_role("button", name="Load", exact=True).click()


def _expected_message(address: str) -> str:
    """What the app shows for ``address``: load_image's error in the app's own words (no option names)."""
    with pytest.raises(cu.images.ImageLoadError) as err:
        cu.images.load_image(address)
    return cu.widgets.plain_message(err.value)


#: What a person who writes no code cannot act on: option names, code, packages, Python's names for errors.
CODER_WORDS = ("timeout=", "max_bytes", "max_pixels", "pass ", "pip ", "kernel", "Error", "b'", "GradCAM(")


def test_the_apps_messages_are_plain_words_and_the_notebooks_keep_theirs(tmp_path):
    """Every kind of image error, and CAM at an early layer, in the app's words: what happened, what to do with
    the page's controls; the notebooks' messages (which name the options a coder changes) stay as they are."""
    (tmp_path / "notes.txt").write_text("this is not an image")
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + bytes(2000))
    cases = {
        "not_image": lambda: cu.images.load_image(str(tmp_path / "notes.txt")),
        "no_file": lambda: cu.images.load_image(str(tmp_path / "gone.png")),
        "too_large": lambda: cu.images.load_image(str(big), max_bytes=1000),
        "empty_upload": lambda: cu.images.load_image(()),
        "unreachable": lambda: cu.images.load_image("http://127.0.0.1:9/cat.png", timeout=2),
    }
    raised = {}
    for reason, load in cases.items():
        with pytest.raises(cu.images.ImageLoadError) as err:
            load()
        raised[reason] = str(err.value)
        assert err.value.reason == reason, (reason, str(err.value))
        plain = cu.widgets.plain_message(err.value)
        assert plain != str(err.value) and not [w for w in CODER_WORDS if w in plain], (reason, plain)
        assert "Upload" in plain or "smaller" in plain or "address" in plain, plain  # what to do, on the page
    # the notebooks' messages stay as they were: they name the option or the call a coder changes
    assert "raise max_bytes" in raised["too_large"] and "pass its file path" in raised["unreachable"]
    slow = cu.images.ImageLoadError("x did not answer within 10 s ... pass a larger timeout=...", reason="too_slow",
                                    subject="https://example.org/<b>cat</b>.png", limit="10 s")
    text = cu.widgets.plain_message(slow)
    assert text.startswith("https://example.org/<b>cat</b>.png did not send the whole image within 10 s.")
    assert "timeout" not in text and "<b>" not in cu.widgets.own_image._error_html(text)  # escaped on the page
    for name in cu.widgets.PLAIN_MESSAGES:  # every kind: no coder words, even with a subject that has some
        assert not [w for w in CODER_WORDS if w in cu.widgets.PLAIN_MESSAGES[name]], name
    cam = ValueError("CAM needs the chosen layer to feed GlobalAveragePooling2D -> Dense; ... Use GradCAM instead")
    text = cu.widgets.plain_message(cam, "CAM", "conv1", "conv4")
    assert "conv1" in text and "conv4" in text and "Grad-CAM" in text and "GlobalAveragePooling2D" not in text
    assert cu.widgets.plain_message(cam, "CAM", "conv4", "conv4") == str(cam)  # not a layer question: as raised


@browser_only
@pytest.mark.browser
@pytest.mark.slow
def test_an_address_gives_a_map_and_every_bad_address_its_message(voila, images, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _, base = images
    w = _Watched(browser, voila)
    assert w.status() == "Load an image from a URL or upload one." and w.picture() == ""

    start = time.perf_counter()
    w.load(f"{base}/cat.png")
    cat = w.wait_for(w.picture)
    w.wait_for(lambda: w.caption().startswith("Prediction:"))
    first_map_s = time.perf_counter() - start
    assert "Top 3:" in w.caption() and w.status() == ""
    w.page.screenshot(path=str(ARTIFACTS / "app_cat.png"), full_page=True)

    w.box.locator("select").nth(1).select_option(label="ship")  # the class menu
    ship = w.wait_for(lambda: (h := w.picture()) != cat and h)
    assert ship != cat
    w.box.locator("select").nth(0).select_option(label="CAM")  # CAM at an early layer: the app's own words
    w.box.locator("select").nth(2).select_option(label="conv1")
    w.wait_for(lambda: w.status().startswith("CAM cannot explain the layer conv1"), timeout=60)
    assert "Grad-CAM" in w.status() and "GlobalAveragePooling2D" not in w.status()
    w.box.locator("select").nth(2).select_option(label="conv4")
    w.box.locator("select").nth(0).select_option(label="Grad-CAM")
    w.wait_for(lambda: w.status() == "")

    shown_before = w.caption()
    hostile = ["missing.png", "notes.txt", "evil.png", "huge.png", "slow.png"]
    for address in [f"{base}/{name}" for name in hostile] + ["ftp://127.0.0.1/cat.png"]:
        w.load(address)
        expected = _expected_message(address)
        w.wait_for(lambda e=expected: w.status() == e, timeout=60)
        assert w.box.locator("#evil").count() == 0  # the server's markup is shown as text, never made an element
        w.page.screenshot(path=str(ARTIFACTS / f"app_error_{address.rsplit('/', 1)[1]}.png"), full_page=True)
        assert w.caption() == shown_before  # the last good picture stays

        start = time.perf_counter()
        w.load(f"{base}/rocket.jpg")  # and the page still works
        w.wait_for(lambda: w.status() == "" and w.caption() != shown_before)
        rocket_s = time.perf_counter() - start
        w.load(f"{base}/cat.png")
        w.wait_for(lambda: w.status() == "" and w.caption() == shown_before)
    w.page.screenshot(path=str(ARTIFACTS / "app_after_errors.png"), full_page=True)
    assert w.problems == [], "\n".join(w.problems)
    (ARTIFACTS / "app_times.json").write_text(
        json.dumps({"page_open_s": round(w.open_s, 2), "first_map_s": round(first_map_s, 2),
                    "later_map_s": round(rocket_s, 2)}) + "\n"
    )
    w.page.close()


@browser_only
@pytest.mark.browser
@pytest.mark.slow
def test_an_upload_gives_a_map(voila, images, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    folder, _ = images
    w = _Watched(browser, voila)
    with w.page.expect_file_chooser() as chooser:  # ipywidgets makes its file input when the button is clicked
        w.box.locator(".widget-upload").click()
    chooser.value.set_files(str(folder / "rocket.jpg"))
    w.wait_for(w.picture)
    w.wait_for(lambda: w.caption().startswith("Prediction:"))
    assert w.status() == ""
    w.page.screenshot(path=str(ARTIFACTS / "app_upload.png"), full_page=True)
    assert w.problems == [], "\n".join(w.problems)
    w.page.close()
