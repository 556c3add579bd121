"""What ``edgenet convert`` is asked to do: :class:`ConvertOptions`, the one definition the library reads and the
command line is generated from (:func:`edgenet.cli.options.options_from`): each field's metadata carries its flag,
help and limits, so an option is added, renamed or documented in one place.

This module imports nothing heavy, so ``edgenet convert --help`` stays instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# the convert flags that stand for kinds (--int8, --executorch, …); "name?" is built only where its runtime runs,
# with a warning elsewhere (TensorRT engines need the GPU they are built for; the Q/DQ ONNX does not)
SHORTHANDS = {
    "fp16": ("fp16",),
    "dynamic": ("dynamic",),
    "int8": ("int8",),
    "int16": ("int16",),
    "executorch": ("executorch_fp32", "executorch_int8"),
    "tensorrt": ("onnx_int8_qdq", "tensorrt_fp16?", "tensorrt_int8?"),
}
SKIPPED_NOTE = {"tensorrt": "built the Q/DQ int8 ONNX only, no engines"}  # what a flag says when it skips kinds


def option(default, help: str, flag: str | None = None, **limits):
    """A field that is also a command-line option: ``flag`` [default: ``--`` + the name with dashes], ``help`` and
    ``limits`` (``choices``, ``min``, ``max``, ``min_open``, ``metavar``, ``negate``: the flag sets it False,
    ``folder``: a path that must be a folder, ``csv``: a comma-separated list)."""
    return field(default=default, metadata={"help": help, "flag": flag, **limits})


@dataclass
class ConvertOptions:
    out: Path
    int8: bool = option(False, "Add a full-integer int8 model (per-channel weights, calibrated).")
    fp16: bool = option(False, "Add a float16-weights model.")
    dynamic: bool = option(False, "Add a dynamic-range model (int8 weights, float activations).")
    int8_io: str = option(
        "int8",
        "Input/output type of the int8 model (uint8 for Edge TPU apps; float32 keeps float I/O).",
        choices=("int8", "uint8", "float32"),
    )
    input: str | None = option(
        None,
        "What every artefact's input takes: raw = RGB pixels 0–255, the normalization inside the graph (what "
        "MediaPipe, the Task Library and Coral feed; uint8 input scale 1, zero point 0); normalized = (v/255 − mean) "
        "/ std, for apps that normalize themselves. [default: raw with --int8-io uint8, else normalized]",
        choices=("raw", "normalized"),
    )  # None: raw for --int8-io uint8 (edgenet.converters.raw_input)
    # --quantizer, --calibration, --calib-data, --calib-samples: shared with quant-report (cli.options)
    quantizer: str = "tflite"
    calibration: str = "minmax"  # METHOD[:PARAM], edgenet.quantization.calibration_methods
    calib_data: Path | None = None
    calib_samples: int = 100
    calibrator: str = option(
        "fast",
        "Who observes the int8 activation ranges: fast = the fp32 model on XNNPACK and every core, every activation "
        "exposed (the ranges TFLite's calibrator records, within float rounding); tflite = TFLite's own calibrator "
        "on its single-threaded kernels, one worker process per core (the reference, ~5-10x slower).",
        choices=("fast", "tflite"),
    )  # edgenet.quantization.calibrator.CALIBRATORS
    weight_rounding: str = option(
        "nearest",
        "How int8 weights are rounded: nearest = the quantizer's own; adaround = learned per weight on the "
        "calibration images to keep each layer's output (AdaRound; minutes). Rounded in PyTorch with BatchNorm "
        "folded, written on TFLite's int8 grid, so every kind built here carries those weights.",
        choices=("nearest", "adaround"),
    )  # edgenet.quantization.rounding
    bias_correction: bool = option(
        False,
        "Correct each output channel's bias for the mean shift weight rounding leaves, measured on the calibration "
        "images (empirical bias correction).",
    )
    adaround_iterations: int = option(500, "AdaRound optimisation steps per layer.", min=1)
    qat_epochs: int = option(
        0,
        "Quantization-aware fine-tuning first: N passes over the calibration images (and their mirrors) with weights "
        "and activations fake-quantized as TFLite quantizes them, distilled from the float network (no labels).",
        min=0,
    )  # edgenet.quantization.qat
    qat_lr: float = option(1e-5, "Learning rate of --qat-epochs (Adam).", min=0, min_open=True)
    ignore_memory_estimate: bool = option(
        False, "Start even when the memory estimate says the conversion will not fit in this machine's free memory."
    )
    parity_samples: int = option(  # at least 1: checked with the API's rules (edgenet.validate)
        8, "Inputs on which each stage is compared with the previous one."
    )
    min_agreement: float | None = option(
        None, "Fail if a quantized model's top-1 agreement with fp32 falls below this.", min=0, max=1
    )
    accept_low_fidelity: bool = option(
        False,
        "Publish a quantized artefact of trained weights even below the fidelity floors (cosine 0.9 with its "
        "reference; 80 % top-1 agreement with PyTorch on --eval-data), which otherwise fail the conversion and keep "
        "the earlier output.",
    )  # the floors: edgenet.converters.verify.MIN_COSINE, MIN_AGREEMENT
    edgetpu: bool = option(False, "Also compile for the Coral Edge TPU (implies --int8).")
    int16: bool = option(False, "Add a 16×8 model: int16 activations, int8 weights (no Edge TPU).", "--int16-act")
    # int8 fidelity (edgenet.quantization.fixes)
    keep_float: str | None = option(
        None,
        "Keep the N worst layers (as ranked by edgenet quant-report) or the named ones in float; the int8 model is "
        "then no longer full-integer.",
        metavar="N|LAYER,...",
    )  # "N" (the N worst layers) or "layer,layer"
    eval_data: Path | None = option(  # noqa: RUF009 (a dataclass field, like field())
        None,
        "Labelled images DIR/<class>/<image>: adds every artefact's top-1/top-5 and agreement to the report.",
        folder=True,
    )
    auto_fix: bool = option(
        False,
        "Try int8 fixes in order of cost (more calibration, float fallback of the worst layers, 16×8) and keep "
        "the first within --max-drop on --eval-data.",
    )
    max_drop: float = option(1.0, "Accepted int8 accuracy loss in points.")  # for auto_fix
    latency_budget_ms: float | None = option(
        None,
        "With --auto-fix: recommend the largest Lite variant estimated to fit this int8 latency (1 thread).",
        "--latency-budget",
        min=0,
        min_open=True,
        metavar="MS",
    )
    kinds: tuple[str, ...] = option(
        (),
        "Any registered artefact kinds, comma-separated (e.g. int8,ort_fp32,ort_int8; an unknown name lists them "
        "all); the kind flags are shorthands for some of them.",
        csv=True,
        metavar="KIND,...",
    )
    executorch: bool = option(False, "Add ExecuTorch .pte programs: fp32 and int8 (PT2E), XNNPACK-delegated.")
    tensorrt: bool = option(
        False,
        "Add the Q/DQ int8 ONNX TensorRT builds int8 from, and fp16/int8 engines when a GPU and tensorrt are here.",
    )
    simplify: bool = option(True, "Skip onnxslim graph simplification.", "--no-simplify", negate=True)
    opset: int = option(17, "ONNX opset.", min=17)
    threads: int | None = None

    def input_kind(self) -> str:
        """What the artefacts' input takes: raw pixels by default for uint8 I/O, the apps' and Coral's type."""
        return self.input or ("raw" if self.int8_io == "uint8" else "normalized")

    def kind_names(self) -> tuple[list[str], list[str]]:
        """(the kinds to build, fp32 always first since every other kind is checked against it; warnings for
        kinds a shorthand flag stands for that cannot be built here)."""
        from edgenet.converters.kinds import get_kind

        from edgenet.runtimes import get_runtime

        asked, warnings = [], []
        for flag, names in SHORTHANDS.items():
            if not getattr(self, flag):
                continue
            skipped, why = [], None
            for name in (n.rstrip("?") for n in names):
                optional = name + "?" in names
                why_not = get_runtime(get_kind(name).runtime).unavailable() if optional else None
                (skipped if why_not else asked).append(name)
                why = why or why_not
            if skipped:
                note = SKIPPED_NOTE.get(flag) or f"built no {', '.join(skipped)}"
                warnings.append(f"--{flag}: {note}: {why}")
        kinds = list(dict.fromkeys(["fp32", *asked, *self.kinds]))
        return kinds, warnings
