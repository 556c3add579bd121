"""Bad input: one clear error each, naming the file or package and the fix."""

import subprocess
import sys

import pytest
from edgenet.device_bench import remote_runner
from edgenet.device_bench.bench import Plan, run_benchmarks

from edgenet.errors import EdgenetError

FAST = dict(warmup=1, runs=3)


def bench(paths, **kw):
    return run_benchmarks(paths, Plan(**(FAST | kw)), progress=False)


def test_not_a_model(tmp_path):
    junk = tmp_path / "weights.bin"
    junk.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(EdgenetError, match=r"weights\.bin: not a model edgenet can benchmark"):
        bench([junk])
    with pytest.raises(EdgenetError, match="model file not found"):
        bench([tmp_path / "missing.tflite"])


def test_a_renamed_file_is_judged_by_its_content(tiny, tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes((tiny / "tflite" / "model_fp32.tflite").read_bytes())
    (r,) = bench([fake])
    assert r.model_format == "tflite" and r.backend == "tflite"


@pytest.mark.parametrize(
    ("file", "backend", "hint"),
    [
        ("tflite/model_fp32.tflite", "onnxruntime", "is a tflite model; --backend onnxruntime runs .onnx files"),
        ("torch/model.onnx", "tflite", "--backend tflite runs .tflite files"),
        ("torch/model.onnx", "torch", "--backend torch runs .pt files"),
        ("torch/model.pt", "onnxruntime", "is a checkpoint model"),
    ],
)
def test_backend_that_cannot_run_the_file(tiny, file, backend, hint):
    with pytest.raises(EdgenetError, match=hint):
        bench([tiny / file], backend=backend)


def test_delegate_mismatch(tiny):
    with pytest.raises(EdgenetError, match="--delegate xnnpack does not apply to onnxruntime"):
        bench([tiny / "torch" / "model.onnx"], delegate="xnnpack")
    with pytest.raises(EdgenetError, match="--delegate gpu runs through benchmark_model on a phone"):
        bench([tiny / "tflite" / "model_fp32.tflite"], delegate="gpu")
    with pytest.raises(EdgenetError, match="TFLite runs on CPUs and Edge TPUs"):
        bench([tiny / "tflite" / "model_fp32.tflite"], device="cuda")


def test_edgetpu_needs_a_compiled_model(tiny):
    with pytest.raises(EdgenetError, match=r"not compiled for the Edge TPU.*edgetpu_compiler model_int8\.tflite"):
        bench([tiny / "tflite" / "model_int8.tflite"], delegate="edgetpu")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # litert's Delegate.__del__
def test_edgetpu_runtime_missing_names_the_package(tiny):
    """The runner's own path (what a board without libedgetpu hits): load_delegate fails → install hint."""
    with pytest.raises(remote_runner.RunnerError, match=r"libedgetpu\.so\.1.*apt-get install libedgetpu1-std"):
        remote_runner.make_interpreter(str(tiny / "tflite" / "model_int8.tflite"), 1, "edgetpu")


def test_no_tflite_interpreter_names_the_package(monkeypatch, tiny):
    for mod in (
        "ai_edge_litert",
        "ai_edge_litert.interpreter",
        "tflite_runtime",
        "tflite_runtime.interpreter",
        "tensorflow",
    ):
        monkeypatch.setitem(sys.modules, mod, None)  # import raises ImportError
    with pytest.raises(remote_runner.RunnerError, match="pip install ai-edge-litert") as e:
        remote_runner.make_interpreter(str(tiny / "tflite" / "model_fp32.tflite"))
    assert e.value.kind == "no_interpreter"


@pytest.mark.slow
def test_fallback_to_tensorflow_lite(tiny):
    """Without ai-edge-litert and tflite-runtime the runner uses tf.lite (own process: TF next to torch crashes)."""
    code = (
        "import sys; sys.modules.update(dict.fromkeys(['ai_edge_litert', 'ai_edge_litert.interpreter', "
        "'tflite_runtime', 'tflite_runtime.interpreter']))\n"
        "from edgenet.device_bench import remote_runner as r\n"
        f"print(r.make_interpreter({str(tiny / 'tflite' / 'model_fp32.tflite')!r})[1]['interpreter'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "tensorflow"


def test_runner_reports_a_corrupt_tflite(tmp_path):
    bad = tmp_path / "cut.tflite"
    bad.write_bytes(b"\x18\x00\x00\x00TFL3" + b"\x00" * 40)
    with pytest.raises(remote_runner.RunnerError, match=r"cut\.tflite: the interpreter could not load it"):
        remote_runner.make_interpreter(str(bad))


def test_bad_target_url(tiny):
    with pytest.raises(EdgenetError, match="use local, ssh://user@host"):
        run_benchmarks([tiny / "tflite" / "model_fp32.tflite"], Plan(**FAST), target="telnet://x", progress=False)
    with pytest.raises(EdgenetError, match="expected ssh://user@host"):
        run_benchmarks([tiny / "tflite" / "model_fp32.tflite"], Plan(**FAST), target="ssh://", progress=False)


def test_a_batch_that_cannot_fit_in_memory_is_refused_before_running(tiny, monkeypatch):
    """Issue 26.7: --batch 100000 grew to 23 of 24 GB before it was killed."""
    from edgenet.device_bench import plan_checks
    from edgenet.device_bench.modelinfo import inspect_model

    model = tiny / "tflite" / "model_fp32.tflite"
    monkeypatch.setattr(plan_checks, "available_memory", lambda: 2 * 10**8)  # 200 MB free, whatever runs this
    fits = 2 * 10**8 // plan_checks.per_image_bytes(inspect_model(model))
    with pytest.raises(
        EdgenetError, match=rf"--batch 100000: .* GB of memory is available; use --batch {fits} or less"
    ):
        run_benchmarks([model], Plan(batch=(1, 100000), **FAST), progress=False)
    (r,) = run_benchmarks([model], Plan(batch=(int(fits),), **FAST), progress=False)  # the suggestion runs
    assert r.batch == fits


def test_oversubscribed_threads_and_too_few_runs_are_warned(tiny, caplog):
    """Issue 26.6: --threads 999 on 2 cores and --runs 1 produced rows marked stable, without a word."""
    from edgenet.devices import available_cpus

    model = tiny / "tflite" / "model_fp32.tflite"
    with caplog.at_level("WARNING", logger="edgenet"):
        run_benchmarks([model], Plan(threads=(available_cpus() + 1,), warmup=0, runs=1), progress=False)
    text = caplog.text
    assert f"--threads {available_cpus() + 1} on {available_cpus()} usable CPU core(s)" in text
    assert "--runs 1: too few timed runs" in text
    caplog.clear()
    with caplog.at_level("WARNING", logger="edgenet"):
        run_benchmarks([model], Plan(threads=(1,), warmup=0, runs=3), progress=False)
    assert "--threads" not in caplog.text and "--runs" not in caplog.text
