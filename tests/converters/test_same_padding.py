"""TF "SAME"-padded models (every timm ``tf_*`` / lukemelas port: Lite, EdgeTPU, TF B0) convert exactly (issue 11).

The padding used to reach ONNX as a Shape→Gather→Div→Cast subgraph per conv (and PyTorch's Pad symbolic
as a ConstantOfShape/Concat/Slice chain): onnxslim folded it to wrong pads (|Δ| 3.3 on a real Lite0) and onnx2tf
mis-read it (a 113-wide tensor where 112 was due). Now every Pad holds constant pads; these tests check the graph
and then the whole conversion at native and odd resolutions, with and without simplification.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from edgenet.converters.onnx_export import export_onnx
from edgenet.converters.pipeline import ConvertOptions, convert
from edgenet.converters.verify import compare
from helpers import realistic_bn
from photos import LABELS, PLAUSIBLE

from edgenet.artifacts.runtime import OnnxRunner, TFLiteRunner, TorchRunner
from edgenet.loading import LoadedModel, load_model
from edgenet.weights import config_for_format

TF_PORTS = {"lite0": 224, "edgetpu_s": 224, "b0": 224}  # the family members with TF-ported weights


def _same_padded(name: str, res: int, photos) -> LoadedModel:
    """A SAME-padded network with trained-like activations: real Lite0 weights, else realistic BN statistics."""
    if name == "lite0":
        return load_model("lite0", pretrained=True, img_size=res)
    torch.manual_seed(0)
    loaded = load_model(name, num_classes=10, img_size=res, **config_for_format("timm-tf"))
    realistic_bn(loaded.model, photos, res)
    return loaded


def _photos(loaded: LoadedModel, folder, n: int) -> np.ndarray:
    """``n`` real photos in the model's own preprocessing (inputs like those it will see)."""
    return np.stack([loaded.preprocess(p) for p in sorted(folder.rglob("*.jpg"))[::3][:n]])


def _pad_inputs_are_constant(proto: onnx.ModelProto) -> bool:
    constants = {i.name for i in proto.graph.initializer}
    constants |= {o for n in proto.graph.node if n.op_type == "Constant" for o in n.output}
    return all(n.input[1] in constants for n in proto.graph.node if n.op_type == "Pad")


@pytest.mark.parametrize(
    "name,res",
    # the fast tier's case: the real Lite0 at an odd size; the rest are slow (~15 s each)
    [
        (n, r) if (n, r) == ("lite0", 97) else pytest.param(n, r, marks=pytest.mark.slow)
        for n in TF_PORTS
        for r in (97, 225)
    ],
)
def test_onnx_holds_constant_pads(name, res, photos_dir, tmp_path):
    loaded = _same_padded(name, res, photos_dir)
    assert loaded.model.config.same_padding
    x = _photos(loaded, photos_dir, 4)
    ref = TorchRunner(loaded.model)(x)
    assert np.abs(ref).max() > 1  # trained-like logits, so a wrong pad cannot hide in rounding noise
    for simplify in (False, True):
        path = tmp_path / f"slim{simplify}.onnx"
        export_onnx(loaded.model, res, path, simplify=simplify)
        proto = onnx.load(str(path))
        ops = {n.op_type for n in proto.graph.node}
        assert not ops & {"Shape", "Gather", "ConstantOfShape", "Div", "Cast"}, ops  # no run-time shape arithmetic
        assert _pad_inputs_are_constant(proto)
        if not simplify:  # one Pad per stride-2 conv whose SAME padding is not symmetric
            assert "Pad" in ops
        out = OnnxRunner(path)(x)
        assert np.abs(ref - out).max() <= 1e-4 + 1e-4 * np.abs(ref).max(), simplify


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,res,simplify",
    [(n, TF_PORTS[n], True) for n in sorted(TF_PORTS)]
    + [(n, 225, False) for n in sorted(TF_PORTS)]
    + [(n, 97, True) for n in sorted(TF_PORTS)],
)
def test_same_padded_converts(name, res, simplify, photos_dir, tmp_path):
    """fp32 and full-int8, every stage within the pipeline's tolerances (a failed check raises)."""
    loaded = _same_padded(name, res, photos_dir)
    opts = ConvertOptions(out=tmp_path / "out", int8=True, calib_data=photos_dir, calib_samples=16, simplify=simplify)
    report = convert(loaded, opts)
    assert all(c.passed for c in report.checks)
    fp32, int8 = report.artifacts
    # relative to the logits' scale (up to ~300 here): a wrong pad errs by O(1) of it, float reordering by ~1e-6
    assert fp32.parity.max_abs_diff <= 1e-4 * max(1.0, fp32.parity.reference_max_abs)
    assert fp32.parity.top1_agreement == 1.0
    assert int8.full_integer and np.isfinite(int8.parity.cosine)
    if name == "lite0":  # real weights keep their answers under int8; random SiLU/SE networks are chaotic under
        assert int8.parity.cosine > 0.98  # int8 whatever the graph (cosine 0.47–0.61 for b0 here), so only fp32
        # parity above can tell their padding apart (int8 runs the same TF graph as fp32)
    assert all(a.transpose_ops == 0 for a in report.artifacts)


@pytest.mark.slow
def test_pretrained_lite0_int8_recognises_real_photos(photos_dir, tmp_path):
    """The real ImageNet Lite0, converted to full-int8, still names what is in three real photos."""
    loaded = load_model("lite0", pretrained=True)
    out = tmp_path / "out"
    convert(loaded, ConvertOptions(out=out, int8=True, calib_data=photos_dir, calib_samples=24))
    pre = loaded.preprocess
    names = list(LABELS)
    x = np.stack([pre(next((photos_dir / LABELS[n]).glob("*_0.jpg"))) for n in names])
    for runner in (
        TorchRunner(loaded.model),
        TFLiteRunner(out / "model_fp32.tflite"),
        TFLiteRunner(out / "model_int8.tflite"),
    ):
        top5 = np.argsort(-runner(x), axis=1)[:, :5]
        for name, row in zip(names, top5):
            assert PLAUSIBLE[name] & set(row.tolist()), (name, row)
    int8_vs_fp32 = compare(
        "fp32", TFLiteRunner(out / "model_fp32.tflite")(x), TFLiteRunner(out / "model_int8.tflite")(x)
    )
    assert int8_vs_fp32.cosine > 0.98  # (top-1 may swap two cat breeds a few points apart; top-5 checked above)
