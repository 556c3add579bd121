"""Scaling files and the ``[BASE+]phi:F[@FILE]`` model spec: custom constants reach every command."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgenet.cli.main import cli
from edgenet.errors import EdgenetError
from edgenet.models import create_model, get_variant
from edgenet.scaling import Scaling, compound_scale, load_scaling, save_scaling


def test_round_trip_and_spec_use_the_files_constants(tmp_path):
    f = tmp_path / "scaling.json"
    save_scaling(f, Scaling(1.3, 1.05, 1.1, "efficientnet_b0"), found_by={"val_top1": 50.0})
    assert load_scaling(f) == Scaling(1.3, 1.05, 1.1, "efficientnet_b0")
    v = get_variant(f"phi:2@{f}")
    cs = compound_scale(2, 1.3, 1.05, 1.1)
    assert (v.depth_mult, v.width_mult, v.resolution) == (cs.depth_mult, cs.width_mult, cs.resolution)
    assert v.name == f"phi:2@{f}"  # a checkpoint names the constants that built it
    assert get_variant("phi:2").depth_mult == compound_scale(2).depth_mult  # the paper's without a file


def test_base_prefix_keeps_the_family_options():
    lite = get_variant("lite0+phi:1")
    assert lite.name == "lite0+phi:1"
    assert lite.config.fix_stem_head and lite.config.act == "relu6" and lite.width_mult == 1.1
    assert get_variant("edgetpu_s+phi:0").config == get_variant("edgetpu_s").config
    assert create_model("lite0+phi:0.5", num_classes=3).config.num_classes == 3
    assert get_variant("phi:0").config == get_variant("b0").config  # φ = 0 is the base itself


def test_base_from_the_file(tmp_path):
    f = tmp_path / "s.json"
    save_scaling(f, Scaling(1.2, 1.1, 1.15, "efficientnet_lite0"))
    assert get_variant(f"phi:1@{f}").config.fix_stem_head


@pytest.mark.parametrize(
    "content, fragment",
    [
        (None, "scaling file not found"),
        ("{oops", "not a readable scaling file"),
        (json.dumps({"alpha": 1.2}), "not an edgenet scaling file"),
        (json.dumps({"format": "edgenet.scaling", "alpha": 0.5, "beta": 1, "gamma": 1}), "alpha must be"),
        (json.dumps({"format": "edgenet.scaling", "beta": 1, "gamma": 1}), "bad scaling constants"),
    ],
)
def test_bad_scaling_files_are_one_line_naming_the_file(tmp_path, content, fragment):
    f = tmp_path / "s.json"
    if content is not None:
        f.write_text(content)
    with pytest.raises(EdgenetError) as e:
        get_variant(f"phi:1@{f}")
    assert fragment in str(e.value) and str(f) in str(e.value) and "\n" not in str(e.value)
    assert "scale search" in str(e.value)  # and how to make a good one


@pytest.mark.parametrize("spec, fragment", [("b9+phi:1", "not a registered variant"), ("phi:x", "must be a number")])
def test_bad_specs(spec, fragment):
    with pytest.raises(EdgenetError, match=fragment):
        get_variant(spec)


def test_scale_reads_a_scaling_file(tmp_path):
    f = tmp_path / "s.json"
    save_scaling(f, Scaling(1.3, 1.0, 1.0, "efficientnet_lite0"))
    r = CliRunner().invoke(cli, ["scale", "--phi", "2", "--scaling", str(f)])
    assert r.exit_code == 0, r.output
    assert "from efficientnet_lite0 (α=1.3, β=1, γ=1;" in r.stdout
    assert "depth multiplier       1.6900" in r.stdout and "-> 224 px" in r.stdout
    r = CliRunner().invoke(cli, ["scale", "--phi", "2", "--scaling", str(f), "--alpha", "1.1"])
    assert "α=1.1," in r.stdout  # an explicit option beats the file
    r = CliRunner().invoke(cli, ["scale", "--phi", "1", "--scaling", str(tmp_path / "none.json")])
    assert r.exit_code == 2 and "scaling file not found" in r.stderr
