"""Tiny Keras models converted with TFLiteConverter, built once per test session in a child process.

They give the Edge TPU check real flatbuffers with known structure: a full-int8 net, its float twin, float I/O,
and nets with a planted problem (an op outside Coral's list, a Mean over channels, a layout transpose), plus the
small MNIST CNN whose real edgetpu_compiler logs are recorded in tests/fixtures/edgetpu_compiler/.

Why a child process: once tensorflow is loaded, torch's lazily imported extensions (triton, torchvision) segfault
on import, and the session's conversion fixtures need them. ``python tflite_builders.py OUT`` builds them all.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_DIR = Path(tempfile.mkdtemp(prefix="edgenet-tflite-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)  # one per session, gone with it


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    return tf


def _convert(model, shape: tuple[int, ...], io: str | None) -> bytes:
    """io: None = float model, 'float' = int8 inside with float I/O, 'uint8'/'int8' = full integer."""
    tf = _keras()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if io is not None:

        def rep():
            rng = np.random.default_rng(0)
            for _ in range(4):
                yield [rng.standard_normal((1, *shape)).astype(np.float32)]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = rep
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io in ("uint8", "int8"):
            conv.inference_input_type = conv.inference_output_type = getattr(tf, io)
    return conv.convert()


def _tiny(io: str | None, classes: int = 5, size: int = 16) -> bytes:
    """conv(relu6) → depthwise → 1x1 conv → residual add → global mean → dense: an EfficientNet-Lite in miniature."""
    tf = _keras()
    i = tf.keras.Input((size, size, 3), batch_size=1)
    x = tf.keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu6")(i)
    y = tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    y = tf.keras.layers.Conv2D(8, 1)(y)
    x = tf.keras.layers.Add()([x, y])
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(classes)(x)
    return _convert(tf.keras.Model(i, x), (size, size, 3), io)


def _planted(kind: str) -> bytes:
    """A full-int8 (uint8 I/O) net with one problem planted after the first convolution.

    kind: 'leaky_relu' (op outside Coral's list), 'mean_channels' (Mean over 6 channels: z not a multiple of 4),
    'mean_channels_ok' (the same over 8 channels: allowed), 'transpose' (a layout permutation).
    """
    tf = _keras()
    channels = 8 if kind == "mean_channels_ok" else 6
    i = tf.keras.Input((8, 8, 3), batch_size=1)
    x = tf.keras.layers.Conv2D(channels, 3, padding="same", activation="relu")(i)
    if kind == "leaky_relu":
        x = tf.keras.layers.LeakyReLU(0.1)(x)
    elif kind.startswith("mean_channels"):
        x = tf.keras.layers.Lambda(lambda t: tf.reduce_mean(t, axis=-1, keepdims=True))(x)
    elif kind == "transpose":
        x = tf.keras.layers.Lambda(lambda t: tf.transpose(t, (0, 2, 1, 3)))(x)
    else:
        raise ValueError(kind)
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dense(4)(x)
    return _convert(tf.keras.Model(i, x), (8, 8, 3), "uint8")


def _mnist_cnn(io: str) -> bytes:
    """The MNIST CNN of the recorded nrf20 logs: conv, max-pool, conv, max-pool, flatten, dense, dense, softmax."""
    tf = _keras()
    i = tf.keras.Input((28, 28, 1), batch_size=1)
    x = tf.keras.layers.Conv2D(8, 3, activation="relu")(i)
    x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(16, activation="relu")(x)
    x = tf.keras.layers.Dense(10, activation="softmax")(x)
    return _convert(tf.keras.Model(i, x), (28, 28, 1), io)


BUILDS = {
    **{f"tiny_{io}": (_tiny, (None if io == "none" else io,)) for io in ("uint8", "float", "none")},
    "tiny4_none": (_tiny, (None, 4)),  # a float model of another class count (not the twin of tiny_uint8)
    **{f"planted_{k}": (_planted, (k,)) for k in ("leaky_relu", "mean_channels", "mean_channels_ok", "transpose")},
    **{f"mnist_{io}": (_mnist_cnn, (io,)) for io in ("uint8", "float")},
}


_build: subprocess.Popen | None = None


def start() -> None:
    """Begin building every model in the background; the first model asked for waits for it (tests/conftest.py
    calls this at session start, so the build, mostly TensorFlow's import, overlaps the first tests)."""
    global _build
    if _build is None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
        pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _build = subprocess.Popen([sys.executable, __file__, str(_DIR)], env=env, **pipes)


@functools.cache
def _built() -> Path:
    start()
    out, err = _build.communicate()
    if _build.returncode:
        raise subprocess.CalledProcessError(_build.returncode, _build.args, out, err)
    return _DIR


def tiny(io: str | None = "uint8") -> Path:
    return _built() / f"tiny_{io or 'none'}.tflite"


def tiny4_float() -> Path:
    return _built() / "tiny4_none.tflite"


def planted(kind: str) -> Path:
    return _built() / f"planted_{kind}.tflite"


def mnist_cnn(io: str) -> Path:
    return _built() / f"mnist_{io}.tflite"


if __name__ == "__main__":
    _DIR = Path(sys.argv[1])
    for name, (build, args) in BUILDS.items():
        (_DIR / f"{name}.tflite").write_bytes(build(*args))
