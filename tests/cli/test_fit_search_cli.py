"""``edgenet fit`` and ``edgenet scale search`` end to end on tiny settings: real conversions, timings and training."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner
from helpers import shapes_folder

from edgenet.cli.main import cli
from edgenet.models import get_variant
from edgenet.scaling import load_scaling

TINY_FIT = [
    "--int8",
    "--res-multiple",
    "8",
    "--min-res",
    "32",
    "--max-res",
    "40",
    "--max-phi",
    "0.2",
    "--phi-step",
    "0.2",
]
TINY_FIT += ["--no-ladder", "--num-classes", "3", "--runs", "3", "--max-measure", "1"]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.slow
def test_fit_generous_then_impossible_budget(tmp_path):
    out = tmp_path / "fit"
    r = invoke("fit", "--budget-ms", "10000", *TINY_FIT, "--out", str(out), "-q")
    assert r.exit_code == 0, r.output
    assert "measured 1 variants on local (1 thread(s), int8): 1 this run, 0 from" in r.stdout
    assert "use it with: --model phi:0 --img-size 40" in r.stdout
    d = json.loads((out / "fit.json").read_text())
    assert d["chosen"]["spec"] == "phi:0" and d["chosen"]["p50_ms"] <= 10000 and d["measured_now"] == 1
    assert (out / "fit.png").stat().st_size > 0
    with sqlite3.connect(out / "bench.sqlite") as db:  # the measurement is a bench row like any other
        rows = db.execute("SELECT model, precision, resolution, threads, p50_ms FROM results").fetchall()
    assert rows == [("phi:0", "int8", 40, 1, pytest.approx(d["chosen"]["p50_ms"]))]

    r = invoke("fit", "--budget-ms", "0.0001", *TINY_FIT, "--out", str(out), "-q")
    assert r.exit_code == 2, r.output
    (line,) = r.stderr.strip().splitlines()
    state = json.loads((out / "fit_state.json").read_text())
    smallest = min(state["points"], key=lambda p: p["p50_ms"])
    assert line.startswith("error: no variant meets --budget-ms 0.0001: the smallest measured latency is ")
    assert f"{smallest['p50_ms']:.2f} ms" in line
    assert {p["resolution"] for p in state["points"]} == {32, 40}  # the first point was reused, the smallest added

    r = invoke("fit", "--budget-ms", "10000", *TINY_FIT[:-2], "--max-measure", "2", "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["chosen"]["spec"] == "phi:0.2"  # resumed: only the new candidate was measured
    assert json.loads(r.stdout)["measured_now"] == 1


def test_fit_refuses_other_settings_in_the_same_out(tmp_path):
    out = tmp_path / "fit"
    out.mkdir()
    state = {"format": "edgenet.fit-state", "settings": {"threads": 4}, "native_macs": {}, "points": []}
    (out / "fit_state.json").write_text(json.dumps(state))
    r = invoke("fit", "--budget-ms", "10", *TINY_FIT, "--out", str(out))
    assert r.exit_code == 2 and "holds measurements for other settings" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_scale_search_two_candidates(tmp_path):
    shapes_folder(tmp_path / "train", ["disk", "square", "hbar"], 12)
    shapes_folder(tmp_path / "val", ["disk", "square", "hbar"], 4, seed=1)
    out = tmp_path / "search"
    args = ["scale", "search", "--data", str(tmp_path / "train"), "--val", str(tmp_path / "val"), "--img-size", "32"]
    args += ["--candidates", "2", "--batch-size", "12", "--workers", "0", "--out", str(out)]
    r = invoke(*args, "-q")
    assert r.exit_code == 0, r.output
    d = json.loads((out / "search.json").read_text())
    rows = d["rows"]
    assert len(rows) == 2 and all(r["status"] == "done" and r["val_top1"] is not None for r in rows)
    assert rows[0]["paper"] and (rows[0]["alpha"], rows[0]["beta"], rows[0]["gamma"]) == (1.2, 1.1, 1.15)
    assert all(abs(r["flops_factor"] / 2 - 1) <= 0.05 for r in rows)  # α·β²·γ² ≈ 2
    best = max(rows, key=lambda r: (r["val_top1"], -r["macs"]))
    s = load_scaling(out / "scaling.json")
    assert (s.alpha, s.beta, s.gamma) == (best["alpha"], best["beta"], best["gamma"])
    assert get_variant(f"phi:1@{out / 'scaling.json'}").depth_mult == pytest.approx(best["alpha"])
    assert (out / "search.png").stat().st_size > 0
    assert "best: α=" in r.stdout and "paper" in r.stdout
    again = invoke(*args, "--json")  # resumable: a rerun trains nothing
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["trained_now"] == 0


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--constraint", "latency"], "--constraint latency needs --target"),
        (["--target", "local"], "--target applies to --constraint latency only"),
    ],
)
def test_scale_search_usage_errors(tmp_path, extra, fragment):
    shapes_folder(tmp_path / "train", ["disk", "square"], 2)
    r = invoke("scale", "search", "--data", str(tmp_path / "train"), "--out", str(tmp_path / "o"), *extra)
    assert r.exit_code == 2 and fragment in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_scale_search_bad_data_is_one_line(tmp_path):
    r = invoke("scale", "search", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    assert r.exit_code == 2 and "not a folder" in r.stderr and len(r.stderr.strip().splitlines()) == 1
