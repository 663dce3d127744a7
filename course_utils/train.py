"""Train the course model on the full CIFAR-10 training set.

    python -m course_utils.train                 # the full recipe, resumes if a checkpoint exists
    python -m course_utils.train --epochs 1 --limit 2000 --out /tmp/try   # a quick smoke run
    python -m course_utils.train --random-labels --limit 500 --epochs 40 --batch-size 50 --label-smoothing 0 \
        --weight-decay 0     # notebook 07's data-randomisation twin, course_cnn_random_labels.keras (about 2 min)

Recipe: random 32 x 32 crops of the 4-pixel reflect-padded image and horizontal flips; SGD with
Nesterov momentum 0.9, batch 256, a one-cycle learning rate (linear warm-up to the peak over the
first 15 % of steps, then linear decay to zero); label smoothing 0.1; L2 weight decay on every kernel;
mixed bfloat16 precision where the CPU supports it (avx512_bf16 doubles the speed of the
convolutions), float32 for the shipped weights.

After every epoch a checkpoint (model + optimiser state) and a small state file are written to
``--checkpoints``; a run that was stopped resumes from there. At the end the batch normalisation is
folded into the convolutions, the test accuracy of that float32 model is measured on the 10,000
official test images, and the model file and the model card are written.

``--random-labels`` trains the data-randomisation twin (Adebayo et al., 2018): the training labels are
permuted once (seed fixed, so every class keeps its count), crops and flips are switched off (a memorised
label belongs to one exact image), and the files are named ``course_cnn_random_labels.keras`` and
``model_card_random_labels.json``; the card also records the accuracy on the (random) training labels.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from . import data, models
from .files import saved_atomically, sha256, write_atomic
from .validation import finite_number, fraction, nonnegative_int, positive_int


def _make_schedule_class():
    import keras

    @keras.saving.register_keras_serializable(package="course_utils")
    class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
        """Linear warm-up from peak/10 to ``peak`` over ``warmup`` steps, then linear decay to 0."""

        def __init__(self, peak: float, total: int, warmup: int):
            self.peak, self.total, self.warmup = float(peak), int(total), int(warmup)

        def __call__(self, step):
            from keras import ops

            step = ops.cast(step, "float32")
            up = self.peak * (0.1 + 0.9 * step / max(self.warmup, 1))
            down = self.peak * ops.maximum(0.0, (self.total - step) / max(self.total - self.warmup, 1))
            return ops.where(step < self.warmup, up, down)

        def get_config(self):
            return {"peak": self.peak, "total": self.total, "warmup": self.warmup}

    return OneCycle


def _make_dataset_class():
    import keras

    class AugmentedBatches(keras.utils.PyDataset):
        """Shuffled batches of randomly cropped and flipped images, a new draw each epoch."""

        def __init__(self, x, y, batch_size: int, seed: int, epoch: int = 0, augment: bool = True):
            super().__init__()
            self.augment = augment
            self.x = np.pad(x, ((0, 0), (4, 4), (4, 4), (0, 0)), mode="reflect")
            self.y = y.astype("int32")
            self.onehot = np.eye(10, dtype=np.float32)  # one-hot targets, so label smoothing applies
            self.batch_size, self.seed = batch_size, seed
            self.set_epoch(epoch)

        def set_epoch(self, epoch: int) -> None:
            rng = np.random.default_rng([self.seed, epoch])
            n = len(self.y)
            self.order = rng.permutation(n)
            self.offsets = rng.integers(0, 9, size=(n, 2)) if self.augment else np.full((n, 2), 4)
            self.flips = (rng.random(n) < 0.5) & self.augment
            self.epoch = epoch

        def __len__(self) -> int:
            return math.ceil(len(self.y) / self.batch_size)

        def __getitem__(self, i: int):
            idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
            out = np.empty((len(idx), 32, 32, 3), dtype=np.float32)
            for j, k in enumerate(idx):
                dy, dx = self.offsets[k]
                img = self.x[k, dy : dy + 32, dx : dx + 32]
                out[j] = img[:, ::-1] if self.flips[k] else img
            return out, self.onehot[self.y[idx]]

        def on_epoch_end(self) -> None:
            self.set_epoch(self.epoch + 1)

    return AugmentedBatches


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse values that would train nothing or train silently wrong, before TensorFlow is imported."""
    from .validation import CourseValueError

    try:
        positive_int(args.epochs, "--epochs")
        positive_int(args.batch_size, "--batch-size")
        finite_number(args.peak_lr, "--peak-lr", minimum=0, strict_minimum=True)
        finite_number(args.weight_decay, "--weight-decay", minimum=0)
        fraction(args.label_smoothing, "--label-smoothing")
        nonnegative_int(args.limit, "--limit", hint="0 means all 50,000 training images.")
        nonnegative_int(args.stop_after, "--stop-after")
        if args.limit and args.limit < args.batch_size:
            raise CourseValueError(
                f"--limit {args.limit} is smaller than --batch-size {args.batch_size}: not one "
                "full batch to train on. Raise --limit or lower --batch-size."
            )
    except CourseValueError as exc:
        parser.error(str(exc))


#: The bfloat16 instructions a CPU lists in /proc/cpuinfo: avx512_bf16 and amx_bf16 (x86), bf16 (Arm).
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
# Where training runs in mixed bfloat16 by default: a GPU, or an x86 CPU with bfloat16 instructions
# (avx512_bf16 doubles the speed of the convolutions; Arm's bf16 was not measured, so float32 there).
_FAST_BFLOAT16 = {"GPU", "avx512_bf16", "amx_bf16"}


def bfloat16_hardware() -> list[str] | None:
    """What this machine offers for bfloat16 arithmetic: ``["GPU"]`` when TensorFlow sees a GPU, else the
    :data:`BFLOAT16_FLAGS` the CPU lists in /proc/cpuinfo (sorted; ``[]`` for none), or None where there is no
    /proc/cpuinfo to ask. Used by the training's ``--precision auto`` and by the benchmarks."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return ["GPU"]
    try:
        with open("/proc/cpuinfo") as f:
            words = {w for line in f if line.startswith(("flags", "Features")) for w in line.split(":", 1)[1].split()}
    except OSError:
        return None
    return sorted(words & set(BFLOAT16_FLAGS))


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m course_utils.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=28)  # the shipped model's recipe
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--peak-lr", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=2.5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only (smoke runs)")
    parser.add_argument("--precision", choices=["auto", "float32", "mixed_bfloat16"], default="auto")
    parser.add_argument(
        "--stop-after",
        type=int,
        default=0,
        help="stop after this many epochs as an interruption would (tests the resume)",
    )
    parser.add_argument(
        "--random-labels",
        action="store_true",
        help="permute the training labels, no crops or flips: the data-randomisation twin",
    )
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--out", type=Path, default=models.ASSETS, help="folder for the model and its card")
    args = parser.parse_args(argv)
    _check_args(parser, args)
    return args


@dataclass
class _Data:
    """The training and test images, where they came from, and the training set's channel statistics (0-1)."""

    source: Path
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def _load_data(args: argparse.Namespace) -> _Data:
    """CIFAR-10, cut to ``--limit`` and with permuted labels for ``--random-labels``; the normalisation from it."""
    source = data.find_cifar10()
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(source)
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
    if args.random_labels:
        y_train = np.random.default_rng(args.seed).permutation(y_train)
    mean = tuple((x_train.reshape(-1, 3).mean(0) / 255.0).tolist())
    std = tuple((x_train.reshape(-1, 3).std(0) / 255.0).tolist())
    rgb = tuple[float, float, float]
    return _Data(source, x_train, y_train, x_test, y_test, cast(rgb, mean), cast(rgb, std))


def _build_or_resume(
    args: argparse.Namespace, d: _Data, steps: int, run_config: dict[str, Any], ckpt: Path, state_file: Path
) -> tuple[Any, int, float]:
    """``(model, epochs done, seconds spent)``: the checkpoint's if it was made with the same settings, else a new
    compiled model."""
    import keras

    OneCycle = _make_schedule_class()
    start_epoch, elapsed = 0, 0.0
    if ckpt.is_file() and state_file.is_file():
        state = json.loads(state_file.read_text())
        if state.get("config") == run_config:
            model = keras.saving.load_model(ckpt, custom_objects={"OneCycle": OneCycle})
            start_epoch, elapsed = state["epoch"], state["elapsed_s"]
            print(f"Resuming from {ckpt} after epoch {start_epoch} ({elapsed / 60:.1f} min so far).", flush=True)
        else:
            print(f"Ignoring {ckpt}: it was made with other settings.", flush=True)
    if start_epoch == 0:
        model = models.build_course_cnn(batch_norm=True, weight_decay=args.weight_decay, mean=d.mean, std=d.std)
        schedule = OneCycle(args.peak_lr, steps, int(0.15 * steps))
        model.compile(
            optimizer=keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=args.label_smoothing),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        )
    return model, start_epoch, elapsed


def _fit(
    model: Any,
    batches: Any,
    start_epoch: int,
    stop_at: int,
    elapsed: float,
    ckpt: Path,
    state_file: Path,
    run_config: dict[str, Any],
) -> float:
    """Train from ``start_epoch`` to ``stop_at``, writing a checkpoint and the state file after every epoch; return
    the seconds spent in all (the earlier runs' too)."""
    import keras

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            nonlocal elapsed
            elapsed += time.perf_counter() - self.t0
            with saved_atomically(ckpt) as tmp:
                self.model.save(tmp)
            write_atomic(state_file, json.dumps({"epoch": epoch + 1, "elapsed_s": elapsed, "config": run_config}))

    verbose = 1 if sys.stdout.isatty() else 2
    if start_epoch < stop_at:
        model.fit(batches, epochs=stop_at, initial_epoch=start_epoch, verbose=verbose, callbacks=[Checkpoint()])
    return elapsed


def _fold_evaluate_and_write(
    args: argparse.Namespace, model: Any, d: _Data, precision: str, run_config: dict[str, Any], elapsed: float
) -> dict[str, Any]:
    """Fold the batch normalisation, measure the test accuracy, write the model file and its card; return the card."""
    import keras
    import tensorflow as tf

    deployed = models.fold_batch_norm(model, weight_decay=args.weight_decay)
    logits = deployed.predict(d.x_test.astype("float32"), batch_size=500, verbose=0)
    accuracy = float((logits.argmax(1) == d.y_test).mean())
    print(f"Test accuracy (folded float32 model, 10,000 official test images): {accuracy:.4f}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "_random_labels" if args.random_labels else ""
    model_file = args.out / f"{models.MODEL_PATH.stem}{suffix}.keras"
    with saved_atomically(model_file) as tmp:
        deployed.save(tmp)
    archive = d.source if d.source.is_file() else None
    card = {
        "model": f"course_cnn{suffix}",
        "test_accuracy": round(accuracy, 4),
        **(
            {
                "train_accuracy_on_random_labels": round(
                    float(
                        (
                            deployed.predict(d.x_train.astype("float32"), batch_size=500, verbose=0).argmax(1)
                            == d.y_train
                        ).mean()
                    ),
                    4,
                )
            }
            if args.random_labels
            else {}
        ),
        "test_images": len(d.y_test),
        "train_images": len(d.y_train),
        "parameters": int(deployed.count_params()),
        "epochs": args.epochs,
        "wall_time_min": round(elapsed / 60, 1),
        "precision_during_training": precision,
        "recipe": run_config,
        "normalization": {"mean": [round(m, 4) for m in d.mean], "std": [round(s, 4) for s in d.std]},
        "data_archive": str(d.source.name),
        "data_archive_sha256": sha256(archive) if archive and archive.is_file() else None,
        "model_file_bytes": model_file.stat().st_size,
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores"
        + (", GPU" if tf.config.list_physical_devices("GPU") else ""),
    }
    card_file = args.out / f"{models.MODEL_CARD_PATH.stem}{suffix}.json"
    write_atomic(card_file, json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2), flush=True)
    return card


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train (or resume) the course model with the recipe above; return its model card (``{"stopped_after": n}``
    for a run stopped by ``--stop-after``)."""
    args = _parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    precision = args.precision
    if precision == "auto":
        precision = "mixed_bfloat16" if _FAST_BFLOAT16 & set(bfloat16_hardware() or ()) else "float32"
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(args.seed)

    d = _load_data(args)
    batches = _make_dataset_class()(d.x_train, d.y_train, args.batch_size, args.seed, augment=not args.random_labels)
    steps = len(batches) * args.epochs
    args.checkpoints.mkdir(parents=True, exist_ok=True)
    ckpt, state_file = args.checkpoints / "train_state.keras", args.checkpoints / "train_state.json"
    run_config = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
        if k not in ("checkpoints", "out", "stop_after")
    }
    model, start_epoch, elapsed = _build_or_resume(args, d, steps, run_config, ckpt, state_file)
    batches.set_epoch(start_epoch)

    stop_at = min(args.epochs, args.stop_after) if args.stop_after else args.epochs
    elapsed = _fit(model, batches, start_epoch, stop_at, elapsed, ckpt, state_file, run_config)
    if stop_at < args.epochs:
        print(f"Stopped after epoch {stop_at} of {args.epochs}; run the same command again to resume.", flush=True)
        return {"stopped_after": stop_at}
    return _fold_evaluate_and_write(args, model, d, precision, run_config, elapsed)


if __name__ == "__main__":
    main()
