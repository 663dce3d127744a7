"""Hostile input for your-own-image loading and the explorers (issue 19): every pixel format comes out as the
image it shows, or a clear course error; nothing big is allocated before a size check; addresses are encoded and
their passwords never shown; wrong arguments fail at the call. Each test failed before the fix it names."""
from __future__ import annotations

import base64
import http.server
import io
import re
import struct
import threading
import tracemalloc
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from course_utils import images as I
from course_utils.validation import CourseError, CourseValueError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _encode(img: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def _png16(values: np.ndarray, colour_type: int) -> bytes:
    """A 16-bit PNG written by hand (Pillow writes only 16-bit grey): colour type 0 grey, 2 RGB, 4 LA, 6 RGBA."""
    h, w = values.shape[:2]
    raw = b"".join(b"\x00" + values[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


# ------------------------------------------------------------------------------------------ the error classes

def test_image_load_error_is_a_course_error_and_a_value_error():
    assert issubclass(I.ImageLoadError, CourseError) and issubclass(I.ImageLoadError, ValueError)


# ------------------------------------------------------------------------------------------ pixel formats

def test_a_float_image_in_0_1_is_scaled_not_cast_to_black():
    """plt.imread gives floats in 0-1: before, to_model_input cast them to uint8 (all 0, a black image)."""
    rng = np.random.default_rng(0)
    photo = rng.random((48, 64, 3)).astype(np.float32)
    expected = I.to_model_input(np.rint(photo * 255).astype(np.uint8))
    np.testing.assert_array_equal(I.to_model_input(photo), expected)
    assert expected.mean() > 100                                   # not black
    np.testing.assert_array_equal(I.to_model_input(photo.astype(np.float64) * 255), expected)   # floats 0-255


def test_what_plt_imread_returns_is_read_right(tmp_path):
    import matplotlib.pyplot as plt

    Image.new("RGB", (40, 30), (200, 30, 40)).save(tmp_path / "rgb.png")
    Image.new("RGBA", (40, 30), (0, 0, 255, 0)).save(tmp_path / "clear.png")    # fully transparent blue
    np.testing.assert_array_equal(I.to_model_input(plt.imread(tmp_path / "rgb.png"))[5, 5], [200, 30, 40])
    rgba = plt.imread(tmp_path / "clear.png")
    assert rgba.shape == (30, 40, 4) and rgba.dtype == np.float32
    np.testing.assert_array_equal(I.to_model_input(rgba)[5, 5], I.BACKGROUND)     # white, not the hidden blue


@pytest.mark.parametrize("bad, words", [
    (np.full((8, 8, 3), np.nan, np.float32), "NaN"),
    (np.full((8, 8, 3), np.inf), "NaN or infinite"),
    (np.linspace(-1, 1, 192).reshape(8, 8, 3), "normalised"),
    (np.full((8, 8, 3), 300.0), "above 255"),
    (np.full((8, 8, 3), 1.5), "neither 0-1 nor 0-255"),
    (np.full((8, 8, 3), 300, np.int32), "up to 300"),
    (np.full((8, 8, 3), -3, np.int16), "negative"),
    (np.full((8, 8, 3), 1 + 2j), "numbers"),
    (np.zeros((0, 8, 3)), "empty"),
    (np.zeros((2, 8, 8, 3)), "RGB image"),
])
def test_pixels_that_cannot_be_read_without_guessing_are_refused(bad, words):
    """Before: NaN, -1..1 and 300 were cast to uint8 (wrapped or zeroed) and the model saw garbage."""
    with pytest.raises(CourseValueError, match=words):
        I.to_model_input(bad)


def test_sixteen_bit_arrays_are_scaled():
    ramp = np.linspace(0, 65535, 64 * 64 * 3).reshape(64, 64, 3).astype(np.uint16)
    np.testing.assert_array_equal(I.as_rgb(ramp), np.rint(ramp * (255 / 65535)).astype(np.uint8))
    assert I.as_rgb(np.full((4, 4, 3), 32768, np.uint16))[0, 0, 0] == 128


def test_sixteen_bit_png_is_scaled_not_saturated():
    """Before: Pillow's I;16 -> RGB clipped at 255, so 99.6 % of a 16-bit ramp came out white."""
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    out = I.load_image(_encode(Image.fromarray(ramp)))
    expected = np.rint(ramp / 257).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], expected)
    assert (out == 255).mean() < 0.01
    rgb16 = np.stack([ramp, ramp // 2, 65535 - ramp], axis=-1)          # 16-bit RGB: Pillow reduces it itself
    assert abs(int(I.load_image(_png16(rgb16, 2))[32, 32, 1]) - int(rgb16[32, 32, 1]) // 257) <= 1


def test_float_tiff_is_not_black():
    ramp = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    out = I.load_image(_encode(Image.fromarray(ramp), "TIFF"))
    np.testing.assert_array_equal(out[..., 1], np.rint(ramp * 255).astype(np.uint8))
    with pytest.raises(I.ImageLoadError, match="NaN"):
        I.load_image(_encode(Image.fromarray(np.full((4, 4), np.nan, np.float32)), "TIFF"))
    with pytest.raises(I.ImageLoadError, match="above 255"):
        I.load_image(_encode(Image.fromarray(np.full((4, 4), 1e6, np.float32)), "TIFF"))


def _palette_image() -> Image.Image:
    img = Image.new("P", (8, 8), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)       # index 0 red (made transparent), 1 blue
    img.putpixel((1, 1), 1)
    return img


@pytest.mark.parametrize("data, pixel", [
    (_encode(Image.new("RGBA", (8, 8), (255, 0, 0, 0))), (255, 255, 255)),          # hidden red: white
    (_encode(Image.new("RGBA", (8, 8), (255, 0, 0, 255))), (255, 0, 0)),
    (_encode(Image.new("RGBA", (8, 8), (0, 0, 0, 128))), (127, 127, 127)),          # half black on white
    (_encode(Image.new("LA", (8, 8), (0, 0))), (255, 255, 255)),                    # was black
    (_encode(Image.new("LA", (8, 8), (90, 255))), (90, 90, 90)),
    (_encode(_palette_image(), transparency=0), (255, 255, 255)),                   # P + tRNS: was red
    (_encode(_palette_image(), "GIF", transparency=0), (255, 255, 255)),
    (_encode(Image.new("RGB", (8, 8), (10, 20, 30)), transparency=(10, 20, 30)), (255, 255, 255)),
    (_encode(Image.new("RGBA", (8, 8), (0, 200, 0, 0)), "WEBP", lossless=True, exact=True), (255, 255, 255)),
])
def test_transparent_pixels_are_laid_on_white(data, pixel):
    out = I.load_image(data)
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out[0, 0], pixel, atol=1)


def test_transparent_palette_keeps_its_opaque_colours():
    out = I.load_image(_encode(_palette_image(), transparency=0))
    np.testing.assert_array_equal(out[1, 1], [0, 0, 255])


@pytest.mark.parametrize("img, pixel", [
    (Image.new("L", (8, 8), 77), 77),
    (Image.new("1", (8, 8), 1), 255),
    (Image.fromarray(np.full((8, 8), 200, np.int32)), 200),              # mode I, 8-bit values
    (Image.fromarray(np.full((8, 8), 65535, np.int32)), 255),            # mode I, 16-bit values
])
def test_grey_modes(img, pixel):
    fmt = "TIFF" if img.mode == "I" else "PNG"
    out = I.load_image(_encode(img, fmt))
    np.testing.assert_array_equal(out[3, 3], [pixel] * 3)


def test_pillow_images_and_grey_arrays_go_through_the_same_rules():
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    np.testing.assert_array_equal(I.as_rgb(rgba)[0, 0], I.BACKGROUND)
    np.testing.assert_array_equal(I.as_rgb(_palette_image())[1, 1], [0, 0, 255])     # the palette, not the index
    np.testing.assert_array_equal(I.as_rgb(np.full((4, 4), 9, np.uint8))[0, 0], [9, 9, 9])
    np.testing.assert_array_equal(I.as_rgb(np.ones((4, 4, 1), bool))[0, 0], [255, 255, 255])
    rgb = np.zeros((4, 4, 3), np.uint8)
    assert I.as_rgb(rgb) is rgb                                      # RGB uint8: no copy


# ------------------------------------------------------------------------------------------ sizes first

def test_an_upload_that_declares_3_gb_is_refused_before_anything_is_allocated():
    """Before: bytes(content) ran before the size check, so an int content of 3 GiB allocated 3 GiB of zeros."""
    huge = 3 * 2**30
    cases = [({"name": "x.png", "content": huge}, "holds a int"),
             ({"name": "x.png", "size": huge, "content": b"\x89PNG"}, "3.0 GiB"),
             ({"name": "x.png", "content": memoryview(np.zeros(huge, np.uint8))}, "3.0 GiB")]
    for upload, words in cases:
        tracemalloc.start()
        try:
            with pytest.raises(I.ImageLoadError, match=words):
                I.load_image((upload,))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 2**20, f"{words}: {peak} bytes allocated"
        del upload
    with pytest.raises(I.ImageLoadError, match="3.0 GiB"):
        I.load_image(memoryview(np.zeros(huge, np.uint8)))
    with pytest.raises(I.ImageLoadError, match="Nothing was uploaded"):
        I.load_image(())


# ------------------------------------------------------------------------------------------ addresses

class _Recorder(http.server.BaseHTTPRequestHandler):
    """Serves one PNG at the paths it knows (raw, as the request line has them) and records the headers."""
    seen: list = []
    png = _encode(Image.new("RGB", (12, 10), (10, 200, 30)))

    def do_GET(self):
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if self.path == "/fat-redirect":                  # a redirect with a 40 MB body, sent as fast as it goes
            self.send_response(302)
            self.send_header("Location", "/ok.png")
            self.send_header("Content-Length", str(40 * 2**20))
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(bytes(2**20))
            except OSError:                                  # the client closed it: what the test wants
                pass
            return
        if self.path.startswith("/hop"):
            self.send_response(302)
            self.send_header("Location", "/ok.png" if self.path == "/hop" else "ftp://bob:hunter22@x.org/a.png")
            self.end_headers()
            return
        known = {"/ok.png", "/my%20cat.png", "/caf%C3%A9.png", "/a.png?q=a%20b", "/100%25.png"}
        status, body = (200, self.png) if self.path in known else (404, b"no")
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_the_body_of_a_redirect_is_never_read(server):
    """Before: urllib read a redirect's whole body into memory (fp.read()), with no size limit."""
    tracemalloc.start()
    try:
        assert I.load_image(f"{server}/fat-redirect", timeout=10, max_bytes=2**20).shape == (10, 12, 3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MB allocated"


@pytest.mark.parametrize("path", ["/my cat.png", "/café.png", "/a.png?q=a b", "/my%20cat.png", "/100%.png"])
def test_spaces_and_non_ascii_in_an_address_are_encoded(server, path):
    """Before: 'Could not reach ... check your internet connection' (http.client refused the raw characters)."""
    assert I.load_image(server + path, timeout=5).shape == (10, 12, 3)


def test_credentials_are_sent_to_the_host_only_and_never_shown(server):
    """Before: the password was echoed in the message ('nonnumeric port: ...hunter2...')."""
    _Recorder.seen.clear()
    userinfo_url = server.replace("http://", "http://alice:hunter2@")
    assert I.load_image(f"{userinfo_url}/hop", timeout=5).shape == (10, 12, 3)
    token = "Basic " + base64.b64encode(b"alice:hunter2").decode()
    assert _Recorder.seen == [("/hop", token), ("/ok.png", None)]     # not passed on to the redirect target
    with pytest.raises(I.ImageLoadError) as info:
        I.load_image(f"{userinfo_url}/missing.png", timeout=5)
    assert "HTTP 404" in str(info.value) and "hunter2" not in str(info.value) and "***@" in str(info.value)
    with pytest.raises(I.ImageLoadError) as info:
        I.load_image(f"{server}/hop-ftp", timeout=5)                  # the server's redirect holds a password
    assert "ftp://***@x.org/a.png" in str(info.value) and "hunter22" not in str(info.value)
    for malformed in ("http://alice:hunter2@127.0.0.1:abc/x.png", "http://alice:hun/ter2@127.0.0.1:9/x.png"):
        with pytest.raises(I.ImageLoadError) as info:
            I.load_image(malformed, timeout=5)
        assert "hunter2" not in str(info.value) and "hun/ter2" not in str(info.value) and "ter2" not in str(info.value)
        assert "not a valid web address" in str(info.value) and "***@127.0.0.1" in str(info.value)


def test_the_explorer_status_line_hides_the_password(server, course_model):
    import matplotlib

    matplotlib.use("Agg")
    import course_utils as cu

    box = cu.widgets.own_image_explorer(course_model)
    box.load_url(server.replace("http://", "http://alice:hunter2@") + "/missing.png")
    assert "HTTP 404" in box.status.value and "hunter2" not in box.status.value


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), 0, -1.0, True, "10", 1e300])
def test_a_wrong_timeout_fails_at_the_call(server, timeout):
    """Before: timeout=inf raised OverflowError in the timer thread, nan and 0 gave confusing errors."""
    threads = threading.active_count()
    with pytest.raises(CourseValueError, match="timeout"):
        I.load_image(f"{server}/ok.png", timeout=timeout)
    assert threading.active_count() == threads


@pytest.mark.parametrize("kwargs", [{"max_bytes": 0}, {"max_bytes": True}, {"max_pixels": -5}, {"max_pixels": 2.5}])
def test_wrong_limits_fail_at_the_call(kwargs):
    with pytest.raises(CourseValueError, match=next(iter(kwargs))):
        I.load_image(b"\x89PNG", **kwargs)


def test_a_home_folder_of_no_user_is_an_image_load_error():
    """Before: RuntimeError('Could not determine home directory.') from Path.expanduser."""
    with pytest.raises(I.ImageLoadError, match="no user 'no_such_user_19x'"):
        I.load_image("~no_such_user_19x/cat.png")


# ------------------------------------------------------------------------------------------ the explorers

def test_unknown_method_and_too_few_class_names_name_what_is_valid(course_model, test_images):
    import matplotlib

    matplotlib.use("Agg")
    import course_utils as cu

    photo = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(CourseValueError, match="Unknown method 'LIME'.*'Grad-CAM'"):      # was KeyError
        cu.widgets.own_image_figure(course_model, photo, "LIME")
    names9 = cu.data.CLASS_NAMES[:9]
    with pytest.raises(CourseValueError, match="9 entries but the model has 10 classes"):  # was IndexError later
        cu.widgets.Explorer(course_model, test_images[0][:2], class_names=names9)
    with pytest.raises(CourseValueError, match="9 entries but the model has 10 classes"):
        cu.widgets.own_image_explorer(course_model, class_names=names9)
    with pytest.raises(CourseValueError, match="9 entries"):
        cu.widgets.own_image_figure(course_model, photo, class_names=names9)
    with pytest.raises(CourseValueError, match="class_index 10 is out of range"):
        cu.widgets.own_image_figure(course_model, photo, class_index=10)
    with pytest.raises(CourseValueError, match="layer must be one of"):
        cu.widgets.own_image_figure(course_model, photo, layer="no-such-layer")
    with pytest.raises(CourseValueError, match="labels"):
        cu.widgets.Explorer(course_model, test_images[0][:2], [3, 12])


def test_explorers_read_a_float_photo_in_0_1(course_model, test_images):
    import matplotlib

    matplotlib.use("Agg")
    import course_utils as cu

    x = test_images[0][:2]
    as_floats = cu.widgets.Explorer(course_model, x / 255.0)
    as_bytes = cu.widgets.Explorer(course_model, x.astype(np.uint8))
    np.testing.assert_allclose(as_floats.images, as_bytes.images, atol=1e-3)
    photo = np.asarray(Image.fromarray(x[0].astype(np.uint8)).resize((96, 64)))
    box = cu.widgets.own_image_explorer(course_model, image=photo / 255.0)
    assert box.caption.value == cu.widgets.own_image_explorer(course_model, image=photo).caption.value
    with pytest.raises(CourseValueError, match="NaN"):
        cu.widgets.own_image_explorer(course_model, image=np.full((8, 8, 3), np.nan))


def test_a_large_photo_is_drawn_from_a_reduced_copy(course_model):
    """Before: every redraw drew the full photo (a 50-MP photo: +3.2 GB and seconds per redraw)."""
    import matplotlib

    matplotlib.use("Agg")
    import course_utils as cu

    yy, xx = np.mgrid[0:2000, 0:3000]
    photo = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)
    fig = cu.widgets.own_image_figure(course_model, photo, "Grad-CAM")
    ax = fig.axes[0]
    drawn = ax.images[0].get_array()
    assert max(drawn.shape[:2]) == cu.widgets.DISPLAY_MAX_SIDE
    assert ax.images[0].get_extent() == [-0.5, 2999.5, 1999.5, -0.5]          # the photo's own coordinates
    assert ax.images[1].get_extent() == [499.5, 2499.5, 1999.5, -0.5]         # the map: the centre square
    assert "3000 x 2000 photo" in ax.get_title()
    np.testing.assert_array_equal(cu.widgets._Photo(photo).small, I.to_model_input(photo))
    small = np.zeros((90, 150, 3), np.uint8)
    assert cu.widgets.own_image_figure(course_model, small).axes[0].images[0].get_array().shape == (90, 150, 3)


# ------------------------------------------------------------------------------------------ property-based

_DTYPES = st.sampled_from([np.bool_, np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64, np.uint32,
                           np.uint64, np.float16, np.float32, np.float64, np.complex64])
_SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6)


@FAST
@given(arr=_DTYPES.flatmap(lambda dt: hnp.arrays(dt, _SHAPES)))
def test_any_array_gives_a_model_input_or_a_course_error(arr):
    try:
        out = I.to_model_input(arr)
    except CourseError:
        return
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8


@FAST
@given(data=st.data(), shape=st.sampled_from([(5, 7), (6, 6, 1), (4, 9, 3), (7, 5, 2), (5, 5, 4)]))
def test_valid_pixels_of_every_range_give_the_same_picture_as_their_uint8_version(data, shape):
    kind = data.draw(st.sampled_from(["float01", "float255", "uint16", "uint8", "int64", "bool"]))
    if kind == "float01":
        arr = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))
        as_bytes = np.rint(arr * 255)
    elif kind == "float255":
        arr = data.draw(hnp.arrays(np.float32, shape, elements=st.floats(0, 255, width=32)))
        arr.flat[0] = 255.0                                     # a 0-255 image reaches above 2 somewhere
        as_bytes = np.rint(arr.astype(np.float64))
    elif kind == "uint16":
        arr = data.draw(hnp.arrays(np.uint16, shape))
        arr.flat[0] = 65535
        as_bytes = np.rint(arr * (255 / 65535))
    elif kind == "bool":
        arr = data.draw(hnp.arrays(np.bool_, shape))
        as_bytes = arr * 255.0
    else:
        arr = data.draw(hnp.arrays(np.uint8 if kind == "uint8" else np.int64, shape, elements=st.integers(0, 255)))
        as_bytes = arr
    expected = I.to_model_input(np.asarray(as_bytes, np.uint8))
    np.testing.assert_array_equal(I.to_model_input(arr), expected)


@FAST
@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**20, 10**20)),
       dtype=st.sampled_from([np.float16, np.float32, np.float64, np.int64, np.uint16]))
def test_one_strange_value_among_valid_pixels(value, dtype):
    arr = np.full((6, 6, 3), 0.25 if np.issubdtype(dtype, np.floating) else 100, dtype=dtype)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            arr[2, 3, 1] = value
    except (OverflowError, ValueError):
        return                                                   # numpy refuses it: nothing to pass on
    try:
        out = I.to_model_input(arr)
    except CourseError as exc:
        assert str(exc)
        return
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_give_an_image_or_an_image_load_error(data):
    try:
        out = I.load_image(data)
    except I.ImageLoadError:
        return
    assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8


@settings(max_examples=30, deadline=None)
@given(mode=st.sampled_from(["1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16", "F", "CMYK"]),
       fmt=st.sampled_from(["PNG", "TIFF", "GIF", "BMP", "WEBP", "JPEG"]), seed=st.integers(0, 2**16))
def test_any_mode_and_format_gives_rgb_or_a_clear_error(mode, fmt, seed):
    rng = np.random.default_rng(seed)
    img = Image.frombytes(mode, (6, 5), rng.bytes(6 * 5 * 8)[: len(Image.new(mode, (6, 5)).tobytes())])
    try:
        data = _encode(img, fmt)
    except (OSError, ValueError, KeyError):
        return                                               # Pillow cannot write this pair: nothing to load
    try:
        out = I.load_image(data)
    except I.ImageLoadError as exc:
        assert str(exc)
        return
    assert out.shape == (5, 6, 3) and out.dtype == np.uint8


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)


@settings(max_examples=60, deadline=None)
@given(userinfo=st.one_of(st.just(""), st.builds(lambda u, p: f"{u}:{p}@", _TEXT, _TEXT)),
       host=st.sampled_from(["127.0.0.1:{port}", "[::1]:{port}", "127.0.0.1:abc", "[zz]", "", "exa mple",
                             "127.0.0.1:{port}:1", "127.0.0.1:99999"]),
       path=_TEXT, query=st.one_of(st.just(""), _TEXT.map(lambda q: "?" + q)),
       scheme=st.sampled_from(["http://", "https://", "HTTP://"]))
def test_any_address_gives_an_image_or_an_image_load_error(server, userinfo, host, path, query, scheme):
    port = server.rsplit(":", 1)[1]
    url = scheme + userinfo + host.format(port=port) + "/" + path + query
    try:
        out = I.load_image(url, timeout=3)
    except CourseError as exc:
        password = userinfo[:-1].partition(":")[2]
        looks_like_a_port = re.match(r"\d*[/?#]", password)     # 'http://u:80/x@h': the host is u, port 80
        if len(password) >= 3 and password not in url.replace(userinfo, "") and not looks_like_a_port:
            assert password not in str(exc)
        return
    assert out.shape == (10, 12, 3)


@settings(max_examples=40, deadline=None)
@given(content=st.one_of(st.integers(-5, 10**12), st.text(max_size=5), st.none(), st.floats(),
                         st.lists(st.integers(0, 255), max_size=5), st.binary(max_size=50)),
       size=st.one_of(st.none(), st.integers(-5, 10**12), st.text(max_size=3)))
def test_any_upload_gives_an_image_or_an_image_load_error(content, size):
    try:
        I.load_image({"name": "x", "size": size, "content": content}, max_bytes=1000)
    except I.ImageLoadError:
        pass


@pytest.mark.parametrize("brightest", [1, 200, 255, 256, 4000, 65535])
def test_a_dark_16_bit_image_stays_dark(brightest):
    """A 16-bit container is scaled from 0-65535 whatever its brightest pixel: a 16-bit image whose brightest value
    is 255 or less is nearly black, not an 8-bit image (it used to jump to white at 255 and to black at 256)."""
    import io

    from PIL import Image

    want = round(brightest * 255 / 65535)
    arr = np.full((4, 4, 3), brightest, np.uint16)
    assert int(I.as_rgb(arr).max()) == want
    png = io.BytesIO()
    Image.fromarray(np.full((8, 8), brightest, np.uint16)).save(png, format="PNG")
    assert int(I.load_image(png.getvalue()).max()) == want
