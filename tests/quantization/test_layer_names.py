"""TorchScript ONNX node names → EfficientNet stage/block/part, and torch module names → --keep-float labels."""

from __future__ import annotations

import pytest
from edgenet.quantization.fixes import model_layers
from edgenet.quantization.layer_names import locate, module_path


@pytest.mark.parametrize(
    ("node", "path"),
    [
        ("/stages.3/stages.3.1/depthwise/conv/Conv", "stages.3.1.depthwise.conv"),
        ("/stages.1/stages.1.0/se/reduce/Conv", "stages.1.0.se.reduce"),
        ("/stages.1/stages.1.1/Add", "stages.1.1"),
        ("/stem/conv/Conv", "stem.conv"),
        ("/classifier/Gemm", "classifier"),
        ("/Flatten", ""),
    ],
)
def test_module_path(node, path):
    assert module_path(node) == path


@pytest.mark.parametrize(
    ("node", "layer", "stage", "block", "part"),
    [
        ("/stages.3/stages.3.1/depthwise/act/Clip", "stages.3.1.depthwise", 3, 1, "depthwise"),
        ("/stages.5/stages.5.12/se/Sigmoid", "stages.5.12.se", 5, 12, "se"),  # two-digit blocks (B7)
        ("/stages.1/stages.1.1/Add", "stages.1.1.residual", 1, 1, "residual"),
        ("/stem/act/Mul", "stem", None, None, "stem"),
        ("/head/conv/Conv", "head", None, None, "head"),
        ("/pool/GlobalAveragePool", "pool", None, None, "pool"),
        ("/Flatten", "flatten", None, None, "flatten"),
    ],
)
def test_locate(node, layer, stage, block, part):
    loc = locate(node)
    assert (loc.layer, loc.stage, loc.block, loc.part, loc.onnx_node) == (layer, stage, block, part, node)


def test_model_layers_follow_execution_order_with_residuals_after_their_block():
    from edgenet.models import create_model

    labels = model_layers(create_model("b0", num_classes=3))
    assert labels[:5] == ["stem", "stages.0.0.depthwise", "stages.0.0.se", "stages.0.0.project", "stages.1.0.expand"]
    i = labels.index("stages.1.1.residual")
    assert labels[i - 1] == "stages.1.1.project" and "stages.1.0.residual" not in labels  # 1.0 changes width
    assert labels[-3:] == ["head", "pool", "classifier"] and "dropout" not in labels
    assert len(set(labels)) == len(labels)
