"""The two rounding rules and compound scaling, against the channel and layer counts the reference publishes."""

import math
import re

import pytest
import torch

from edgenet.models import create_model
from edgenet.scaling import compound_scale, round_channels, round_repeats

B0_CHANNELS = [16, 24, 40, 80, 112, 192, 320]
B0_REPEATS = [1, 2, 2, 3, 3, 4, 1]

# (width, depth) -> (stem, stage channels, stage repeats, head) of the reference implementation / timm's models.
PUBLISHED = {
    "efficientnet_b0": (32, B0_CHANNELS, B0_REPEATS, 1280),
    "efficientnet_b4": (48, [24, 32, 56, 112, 160, 272, 448], [2, 4, 4, 6, 6, 8, 2], 1792),
    "efficientnet_b5": (48, [24, 40, 64, 128, 176, 304, 512], [3, 5, 5, 7, 7, 9, 3], 2048),
    "efficientnet_b7": (64, [32, 48, 80, 160, 224, 384, 640], [4, 7, 7, 10, 10, 13, 4], 2560),
    # Lite: stem and head fixed, first and last stage keep one block.
    "efficientnet_lite4": (32, [24, 32, 56, 112, 160, 272, 448], [1, 4, 4, 6, 6, 8, 1], 1280),
}
MULTS = {"efficientnet_b0": (1.0, 1.0), "efficientnet_b4": (1.4, 1.8), "efficientnet_b5": (1.6, 2.2)}
MULTS |= {"efficientnet_b7": (2.0, 3.1)}


@pytest.mark.parametrize("name", ["efficientnet_b4", "efficientnet_b5", "efficientnet_b7"])
def test_rounding_rules_give_published_counts(name):
    stem, channels, repeats, head = PUBLISHED[name]
    w, d = MULTS[name]
    assert [round_channels(c, w) for c in B0_CHANNELS] == channels
    assert [round_repeats(r, d) for r in B0_REPEATS] == repeats
    assert (round_channels(32, w), round_channels(1280, w)) == (stem, head)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_builder_uses_the_rules(name):
    with torch.device("meta"):
        m = create_model(name)
    stem, channels, repeats, head = PUBLISHED[name]
    assert m.stem.conv.out_channels == stem
    assert [len(s) for s in m.stages] == repeats
    assert [s[-1].project.conv.out_channels for s in m.stages] == channels
    assert m.head.conv.out_channels == head


def test_round_channels_edges():
    assert round_channels(1) == 8  # never below one divisor
    assert round_channels(11) == 16  # 8 would lose more than 10 %, so round up
    assert round_channels(12) == 16  # nearest multiple (ties go up)
    assert round_channels(17) == 16  # nearest multiple keeps more than 90 %
    assert round_channels(19.9) == 24  # nearest is 16, but that is only 80 % of 19.9
    assert round_channels(36) == 40
    assert round_channels(24, 1.0, divisor=16) == 32
    assert all(round_channels(c, m) % 8 == 0 for c in range(1, 200, 7) for m in (0.5, 1.1, 1.8))


def test_round_repeats_is_ceil():
    assert [round_repeats(r, 1.1) for r in B0_REPEATS] == [2, 3, 3, 4, 4, 5, 2]
    assert round_repeats(3, 1.0) == 3
    assert round_repeats(3, 1.34) == 5  # 4.02 -> 5: a deeper model never loses a layer
    assert round_repeats(5, 0.5) == 3


def test_compound_scale_phi_1():
    cs = compound_scale(1)
    assert (cs.depth_mult, cs.width_mult, cs.resolution_mult) == (1.2, 1.1, 1.15)
    assert cs.resolution == 256  # 224 × 1.15 = 257.6 -> nearest multiple of 8
    assert cs.flops_factor == pytest.approx(1.2 * 1.1**2 * 1.15**2)


def test_compound_scale_any_phi_and_overrides():
    cs = compound_scale(1.5)
    assert cs.depth_mult == pytest.approx(1.2**1.5, abs=1e-6)
    assert cs.width_mult == pytest.approx(1.1**1.5, abs=1e-6)
    assert cs.resolution == 280  # 224 × 1.15^1.5 = 276.2 -> 280
    base = compound_scale(0)
    assert (base.depth_mult, base.width_mult, base.resolution) == (1.0, 1.0, 224)
    custom = compound_scale(2, alpha=1.5, beta=1.0, gamma=1.0, base_resolution=320)
    assert (custom.depth_mult, custom.width_mult, custom.resolution) == (2.25, 1.0, 320)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(phi=-0.5), "phi"),
        (dict(phi=math.nan), "phi"),
        (dict(phi=math.inf), "phi"),
        (dict(phi=1, alpha=0.9), "alpha"),
        (dict(phi=1, beta=0.0), "beta"),
        (dict(phi=1, gamma=math.nan), "gamma"),
    ],
)
def test_compound_scale_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compound_scale(**kwargs)


@pytest.mark.parametrize(
    "phi, alpha, beta, gamma, phrase",
    [
        (6, 5, 1.1, 1.15, "depth multiplier 5^6"),  # before: 300 s and 5.3 GB building the network
        (10, 10, 10, 1.15, "depth multiplier 10^10"),  # before: an overflow
        (10, 1.2, 1.2, 1.15, "width multiplier 1.2^10"),
        (10, 1.2, 1.1, 2, "resolution multiplier 2^10"),
        (10, 1e300, 1.1, 1.15, "depth multiplier 1e+300^10"),  # the power itself would overflow a float
    ],
)
def test_the_result_of_scaling_is_bounded_not_only_phi(phi, alpha, beta, gamma, phrase):
    """Issue 26.7: refused at once, in one line, with the base to lower."""
    from edgenet.errors import EdgenetError

    with pytest.raises(EdgenetError, match=re.escape(phrase)) as e:
        compound_scale(phi, alpha, beta, gamma)
    assert isinstance(e.value, ValueError) and "\n" not in str(e.value)


def test_a_scaled_base_beyond_the_bounds_is_refused_where_it_is_built():
    from edgenet.errors import EdgenetError

    with pytest.raises(EdgenetError, match=r"depth multiplier 9.2\d+: must be greater than 0 and at most 8"):
        create_model("efficientnet_b7+phi:6")
    assert compound_scale(10).depth_mult == pytest.approx(1.2**10, rel=1e-6)  # φ ≤ 10 on B0 still builds
