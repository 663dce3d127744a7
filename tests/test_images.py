"""Loading your own image: URLs served from 127.0.0.1, files, upload bytes, and every failure."""
from __future__ import annotations

import http.server
import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from course_utils import images as I


def _png(w=40, h=30, colour=(200, 30, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, format="PNG")
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):  # noqa: N802
        status, body, headers, delay = self.routes.get(self.path, (404, b"not here", {}, 0))
        time.sleep(delay)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    _Handler.routes = {
        "/cat.png": (200, _png(), {"Content-Type": "image/png"}, 0),
        "/page.html": (200, b"<html><body>not an image</body></html>", {"Content-Type": "text/html"}, 0),
        "/big.png": (200, b"x" * 2048, {"Content-Length": "2048"}, 0),
        "/slow.png": (200, _png(), {}, 3),
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_url_file_and_bytes_give_the_same_rgb_array(server, tmp_path):
    from_url = I.load_image(f"{server}/cat.png")
    path = tmp_path / "cat.png"
    path.write_bytes(_png())
    assert from_url.shape == (30, 40, 3) and from_url.dtype == np.uint8
    np.testing.assert_array_equal(from_url[0, 0], [200, 30, 40])
    np.testing.assert_array_equal(I.load_image(path), from_url)
    np.testing.assert_array_equal(I.load_image(_png()), from_url)
    upload = ({"name": "cat.png", "type": "image/png", "size": 100, "content": memoryview(_png())},)
    np.testing.assert_array_equal(I.load_image(upload), from_url)


def test_grey_and_rgba_become_rgb(tmp_path):
    buf = io.BytesIO()
    Image.new("LA", (8, 8), (100, 50)).save(buf, format="PNG")
    assert I.load_image(buf.getvalue()).shape == (8, 8, 3)


def test_unreachable_address(server):
    port = int(server.rsplit(":", 1)[1])
    with pytest.raises(I.ImageLoadError, match="Could not reach"):
        I.load_image(f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}/x.png", timeout=2)


def test_http_error_names_the_status(server):
    with pytest.raises(I.ImageLoadError, match="HTTP 404"):
        I.load_image(f"{server}/missing.png")


def test_content_that_is_not_an_image(server):
    with pytest.raises(I.ImageLoadError, match=r"not an image.*<html>"):
        I.load_image(f"{server}/page.html")


def test_too_large_download_and_file(server, tmp_path):
    with pytest.raises(I.ImageLoadError, match="limit"):
        I.load_image(f"{server}/big.png", max_bytes=1024)
    big = tmp_path / "big.png"
    big.write_bytes(b"x" * 2048)
    with pytest.raises(I.ImageLoadError, match="limit"):
        I.load_image(big, max_bytes=1024)


def test_timeout(server):
    with pytest.raises(I.ImageLoadError, match="did not answer|Could not reach"):
        I.load_image(f"{server}/slow.png", timeout=0.5)


def test_missing_file_and_bad_sources(tmp_path):
    with pytest.raises(I.ImageLoadError, match="No file at"):
        I.load_image(tmp_path / "nope.jpg")
    with pytest.raises(I.ImageLoadError, match="unsupported scheme"):
        I.load_image("ftp://example.org/x.png")
    with pytest.raises(I.ImageLoadError, match="empty"):
        I.load_image(b"")
    with pytest.raises(I.ImageLoadError, match="Cannot load an image from a int"):
        I.load_image(42)


def test_to_model_input_crops_the_centre_and_resizes():
    img = np.zeros((60, 100, 3), np.uint8)
    img[:, 20:80] = 255                                  # the centre square is white, the sides black
    small = I.to_model_input(img)
    assert small.shape == (32, 32, 3) and small.dtype == np.uint8
    assert small.min() == 255
    with pytest.raises(ValueError, match="RGB"):
        I.to_model_input(np.zeros((5, 5)))


def test_own_image_explorer_loads_explains_and_reports_errors(server, course_model):
    import matplotlib

    matplotlib.use("Agg")
    import course_utils as cu

    box = cu.widgets.own_image_explorer(course_model)
    assert "Load an image" in box.status.value and box.picture.value == b""
    box.load_url(f"{server}/cat.png")
    first = box.picture.value
    assert first[:4] == b"\x89PNG" and box.status.value == ""
    box.controls["class"].value = 8
    assert box.picture.value != first
    box.load_url(f"{server}/page.html")
    assert "not an image" in box.status.value
    box.controls["method"].value = "CAM"
    box.controls["layer"].value = "res1"
    assert "GradCAM" in box.status.value                  # CAM's limit, shown instead of a traceback


def test_own_image_figure_overlays_the_centre_square(course_model):
    import course_utils as cu

    photo = np.random.default_rng(0).integers(0, 256, (90, 150, 3)).astype(np.uint8)
    fig = cu.widgets.own_image_figure(course_model, photo, "Grad-CAM")
    ax = fig.axes[0]
    heat = ax.images[1]
    assert heat.get_extent() == [29.5, 119.5, 89.5, -0.5]     # the 90 x 90 centre square of a 150-wide photo
    assert "150 x 90 photo" in ax.get_title()
