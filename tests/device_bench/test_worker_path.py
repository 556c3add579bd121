"""The local worker imports the package the bench process runs, never a same-named folder in the cwd (issue 13.12)."""

from __future__ import annotations

from edgenet.device_bench.bench import Plan, run_benchmarks


def test_a_folder_named_like_the_package_in_the_cwd_is_not_imported(tiny, tmp_path, monkeypatch):
    for name in ("edgenet", "device_bench"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('the {name} folder in the cwd was imported')")
    monkeypatch.chdir(tmp_path)
    (r,) = run_benchmarks([tiny / "tflite" / "model_fp32.tflite"], Plan(warmup=1, runs=3), progress=False)
    assert r.runs == 3 and r.latency_ms.p50 > 0
