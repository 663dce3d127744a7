"""Loading your own image: URLs served from 127.0.0.1, files, upload bytes, and every failure."""
from __future__ import annotations

import http.server
import io
import sys
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from course_utils import images as I


def _png(w=40, h=30, colour=(200, 30, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), colour).save(buf, format="PNG")
    return buf.getvalue()


def _drip(handler, head: bytes, body: bytes, step: float = 0.1) -> None:
    """Send ``head`` at once, then ``body`` one byte every ``step`` seconds (a server that holds a kernel
    with a per-read timeout for as long as it likes)."""
    try:
        handler.wfile.write(head)
        for i in range(len(body)):
            handler.wfile.write(body[i:i + 1])
            time.sleep(step)
    except OSError:         # the client gave up: what the test wants
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):  # noqa: N802
        route = self.routes.get(self.path, (404, b"not here", {}, 0))
        if callable(route):
            return route(self)
        status, body, headers, delay, *reason = route
        time.sleep(delay)
        self.send_response(status, *reason)
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
        "/xss.png": (500, b"", {}, 0, "<img src=x onerror=alert(1)>"),
        "/bad-length.png": (200, _png(), {"Content-Length": "abc"}, 0),
        "/to-ftp.png": (302, b"", {"Location": "ftp://127.0.0.1/cat.png"}, 0),
        "/to-file.png": (302, b"", {"Location": "file:///etc/passwd"}, 0),
        "/hop-a": (302, b"", {"Location": "/hop-b"}, 0),
        "/hop-b": (301, b"", {"Location": "/cat.png"}, 0),
        **{f"/chain{i}": (302, b"", {"Location": f"/chain{i + 1}"}, 0) for i in range(7)},
        "/chain7": (200, _png(), {}, 0),
        "/drip-body.png": lambda h: _drip(h, b"HTTP/1.0 200 OK\r\nContent-Type: image/png\r\n\r\n", _png()[:80]),
        "/drip-headers.png": lambda h: _drip(h, b"HTTP/1.0 200 OK\r\nX-Slow: ", b"a" * 80),
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


def test_a_name_server_that_never_answers_is_within_the_time_limit(monkeypatch):
    """The name lookup counts against the download's one deadline: before, getaddrinfo could hold load_image for
    as long as the system's resolver waited (here 5 s against a 1 s limit)."""
    import socket

    real = socket.getaddrinfo

    def stuck(host, *args, **kwargs):
        if host == "stuck-dns.example":
            time.sleep(5)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    start = time.monotonic()
    with pytest.raises(I.ImageLoadError, match="did not answer in full within 1 s") as err:
        I.load_image("http://stuck-dns.example/cat.png", timeout=1)
    assert time.monotonic() - start < 3
    assert err.value.reason == "too_slow"


def test_the_user_agent_names_this_version(server, monkeypatch):
    import urllib.request

    import course_utils

    sent = {}
    real = urllib.request.OpenerDirector.open

    def spy(self, request, *args, **kwargs):
        sent["agent"] = request.get_header("User-agent")
        return real(self, request, *args, **kwargs)

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", spy)
    I.load_image(f"{server}/cat.png")
    assert sent["agent"] == f"course_utils/{course_utils.__version__} (explainability course)"


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
        I.to_model_input(np.zeros((2, 5, 5, 3)))              # a batch, not one image
    assert I.to_model_input(np.full((5, 5), 7, np.uint8)).max() == 7   # grey (H, W) is read as grey


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


# ---------------------------------------------------------------- hostile input (issue 11, item 1)
# Each test below failed before the fix it names.

def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with almost no data behind it: a few
    hundred bytes that would take gigabytes of memory to decode."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_pixel_count_is_checked_from_the_header_before_decoding(monkeypatch):
    from PIL import ImageFile

    decoded = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    with pytest.raises(I.ImageLoadError, match=r"8000 x 8000 = 64,000,000 pixels; the limit is 50,000,000"):
        I.load_image(_png_header(8000, 8000))
    assert decoded == []                     # refused from the header: no 192 MB buffer was made
    with pytest.raises(I.ImageLoadError, match="max_pixels"):
        I.load_image(_png(), max_pixels=1000)
    assert I.load_image(_png(), max_pixels=1200).shape == (30, 40, 3)


def test_decompression_bomb_is_an_image_load_error():
    # 20000 x 10000 is beyond Pillow's own limit, where Image.open raises DecompressionBombError
    with pytest.raises(I.ImageLoadError, match="too large|max_pixels"):
        I.load_image(_png_header(20000, 10000), max_pixels=10**9)


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (20, 0, 40, 20))          # stored: red left half, blue right half
    exif = Image.Exif()
    exif[0x0112] = 6                                  # "rotate 90 degrees clockwise to view", as phones write
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif, quality=95)
    upright = I.load_image(buf.getvalue())
    assert upright.shape == (40, 20, 3)               # portrait, as the phone showed it
    assert upright[2, 10, 0] > 200 and upright[2, 10, 2] < 60       # the red half is now on top
    assert upright[-3, 10, 2] > 200 and upright[-3, 10, 0] < 60     # the blue half below


def test_uploads_obey_max_bytes():
    upload = ({"name": "huge.png", "type": "image/png", "size": 2048, "content": memoryview(b"x" * 2048)},)
    with pytest.raises(I.ImageLoadError, match=r"the upload 'huge.png' is 2.0 KiB; the limit is 1.0 KiB"):
        I.load_image(upload, max_bytes=1024)


@pytest.mark.parametrize("url", ["http://exa mple.org/cat.png",        # http.client.InvalidURL (a space)
                                 "http://127.0.0.1:abc/cat.png",        # InvalidURL (nonnumeric port)
                                 "http://[::1/cat.png",                 # ValueError: Invalid IPv6 URL
                                 "http://[zz]/cat.png"])                # ValueError: not an IPv6 address
def test_malformed_addresses_are_image_load_errors(url):
    with pytest.raises(I.ImageLoadError) as info:
        I.load_image(url, timeout=2)
    message = str(info.value)
    assert url.split("/")[2][:6] in message and ("address" in message or "browser" in message)


def test_malformed_content_length_is_ignored_and_the_limit_still_holds(server):
    np.testing.assert_array_equal(I.load_image(f"{server}/bad-length.png")[0, 0], [200, 30, 40])
    with pytest.raises(I.ImageLoadError, match="sent more than 100 bytes"):
        I.load_image(f"{server}/bad-length.png", max_bytes=100)


@pytest.mark.parametrize("route, scheme", [("/to-ftp.png", "ftp"), ("/to-file.png", "file")])
def test_redirects_go_only_to_http(server, route, scheme):
    with pytest.raises(I.ImageLoadError, match=rf"redirects to '{scheme}://.*Only redirects to http\(s\)"):
        I.load_image(f"{server}{route}", timeout=3)


def test_redirects_are_counted(server):
    assert I.load_image(f"{server}/hop-a").shape == (30, 40, 3)      # two redirects: followed
    with pytest.raises(I.ImageLoadError, match=r"redirects more than \d+ times"):
        I.load_image(f"{server}/chain0")                              # seven: refused


@pytest.mark.parametrize("route", ["/drip-body.png", "/drip-headers.png"])
def test_one_deadline_for_the_whole_download(server, route):
    """Each byte arrives within the per-read timeout; before the fix the download took 8 s."""
    start = time.monotonic()
    with pytest.raises(I.ImageLoadError, match=r"did not answer in full within 1 s"):
        I.load_image(f"{server}{route}", timeout=1)
    assert time.monotonic() - start < 3


def _heic_header() -> bytes:
    return b"\x00\x00\x00\x1cftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64


def test_heic_without_pillow_heif_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pillow_heif", None)           # as if it were not installed
    monkeypatch.setattr(I.decode, "_heif_registered", False, raising=False)
    with pytest.raises(I.ImageLoadError, match=r"HEIC.*iPhones.*pip install pillow-heif.*\[heic\]"):
        I.load_image(_heic_header())


def test_heic_opens_with_pillow_heif():
    pillow_heif = pytest.importorskip("pillow_heif", reason="the optional extra heic is not installed")
    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (64, 48), (200, 30, 40))).save(buf, quality=95)
    assert buf.getvalue()[4:12] == b"ftypheic"
    photo = I.load_image(buf.getvalue())
    assert photo.shape == (48, 64, 3)
    np.testing.assert_allclose(photo[24, 32], [200, 30, 40], atol=6)


def test_explorer_status_escapes_what_the_server_sends(server, course_model):
    import matplotlib

    matplotlib.use("Agg")
    import course_utils as cu

    box = cu.widgets.own_image_explorer(course_model)
    box.load_url(f"{server}/xss.png")                    # the reason phrase is "<img src=x onerror=alert(1)>"
    assert "HTTP 500" in box.status.value
    assert "<img" not in box.status.value and "&lt;img src=x onerror=alert(1)&gt;" in box.status.value
    box.load_url(f"{server}/<script>alert(1)</script>.png")  # the address itself comes back in the message
    assert "HTTP 404" in box.status.value and "<script>" not in box.status.value
    assert "&lt;script&gt;" in box.status.value


# ---------------------------------------------------------------- every kind of failure in the app's words


def _png_header(w: int, h: int) -> bytes:
    """A PNG whose header says w x h pixels (no pixel data): enough for Pillow to read its size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_every_reason_an_image_fails_has_words_in_the_app():
    """Each reason the loaders give (read from their source) has its own plain message in the app, and an error
    without one still gets plain words (never the coder's message, never a KeyError)."""
    import pathlib
    import re

    from course_utils import widgets

    source = "".join(p.read_text() for p in pathlib.Path(I.__file__).parent.glob("*.py"))
    reasons = set(re.findall(r'reason="(\w+)"', source))
    assert {"too_large", "http_error", "bad_address", "empty"} <= reasons
    assert reasons <= set(widgets.PLAIN_MESSAGES), reasons - set(widgets.PLAIN_MESSAGES)
    for reason in reasons:
        text = widgets.plain_message(I.ImageLoadError("coder words: raise max_bytes", reason=reason, subject="x.png"))
        assert "max_bytes" not in text and "{" not in text, (reason, text)
    other = widgets.plain_message(I.ImageLoadError("Cannot load an image from a float; pass bytes"))
    assert other.startswith("The image could not be loaded") and "pass" not in other


@pytest.mark.parametrize(
    ("source", "reason", "words"),
    [
        (b"", "empty", "is empty"),
        ("ftp://example.org/cat.png", "bad_address", "not a web address"),
        ("http://exa mple.org/cat.png", "bad_address", "not a web address"),
        # a header far above Pillow's own limit: Pillow refuses it before the course's check of max_pixels
        (_png_header(20_000, 10_000), "too_many_pixels", "(50,000,000 pixels at most)"),
    ],
)
def test_a_failure_the_app_can_meet_is_told_in_its_own_words(source, reason, words):
    from course_utils import widgets

    with pytest.raises(I.ImageLoadError) as err:
        I.load_image(source)
    assert err.value.reason == reason, str(err.value)
    assert words in widgets.plain_message(err.value)
