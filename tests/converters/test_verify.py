import numpy as np
import pytest
from edgenet.converters.verify import Check, compare, raise_on_failures, tolerance_check

from edgenet.errors import VerificationError


def test_compare_metrics():
    ref = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    p = compare("fp32", ref, ref * 2)
    assert p.max_abs_diff == 3.0 and p.top1_agreement == 1.0 and p.cosine == pytest.approx(1.0)
    p = compare("fp32", ref, ref[:, ::-1])
    assert p.top1_agreement == 0.0 and p.cosine == pytest.approx(10 / 14)


def test_tolerance_scales_with_logits():
    ref = np.array([[20.0, 0.0]])
    p = compare("onnx", ref, ref + 0.015)
    assert tolerance_check("x", p, ref, 1e-3, 1e-3).passed  # 0.015 <= 0.001 + 0.02
    assert not tolerance_check("x", p, ref / 20, 1e-3, 1e-3).passed


def test_raise_names_first_failure_and_counts_the_rest():
    checks = [Check("a", "<= 1", 0.5, True), Check("b", "<= 1", 5.0, False), Check("c", ">= 1", 0.0, False)]
    with pytest.raises(VerificationError, match=r"check b failed: 5.*\+1 more"):
        raise_on_failures("stage", checks)
    raise_on_failures("stage", checks[:1])
