"""How an int8 model is made, as one frozen value: quantizer, calibration method, weight rounding, I/O types and
who observes the activation ranges.

``rounding`` is how the quantizer rounds what it is given; ``weight_rounding`` and ``bias_correction`` are what
edgenet did to the weights before (:mod:`edgenet.quantization.rounding`): with them the quantizer is given weights
that already lie on its grid, so its own rounding changes nothing.

The value is what a conversion passes to its int8 builders (:class:`edgenet.converters.kind.BuildContext`), what
report.json records (``recipe``) and what two runs can be compared or cached on; nothing about it accumulates on an
object. The rounding is the quantizer's own (neither lets it be chosen), recorded so that a recipe read back says
exactly how the weights were rounded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from edgenet.errors import EdgenetError

IO_DTYPES = ("int8", "uint8", "float32")
ROUNDINGS = ("nearest", "adaround")  # --weight-rounding (edgenet.quantization.rounding)
# what --auto-fix and quant-report try of them, cheapest first: bias correction alone (one pass over the layers),
# then AdaRound with it (minutes)
ROUNDING_FIXES = (("nearest", True), ("adaround", True))


def rounding_name(rounding: str, bias_correction: bool) -> str:
    """``bias-correction``, ``adaround+bias-correction``, ``nearest``: a rounding as fixes and reports name it."""
    return (
        "+".join(([] if rounding == "nearest" else [rounding]) + (["bias-correction"] if bias_correction else []))
        or "nearest"
    )


@dataclass(frozen=True)
class Int8Recipe:
    quantizer: str = "tflite"  # edgenet.quantization.quantizers
    method: str = "minmax"  # --calibration METHOD[:PARAM] (edgenet.quantization.calibration_methods)
    io_dtype: str = "int8"  # the int8 model's input/output type
    rounding: str = ""  # the quantizer's weight rounding; filled in from it when left empty
    calibrator: str = "fast"  # who observes the ranges (edgenet.quantization.calibrator.CALIBRATORS)
    weight_rounding: str = "nearest"  # nearest: the quantizer's; adaround: chosen before export (rounding.py)
    bias_correction: bool = False  # biases corrected for rounding's mean shift before export
    qat_epochs: int = 0  # quantization-aware fine-tuning before the rounding (edgenet.quantization.qat)

    def __post_init__(self) -> None:
        from edgenet.quantization.calibration_methods import parse_method
        from edgenet.quantization.quantizers import get_quantizer

        if self.io_dtype not in IO_DTYPES:
            raise EdgenetError(f"--int8-io {self.io_dtype}: choose {', '.join(IO_DTYPES[:-1])} or {IO_DTYPES[-1]}")
        parse_method(self.method)
        if self.calibrator not in ("fast", "tflite"):
            raise EdgenetError(f"--calibrator {self.calibrator}: choose fast or tflite")
        if self.weight_rounding not in ROUNDINGS:
            raise EdgenetError(f"--weight-rounding {self.weight_rounding}: choose {' or '.join(ROUNDINGS)}")
        own = get_quantizer(self.quantizer).rounding
        if self.rounding and self.rounding != own:
            raise EdgenetError(f"recipe: the {self.quantizer} quantizer rounds weights {own}, not {self.rounding}")
        object.__setattr__(self, "rounding", own)

    def with_(self, **changes) -> Int8Recipe:
        """This recipe with some fields changed (the rounding follows the quantizer)."""
        return replace(self, rounding="", **changes)

    def to_dict(self) -> dict:
        return asdict(self)
