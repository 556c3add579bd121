"""The benchmark_model log parser on real recorded output (tests/fixtures/benchmark_model, each labelled with its
source), and the flags the adb target passes."""

from pathlib import Path

import pytest
from edgenet.device_bench.benchmark_model_log import BenchmarkModelLogError, parse_benchmark_model
from edgenet.device_bench.targets.adb import benchmark_model_args

FIXTURES = Path(__file__).parents[1] / "fixtures" / "benchmark_model"

# file: (count, mean_ms, std_ms, min_ms, max_ms, init_ms, first_ms, peak_memory_mb)
EXPECTED = {
    "xnnpack_999_raspberrypi_int8.txt": (50, 55.0432, 1.562, 53.077, 60.727, 18.777, 64.791, 18.7227),
    "tensorflow_61946_linux_info_prefix.txt": (50, 116.066, 1.906, 111.222, 121.324, 0.53, 124.02, 12.1914),
    "tensorflow_42507_android.txt": (50, 33.2094, 0.45, 32.641, 34.005, 0.855, 49.06, 12.8672),
    "tensorflow_40183_2020_scientific.txt": (9, 16850.5, 69.772, 16767.506, 17015.249, 48.019, None, None),
    "tensorflow_56301_android_logcat_nnapi.txt": (75, 12.1676, 0.325, 11.787, 13.649, 126.059, 32.942, None),
    "yuenshome_77_2018_two_runs.txt": (15, 66.7676, 0.039, 66.699, 66.838, 9.933, None, None),
    "armnn_541_raspberrypi4_tiny.txt": (14192, 0.069691, 0.005, 0.068, 0.249, 1.304, 2.071, None),
    "mlcommons_1134_litert_compiled_model.txt": (10, 7430.20, 9.92, 7416.40, 7448.86, 23744.73, 7441.04, 6391.74),
}


def test_every_fixture_names_its_source_and_is_covered():
    files = sorted(p.name for p in FIXTURES.glob("*.txt"))
    assert set(EXPECTED) | {"tensorflow_45986_prepare_error.txt"} == set(files)
    for name in files:
        assert (FIXTURES / name).read_text().startswith("# source: https://github.com/"), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parses_recorded_log(name):
    log = parse_benchmark_model((FIXTURES / name).read_text())
    count, mean, std, lo, hi, init, first, mem = EXPECTED[name]
    assert log.count == count
    got = (log.mean_ms, log.std_ms, log.min_ms, log.max_ms, log.init_ms, log.first_ms, log.peak_memory_mb)
    for g, e in zip(got, (mean, std, lo, hi, init, first, mem)):
        assert g == pytest.approx(e) if e is not None else g is None
    assert log.min_ms <= log.mean_ms <= log.max_ms


def test_picks_the_timed_phase_not_the_warmup():
    log = parse_benchmark_model((FIXTURES / "xnnpack_999_raspberrypi_int8.txt").read_text())
    assert log.warmup_mean_ms == pytest.approx(57.7582)  # count=9 warm-up line
    assert log.threads == 4 and log.xnnpack is True and log.model_size_mb == pytest.approx(3.67827)


def test_second_unfinished_run_is_ignored():
    log = parse_benchmark_model((FIXTURES / "yuenshome_77_2018_two_runs.txt").read_text())
    assert log.mean_ms == pytest.approx(66.7676)  # not the cut-off second run (count=25, 37.6 ms)


def test_xnnpack_off_is_read_from_the_parameter_dump():
    log = parse_benchmark_model((FIXTURES / "tensorflow_40183_2020_scientific.txt").read_text())
    assert log.xnnpack is False and log.threads == 8


def test_failed_run_reports_the_tools_error():
    with pytest.raises(BenchmarkModelLogError, match=r"expand_dims\.cc:40 axis <= input_dims\.size"):
        parse_benchmark_model((FIXTURES / "tensorflow_45986_prepare_error.txt").read_text())


def test_empty_output_is_an_error():
    with pytest.raises(BenchmarkModelLogError, match="no output"):
        parse_benchmark_model("")


def test_benchmark_model_flags():
    spec = {"threads": 2, "warmup": 5, "runs": 30, "delegate": "none"}
    args = benchmark_model_args("/data/local/tmp/edgenet/m.tflite", spec)
    assert "--graph=/data/local/tmp/edgenet/m.tflite" in args and "--num_threads=2" in args
    assert "--num_runs=30" in args and "--min_secs=0" in args and "--warmup_runs=5" in args
    assert "--use_xnnpack=false" in args
    timed = benchmark_model_args("g", {"seconds": 3, "delegate": "gpu"})
    assert "--min_secs=3.0" in timed and "--use_gpu=true" in timed
