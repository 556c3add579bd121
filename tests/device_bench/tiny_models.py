"""Tiny models and data for device_bench tests, built once per test session into a shared folder.

* ``tflite/``: a 3-class Keras conv net at 32 px converted by TFLiteConverter to fp32 and full-int8
  (``model_fp32.tflite``, ``model_int8.tflite``), with the ``report.json`` (preprocess) and ``labels.txt``
  sidecars that ``edgenet convert`` writes.
* ``torch/``: a narrow EfficientNet-B0 (3 classes, 32 px) as an edgenet checkpoint ``model.pt`` and its ONNX export
  ``model.onnx`` in the same folder, with the same sidecars (so torch and ONNX Runtime must agree on top-1).
* ``eval/``: 4 generated images of each of the three classes (``helpers.shapes_folder``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

CLASSES = ["airplane", "automobile", "bird"]
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
PREPROCESS = {"resolution": 32, "mean": list(MEAN), "std": list(STD), "interpolation": "bilinear", "crop_pct": 1.0}


def _sidecars(folder: Path, model: str, artifacts: list[dict], classes: list[str] = CLASSES) -> None:
    n = len(classes)
    report = {"model": model, "resolution": 32, "num_classes": n, "preprocess": PREPROCESS, "artifacts": artifacts}
    (folder / "report.json").write_text(json.dumps(report))
    (folder / "labels.txt").write_text("\n".join(classes) + "\n")


def build_tflite(folder: Path) -> None:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((32, 32, 3), batch_size=1)
    x = tf.keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(3)(x))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_fp32.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    conv.representative_dataset = lambda: ([rng.standard_normal((1, 32, 32, 3)).astype(np.float32)] for _ in range(16))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    (folder / "model_int8.tflite").write_bytes(conv.convert())
    arts = [{"name": "fp32", "file": "model_fp32.tflite"}, {"name": "int8", "file": "model_int8.tflite"}]
    _sidecars(folder, "tiny_keras", arts)


def build_torch(folder: Path, classes: list[str] = CLASSES) -> None:
    import torch

    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.models import create_model
    from edgenet.preprocess import Preprocess

    torch.manual_seed(0)
    net = create_model("b0", num_classes=len(classes), width_mult=0.25, depth_mult=0.25, head_channels=64).eval()
    net.default_resolution = 32
    folder.mkdir(parents=True, exist_ok=True)
    pre = Preprocess(32, MEAN, STD, "bilinear", 1.0)
    save_checkpoint(folder / "model.pt", checkpoint_from_model(net, classes=classes, preprocess=pre))
    torch.onnx.export(
        net,
        torch.randn(1, 3, 32, 32),
        str(folder / "model.onnx"),
        opset_version=17,
        dynamo=False,
        input_names=["input"],
        output_names=["logits"],
    )
    _sidecars(folder, "efficientnet_b0", [{"name": "fp32", "file": "model.onnx"}], classes)


def build_eval(folder: Path, per_class: int = 4) -> None:
    """Generated, deterministic labelled images: the same everywhere, with or without ../shared."""
    from helpers import shapes_folder  # imported here: this file also runs as a script, where tests/ is not on the path

    shapes_folder(folder, CLASSES, per_class, seed=2)


_started: dict[Path, list[subprocess.Popen]] = {}


def start(base: Path) -> None:
    """Begin building under ``base`` in the background; :func:`ensure` waits for it (tests/conftest.py calls this at
    session start, so the builds, mostly framework imports, overlap the first tests)."""
    if (base / ".complete").exists() or base in _started:
        return
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parts = ("tflite", "torch")  # side by side, each in its own process
    _started[base] = [subprocess.Popen([sys.executable, __file__, p, str(base / p)], **pipes) for p in parts]


def ensure(base: Path) -> Path:
    """Build what is missing under ``base`` (idempotent, so several test modules can share one folder).

    TensorFlow and torch each build in their own process: importing torch after TensorFlow in one process
    crashes on this stack."""
    done = base / ".complete"
    if not done.exists():
        start(base)
        for proc in _started.pop(base):
            out, err = proc.communicate()
            if proc.returncode:
                raise subprocess.CalledProcessError(proc.returncode, proc.args, out, err)
        build_eval(base / "eval")
        done.touch()
    return base


if __name__ == "__main__":  # python tiny_models.py tflite|torch FOLDER [CLASS,CLASS,...]
    build = {"tflite": build_tflite, "torch": build_torch}[sys.argv[1]]
    build(Path(sys.argv[2]), *([sys.argv[3].split(",")] if len(sys.argv) > 3 else []))
