"""How activation ranges are chosen from calibration statistics (``--calibration METHOD[:PARAM]``).

min/max (TFLite's, the default) spends the 256 int8 steps on the whole observed range, so one outlier pixel in one
calibration image coarsens every other value of that tensor. The other methods clip the range where the
histogram says the loss from clipping is smaller than the rounding noise it saves — the percentile rule of
TensorRT / ONNX Runtime, and the MSE-optimal clip of NNCF and AIMET. Neither library applies them to a TFLite
graph, so the rules live here (a few lines of NumPy each) over the histograms :mod:`edgenet.quantization.ranges`
collects, and the chosen ranges go back into the calibrated model, where every quantizer reads them. The model's
input and output keep min/max (:func:`edgenet.quantization.ranges.boundary_tensors`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from edgenet.errors import EdgenetError
from edgenet.registry import Registry

Choose = Callable[[np.ndarray, float, float, float | None], tuple[float, float]]


@dataclass(frozen=True)
class Method:
    name: str
    help: str
    choose: Choose | None  # (histogram, min, max, param) -> (lo, hi); None: the min/max as recorded
    param: float | None = None  # default parameter
    param_help: str = ""

    def spec(self, param: float | None) -> dict:
        """report.json's ``calibration.method`` entry."""
        return {"method": self.name, "params": {} if param is None else {self.param_help: param}}


METHODS: Registry[Method] = Registry("--calibration")
register = METHODS.register


def _edges(lo: float, hi: float, bins: int) -> np.ndarray:
    return np.linspace(lo, hi, bins + 1)


def percentile(hist: np.ndarray, lo: float, hi: float, p: float | None) -> tuple[float, float]:
    """Drop (100 − p)/2 % of the values at each end; a bound at 0 (after ReLU/ReLU6) stays at 0."""
    cdf = np.cumsum(hist) / max(hist.sum(), 1)
    cut = (100.0 - float(p)) / 200.0
    e = _edges(lo, hi, len(hist))
    a = e[int(np.searchsorted(cdf, cut, side="right"))]
    b = e[min(int(np.searchsorted(cdf, 1.0 - cut, side="left")) + 1, len(hist))]
    return (lo if lo >= 0 else min(a, 0.0)), max(b, 0.0)


def mse(hist: np.ndarray, lo: float, hi: float, _param: float | None = None) -> tuple[float, float]:
    """The range [f·min, f·max] (f in 0.2…1) with the least expected squared error: rounding noise (step²/12)
    inside, the distance to the clip outside."""
    w = hist.astype(np.float64)
    e = _edges(lo, hi, len(hist))
    x = (e[:-1] + e[1:]) / 2
    f = np.linspace(1.0, 0.2, 81)[:, None]
    a = np.where(lo < 0, lo * f, lo)
    b = np.maximum(hi * f, a + 1e-12)
    step = (b - np.minimum(a, 0.0)) / 255.0
    err = np.where(x < a, (x - a) ** 2, np.where(x > b, (x - b) ** 2, step**2 / 12.0))
    best = int(np.argmin(err @ w))
    return float(a[best, 0]), float(b[best, 0])


register(Method("minmax", "the observed min/max (TFLite's calibrator; the reference)", None))
register(
    Method(
        "percentile",
        "clip each activation at the P-th percentile of its values (default 99.99)",
        percentile,
        99.99,
        "percentile",
    )
)
register(Method("mse", "the clip range with the least expected squared error (rounding + clipping)", mse))


def parse_method(spec: str) -> tuple[Method, float | None]:
    """``"percentile:99.9"`` → (the method, 99.9); the parameter defaults to the method's own."""
    name, _, raw = spec.partition(":")
    method = METHODS.get_entry(name.strip().lower())
    if not raw:
        return method, method.param
    if method.param is None:
        raise EdgenetError(f"--calibration {spec}: {method.name} takes no parameter; use --calibration {method.name}")
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 50.0 < value <= 100.0:
        raise EdgenetError(f"--calibration {spec}: the percentile must be a number in (50, 100], e.g. percentile:99.9")
    return method, value


def choose_ranges(
    method: Method,
    param: float | None,
    ranges: Mapping[str, tuple[float, float]],
    hists: Mapping[str, np.ndarray],
    keep: set[str] = frozenset(),
) -> dict[str, tuple[float, float]]:
    """The ranges ``method`` picks for every tensor with a histogram (``keep`` and empty ones stay min/max)."""
    out = dict(ranges)
    if method.choose is None:
        return out
    for name, h in hists.items():
        lo, hi = ranges[name]
        if name in keep or hi <= lo or not h.sum():
            continue
        out[name] = method.choose(h, lo, hi, param)
    return out
