"""ExecuTorch and TensorRT as artefact kinds: built, verified against their float reference, listed in report.json,
benchmarked (latency and accuracy through the same runtime) into the same results db; TensorRT's engines, which need
a GPU, fail with one line where there is none and are built and run for real where there is (``gpu`` tests).

One conversion (``--executorch --tensorrt`` from the CLI) of a shrunk B0 at 32 px with real photos' BatchNorm
statistics (trained-like logits, so parity numbers mean something) serves most tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import realistic_bn

from edgenet.cli.main import cli
from edgenet.cpu import cpu_int8
from edgenet.errors import EdgenetError

pytestmark = pytest.mark.slow
pytest.importorskip("executorch", reason="the executorch package (edgenet[executorch]) is not installed")


def no_cuda() -> bool:
    import torch

    return not torch.cuda.is_available()


@pytest.fixture(scope="module")
def shrunk_b0(tmp_path_factory, photos_dir) -> Path:
    """A B0 at 0.25 width and depth (seconds to export), 32 px, the photos' 3 classes, realistic BN statistics."""
    import torch

    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.models import create_model
    from edgenet.preprocess import Preprocess

    torch.manual_seed(0)
    classes = sorted(p.name for p in photos_dir.iterdir())
    net = create_model("b0", num_classes=len(classes), width_mult=0.25, depth_mult=0.25, head_channels=64)
    net.default_resolution = 32
    realistic_bn(net, photos_dir, 32)
    path = tmp_path_factory.mktemp("ckpt") / "b0.pt"
    return save_checkpoint(path, checkpoint_from_model(net, classes=classes, preprocess=Preprocess(resolution=32)))


@pytest.fixture(scope="module")
def converted(tmp_path_factory, shrunk_b0, photos_dir):
    """``edgenet convert --executorch --tensorrt --eval-data``: (out folder, report.json, CLI output)."""
    out = tmp_path_factory.mktemp("rt") / "out"
    args = ["convert", "--checkpoint", str(shrunk_b0), "--executorch", "--tensorrt", "--calib-data"]
    args += [str(photos_dir), "--calib-samples", "24", "--eval-data", str(photos_dir), "--out", str(out), "-q"]
    args += ["--accept-low-fidelity"]  # random weights: int8 cosine 0.79–0.89 (chaotic), below the trained-model floor
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return out, json.loads((out / "report.json").read_text()), res.output


def test_every_kind_is_built_verified_and_listed(converted):
    out, report, output = converted
    arts = {a["name"]: a for a in report["artifacts"]}
    assert list(arts) == ["fp32", "executorch_fp32", "executorch_int8", "onnx_int8_qdq"]
    for a in arts.values():
        assert (out / a["file"]).is_file() and a["bytes"] == (out / a["file"]).stat().st_size
    et32, et8, qdq = arts["executorch_fp32"], arts["executorch_int8"], arts["onnx_int8_qdq"]
    assert (et32["runtime"], et8["runtime"], qdq["runtime"]) == ("executorch", "executorch", "onnxruntime")
    # ExecuTorch fp32 follows ONNX Runtime like TFLite fp32 does, on logits of a real scale (not ~0)
    assert et32["parity"]["reference"] == "onnx" and et32["parity"]["reference_max_abs"] > 1
    assert et32["parity"]["max_abs_diff"] < 1e-3 * (1 + et32["parity"]["reference_max_abs"])
    check = {c["name"]: c for c in report["checks"]}["executorch_fp32_vs_onnx"]
    assert check["passed"] and check["actual"] == et32["parity"]["max_abs_diff"]
    # int8 is compared with the ExecuTorch fp32 program, the Q/DQ ONNX with the float ONNX
    # (random-weight SiLU/squeeze-excite nets are chaotic under int8: cosine 0.89 and 0.79 here, ~0.999 with real
    # weights; a broken scale or layout gives ~0)
    isa = f"on a CPU with {cpu_int8()[1]}"  # int8 kernels differ by instruction set: say which ran
    assert et8["parity"]["reference"] == "executorch_fp32" and et8["parity"]["cosine"] > 0.7, isa
    assert qdq["parity"]["reference"] == "onnx" and qdq["parity"]["cosine"] > 0.7, isa
    # the Q/DQ ONNX is in its CPU form: this CPU's kernels give what the model simulated in float gives (on an AVX2
    # CPU 8-bit weights fell to cosine 0.57 here while the simulation stayed high)
    assert abs(qdq["parity"]["cosine"] - qdq["details"]["simulated_qdq"]["cosine"]) < 0.05, (isa, qdq)
    # int8 weights (4× smaller) plus per-op scales and zero points that weigh on a model this small: 45 % (.pte) and
    # 65 % (Q/DQ ONNX) of float here, 27 % on Lite0
    assert et8["bytes"] < 0.6 * et32["bytes"] and qdq["bytes"] < 0.8 * (out / "model.onnx").stat().st_size
    for a in (et32, et8):  # the CLI prints each program's delegation, from report.json's numbers
        d = a["details"]["delegation"]
        line = f"{a['file']}: XNNPACK runs {d['delegated_ops']} ops in {d['partitions']} partition(s); "
        assert line + f"{d['portable_ops']} on portable kernels" in output.splitlines()


def test_delegation_is_reported_from_the_graph_and_the_file(converted):
    """The builder's delegation counts agree with what the .pte itself executes (its ops census)."""
    _, report, output = converted
    for name in ("executorch_fp32", "executorch_int8"):
        a = next(a for a in report["artifacts"] if a["name"] == name)
        d = a["details"]["delegation"]
        assert d["backend"] == "XnnpackBackend" and d["partitions"] >= 1 and d["delegated_ops"] > 20
        assert d["delegated_by_op"]["convolution.default"] > 10
        assert a["ops"].get("DELEGATE:XnnpackBackend") == d["partitions"]
        kernels = sum(n for op, n in a["ops"].items() if not op.startswith("DELEGATE:"))
        assert kernels == d["portable_ops"] + d["qdq_portable"]
        assert f"{a['file']}: XNNPACK runs {d['delegated_ops']} ops in {d['partitions']} partition(s)" in output
    int8 = next(a for a in report["artifacts"] if a["name"] == "executorch_int8")["details"]["delegation"]
    assert int8["qdq_delegated"] > 0  # PT2E's quantize/dequantize pairs, fused inside XNNPACK


def test_portable_ops_are_counted_and_warned(tmp_path):
    """An op XNNPACK does not take stays on portable kernels: counted in the graph and in the file's census."""
    import torch
    from edgenet.converters.executorch import export_pte, pte_census

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return torch.cumsum(self.conv(x), dim=1).mean((2, 3))

    data, info = export_pte(Net(), 8)
    census = pte_census(data)
    assert info.partitions >= 1 and info.delegated_by_op.get("convolution.default") == 1
    assert info.portable_by_op.get("cumsum.default") == 1 and info.portable_ops >= 1
    assert census.get("aten::cumsum.out") == 1 and census["DELEGATE:XnnpackBackend"] == info.partitions


def test_qdq_onnx_has_explicit_int8_nodes(converted):
    """What TensorRT 11 needs: QuantizeLinear/DequantizeLinear around every conv, symmetric (zero point 0)."""
    import onnx
    from onnx import numpy_helper

    out, report, _ = converted
    qdq = next(a for a in report["artifacts"] if a["name"] == "onnx_int8_qdq")
    m = onnx.load_model(str(out / qdq["file"]))
    float_convs = sum(n.op_type == "Conv" for n in onnx.load_model(str(out / "model.onnx")).graph.node)
    assert qdq["ops"]["Conv"] == float_convs and qdq["ops"]["QuantizeLinear"] >= float_convs
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    zero_points = [inits[n.input[2]] for n in m.graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 2]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)


def test_accuracy_of_every_runtime_in_the_report(converted):
    acc = converted[1]["accuracy"]
    for name in ("torch", "onnx", "executorch_fp32", "executorch_int8", "onnx_int8_qdq"):
        assert acc[name]["n"] == 24
    assert acc["executorch_fp32"]["top1"] == acc["onnx"]["top1"] == acc["torch"]["top1"]
    assert converted[1]["agreement"]["executorch_fp32"] == 1.0


def test_bench_executorch_latency_and_accuracy_in_the_db(converted, photos_dir, tmp_path):
    """`edgenet bench --backend executorch --eval-data`: rows in the db and the HTML report; the top-1 through the
    benchmarked runtime equals the conversion's own scoring of the same file."""
    out, report, _ = converted
    db = tmp_path / "r.sqlite"
    files = [str(out / "model_fp32.pte"), str(out / "model_int8.pte"), str(out / "model_fp32.tflite")]
    args = ["bench", *files, "--threads", "1,2", "--warmup", "1", "--runs", "3", "--eval-data", str(photos_dir)]
    res = CliRunner().invoke(cli, [*args, "--db", str(db), "--json", "-q"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [(r["backend"], r["precision"], r["threads"]) for r in rows] == [
        ("executorch", "fp32", 1),
        ("executorch", "fp32", 2),
        ("executorch", "int8", 1),
        ("executorch", "int8", 2),
        ("tflite", "fp32", 1),
        ("tflite", "fp32", 2),
    ]
    for r in rows:
        assert r["delegate"] == "xnnpack" and r["latency_ms"]["p50"] > 0 and r["eval_samples"] == 24
    acc = report["accuracy"]
    assert rows[0]["top1"] == pytest.approx(100 * acc["executorch_fp32"]["top1"])  # bench: %, report: fraction
    assert rows[2]["top1"] == pytest.approx(100 * acc["executorch_int8"]["top1"])
    html = tmp_path / "r.html"
    res = CliRunner().invoke(cli, ["report", "--db", str(db), "--out", str(html)])
    assert res.exit_code == 0, res.output
    assert "executorch" in html.read_text()


def test_a_corrupt_pte_is_one_line(converted, tmp_path):
    from edgenet.artifacts.runtime import runner_for

    out, _, _ = converted
    bad = tmp_path / "model_fp32.pte"
    bad.write_bytes((out / "model_fp32.pte").read_bytes()[:2000])
    with pytest.raises(EdgenetError, match="ExecuTorch cannot load this program"):
        runner_for(bad)


def test_a_wrong_pte_fails_verification(converted, monkeypatch, tmp_path, shrunk_b0, photos_dir):
    """Verification can fail: a program whose weights differ from the ONNX model's is refused, nothing published."""
    import edgenet.converters.executorch as et

    real = et.export_pte

    def perturbed(model, resolution, samples=None, progress=None):
        import copy

        import torch

        model = copy.deepcopy(model)
        with torch.no_grad():
            next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d)).weight.mul_(1.5)
        return real(model, resolution, samples, progress)

    monkeypatch.setattr(et, "export_pte", perturbed)
    args = ["convert", "--checkpoint", str(shrunk_b0), "--executorch", "--calib-data", str(photos_dir)]
    args += ["--accept-low-fidelity"]  # random weights: the int8 program's fidelity floor would fail first
    res = CliRunner().invoke(cli, [*args, "--calib-samples", "8", "--out", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 3 and "executorch_fp32_vs_onnx failed" in res.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not no_cuda(), reason="the no-GPU error path")
def test_tensorrt_without_a_gpu_is_one_line(converted, shrunk_b0, tmp_path):
    """--tensorrt builds the Q/DQ ONNX and says why there are no engines; asking for an engine, building or
    benchmarking one, fails at once with one line."""
    from edgenet.converters.pipeline import ConvertOptions, convert

    from edgenet.loading import load_model

    out, report, output = converted
    notes = [w for w in report["warnings"] if w.startswith("--tensorrt: built the Q/DQ int8 ONNX only")]
    assert len(notes) == 1 and "no CUDA GPU" in notes[0]
    assert "note: --tensorrt: built the Q/DQ int8 ONNX only" in output
    loaded = load_model(checkpoint=shrunk_b0)
    for kind in ("tensorrt_fp16", "tensorrt_int8"):
        with pytest.raises(EdgenetError, match="no CUDA GPU here; pip install 'edgenet\\[tensorrt\\]'"):
            convert(loaded, ConvertOptions(out=tmp_path / kind, kinds=(kind,)))
        assert not (tmp_path / kind).exists()
    res = CliRunner().invoke(cli, ["bench", str(out / "model.onnx"), "--backend", "tensorrt"])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "--backend tensorrt: TensorRT engines are built on and for an NVIDIA GPU" in res.stderr
    engine = tmp_path / "model_int8.engine"
    engine.write_bytes(b"\0" * 64)  # TensorRT documents no file signature: the name says it is an engine
    res = CliRunner().invoke(cli, ["bench", str(engine)])
    assert res.exit_code == 2 and f"{engine}: TensorRT engines are built" in res.stderr


@pytest.mark.gpu
@pytest.mark.skipif(no_cuda(), reason="needs CUDA")
def test_tensorrt_engines_on_a_gpu(shrunk_b0, photos_dir, tmp_path):
    """On a GPU with tensorrt: fp16 and int8 engines, verified against ONNX, benchmarked on the GPU."""
    pytest.importorskip("tensorrt")
    out = tmp_path / "out"
    args = ["convert", "--checkpoint", str(shrunk_b0), "--tensorrt", "--calib-data", str(photos_dir)]
    res = CliRunner().invoke(cli, [*args, "--calib-samples", "24", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    arts = {a["name"]: a for a in json.loads((out / "report.json").read_text())["artifacts"]}
    assert {"onnx_int8_qdq", "tensorrt_fp16", "tensorrt_int8"} <= set(arts)
    assert arts["tensorrt_fp16"]["parity"]["cosine"] > 0.99 and arts["tensorrt_int8"]["parity"]["cosine"] > 0.9
    res = CliRunner().invoke(cli, ["bench", str(out / "model_fp16.engine"), "--runs", "5", "--json", "-q"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)
    assert row["backend"] == "tensorrt" and row["device"] == "cuda"


def test_pte_is_recognised_by_its_bytes(converted, tmp_path):
    from edgenet.device_bench.modelinfo import inspect_model, sniff_format

    out, report, _ = converted
    renamed = tmp_path / "program.bin"
    renamed.write_bytes((out / "model_int8.pte").read_bytes())
    assert sniff_format(renamed) == "pte"
    info = inspect_model(out / "model_int8.pte")
    assert (info.format, info.precision, info.input_shape, info.num_outputs) == ("pte", "int8", (1, 3, 32, 32), 3)
    assert info.labels == report["classes"] and info.preprocess.resolution == 32


def test_ort_kinds_from_the_command_line(shrunk_b0, photos_dir, tmp_path):
    """`--kinds …,ort_fp32,ort_int8`: ONNX Runtime Mobile files, checked against the float ONNX, in report.json."""
    out = tmp_path / "ort"
    kinds = "onnx_int8_qdq,ort_fp32,ort_int8"
    args = ["convert", "--checkpoint", str(shrunk_b0), "--kinds", kinds, "--calib-data", str(photos_dir)]
    args += ["--accept-low-fidelity"]  # random weights: int8 far below the trained-model floor (see above)
    res = CliRunner().invoke(cli, [*args, "--calib-samples", "24", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    arts = {a["name"]: a for a in report["artifacts"]}
    assert list(arts) == ["fp32", "onnx_int8_qdq", "ort_fp32", "ort_int8"]
    for name in ("ort_fp32", "ort_int8"):
        a = arts[name]
        assert a["runtime"] == "ort" and a["parity"]["reference"] == "onnx"
        assert (out / a["file"]).read_bytes()[4:8] == b"ORTM"  # the ORT format's flatbuffer identifier
    check = {c["name"]: c for c in report["checks"]}["ort_fp32_vs_onnx"]
    assert check["passed"] and arts["ort_fp32"]["parity"]["max_abs_diff"] < 1e-4 * (
        1 + arts["ort_fp32"]["parity"]["reference_max_abs"]
    )
    # the .ort int8 is the Q/DQ ONNX of the same run in ONNX Runtime Mobile's format: the same logits (cosine 0.75 vs
    # float on this chaotic random-weight net, see above; a broken conversion would not match the Q/DQ model)
    ort8, qdq = arts["ort_int8"]["parity"], arts["onnx_int8_qdq"]["parity"]
    assert ort8["cosine"] == pytest.approx(qdq["cosine"], rel=1e-3) and ort8["cosine"] > 0.6
    assert ort8["max_abs_diff"] == pytest.approx(qdq["max_abs_diff"], rel=1e-2)
    # int8 weights plus per-op scales that weigh on a model this small: 82 % of float here, 27 % on pretrained Lite0
    assert arts["ort_int8"]["bytes"] < 0.9 * arts["ort_fp32"]["bytes"] and arts["ort_int8"]["input_dtype"] == "float32"
    res = CliRunner().invoke(cli, ["convert", "--checkpoint", str(shrunk_b0), "--kinds", "ort_fp64", "-q"])
    assert res.exit_code == 2 and "artefact kind ort_fp64: unknown; choose one of" in res.stderr
    assert "ort_int8" in res.stderr
