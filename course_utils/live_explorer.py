"""The data behind the website's live explorers: every map the notebooks' explorer can show for a fixed set of
images, computed once at build time with the course model, so that a page can redraw the explorer in the
browser (``docs/site/_static/explorer.js``) without a kernel.

For the first :data:`N_IMAGES` images of the CIFAR-10 test set, every class, every layer the explorer offers
for a method that takes one, and every method of :data:`course_utils.explain.registry.REGISTRY`, what the
page needs to draw the explorer's map is stored, as small as the drawing allows:

- a CAM-family map (upsampled to the image and scaled to its peak by the explainer) at its layer's own size
  (8x8, 16x16; kind ``low``), in 16 bits: the page upsamples it as ``tf.image.resize`` does (bilinear,
  half-pixel centres), scales it to its peak and rounds it to 8 bits (:func:`upsample`); at 32x32 (conv1,
  conv2) as the 8-bit map the explorer draws (``heat``), except Grad-CAM, which stays 16-bit (``low``);
- guided backpropagation's gradients in 16 bits (``signed``), drawn as :func:`course_utils.viz.gradient_image`
  does (:func:`gradient_picture`); guided Grad-CAM is not stored: it is guided backpropagation times the
  upsampled Grad-CAM map (``product``), as :class:`course_utils.explain.GuidedGradCAM` computes it;
- the other gradient methods as the 8-bit RGB picture the explorer shows (``gradient``), occlusion as an 8-bit
  map (``heat``).

A slot that is the same for every class (Eigen-CAM) is stored once per image, and slots with the same bytes
(CAM, XGrad-CAM and HiResCAM at the last layer) once. ``explorer.js`` repeats :func:`stored_map`'s arithmetic
in the same order (float64), so that the canvas and this module give the same bytes. Everything is in two files
under ``_static/explorer/``: ``explorer.json`` (the menus, the top-3 lines, the colour map's 256 colours, where
each map is) and ``maps.bin.gz`` (the images and maps, gzip). They are cached under :data:`CACHE`, keyed by the
model file's SHA-256, the registry and this format, so that a rebuild does not compute them again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .validation import CourseError

#: How many test images the live explorers offer (the first ones of the CIFAR-10 test set, on every page).
N_IMAGES = 12
#: Bumped when what is stored or how changes: part of the cache key.
FORMAT = 3
#: Where the computed files are kept between builds (override with COURSE_SITE_CACHE).
CACHE = Path(os.environ.get("COURSE_SITE_CACHE", Path(__file__).resolve().parents[1] / "_site_cache"))
FILES = ("explorer.json", "maps.bin.gz")


class LiveExplorerError(CourseError):
    """The data cannot be computed: CIFAR-10 or the course model is missing (a :class:`CourseError`, like every
    error the course raises on purpose; the site builder turns it into its own ``SiteError``)."""


def quantize(maps: np.ndarray) -> np.ndarray:
    """Maps in [0, 1] (values outside are clipped) as uint8: round(255 * m), half up."""
    return np.floor(np.clip(np.asarray(maps, dtype=np.float64), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def lut() -> list[list[int]]:
    """The course colour map (:data:`course_utils.viz.CMAP`) as 256 RGB colours, 0-255, as matplotlib draws it."""
    import matplotlib

    from . import viz

    colours = matplotlib.colormaps[viz.CMAP](np.arange(256))[:, :3]
    return np.floor(colours * 255.0 + 0.5).astype(int).tolist()


def _registry_table() -> list[list[Any]]:
    from .explain import registry

    return [[m.name, m.takes_layer, m.cls.__name__, m.options("slider")] for m in registry.REGISTRY.values()]


def _model_path() -> Path:
    from . import models

    return Path(models.MODEL_PATH)


def cache_key() -> str:
    """SHA-256 of what the data depends on: the model file, the registry (names, layers, slider options), the
    colour map and overlay, the number of images and this format."""
    from . import viz

    model = _model_path()
    if not model.is_file():
        raise LiveExplorerError(f"No course model at {model}: train it with `python -m course_utils.train`.")
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    what = {"model": digest, "registry": _registry_table(), "cmap": viz.CMAP, "alpha": viz.ALPHA}
    what.update(n=N_IMAGES, format=FORMAT)
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _images() -> tuple[np.ndarray, np.ndarray]:
    from . import data

    try:
        data.find_cifar10(download=False)
        _, (x, y) = data.load_cifar10()
    except data.CIFAR10DataError as err:
        raise LiveExplorerError(
            f"the live explorers need CIFAR-10's test images ({err}). Set CIFAR10_PATH to the archive "
            "cifar-10-python.tar.gz (see README.md, Setup)."
        ) from None
    return np.asarray(x[:N_IMAGES]), np.asarray(y[:N_IMAGES])


def _low_res_explainer(ex, name: str, layer: str | None):
    """The explainer for ``name`` at ``layer`` that stops before upsampling and normalising (a CAM-family map
    that the explorer shows upsampled to the image and scaled to its peak), or None for any other method."""
    from .explain import registry

    shown = ex.explainer(name, layer)
    if not all(getattr(shown, flag, False) for flag in ("upsample", "normalize", "relu")):
        return None
    return registry.make(name, ex.model, layer, fast="slider", upsample=False, normalize=False)


def _as_stored(maps: np.ndarray, size: tuple[int, int], low_res: bool, exact: bool) -> tuple[str, np.ndarray]:
    """(kind, values) as stored: 'low' (uint16, each map scaled to its peak; also at the image's size when
    ``exact``), 'signed' (int16 gradients scaled to their largest |value|, when ``exact``), 'heat' or
    'gradient' (uint8, as shown)."""
    from . import viz

    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim == 4:
        if not exact:
            return "gradient", quantize(np.stack([viz.gradient_image(g) for g in maps]))
        peak = np.abs(maps).max(axis=(1, 2, 3), keepdims=True)
        scaled = np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)
        return "signed", np.floor(np.clip(scaled, -1.0, 1.0) * 32767.0 + 0.5).astype("<i2")
    if not low_res:  # the map as the explainer gives it (occlusion)
        return "heat", quantize(maps)
    peak = maps.max(axis=(1, 2), keepdims=True)  # the explainer's normalize=True: each map over its peak
    scaled = np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)
    if maps.shape[1:] == tuple(size) and not exact:  # already at the image's size: as shown
        return "heat", quantize(scaled)
    return "low", np.floor(np.clip(scaled, 0.0, 1.0) * 65535.0 + 0.5).astype("<u2")


def compute() -> tuple[dict[str, Any], bytes]:
    """Compute the index (JSON-able) and the raw bytes (not yet gzipped) of every map."""
    from . import models, viz
    from .explain import GradCAM, GuidedBackprop, GuidedGradCAM, registry
    from .widgets import Explorer, prediction_text

    images, labels = _images()
    try:
        model = models.load_course_model()
    except Exception as err:  # noqa: BLE001 - the loader's own clear errors
        raise LiveExplorerError(f"the live explorers need the course model: {err}") from None
    ex = Explorer(model, images, labels)
    n, h, w = len(images), images.shape[1], images.shape[2]
    classes = len(ex.class_names)
    x = np.repeat(ex.images, classes, axis=0)
    c = np.tile(np.arange(classes), n)
    blobs: list[bytes] = [ex.images.astype(np.uint8).tobytes()]
    offset = len(blobs[0])
    seen: dict[bytes, int] = {}  # the same bytes (CAM, XGrad-CAM and HiResCAM at the last layer): stored once
    slots: dict[str, dict[str, Any]] = {}
    errors: dict[str, dict[str, str]] = {}
    logits = None
    # Guided Grad-CAM is guided backpropagation times the upsampled Grad-CAM map (GuidedGradCAM): the page
    # multiplies the two stored factors (16 bits each) instead of storing it per layer.
    guided = next(k for k, v in registry.REGISTRY.items() if v.cls is GuidedBackprop)
    gradcam = next(k for k, v in registry.REGISTRY.items() if v.cls is GradCAM)
    products = [k for k, v in registry.REGISTRY.items() if v.cls is GuidedGradCAM]
    for name, m in registry.REGISTRY.items():
        if name in products:
            continue
        for layer in ex.layers if m.takes_layer else [None]:
            try:
                low = _low_res_explainer(ex, name, layer)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # an empty map is stored as one; the page says so
                    e = (low or ex.explainer(name, layer)).explain(x, c)
            except ValueError as err:  # CAM before the last layer: the explorer shows a note instead
                errors.setdefault(name, {})[str(layer)] = str(err)
                continue
            logits = e.logits[::classes] if logits is None else logits
            kind, q = _as_stored(e.maps, (h, w), low is not None, exact=name in (guided, gradcam))
            q = q.reshape(n, classes, *q.shape[1:])
            per_class = not all(np.array_equal(q[:, 0], q[:, k]) for k in range(1, classes))
            if not per_class:
                q = q[:, :1]
            raw = np.ascontiguousarray(q).tobytes()
            slot = {"kind": kind, "per_class": per_class, "shape": list(q.shape[2:4])}
            slot["channels"] = 3 if kind in ("gradient", "signed") else 1
            slot["bytes"] = 2 if kind in ("low", "signed") else 1
            if raw in seen:
                slot["offset"] = seen[raw]
            else:
                slot["offset"] = seen[raw] = offset
                blobs.append(raw)
                offset += len(raw)
            slots[f"{name}|{layer or ''}"] = slot
    for name in products:
        for layer in ex.layers:
            factors = [f"{guided}|", f"{gradcam}|{layer}"]
            slots[f"{name}|{layer}"] = {"kind": "product", "of": factors, "per_class": True, "channels": 3}
    assert logits is not None
    predicted = [int(v) for v in np.argmax(logits, axis=1)]
    index = {
        "format": FORMAT,
        "n_images": n,
        "size": [h, w],
        "class_names": list(ex.class_names),
        "labels": [int(v) for v in labels],
        "predicted": predicted,
        "top3": [prediction_text(logits[i], ex.class_names, int(labels[i])) for i in range(n)],
        "layers": list(ex.layers),
        "methods": [{"name": name, "takes_layer": m.takes_layer} for name, m in registry.REGISTRY.items()],
        "errors": errors,
        "slots": slots,
        "lut": lut(),
        "alpha": viz.ALPHA,
        "empty_note": "Empty map: no positive evidence for this class here.",
        "cam_note": "CAM cannot explain this layer: it needs GAP -> Dense right after it. "
        "Pick the last layer, or Grad-CAM.",
        "images_offset": 0,
    }
    return index, b"".join(blobs)


def write(target: Path, log=print) -> dict[str, Any]:
    """Put ``explorer.json`` and ``maps.bin.gz`` in the folder ``target``, from the cache when it has them for
    :func:`cache_key`, else computed (and cached). Returns what happened: key, cached, seconds, bytes."""
    start = time.perf_counter()
    key = cache_key()
    cached = CACHE / key
    hit = all((cached / f).is_file() for f in FILES)
    if not hit:
        index, raw = compute()
        index["key"] = key
        tmp = CACHE / f".{key}.{os.getpid()}"
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "explorer.json").write_text(json.dumps(index, separators=(",", ":")), encoding="utf-8")
        (tmp / "maps.bin.gz").write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
        if cached.exists():
            shutil.rmtree(cached)
        tmp.rename(cached)
    target.mkdir(parents=True, exist_ok=True)
    for f in FILES:
        shutil.copy2(cached / f, target / f)
    size = sum((target / f).stat().st_size for f in FILES)
    seconds = time.perf_counter() - start
    log(f"Live explorers: {'cached' if hit else 'computed'} data {key} ({size / 1e6:.1f} MB) in {seconds:.0f} s")
    return {"key": key, "cached": hit, "seconds": seconds, "bytes": size}


def read(folder: Path) -> tuple[dict[str, Any], np.ndarray]:
    """The index and the raw bytes (uint8) of the files :func:`write` put in ``folder``."""
    index = json.loads((folder / "explorer.json").read_text(encoding="utf-8"))
    raw = np.frombuffer(gzip.decompress((folder / "maps.bin.gz").read_bytes()), dtype=np.uint8)
    return index, raw


def _axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear resize weights along one axis, as TensorFlow's ``tf.image.resize`` (half-pixel centres):
    lower and upper source index and the weight of the upper one, for each output index."""
    where = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    floor = np.floor(where)
    lower = np.maximum(floor, 0).astype(int)
    upper = np.minimum(np.ceil(where), n_in - 1).astype(int)
    return lower, upper, where - floor


def _resized(low: np.ndarray, h: int, w: int) -> np.ndarray:
    """A stored low-resolution map (uint16) resized to (h, w) as TensorFlow's bilinear resize does, then scaled
    to its peak (float64)."""
    a = low.astype(np.float64)
    y0, y1, ty = _axis(a.shape[0], h)
    x0, x1, tx = _axis(a.shape[1], w)
    top = a[y0][:, x0] + (a[y0][:, x1] - a[y0][:, x0]) * tx
    bottom = a[y1][:, x0] + (a[y1][:, x1] - a[y1][:, x0]) * tx
    up = top + (bottom - top) * ty[:, None]
    peak = up.max()
    return up / peak if peak > 0 else np.zeros_like(up)


def upsample(low: np.ndarray, h: int, w: int) -> np.ndarray:
    """A stored low-resolution map (uint16) as the explorer shows it: resized to (h, w) as TensorFlow's
    bilinear resize does, scaled to its peak, then 8-bit (:func:`quantize`). ``explorer.js`` does the same
    arithmetic in the same order (float64), so that both give the same bytes."""
    return quantize(_resized(low, h, w))


def percentile99(values: np.ndarray) -> float:
    """The 99th percentile of |values|, as ``np.percentile`` computes it (linear), written out so that
    ``explorer.js`` can do the same arithmetic."""
    a = np.sort(np.abs(np.asarray(values, dtype=np.float64)).ravel())
    where = 0.99 * (len(a) - 1)
    i = int(np.floor(where))
    t = where - i
    lo, hi = float(a[i]), float(a[min(i + 1, len(a) - 1)])
    return hi - (hi - lo) * (1 - t) if t >= 0.5 else lo + (hi - lo) * t


def gradient_picture(g: np.ndarray) -> np.ndarray:
    """Signed gradients (h, w, 3) as the explorer shows them (:func:`course_utils.viz.gradient_image`), 8-bit."""
    g = np.asarray(g, dtype=np.float64)
    scale = percentile99(g)
    return quantize(np.full(g.shape, 0.5) if scale <= 0 else 0.5 + 0.5 * g / scale)


def _values(index: dict[str, Any], raw: np.ndarray, slot: dict[str, Any], image: int, class_index: int):
    lh, lw = slot["shape"]
    ch = slot["channels"]
    per = lh * lw * ch * slot["bytes"]
    k = (image * len(index["class_names"]) + class_index) if slot["per_class"] else image
    start = slot["offset"] + k * per
    out = raw[start : start + per]
    dtype = {"low": "<u2", "signed": "<i2"}.get(slot["kind"])
    out = out.view(dtype) if dtype else out
    return out.reshape(lh, lw, ch) if ch == 3 else out.reshape(lh, lw)


def stored_map(index: dict[str, Any], raw: np.ndarray, image: int, class_index: int, layer: str, method: str):
    """The map (h, w) or (h, w, 3) uint8 that the page draws for one combination, from the stored bytes, or None
    where the method cannot explain that layer (CAM before the last layer)."""
    takes_layer = next(m["takes_layer"] for m in index["methods"] if m["name"] == method)
    slot = index["slots"].get(f"{method}|{layer if takes_layer else ''}")
    if slot is None:
        return None
    h, w = index["size"]
    if slot["kind"] == "product":  # guided Grad-CAM: guided backpropagation times the upsampled Grad-CAM
        g, cam = (_values(index, raw, index["slots"][f], image, class_index) for f in slot["of"])
        return gradient_picture(g.astype(np.float64) * _resized(cam, h, w)[..., None])
    out = _values(index, raw, slot, image, class_index)
    if slot["kind"] == "low":
        return upsample(out, h, w)
    if slot["kind"] == "signed":
        return gradient_picture(out)
    return out


def stored_image(index: dict[str, Any], raw: np.ndarray, image: int) -> np.ndarray:
    h, w = index["size"]
    start = index["images_offset"] + image * h * w * 3
    return raw[start : start + h * w * 3].reshape(h, w, 3)


#: How many screen pixels one image pixel takes on the page's canvas (nearest neighbour).
SCALE = 8
#: Gap between the two panels and before the colour bar, and the bar's width, in canvas pixels.
GAP, BAR = 16, 20
NOTE_ALPHA = 0.3


def panel(index: dict[str, Any], raw: np.ndarray, image: int, class_index: int, layer: str, method: str):
    """The right-hand panel (h, w, 3) uint8 that ``explorer.js`` draws for one combination, before scaling:
    image*(1-alpha) + alpha*LUT[map] rounded half up (heat), the stored RGB (gradient), or the image faded to
    white (CAM before the last layer)."""
    img = stored_image(index, raw, image).astype(np.float64)
    m = stored_map(index, raw, image, class_index, layer, method)
    if m is None:
        return np.floor(NOTE_ALPHA * img + (1 - NOTE_ALPHA) * 255.0 + 0.5).astype(np.uint8)
    if m.ndim == 3:
        return m.copy()
    colours = np.asarray(index["lut"], dtype=np.float64)[m]
    a = float(index["alpha"])
    return np.floor((1 - a) * img + a * colours + 0.5).astype(np.uint8)
