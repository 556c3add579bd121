"""Ranges observed on fast kernels equal TFLite calibrator's within float rounding, on a Lite0 with residual blocks
(in-place ADDs) and real photos' statistics: the tensor mapping and both logging quirks are reproduced."""

from __future__ import annotations

import numpy as np
import pytest
from edgenet.quantization import observer
from edgenet.quantization.calibrator import calibrate
from edgenet.quantization.model_diff import diff
from edgenet.quantization.ptq import quantize
from edgenet.quantization.ranges import histograms, read_ranges
from helpers import realistic_lite0

from edgenet.artifacts.tflite_model import read_tflite

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graph(tmp_path_factory, photos_dir):
    """lite0 at 64 px, 3 classes, BN statistics of real photos; its float graph, 16 calibration samples and
    TFLite's calibrator's model of them (the reference)."""
    _, g, samples = realistic_lite0(tmp_path_factory.mktemp("obs"), photos_dir, 3, 16, 2)
    return g, samples, calibrate(g.fp32, samples, calibrator="tflite")


def test_inplace_inputs_take_the_ops_output_range(graph):
    """Without the in-place union the residual branch's range would be its own, narrower than TFLite records."""
    g, samples, reference = graph
    exposed = observer.expose(g.fp32)
    assert exposed.inplace, "the residual ADDs run in place: the quirk this model must exercise"
    lo, hi = observer.observe(exposed, samples, "builtin")
    true = {n: (float(a), float(b)) for n, a, b in zip(exposed.names, lo, hi, strict=True)}
    logged, recorded = observer.as_logged(exposed, lo, hi), read_ranges(reference)
    widened = 0
    for i, _ in exposed.inplace:
        name = exposed.names[exposed.tensors.index(i)]
        assert np.allclose(recorded[name], logged[name], rtol=1e-5, atol=1e-7), name
        widened += not np.allclose(recorded[name], true[name], rtol=1e-3)
    assert widened, "no in-place input was widened: the test no longer tells the quirk from its absence"


def test_fast_calibrator_is_within_float_rounding(graph):
    """XNNPACK rounds differently: every range within 1 % of an int8 step, every int8 grid within 1 % of a step,
    weights unchanged, every int32 bias within 0.1 % of itself (its scale follows the input's)."""
    g, samples, reference = graph
    fast = calibrate(g.fp32, samples)  # the default
    ref, got = read_ranges(reference), read_ranges(fast)
    assert set(ref) == set(got)
    for name, (lo, hi) in ref.items():
        step = (max(hi, 0) - min(lo, 0)) / 255
        assert abs(got[name][0] - lo) <= 0.01 * step and abs(got[name][1] - hi) <= 0.01 * step, name
    d = diff(quantize(reference), quantize(fast))
    assert d.max_grid_steps <= 0.01 and d.max_int_diff == 0 and d.max_bias_rel <= 1e-3, d.differing[:3]


def test_histograms_count_every_value_once(graph):
    g, samples, _ = graph
    ranges = read_ranges(calibrate(g.fp32, samples[:3]))  # the values' own kernels: none falls outside
    hist = histograms(g.fp32, samples[:3], ranges, bins=64, kernels="xnnpack")
    size = {t.name: int(np.prod(t.shape)) for t in read_tflite(g.fp32_path).tensors}
    assert len(hist) > len(ranges) // 2
    for name, h in hist.items():
        assert h.sum() == 3 * size[name], name


def test_model_diff_names_a_moved_scale(graph):
    """The diff is in the quantizer's own unit: a scale moved by 0.5/128 moves the grid's end by about half a step."""
    from edgenet.artifacts.tflite_model import tflite_schema

    g, _, reference = graph
    q = bytearray(quantize(reference))
    sub = tflite_schema().Model.GetRootAsModel(q, 0).Subgraphs(0)
    for i in range(sub.TensorsLength()):
        t = sub.Tensors(i)
        if t.Quantization() is not None and t.Quantization().ScaleLength() == 1 and t.Type() == 9:
            t.Quantization().ScaleAsNumpy()[:] *= 1 + 0.5 / 128  # in place: the grid's end moves by ~half a step
            break
    d = diff(quantize(reference), bytes(q))
    assert len(d.differing) == 1 and d.differing[0].name == t.Name().decode()
    assert 0.25 <= d.max_grid_steps <= 1.0 and not d.identical_bytes  # |q − zero point| ≤ 255
    with pytest.raises(ValueError, match="different tensors"):
        diff(quantize(reference), g.fp32)


def test_observable_and_bad_kernels(graph):
    g, samples, _ = graph
    assert observer.observable(g.fp32)
    with pytest.raises(ValueError, match="calibrator 'exact'"):
        calibrate(g.fp32, samples, calibrator="exact")
    with pytest.raises(ValueError, match="at least one sample"):
        calibrate(g.fp32, np.zeros((0, 3, 64, 64), np.float32))


def test_in_graph_reductions_see_what_the_exposed_tensors_show(graph):
    """The min/max ops inserted after each activation give the same numbers as reading every activation out."""
    g, samples, _ = graph
    reduced, exposed = observer.with_reductions(g.fp32), observer.expose(g.fp32)
    assert reduced.reduced and sorted(reduced.tensors) == exposed.tensors
    lo_r, hi_r = observer.observe(reduced, samples[:4])
    lo_e, hi_e = observer.observe(exposed, samples[:4])
    at = {t: k for k, t in enumerate(exposed.tensors)}
    order = [at[t] for t in reduced.tensors]
    assert np.array_equal(lo_r, lo_e[order]) and np.array_equal(hi_r, hi_e[order])


def test_a_nan_activation_is_one_clear_error():
    from edgenet.errors import EdgenetError

    exposed = observer.Exposed(b"", [0, 1], ["ok", "blown/up"], [])
    with pytest.raises(EdgenetError, match="'blown/up' is NaN or infinite"):
        observer.as_logged(exposed, np.array([0.0, np.nan], np.float32), np.array([1.0, 2.0], np.float32))
