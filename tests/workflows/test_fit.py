"""``edgenet fit``'s search against a simulated device (instant), and once end to end on real conversions (slow).

The simulated device is a latency law the search does not know (p50 = k · MACs^0.9 plus a per-resolution term),
so the search must find the budget's boundary by measuring, and the tests check its answer against brute force.
"""

from __future__ import annotations

import json
import math

import pytest

import edgenet.workflows.fit as fitmod
from edgenet.errors import EdgenetError
from edgenet.fitplan import Candidate, LatencyModel, Point, bounds, candidates, next_candidate, resolution_grid
from edgenet.scaling import PAPER
from edgenet.workflows.fit import FitSettings, fit, model_args


def law(macs: int, resolution: int) -> float:
    return 2e-7 * macs**0.9 + 0.004 * resolution


@pytest.fixture
def simulated(monkeypatch):
    """Replace conversion + timing by the latency law; record what was measured."""
    calls: list[str] = []

    def measure(cand: Candidate, settings, out, db, target_opts, guard=None) -> Point:
        calls.append(cand.key)
        ms = law(cand.macs, cand.resolution)
        return Point(cand.spec, cand.phi, cand.resolution, cand.kind, cand.macs, 0, ms, ms * 1.1, "m.tflite", 0.0)

    monkeypatch.setattr(fitmod, "measure", measure)
    # MACs of the φ grid without profiling 31 networks: (α·β²·γ²)^φ × B0's at native resolution
    monkeypatch.setattr(
        fitmod,
        "_native_macs",
        lambda s, cached, p: {
            round(0.1 * i, 4): (int(round(224 * 1.15 ** (0.1 * i) / 8) * 8), int(390e6 * 1.92 ** (0.1 * i)))
            for i in range(31)
        },
    )
    return calls


SETTINGS = FitSettings(min_res=96, max_res=640, res_multiple=8)


def brute_force(budget: float) -> int:
    cands = candidates(PAPER, fitmod._native_macs(SETTINGS, {}, None), 96, 640)
    return max(c.macs for c in cands if law(c.macs, c.resolution) <= budget)


@pytest.mark.parametrize("budget", [6.0, 12.0, 30.0])
def test_finds_the_largest_fitting_candidate_with_few_measurements(simulated, tmp_path, budget):
    r = fit(budget, SETTINGS, tmp_path, max_measure=8, with_ladder=False)
    assert r.chosen.p50_ms <= budget
    assert r.chosen.macs >= 0.95 * brute_force(budget)  # within the grid's 3 % stopping tolerance and a step
    assert r.measured_now == len(simulated) <= 8
    assert r.candidates > 100  # it measured a handful of a large grid
    assert json.loads((tmp_path / "fit.json").read_text())["model_args"] == r.model_args


def test_points_are_reused_across_budgets_and_runs(simulated, tmp_path):
    fit(12.0, SETTINGS, tmp_path, with_ladder=False)
    first = len(simulated)
    again = fit(12.0, SETTINGS, tmp_path, with_ladder=False)
    assert again.measured_now == 0 and len(simulated) == first  # resumed from the state file
    fit(14.0, SETTINGS, tmp_path, with_ladder=False)
    assert len(simulated) - first < first  # the second budget starts from the first one's points


def test_impossible_budget_names_the_smallest_measured_latency(simulated, tmp_path):
    with pytest.raises(EdgenetError) as e:
        fit(0.01, SETTINGS, tmp_path, with_ladder=False)
    msg = str(e.value)
    assert "\n" not in msg and "no variant meets --budget-ms 0.01" in msg
    smallest = min(candidates(PAPER, fitmod._native_macs(SETTINGS, {}, None), 96, 640), key=lambda c: c.macs)
    assert f"{law(smallest.macs, smallest.resolution):.2f} ms" in msg and f"at {smallest.resolution} px" in msg
    assert smallest.key in simulated


def test_interrupt_keeps_what_was_measured(simulated, monkeypatch, tmp_path):
    real = fitmod.measure

    def interrupted_second(*a, **k):
        if len(simulated) == 1:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(fitmod, "measure", interrupted_second)
    with pytest.raises(KeyboardInterrupt):
        fit(12.0, SETTINGS, tmp_path, with_ladder=False)
    state = json.loads((tmp_path / "fit_state.json").read_text())
    assert [p["spec"] + "@" + str(p["resolution"]) for p in state["points"]] == simulated


def test_ladder_is_measured_up_to_its_first_variant_over_budget(simulated, tmp_path, monkeypatch):
    monkeypatch.setattr(fitmod, "ladder", lambda s: ["b0", "b1", "b2", "b3"])
    monkeypatch.setattr("edgenet.profile.profile_variant", _fake_profile)
    r = fit(law(_fake_profile("b1").macs, 240) * 1.1, SETTINGS, tmp_path, with_ladder=True)
    ladder = [p.spec for p in r.points if p.kind == "ladder"]
    assert ladder == ["efficientnet_b0", "efficientnet_b1", "efficientnet_b2"]
    assert r.ladder_best.spec == "efficientnet_b1"
    assert r.chosen.macs >= r.ladder_best.macs


def _fake_profile(variant, num_classes=1000, resolution=None):
    from types import SimpleNamespace

    from edgenet.models import get_variant

    v = get_variant(variant) if isinstance(variant, str) else variant
    return SimpleNamespace(macs=int(390e6 * v.width_mult**2 * v.depth_mult * (v.resolution / 224) ** 2))


def test_other_settings_in_the_same_out_are_refused(simulated, tmp_path):
    fit(12.0, SETTINGS, tmp_path, with_ladder=False)
    with pytest.raises(EdgenetError, match="threads differ"):
        fit(12.0, FitSettings(min_res=96, max_res=640, res_multiple=8, threads=2), tmp_path, with_ladder=False)


def test_latency_model_and_grid():
    pts = [Point("a", 0, 224, "phi", m, 0, 3e-6 * m, 0, "", 0) for m in (1e8, 4e8)]
    lm = LatencyModel.fit(pts)
    assert lm.b == pytest.approx(1.0) and lm.predict(2e8) == pytest.approx(600, rel=1e-6)
    assert resolution_grid(233, 96, 640) == [208, 216, 224, 232, 240, 248, 256]
    assert resolution_grid(224, 32, 48) == [32, 40, 48]
    assert next_candidate([], [], 1.0) is None


def test_model_args_say_img_size_only_when_not_native():
    p = Point("phi:1.3", 1.3, 272, "phi", 1, 1, 1.0, 1.0, "", 0)
    assert model_args(p) == "--model phi:1.3"
    assert model_args(Point("phi:1.3", 1.3, 232, "phi", 1, 1, 1.0, 1.0, "", 0)) == "--model phi:1.3 --img-size 232"
    assert model_args(Point("efficientnet_b1", None, 240, "ladder", 1, 1, 1.0, 1.0, "", 0)) == "--model b1"


def test_bad_budget_is_refused(tmp_path):
    for bad in (0.0, -1.0, math.nan):
        with pytest.raises(EdgenetError, match="--budget-ms"):
            fit(bad, SETTINGS, tmp_path)


def test_a_noisy_slow_point_below_a_fitting_one_does_not_end_the_search():
    def pt(macs, ms):
        return Point("phi:0", 0, 224, "phi", macs, 0, ms, ms, "", 0)

    best, ceiling = bounds([pt(100, 5.0), pt(80, 50.0), pt(150, 20.0)], 10.0)
    assert best.macs == 100 and ceiling == 150  # the 80-MAC outlier is ignored
    cands = [Candidate("phi:0.1", 0.1, 224, m) for m in (90, 120, 140, 160)]
    assert next_candidate(cands, [pt(100, 5.0), pt(80, 50.0)], 10.0).macs in (120, 140, 160)


def test_an_emulated_target_is_refused(monkeypatch, tmp_path):
    """fit holds latencies against a budget; an emulator's (the arm64 stand-in, scripts/arm64_root.sh) are no
    device's, so the first emulated row ends the search with one line."""
    from types import SimpleNamespace

    from edgenet.fitplan import Candidate

    report = SimpleNamespace(artifacts=[SimpleNamespace(name="int8", file="model_int8.tflite")])
    row = SimpleNamespace(emulated="qemu-aarch64 7.2.22, cpu cortex-a76")
    monkeypatch.setattr("edgenet.loading.load_from_spec", lambda **kw: None)
    monkeypatch.setattr("edgenet.converters.pipeline.convert", lambda loaded, opts, progress: report)
    monkeypatch.setattr("edgenet.device_bench.bench.run_benchmarks", lambda *a, **k: [row])
    settings = FitSettings(target="ssh://me@127.0.0.1")
    with pytest.raises(EdgenetError, match=r"runs under an emulator \(qemu-aarch64 7.2.22, cpu cortex-a76\)"):
        fitmod.measure(Candidate("b0", None, 224, 390_000_000), settings, tmp_path, None, None)
