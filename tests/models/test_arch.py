"""Stage strings decode strictly, and the registry refuses to be silently overwritten."""

import pytest

from edgenet.models import Variant, get_variant, list_models
from edgenet.models.arch import (
    EFFICIENTNET_B0,
    EFFICIENTNET_EDGETPU,
    EFFICIENTNET_LITE,
    StageArgs,
    decode_arch,
    decode_stage,
)
from edgenet.models.registry import register


def test_decode_mbconv_stage():
    assert decode_stage("ir_r2_k5_s2_e6_c40_se0.25") == StageArgs(
        block="ir", repeats=2, kernel=5, stride=2, expand=6.0, channels=40, se_ratio=0.25
    )


def test_decode_fused_stage_with_forced_in_channels_and_noskip():
    s = decode_stage("er_r1_k3_s1_e4_c24_fc24_noskip")
    assert (s.block, s.expand, s.channels, s.force_in_channels, s.skip, s.se_ratio) == ("er", 4.0, 24, 24, False, 0.0)


def test_b0_table_is_the_paper_table():
    stages = decode_arch(EFFICIENTNET_B0)
    assert [(s.block, s.repeats, s.kernel, s.stride, s.expand, s.channels) for s in stages] == [
        ("ds", 1, 3, 1, 1, 16),
        ("ir", 2, 3, 2, 6, 24),
        ("ir", 2, 5, 2, 6, 40),
        ("ir", 3, 3, 2, 6, 80),
        ("ir", 3, 5, 1, 6, 112),
        ("ir", 4, 5, 2, 6, 192),
        ("ir", 1, 3, 1, 6, 320),
    ]
    assert all(s.se_ratio == 0.25 for s in stages)
    assert all(s.se_ratio == 0 for s in decode_arch(EFFICIENTNET_LITE))
    assert [s.block for s in decode_arch(EFFICIENTNET_EDGETPU)] == ["er", "er", "er", "ir", "ir", "ir"]


@pytest.mark.parametrize(
    "spec, match",
    [
        ("ir_r2_k3_s2_e6_c24_x5", "unknown token 'x5'"),
        ("ir_r2_k3_s2_e6_c24_se", "unknown token 'se'"),
        ("ir_r2_k3_s2_e6_c24_", "unknown token ''"),
        ("zz_r1_k3_s1_e1_c16", "unknown block type 'zz'"),
        ("IR_r1_k3_s1_e1_c16", "unknown block type 'IR'"),
        ("ir_r2_r3_k3_s2_e6_c24", "token 'r' given twice"),
        ("ir_r2_k3_s2_e6", r"missing \['c'\]"),
    ],
)
def test_bad_stage_strings_are_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        decode_stage(spec)


@pytest.mark.parametrize("name", ["efficientnet_b0", "b0", "edgetpu-s"])
def test_duplicate_registration_is_an_error(name):
    before = list_models()
    variant = Variant(name, 224, get_variant("b0").config)
    with pytest.raises(ValueError, match="already registered"):
        register(variant)
    # an alias colliding with a taken name is refused too, and nothing is half-registered
    with pytest.raises(ValueError, match="already registered"):
        register(Variant("brand_new_variant", 224, get_variant("b0").config, aliases=(name,)))
    assert list_models() == before
    assert get_variant("b0").name == "efficientnet_b0"
