"""The course's performance figures, all measured in one run, printed as a Markdown table.

    python benchmarks/run.py            # CIFAR10_PATH must point at the data; tf-keras-vis 0.8.7 optional
    python benchmarks/run.py --quick    # fewer repeats, no notebooks, no test suite
    python benchmarks/run.py --full     # also time every notebook (and its kernel's peak memory) and the whole test run
    python benchmarks/run.py --only road  # just the ROAD row (notebook 07's faithfulness metric)
    python benchmarks/run.py --only beyond  # just notebook 10's methods, with tf-keras-vis where it has them

Each figure is the median over repeats, after a warm-up call (tracing and compilation are excluded: a
slider pays them once, when the explainer is built). Ratios compare figures of the same run, so they hold
on a noisy machine better than the seconds do. For the comparison with tf-keras-vis:
``pip install -r benchmarks/requirements.txt`` (it is no dependency of the course).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))

_LOAD_PROBE = r"""
import json, resource, time, tracemalloc
from course_utils import data
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
t = time.perf_counter()
(xa, ya), (xb, yb) = data.load_cifar10()
seconds = time.perf_counter() - t
peak = tracemalloc.get_traced_memory()[1]
size = xa.nbytes + ya.nbytes + xb.nbytes + yb.nbytes
rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) * 1024
print(json.dumps({"seconds": seconds, "peak": peak, "size": size, "rss_growth": rss}))
"""


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up: tracing, first-call allocation
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_loading(repeats: int) -> dict:
    """Each repeat in a fresh process, so that memory is measured from a clean start."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _LOAD_PROBE], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def bench_road(model, x_test, repeats: int) -> tuple[list, dict]:
    """ROAD (noisy linear imputation, MoRF order of Grad-CAM) on 100 test images x 10 fractions, against
    the forward pass over the same 100 images. The ROAD curves need 10 forward passes (one per fraction)
    plus the imputation: a sparse solve per fraction for all 100 images at once."""
    import numpy as np
    import tensorflow as tf

    import course_utils as cu

    images = x_test[:100].astype("float32")
    forward = tf.function(lambda x: tf.nn.softmax(model(x, training=False)), reduce_retracing=True)
    predict = lambda b: forward(tf.constant(b)).numpy()  # noqa: E731
    classes = predict(images).argmax(1)
    maps = cu.explain.GradCAM(model)(images, classes)
    fractions = np.round(np.arange(10) / 10, 1)
    t_forward = median_time(lambda: predict(images), repeats)
    t_road = median_time(lambda: cu.metrics.removal_curves(predict, images, maps, classes, fractions, "morf",
                                                           "linear (ROAD)", rng=0), max(3, repeats // 2))
    masks = np.stack([cu.metrics.removal_masks(m, [0.5], rng=0)[0] for m in maps])
    t_impute = median_time(lambda: cu.metrics.impute_linear(images, masks, rng=0), repeats)
    figures = {"road_100x10": t_road, "forward_100": t_forward, "impute_linear_100_at_half": t_impute}
    rows = [("ROAD curve (linear imputation, MoRF), 100 images x 10 fractions",
             f"{t_road:.2f} s = {t_road / t_forward:.0f} x the forward pass over the same 100 images",
             f"10 x is the floor (one forward pass per fraction); imputing half of the pixels of all 100 images "
             f"takes {t_impute * 1e3:.0f} ms")]
    return rows, figures


def _bf16_hardware() -> str:
    """What this machine offers for bfloat16 arithmetic; the bfloat16 rows depend on it."""
    from course_utils.train import bfloat16_hardware

    found = bfloat16_hardware()
    if found == ["GPU"]:
        return "TensorFlow runs on a GPU here"
    if found is None:
        return "this CPU's bfloat16 instructions: unknown (no /proc/cpuinfo)"
    return f"this CPU has {', '.join(found)}" if found else "this CPU lists no bfloat16 instructions"


def _bfloat16_model(model, images):
    """``model`` (the course model) cloned under Keras's ``mixed_bfloat16`` policy with its own weights and
    configuration, for giving tf-keras-vis the arithmetic of ``ScoreCAM(precision='bfloat16')``: every layer
    computes in bfloat16 except the logits, which stay float32 in both. A float32 identity layer, ``conv4_f32``,
    follows conv4: tf-keras-vis 0.8.7 hands the maps of the layer it explains to scipy, which cannot read
    bfloat16, so it explains that layer (the same values, cast to float32). Checked on ``images``: its class
    probabilities within 0.05 of ``model``'s."""
    import keras
    import numpy as np

    import course_utils as cu

    twin = cu.explain._clone_in_bfloat16(model, keep=[model.get_layer("logits")])
    a = keras.layers.Activation("linear", dtype="float32", name="conv4_f32")(twin.get_layer("conv4").output)
    twin = keras.Model(twin.inputs[0], twin.get_layer("logits")(twin.get_layer("gap")(a)), name="course_cnn_bfloat16")
    p = [keras.ops.convert_to_numpy(keras.ops.softmax(m(images, training=False))) for m in (model, twin)]
    diff = float(np.abs(p[0] - p[1]).max())
    if diff > 0.05:
        raise RuntimeError(f"the bfloat16 twin's probabilities differ from the model's by {diff:.3g}")
    return twin


def bench_beyond(model, x_test, repeats: int) -> tuple[list, dict]:
    """Notebook 10's methods: each as a ratio to the forward pass over the same images, against tf-keras-vis
    where it has the method, and one image as the explorer builds it (``cu.widgets.SLIDER_OPTIONS``).

    The one-pass methods run on 256 images. Score-CAM (one forward pass per feature map), Integrated
    Gradients (64 gradients), SmoothGrad (25 gradients) and occlusion (49 forward passes) run on 32 images,
    compared with the forward pass over those 32."""
    import numpy as np
    import tensorflow as tf

    import course_utils as cu

    E = cu.explain
    rows, figures = [], {}
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    big, small = x_test[:256].astype("float32"), x_test[:32].astype("float32")
    t_big = median_time(lambda: forward(tf.constant(big)).numpy(), repeats)
    t_small = median_time(lambda: forward(tf.constant(small)).numpy(), repeats)
    rows.append(("Forward pass, 32 test images (compiled)", f"{t_small * 1e3:.0f} ms",
                 "the reference for the many-pass methods below"))
    classes = forward(tf.constant(big)).numpy().argmax(1)
    one_pass = {"Grad-CAM++": E.GradCAMPlusPlus, "XGrad-CAM": E.XGradCAM, "HiResCAM": E.HiResCAM,
                "LayerCAM": E.LayerCAM, "Eigen-CAM": E.EigenCAM}
    for name, cls in one_pass.items():
        ex = cls(model)
        t = median_time(lambda: ex(big, classes), repeats)
        figures[f"{name}_256"] = t
        aim = "" if name == "Eigen-CAM" else "aim: at most 1.5 x"
        rows.append((f"{name}, 256 images", f"{t * 1e3:.0f} ms = {t / t_big:.2f} x forward", aim))
    many = {"Score-CAM (all 256 maps)": E.ScoreCAM(model), "Integrated Gradients (64 steps)": E.IntegratedGradients(model),
            "SmoothGrad (25 samples)": E.SmoothGrad(model), "occlusion (8 x 8 patch, stride 4)": E.Occlusion(model)}
    sc_repeats = 5     # the Score-CAM comparison below rests on these medians: more than the other many-pass rows
    for name, ex in many.items():
        t = median_time(lambda: ex(small, classes[:32]), sc_repeats if name.startswith("Score") else max(2, repeats // 3))
        figures[f"{name}_32"] = t
        rows.append((f"{name}, 32 images", f"{t * 1e3:.0f} ms = {t / t_small:.0f} x forward", ""))
    # What bounds Score-CAM: its masked images cost one forward pass each, whoever builds them.
    bf16 = E.ScoreCAM(model, precision="bfloat16")
    t = median_time(lambda: bf16(small, classes[:32]), sc_repeats)
    figures["Score-CAM bfloat16_32"] = t
    rows.append(("Score-CAM (all 256 maps), masked passes in bfloat16, 32 images",
                 f"{t * 1e3:.0f} ms = {t / t_small:.0f} x forward",
                 f"`ScoreCAM(model, precision='bfloat16')`; {_bf16_hardware()}"))
    passes = bf16.explain(small, classes[:32]).extra["forward_passes"]
    masked = np.repeat(small, passes // 32 + 1, axis=0)[:passes]
    t = median_time(lambda: [forward(tf.constant(masked[s:s + 512])).numpy() for s in range(0, passes, 512)],
                    sc_repeats)
    figures["Score-CAM forward bound_32"] = t
    rows.append((f"  the forward pass alone over {passes} images (copies of the 32, as many as its masked images), "
                 "float32, batches of 512", f"{t * 1e3:.0f} ms",
                 "what any Score-CAM that masks with every map pays here in float32 (TensorFlow, compiled)"))

    try:
        import tf_keras_vis
        from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
        from tf_keras_vis.layercam import Layercam
        from tf_keras_vis.saliency import Saliency
        from tf_keras_vis.scorecam import Scorecam
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        rows.append(("tf-keras-vis: Grad-CAM++, Score-CAM, LayerCAM, SmoothGrad", "not installed",
                     "pip install -r benchmarks/requirements.txt"))
    else:
        v = tf_keras_vis.__version__
        # Their explainers are built (the model cloned) outside the timed calls, as ours are.
        gpp, lcam = GradcamPlusPlus(model, clone=True), Layercam(model, clone=True)
        scam, sal = Scorecam(model, clone=True), Saliency(model, clone=True)
        theirs = {
            "Grad-CAM++": (lambda: gpp(CategoricalScore(list(classes)), big, penultimate_layer="conv4"),
                           "Grad-CAM++_256", ""),
            "LayerCAM": (lambda: lcam(CategoricalScore(list(classes)), big, penultimate_layer="conv4"), "LayerCAM_256", ""),
            "Score-CAM": (lambda: scam(CategoricalScore(list(classes[:32])), small, penultimate_layer="conv4"),
                          "Score-CAM (all 256 maps)_32", "float32 against their float32; the floor above bounds this ratio"),
            "SmoothGrad": (lambda: sal(CategoricalScore(list(classes[:32])), small, smooth_samples=25, smooth_noise=0.15),
                           "SmoothGrad (25 samples)_32", ""),
        }
        for name, (run, ours_key, aim) in theirs.items():
            t = median_time(run, sc_repeats if name == "Score-CAM" else max(2, repeats // 3))
            figures[f"tf_keras_vis_{name}"] = t
            n = 32 if ours_key.endswith("_32") else 256
            rows.append((f"tf-keras-vis {v} {name}, the same {n} images",
                         f"{t * 1e3:.0f} ms; ours is {t / figures[ours_key]:.1f} x faster", aim))
            if name == "Score-CAM":
                t_bf = figures["Score-CAM bfloat16_32"]
                rows.append(("  ours with `precision='bfloat16'` against it", f"{t / t_bf:.1f} x faster",
                             "aim: at least 3 x (theirs with its defaults); the float32 floor above allows "
                             f"{t / figures['Score-CAM forward bound_32']:.1f} x"))
                try:
                    scam_bf16 = Scorecam(_bfloat16_model(model, small), clone=True)
                    t_twin = median_time(lambda: scam_bf16(
                        CategoricalScore(list(classes[:32])), small, penultimate_layer="conv4_f32",
                        seek_penultimate_conv_layer=False), sc_repeats)
                except Exception as exc:
                    rows.append((f"tf-keras-vis {v} Score-CAM on a bfloat16 copy of the model", "fails",
                                 f"{type(exc).__name__}: {exc}"))
                else:
                    figures["tf_keras_vis_Score-CAM_bfloat16"] = t_twin
                    rows.append((f"tf-keras-vis {v} Score-CAM on a bfloat16 copy of the model, the same 32 images",
                                 f"{t_twin * 1e3:.0f} ms; ours in bfloat16 is {t_twin / t_bf:.1f} x faster",
                                 f"both in bfloat16; theirs also runs its clean pass in bfloat16, masks with all "
                                 f"{32 * 256} maps (ours skips the {32 * 256 - passes} constant ones) and predicts "
                                 "32 at a time"))

    one = x_test[:1].astype("float32")
    for name in E.METHODS:
        ex = cu.widgets._build(name, model, None)
        t = median_time(lambda: ex(one, 3), max(repeats * 2, 10))
        figures[f"{name}_1"] = t
        options = cu.widgets.SLIDER_OPTIONS.get(name)
        note = "aim: at most 100 ms" + (f"; the explorer's options {options}" if options else "")
        rows.append((f"{name}, one image (a slider moves)", f"{t * 1e3:.1f} ms", note))
    return rows, figures


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true", help="also time the notebooks and the whole test run")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--only", choices=["road", "beyond"], help="measure only this part")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7

    import numpy as np

    import course_utils as cu

    cu.setup(quiet=True)
    import tensorflow as tf

    rows: list[tuple[str, str, str]] = []
    figures: dict = {}
    if args.only:
        (_, _), (x_test, _) = cu.data.load_cifar10()
        bench = {"road": bench_road, "beyond": bench_beyond}[args.only]
        rows, figures = bench(cu.models.load_course_model(), x_test, repeats)
        _print_table(rows, figures, repeats, tf, args.json)
        return

    # ---------------------------------------------------------------- data
    load = bench_loading(3 if args.quick else 5)
    figures["load"] = load
    rows.append(("Load all of CIFAR-10 (`load_cifar10`)", f"{load['seconds']:.2f} s",
                 "aim: about 3 s"))
    rows.append(("  peak memory while loading (traced allocations)",
                 f"{load['peak'] / 2**20:.0f} MiB = {load['peak'] / load['size']:.2f} x the data ({load['size'] / 2**20:.0f} MiB)",
                 "aim: at most about 2 x"))

    # ---------------------------------------------------------------- explainers on a batch
    (_, _), (x_test, _) = cu.data.load_cifar10()
    model = cu.models.load_course_model()
    batch = x_test[:256].astype("float32")
    one = batch[:1]
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    x_tf = tf.constant(batch)
    t_forward = median_time(lambda: forward(x_tf).numpy(), repeats)
    figures["forward_256"] = t_forward
    rows.append(("Forward pass, 256 test images (compiled)", f"{t_forward * 1e3:.0f} ms", "the reference"))
    explainers = {
        "CAM": cu.explain.CAM(model),
        "Grad-CAM": cu.explain.GradCAM(model),
        "guided Grad-CAM": cu.explain.GuidedGradCAM(model),
    }
    for name, ex in explainers.items():
        t = median_time(lambda: ex(batch), repeats)
        figures[f"{name}_256"] = t
        aim = {"Grad-CAM": "aim: at most 1.3 x"}.get(name, "")
        rows.append((f"{name}, 256 images", f"{t * 1e3:.0f} ms = {t / t_forward:.2f} x forward", aim))

    # ---------------------------------------------------------------- tf-keras-vis
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        rows.append(("tf-keras-vis 0.8.7 Gradcam, 256 images", "not installed",
                     "pip install -r benchmarks/requirements.txt"))
    else:
        import tf_keras_vis

        classes = model.predict(batch, verbose=0).argmax(1).tolist()
        theirs = Gradcam(model, clone=True)
        score = CategoricalScore(classes)
        t_theirs = median_time(lambda: theirs(score, batch, penultimate_layer="conv4"), repeats)
        t_ours = figures["Grad-CAM_256"]
        figures["tf_keras_vis_256"] = t_theirs
        # same maps? compare at feature-map resolution (the upsampling methods differ: scipy zoom vs bilinear)
        a = theirs(CategoricalScore(classes[:16]), batch[:16], penultimate_layer="conv4", expand_cam=False,
                   normalize_cam=False)
        b = cu.explain.GradCAM(model, upsample=False, normalize=False)(batch[:16], classes[:16])
        agree = float(np.abs(a - b).max() / np.abs(b).max())
        rows.append((f"tf-keras-vis {tf_keras_vis.__version__} Gradcam, same model, layer and images",
                     f"{t_theirs * 1e3:.0f} ms; ours is {t_theirs / t_ours:.1f} x faster",
                     f"aim: at least 3 x; maps agree to {agree:.1e} (relative)"))

    # ---------------------------------------------------------------- one image, as a slider asks for it
    for name, ex in explainers.items():
        t = median_time(lambda: ex(one, 3), max(repeats * 5, 20))
        figures[f"{name}_1"] = t
        aim = "aim: at most 60 ms" if name == "guided Grad-CAM" else "aim: at most 20 ms"
        rows.append((f"{name}, one image (a slider moves)", f"{t * 1e3:.1f} ms", aim))

    # ---------------------------------------------------------------- the explorer's callback
    import matplotlib

    matplotlib.use("Agg")
    explorer = cu.widgets.Explorer(model, x_test[:100])
    box = explorer.widget(index=0, method="Grad-CAM")
    redraws, computes, renders = [], [], []
    for i in range(max(repeats * 2, 10)):
        box.controls["class"].value = i % 10          # as a learner moving the class control
        redraws.append(box.last_redraw_ms)
        t = time.perf_counter()
        explorer.compute(0, i % 10, "conv4", "Grad-CAM")
        computes.append(1e3 * (time.perf_counter() - t))
        t = time.perf_counter()
        explorer.render(0, i % 10, "conv4", "Grad-CAM")
        renders.append(1e3 * (time.perf_counter() - t))
    redraw, compute = statistics.median(redraws[1:]), statistics.median(computes[1:])
    render = statistics.median(renders[1:]) - compute
    figures["widget_callback_ms"] = redraw
    rows.append(("Explorer callback: class changed -> new picture ready", f"{redraw:.0f} ms",
                 f"aim: at most 150 ms; the explanation takes {compute:.0f} ms, redrawing the figure and "
                 f"encoding the PNG about {render:.0f} ms"))

    # ---------------------------------------------------------------- ROAD (notebook 07)
    road_rows, road_figures = bench_road(model, x_test, repeats)
    rows += road_rows
    figures.update(road_figures)

    # ---------------------------------------------------------------- beyond Grad-CAM (notebook 10)
    beyond_rows, beyond_figures = bench_beyond(model, x_test, repeats)
    rows += beyond_rows
    figures.update(beyond_figures)

    # ---------------------------------------------------------------- notebooks and the whole test run
    if args.full:
        import shutil
        import tempfile
        from pathlib import Path

        from course_utils.notebooks import measure

        root = Path(HERE).parent
        with tempfile.TemporaryDirectory() as tmp:
            for nb in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
                copy = Path(tmp) / nb.name
                shutil.copy(nb, copy)
                seconds, peak = measure(copy)
                figures[f"notebook_{nb.stem}"] = seconds
                figures[f"notebook_{nb.stem}_peak_bytes"] = peak
                aim = "aim: under 3 min" if nb.name.startswith("03") else "aim: under 1 min"
                rows.append((f"Notebook `{nb.name}`, executed top to bottom", f"{seconds:.0f} s; kernel peak "
                             f"{peak / 1e9:.2f} GB", aim + "; memory aim: at most 1.2 GB (a class of 30 on 64 GB)"))
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "notebooks", "tests", "-q",
                               "-p", "no:cacheprovider"], cwd=root, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        summary = (done.stdout.strip().splitlines() or ["?"])[-1]
        figures["pytest_nbval_s"] = seconds
        rows.append(("Whole `pytest --nbval notebooks tests` run", f"{seconds / 60:.1f} min",
                     summary.strip("= ")))

    _print_table(rows, figures, repeats, tf, args.json)


def _print_table(rows, figures, repeats, tf, json_path) -> None:
    print(f"Measured on: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
          f"TensorFlow {tf.__version__}; medians of {repeats} or more repeats (of 5 for the Score-CAM rows, "
          f"of {max(2, repeats // 3)} for the other many-pass rows)\n")
    print("| What | Measured | Target / note |")
    print("|---|---|---|")
    for what, value, note in rows:
        print(f"| {what} | {value} | {note} |")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump(figures, fh, indent=2)


if __name__ == "__main__":
    main()
