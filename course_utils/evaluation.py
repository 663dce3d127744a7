"""The fixed experiments of notebook 07, run once by a command and read back by the notebook.

    python -m course_utils.evaluation              # about 4 minutes on two CPU cores
    python -m course_utils.evaluation --quick      # a smoke run on a few images, written to a new private temporary folder

Notebook 07 has to run in under a minute. Its tables need more: ROAD and the two older fillings (mean colour,
blur) for five maps, two orders and ten fractions on 200 test images (60,000 forward passes), and six
localisation maps on 300 mosaics of 96 x 96 pixels. This command computes them with the functions below and
writes ``course_utils/assets/evaluation_07.json`` (per-image areas and per-mosaic scores, so that the
notebook draws its own bootstrap intervals). The notebook recomputes a slice of each live and shows that it
gives the stored numbers.

Every random choice is seeded; each image has its own random stream (tie-breaking, noise, the random
order), so the first ``k`` images give the same numbers whether ``k`` or 200 images are scored.

Notebook 10 evaluates every method of the course with the same metrics (:func:`run_beyond`)::

    python -m course_utils.evaluation --beyond      # about 5 minutes on two CPU cores
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from . import metrics
from .explain import registry
from .files import private_temp_dir, write_atomic
from .validation import CourseError, CourseValueError, describe, finite_number, nonnegative_int, positive_int

__all__ = ["CONFUSABLE", "FRACTIONS", "SEED", "ROAD_METHODS", "LOCALISATION_METHODS", "RESULTS_PATH", "to_saliency",
           "first_correct", "attribution_maps", "road_areas", "confusable_mosaics", "localisation_maps",
           "localisation_scores", "centre_prior", "run", "load", "RESULTS_10_PATH", "ALL_METHODS",
           "EVAL_OPTIONS", "MOSAIC_OPTIONS", "make_explainer", "method_maps", "fixed_size", "twin_and_labels",
           "sanity_scores", "run_beyond"]

RESULTS_PATH = Path(__file__).resolve().parent / "assets" / "evaluation_07.json"

#: Pairs of CIFAR-10 classes the course model confuses most (each way round).
CONFUSABLE = {"cat": "dog", "dog": "cat", "automobile": "truck", "truck": "automobile", "deer": "horse",
              "horse": "deer"}
#: Fractions of the pixels removed: 0 %, 10 %, ..., 90 % (ROAD needs at least one pixel left).
FRACTIONS = tuple(round(0.1 * i, 1) for i in range(10))
ROAD_METHODS = ("CAM", "Grad-CAM", "guided Grad-CAM", "vanilla gradient", "random order")
#: Grad-CAM at four depths (deepest first), then the pixel-level maps.
LAYERS = ("conv4", "res2", "conv3", "res1")
LOCALISATION_METHODS = tuple(f"Grad-CAM {layer}" for layer in LAYERS) + ("guided Grad-CAM", "vanilla gradient")
SEED = 7


def to_saliency(maps) -> np.ndarray:
    """Gradient methods give ``(N, H, W, 3)``: take the largest |value| over the channels."""
    m = np.asarray(maps)
    return np.abs(m).max(axis=-1) if m.ndim == 4 else m


def first_correct(model, images, labels, n: int) -> np.ndarray:
    """Indices of the first ``n`` images the model labels correctly (``images``: (N, 32, 32, 3))."""
    n = positive_int(n, "n")
    pred = model.predict(np.asarray(images, np.float32), batch_size=500, verbose=0).argmax(1)
    idx = np.flatnonzero(pred == np.asarray(labels))
    if len(idx) < n:
        raise CourseValueError(f"Only {len(idx)} correctly classified images among {len(images)}; asked for {n}. "
                               "Ask for fewer, or give more images.")
    return idx[:n]


def attribution_maps(model, images, classes, seed: int = SEED) -> dict[str, np.ndarray]:
    """The maps ROAD ranks pixels by: ``{name: (N, H, W)}`` for :data:`ROAD_METHODS`.

    The random order is a map of uniform noise (image ``i`` gets row ``i`` of one seeded draw).
    """
    seed = nonnegative_int(seed, "seed")
    x = np.asarray(images, np.float32)
    out = {name: to_saliency(registry.make(name, model)(x, classes)) for name in ROAD_METHODS[:-1]}
    out["random order"] = _random_order(x, seed)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def _random_order(x: np.ndarray, seed: int) -> np.ndarray:
    """The "random order" map of images ``x``: uniform noise, image ``i`` gets row ``i`` of one seeded draw."""
    return np.random.default_rng(seed).random(x.shape[:3])


def _predict(model):
    import tensorflow as tf

    forward = tf.function(lambda t: tf.nn.softmax(model(t, training=False)), reduce_retracing=True)
    return lambda batch: forward(tf.constant(batch, tf.float32)).numpy()


def road_areas(model, images, classes, maps, imputers=None, orders=("morf", "lerf"), fractions=FRACTIONS,
               seed: int = SEED):
    """Areas under the removal curves: ``areas[imputer][order][method]`` is ``(N,)``, ``curves`` the same
    keys with the mean curve ``(F,)``. Every method gets the same seed (common random numbers)."""
    predict = _predict(model)
    areas, curves = {}, {}
    for imp in imputers or list(metrics.IMPUTERS):
        for order in orders:
            for name, s in maps.items():
                c = metrics.removal_curves(predict, images, s, classes, fractions, order, imp, rng=seed)
                areas.setdefault(imp, {}).setdefault(order, {})[name] = metrics.area_under(fractions, c)
                curves.setdefault(imp, {}).setdefault(order, {})[name] = c.mean(axis=0)
    return areas, curves


def confusable_mosaics(images, labels, pool, n: int, class_names, grid: int = 3, seed: int = SEED):
    """``n`` mosaics of ``grid`` x ``grid`` test images where the target's confusable partner is present.

    Each mosaic: a target class drawn from :data:`CONFUSABLE`, one tile of it, one tile of its partner
    (cat with dog, automobile with truck, deer with horse), and ``grid**2 - 2`` tiles of other, distinct
    classes, all at random places. Tiles come from ``pool`` (indices of images the model labels correctly on
    their own). Returns ``mosaics (n, grid*32, grid*32, 3)`` float32 and a dict of ``(n,)`` / ``(n, grid**2)``
    arrays: ``target``, ``tile``, ``partner_tile``, ``tile_images``.
    """
    n = positive_int(n, "n")
    grid = positive_int(grid, "grid")
    seed = nonnegative_int(seed, "seed")
    class_names = _names_with_partners(class_names)
    if grid < 2 or grid * grid > len(class_names):
        raise CourseValueError(f"grid={grid}: a mosaic needs at least 2 x 2 tiles and one class per tile; with "
                               f"{len(class_names)} classes grid can be 2 to {int(np.sqrt(len(class_names)))}.")
    labels = np.asarray(labels)
    pool = np.asarray(pool)
    if pool.ndim != 1 or pool.dtype.kind not in "iu" or (pool.size and not 0 <= pool.min() <= pool.max() < len(labels)):
        raise CourseValueError(f"pool must be indices of images (ints from 0 to {len(labels) - 1}); got "
                               f"{describe(pool)}.")
    if len(images) != len(labels):
        raise CourseValueError(f"images ({len(images)}) and labels ({len(labels)}) must have the same length.")
    by_class = [pool[labels[pool] == c] for c in range(len(class_names))]
    missing = [class_names[c] for c, b in enumerate(by_class) if len(b) == 0]
    if missing:
        raise CourseValueError(f"The pool holds no image of {', '.join(missing)}: every class must be in it (take the "
                               "correctly labelled images of a larger part of the test set).")
    targets = [class_names.index(c) for c in CONFUSABLE]
    rng = np.random.default_rng(seed)
    mosaics, info = [], {"target": [], "tile": [], "partner_tile": [], "tile_images": []}
    for _ in range(n):
        t = int(rng.choice(targets))
        partner = class_names.index(CONFUSABLE[class_names[t]])
        others = rng.choice([c for c in range(len(class_names)) if c not in (t, partner)], size=grid * grid - 2,
                            replace=False)
        classes = np.concatenate([[t, partner], others])[rng.permutation(grid * grid)]
        picks = np.array([rng.choice(by_class[c]) for c in classes])
        mosaics.append(metrics.make_mosaic(images[picks]))
        info["target"].append(t)
        info["tile"].append(int(np.flatnonzero(classes == t)[0]))
        info["partner_tile"].append(int(np.flatnonzero(classes == partner)[0]))
        info["tile_images"].append(picks)
    return np.stack(mosaics).astype(np.float32), {k: np.asarray(v) for k, v in info.items()}


def _names_with_partners(class_names) -> list[str]:
    """``class_names`` as a list of strings that holds every class of :data:`CONFUSABLE`."""
    if isinstance(class_names, (str, bytes)) or not hasattr(class_names, "__len__"):
        raise CourseValueError(f"class_names must be a list of class names; got {describe(class_names)}.")
    names = [str(c) for c in class_names]
    missing = [c for c in CONFUSABLE if c not in names]
    if missing:
        raise CourseValueError(f"class_names lacks {', '.join(missing)}: the confusable pairs need CIFAR-10's names "
                               "(course_utils.data.CLASS_NAMES).")
    return names


def centre_prior(shape: tuple[int, int], sigma: float | None = None) -> np.ndarray:
    """A map that ignores the image: a Gaussian bump at the centre (``sigma``: a third of the side)."""
    if not hasattr(shape, "__len__") or len(shape) != 2:
        raise CourseValueError(f"shape must be (H, W); got {describe(shape)}.")
    h, w = positive_int(shape[0], "shape[0] (the height)"), positive_int(shape[1], "shape[1] (the width)")
    if sigma is not None:
        sigma = finite_number(sigma, "sigma", minimum=0.0, strict_minimum=True)
    sigma = sigma or min(h, w) / 3
    yy, xx = np.mgrid[:h, :w]
    return np.exp(-((yy - (h - 1) / 2) ** 2 + (xx - (w - 1) / 2) ** 2) / (2 * sigma ** 2))


def localisation_maps(model, mosaics, targets, batch: int = 50) -> dict[str, np.ndarray]:
    """``{name: (n, H, W)}`` for :data:`LOCALISATION_METHODS` on mosaics (the model runs at any size)."""
    from . import models

    batch = positive_int(batch, "batch")
    big = models.any_size(model)
    makers = {f"Grad-CAM {layer}": ("Grad-CAM", layer) for layer in LAYERS}
    makers.update({name: (name, None) for name in LOCALISATION_METHODS[len(LAYERS):]})
    out = {}
    for name, (method_name, layer) in makers.items():
        method = registry.make(method_name, big, layer)
        out[name] = np.concatenate([to_saliency(method(mosaics[i:i + batch], targets[i:i + batch]))
                                    for i in range(0, len(mosaics), batch)])
    return out


def localisation_scores(maps: dict, info: dict, grid: int = 3, seed: int = SEED) -> dict[str, dict[str, np.ndarray]]:
    """Per mosaic: pointing-game ``hit`` (0/1), ``focus`` (share on the target tile) and ``focus_partner``
    (share on the confusable partner's tile), for each map and for the two baselines (a centre prior and a
    random map, both added here)."""
    grid = positive_int(grid, "grid")
    seed = nonnegative_int(seed, "seed")
    if not isinstance(maps, dict) or not maps:
        raise CourseValueError(f"maps must be a dict {{name: (n, H, W) maps}} with at least one entry; got "
                               f"{describe(maps)}.")
    missing = [k for k in ("target", "tile", "partner_tile") if k not in info]
    if missing:
        raise CourseValueError(f"info lacks {', '.join(missing)}: pass the info that confusable_mosaics returned.")
    n = len(info["target"])
    shape = next(iter(maps.values())).shape[1:]
    maps = dict(maps)
    maps["centre prior"] = np.broadcast_to(centre_prior(shape), (n, *shape))
    maps["random map"] = np.random.default_rng(seed).random((n, *shape))
    scores = {}
    for name, m in maps.items():
        rng = np.random.default_rng(seed)
        scores[name] = {
            "hit": np.array([metrics.pointing_hit(m[i], info["tile"][i], grid, rng) for i in range(n)], float),
            "focus": np.array([metrics.focus(m[i], info["tile"][i], grid) for i in range(n)]),
            "focus_partner": np.array([metrics.focus(m[i], info["partner_tile"][i], grid) for i in range(n)]),
        }
    return scores


# ---------------------------------------------------------------- notebook 10: every method of the course

RESULTS_10_PATH = Path(__file__).resolve().parent / "assets" / "evaluation_10.json"
#: Every method of the course (the names of ``explain.METHODS``, read from its registry), then the random baseline.
ALL_METHODS = registry.Names(after=("random order",))
#: What keeps the evaluation affordable on two CPU cores (each method's ``evaluation`` options in the registry):
#: Score-CAM masks with the 64 most varied of conv4's 256 maps, Integrated Gradients takes 32 points on its path.
EVAL_OPTIONS = registry.FastOptions("evaluation")
#: On 96 x 96 mosaics occlusion moves its 8 x 8 patch by 8 pixels (144 positions instead of 529).
MOSAIC_OPTIONS = {"occlusion": {"stride": 8}}


def make_explainer(model, name: str, options: dict | None = None):
    """The explainer ``name`` (a key of ``explain.METHODS``) for ``model``, with :data:`EVAL_OPTIONS` and then
    ``options`` (``{name: {option: value}}``) applied; the CAM family explains its default, last layer."""
    method = registry.method(name)
    return method.make(model, fast="evaluation", **(options or {}).get(name, {}))


def method_maps(model, images, classes, names=ALL_METHODS, options: dict | None = None, seed: int = SEED,
                batch: int = 50) -> dict[str, np.ndarray]:
    """``{name: (N, H, W)}`` saliency maps of ``images`` (N, H, W, 3) for ``classes`` (N,), one per method.

    Gradient methods' (N, H, W, 3) maps become the largest |value| over the channels (:func:`to_saliency`).
    ``"random order"`` is uniform noise (row ``i`` of one draw with ``seed``). SmoothGrad's noise is drawn per
    image (image ``i``: seed ``[seed, i]``), so image ``i`` gets the same map whatever batch it is in.
    """
    batch = positive_int(batch, "batch")
    seed = nonnegative_int(seed, "seed")
    if isinstance(names, str):
        names = [names]
    x = np.asarray(images, np.float32)
    cls = np.asarray(classes)
    out = {}
    for name in names:
        if name == "random order":
            out[name] = _random_order(x, seed)
            continue
        method = make_explainer(model, name, options)
        if name == "SmoothGrad":
            parts = []
            for i in range(len(x)):
                method.seed = [seed, i]
                parts.append(to_saliency(method(x[i:i + 1], cls[i:i + 1])))
        else:
            parts = [to_saliency(method(x[i:i + batch], cls[i:i + batch])) for i in range(0, len(x), batch)]
        out[name] = np.concatenate(parts).astype(np.float64)
    return out


def fixed_size(model, height: int, width: int):
    """A copy of the fully convolutional ``model`` for ``height`` x ``width`` images (occlusion needs a fixed
    size), checked against :func:`models.any_size` on a probe of that size."""
    from .explain.copies import sized_copy

    return sized_copy(model, positive_int(height, "height"), positive_int(width, "width"))


def twin_and_labels(x_train, y_train):
    """The random-label twin of notebook 07 and the permuted labels it memorised: ``(twin, labels (n,))`` for
    its first ``n`` training images (the model card says n and the permutation's seed)."""
    from . import models

    twin = models.load_course_model(models.ASSETS / "course_cnn_random_labels.keras")
    card = models.load_model_card(models.ASSETS / "model_card_random_labels.json")
    seen = card["train_images"]
    return twin, np.random.default_rng(card["recipe"]["seed"]).permutation(np.asarray(y_train)[:seen])


def sanity_scores(maps_model: dict, maps_twin: dict) -> dict[str, dict[str, np.ndarray]]:
    """Data randomisation (Adebayo et al., 2018), as in notebook 07: per image ``same`` = Spearman correlation
    of the model's map with the twin's map of the same image, ``floor`` = with the twin's map of the next image
    (what any two maps share). A map that explains what the model learned has ``same - floor`` near 0."""
    out = {}
    for name, a in maps_model.items():
        b = maps_twin[name]
        n = len(a)
        out[name] = {"same": np.array([metrics.rank_correlation(a[j], b[j]) for j in range(n)]),
                     "floor": np.array([metrics.rank_correlation(a[j], b[(j + 1) % n]) for j in range(n)])}
    return out


def run_beyond(n_images: int = 100, n_mosaics: int = 60, n_sanity: int = 64, path: Path | None = RESULTS_10_PATH,
               seed: int = SEED) -> dict:
    """Evaluate every method of :data:`ALL_METHODS` with notebook 07's metrics and write notebook 10's tables.

    - ROAD (linear imputation), MoRF and LeRF areas on the first ``n_images`` test images the model labels
      correctly (the first images of notebook 07's set);
    - the pointing game and Focus on the first ``n_mosaics`` of notebook 07's confusable 3 x 3 mosaics;
    - data randomisation: each method on the random-label twin against the course model, on the first
      ``n_sanity`` training images the twin memorised.

    Options: :data:`EVAL_OPTIONS` everywhere, :data:`MOSAIC_OPTIONS` on the mosaics. Per-image values are
    stored (JSON, ``path``) so that the notebook draws its own bootstrap intervals. Returns the results.
    """
    from . import data, models

    n_images, n_mosaics = positive_int(n_images, "n_images"), positive_int(n_mosaics, "n_mosaics")
    n_sanity, seed = positive_int(n_sanity, "n_sanity"), nonnegative_int(seed, "seed")
    start = time.perf_counter()
    seconds = {}
    model = models.load_course_model()
    (x_train, y_train), (x_test, y_test) = data.load_cifar10()
    names = list(data.CLASS_NAMES)

    idx = first_correct(model, x_test[:1000], y_test[:1000], n_images)
    images, classes = x_test[idx].astype(np.float32), y_test[idx]
    maps = method_maps(model, images, classes, seed=seed)
    areas, curves = road_areas(model, images, classes, maps, imputers=["linear (ROAD)"], seed=seed)
    seconds["road"] = round(time.perf_counter() - start, 1)

    t = time.perf_counter()
    pred = model.predict(x_test[:3000].astype(np.float32), batch_size=500, verbose=0).argmax(1)
    pool = np.flatnonzero(pred == y_test[:3000])
    mosaics, info = confusable_mosaics(x_test, y_test, pool, n_mosaics, names, seed=seed)
    big = fixed_size(model, *mosaics.shape[1:3])
    mosaic_maps = method_maps(big, mosaics, info["target"], names=ALL_METHODS[:-1], options=MOSAIC_OPTIONS,
                              seed=seed, batch=20)
    loc = localisation_scores(mosaic_maps, info, seed=seed)
    seconds["mosaics"] = round(time.perf_counter() - t, 1)

    t = time.perf_counter()
    twin, twin_labels = twin_and_labels(x_train, y_train)
    x_seen = x_train[:n_sanity].astype(np.float32)
    sanity = sanity_scores(method_maps(model, x_seen, y_train[:n_sanity], seed=seed),
                           method_maps(twin, x_seen, twin_labels[:n_sanity], seed=seed + 1))
    seconds["sanity"] = round(time.perf_counter() - t, 1)
    seconds["total"] = round(time.perf_counter() - start, 1)

    results = {
        "about": {"command": "python -m course_utils.evaluation --beyond", "seed": seed, "seconds": seconds,
                  "methods": list(ALL_METHODS), "options": dict(EVAL_OPTIONS), "mosaic_options": MOSAIC_OPTIONS},
        "road": {"fractions": list(FRACTIONS), "test_indices": idx, "classes": classes,
                 "areas": areas["linear (ROAD)"], "curves": curves["linear (ROAD)"]},
        "mosaics": {"grid": 3, **info, "scores": loc},
        "sanity": {"train_indices": np.arange(n_sanity), "model_classes": y_train[:n_sanity],
                   "twin_classes": twin_labels[:n_sanity], "scores": sanity},
    }
    if path is not None:
        write_atomic(path, json.dumps(_tolist(results), separators=(",", ":")) + "\n")
    return results


def _tolist(tree, digits: int = 5):
    if isinstance(tree, dict):
        return {k: _tolist(v, digits) for k, v in tree.items()}
    arr = np.asarray(tree)
    return np.round(arr, digits).tolist() if arr.dtype.kind == "f" else arr.tolist()


def _toarray(tree):
    if isinstance(tree, dict):
        return {k: _toarray(v) for k, v in tree.items()}
    return np.asarray(tree)


def run(n_images: int = 200, n_mosaics: int = 300, path: Path | None = RESULTS_PATH, seed: int = SEED) -> dict:
    """Compute every stored table of notebook 07 and write it to ``path`` (JSON). Returns the results."""
    from . import data, models

    n_images, n_mosaics = positive_int(n_images, "n_images"), positive_int(n_mosaics, "n_mosaics")
    seed = nonnegative_int(seed, "seed")
    start = time.perf_counter()
    model = models.load_course_model()
    (_, _), (x_test, y_test) = data.load_cifar10()
    names = list(data.CLASS_NAMES)
    idx = first_correct(model, x_test[:1000], y_test[:1000], n_images)
    images, classes = x_test[idx].astype(np.float32), y_test[idx]
    maps = attribution_maps(model, images, classes, seed)
    areas, curves = road_areas(model, images, classes, maps, seed=seed)
    road_s = time.perf_counter() - start

    pred = model.predict(x_test[:3000].astype(np.float32), batch_size=500, verbose=0).argmax(1)
    pool = np.flatnonzero(pred == y_test[:3000])
    mosaics, info = confusable_mosaics(x_test, y_test, pool, n_mosaics, names, seed=seed)
    loc = localisation_scores(localisation_maps(model, mosaics, info["target"]), info, seed=seed)
    results = {
        "about": {"command": "python -m course_utils.evaluation", "seed": seed,
                  "road_seconds": round(road_s, 1), "total_seconds": round(time.perf_counter() - start, 1)},
        "road": {"fractions": list(FRACTIONS), "test_indices": idx, "classes": classes, "areas": areas,
                 "curves": curves},
        "mosaics": {"grid": 3, **info, "scores": loc},
    }
    if path is not None:
        write_atomic(path, json.dumps(_tolist(results), separators=(",", ":")) + "\n")
    return results


def load(path: Path | None = None) -> dict:
    """The stored results of :func:`run` (or of :func:`run_beyond`: ``load(RESULTS_10_PATH)``), with lists
    turned back into numpy arrays."""
    path = Path(path) if path is not None else RESULTS_PATH
    if not path.is_file():
        command, minutes = (("python -m course_utils.evaluation --beyond", 5) if path.name == RESULTS_10_PATH.name
                            else ("python -m course_utils.evaluation", 4))
        raise FileNotFoundError(f"No stored results at {path}: run `{command}` first "
                                f"(about {minutes} minutes on two CPU cores).")
    try:
        return _toarray(json.loads(path.read_text(encoding="utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CourseError(f"The stored results at {path} are not valid JSON ({exc}): the file is damaged. Restore it "
                          "(git checkout) or run the command that writes it again.") from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_utils.evaluation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 images and 6 mosaics, written to --out")
    parser.add_argument("--beyond", action="store_true",
                        help=f"notebook 10: every method of the course (default --out: {RESULTS_10_PATH})")
    parser.add_argument("--out", type=Path, default=None, help=f"default: {RESULTS_PATH}")
    args = parser.parse_args(argv)
    from . import setup

    setup(quiet=True)
    if args.beyond:
        out = args.out or (private_temp_dir("evaluation_") / "evaluation_10_quick.json" if args.quick
                           else RESULTS_10_PATH)
        res = run_beyond(6, 4, 6, out) if args.quick else run_beyond(path=out)
        print(f"Wrote {out} in {res['about']['seconds']['total']:.0f} s.")
        return
    if args.quick:
        out = args.out or private_temp_dir("evaluation_") / "evaluation_07_quick.json"
        res = run(8, 6, out)
    else:
        out = args.out or RESULTS_PATH
        res = run(path=out)
    print(f"Wrote {out} in {res['about']['total_seconds']:.0f} s.")


if __name__ == "__main__":
    main()
