"""The fix logic on its own: metrics, ranking, --keep-float resolution, and the order of --auto-fix."""

from __future__ import annotations

import numpy as np
import pytest
from edgenet.quantization.debugger import LayerError, _channel_sqnr, _noise, _signal, rank
from edgenet.quantization.fixes import Candidate, float_tensors, no_fix_error, parse_keep_float, readers_of, try_fixes
from edgenet.quantization.layer_names import Location

from edgenet.artifacts.tflite_model import OpInfo, TensorInfo, TFLiteModel
from edgenet.errors import EdgenetError


def layer(depth, name, sqnr, channel, tensor=None) -> LayerError:
    return LayerError(0, depth, name, None, None, "", "CONV_2D", sqnr, channel, 0.3, 0.0, 0.1, 0, 10, tensor or name)


def quantized(f: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.round(f / scale), -128, 127).astype(np.int8)


def test_channel_sqnr_sees_an_outlier_channel_that_whole_tensor_sqnr_hides():
    rng = np.random.default_rng(0)
    f = rng.normal(0, 1, (1, 4, 4, 16)).astype(np.float32)
    good = quantized(f, np.abs(f).max() / 127)
    f_out = f.copy()
    f_out[..., 3] *= 200  # one channel sets the per-tensor scale
    bad = quantized(f_out, np.abs(f_out).max() / 127)
    tensor_db = 10 * np.log10(_signal(f_out, bad, 0, 0) / _noise(f_out, bad, np.abs(f_out).max() / 127, 0))
    assert tensor_db > 20  # the big channel carries the power: the tensor looks fine
    assert _channel_sqnr(f, good, np.abs(f).max() / 127, 0) > 30
    assert _channel_sqnr(f_out, bad, np.abs(f_out).max() / 127, 0) < 3  # most channels are gone
    assert _channel_sqnr(f, (f / 0.5).astype(np.int8) * 0, 0.5, 0) == pytest.approx(0.0)  # all zero: 0 dB
    assert np.isnan(_channel_sqnr(np.zeros((1, 2, 2, 3)), np.zeros((1, 2, 2, 3), np.int8), 0.1, 0))


def test_rank_orders_by_the_worse_sqnr_and_puts_silent_tensors_last():
    layers = [layer(0, "a", 40, 38), layer(1, "b", 30, 2), layer(2, "c", None, None), layer(3, "d", 25, 30)]
    ranked = rank(layers)
    assert [e.layer for e in ranked] == ["b", "d", "a", "c"] and [e.rank for e in ranked] == [1, 2, 3, 4]


RANKED = rank(
    [
        layer(0, "stem", 40, 40),
        layer(1, "stages.1.0.expand", 20, 20, "t1"),
        layer(2, "stages.1.0.expand", 35, 35, "t1b"),
        layer(3, "stages.1.0.project", 30, 30),
        layer(4, "head", 10, 10),
    ]
)


def test_keep_float_by_count_takes_distinct_worst_layers():
    assert parse_keep_float("1", RANKED) == ["head"]
    assert parse_keep_float("2", RANKED) == ["head", "stages.1.0.expand"]  # its two tensors count once
    assert parse_keep_float("3", RANKED) == ["head", "stages.1.0.expand", "stages.1.0.project"]


def test_keep_float_by_name_prefix_or_tensor():
    assert parse_keep_float("stages.1.0", RANKED) == ["stages.1.0.expand", "stages.1.0.project"]
    assert parse_keep_float("head, t1", RANKED) == ["head", "stages.1.0.expand"]
    with pytest.raises(EdgenetError) as e:
        parse_keep_float("stages.9.9.se,head", RANKED)
    msg = str(e.value)
    assert "stages.9.9.se" in msg and "valid layers: stem, stages.1.0.expand, stages.1.0.project, head" in msg
    with pytest.raises(EdgenetError, match="positive"):
        parse_keep_float("0", RANKED)


def test_float_tensors_include_the_readers_of_a_kept_tensor():
    # x -> conv(a) -> t_a -> conv(b) -> t_b -> add(t_b, t_a) -> t_c
    tensors = [TensorInfo(i, n, (1, 4), "float32") for i, n in enumerate(["x", "t_a", "t_b", "t_c", "w"])]
    ops = [OpInfo(0, "CONV_2D", (0, 4), (1,)), OpInfo(1, "CONV_2D", (1, 4), (2,)), OpInfo(2, "ADD", (2, 1), (3,))]
    info = TFLiteModel(None, tensors, ops, [0], [3])
    locs = {"t_a": Location("A"), "t_b": Location("B"), "t_c": Location("C")}
    assert float_tensors(["A"], info, locs) == ["t_a", "t_b", "t_c"]  # t_a is read by B and by the add
    assert float_tensors(["B"], info, locs) == ["t_b", "t_c"]
    assert readers_of(["A"], ["t_a", "t_b", "t_c"], locs) == ["B", "C"]


def test_try_fixes_stops_at_the_first_candidate_within_the_bound():
    built = []
    scores = {"none": 0.60, "samples:400": 0.62, "keep-float:1": 0.695, "int16-act": 0.70}

    def cand(name, full_integer=True):
        return Candidate(name, full_integer, lambda: built.append(name) or name.encode())

    names = ["none", "samples:400", "keep-float:1", "int16-act"]
    outcome, attempts = try_fixes(
        (cand(n) for n in names), lambda data: (scores[data.decode()], 0.9), reference_top1=0.70, max_drop=1.0
    )
    assert built == ["none", "samples:400", "keep-float:1"]  # int16 never built
    assert outcome.fix == "keep-float:1" and outcome.data == b"keep-float:1"
    assert [a.drop for a in attempts] == [10.0, 8.0, 0.5] and [a.accepted for a in attempts] == [False, False, True]

    outcome, attempts = try_fixes((cand(n) for n in names), lambda d: (0.5, 0.8), 0.70, 1.0)
    assert outcome is None and len(attempts) == 4
    err = no_fix_error(attempts, 1.0, ["Train lite0."])
    assert "within 1 points" in str(err) and "best none −20" in str(err) and "Train lite0." in str(err)
    assert err.exit_code == 3 and "\n" not in str(err)


def test_weight_roundings_come_after_the_calibration_fixes_and_before_float_fallback():
    """The order of cost: new calibrations first, then a new float graph per rounding (bias correction, then
    AdaRound), then the fixes that leave full-integer; a rounding is built only when reached."""
    from edgenet.quantization.fixes import fix_candidates
    from edgenet.quantization.quantizers import get_quantizer
    from edgenet.quantization.recipe import ROUNDING_FIXES

    rounded = []
    cands = fix_candidates(
        get_quantizer("tflite"), b"cal", "int8", "minmax", [], keep=lambda labels: b"", int16=lambda: b"",
        more_calibration=lambda: np.zeros((4, 3, 8, 8)), calibrate=lambda more: b"more",
        rounded=lambda r, bc: rounded.append((r, bc)) or b"r", roundings=ROUNDING_FIXES,
    )  # fmt: skip
    names = [c.fix for c in cands]
    assert names == ["none", "samples:4", "rounding:bias-correction", "rounding:adaround+bias-correction", "int16-act"]
    assert rounded == []


@pytest.mark.slow
def test_recommendations_scale_the_measured_latency_by_macs():
    from edgenet.quantization.fixes import recommendations

    from edgenet.profile import profile_variant

    ratio = profile_variant("lite0", 10, 64).macs / profile_variant("b0", 10, 64).macs
    advice = recommendations("efficientnet_b0", "silu", 64, 10, int8_ms=10.0, budget_ms=None)
    assert "--act relu6" in advice[0]
    assert f"efficientnet_lite0 (ReLU6, no squeeze-excite; built for int8): estimated {10 * ratio:.2f} ms" in advice[1]
    roomy = recommendations("efficientnet_b0", "silu", 64, 10, int8_ms=10.0, budget_ms=30.0)
    assert "within your 30 ms budget" in roomy[1] and "lite0" not in roomy[1]  # the largest Lite that fits
    assert len(recommendations("efficientnet_b0", "silu", 64, 10, int8_ms=10.0, budget_ms=1.0)) == 1  # none fits
    assert recommendations("efficientnet_lite0", "relu6", 64, 10, int8_ms=1.0, budget_ms=None) == []
