"""``edgenet --version``, ``models`` and ``scale`` through click's runner: output contracts and usage errors."""

import json
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

import edgenet
from edgenet.cli.main import cli
from edgenet.models import create_model, get_variant, list_models
from edgenet.profile import count_params, profile_variant

MODELS_KEYS = ["name", "resolution", "width_mult", "depth_mult", "dropout", "params", "macs"]
SCALE_KEYS = ["phi", "depth_mult", "width_mult", "resolution", "params", "macs"]


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def assert_usage_error(result, *fragments: str) -> None:
    """Exit 2, the reason on stderr, and no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in result.stderr, result.stderr


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"edgenet, version {edgenet.__version__}"


def heavy_imports(args: list[str], expect: str) -> str:
    """Run ``edgenet ARGS`` in a fresh interpreter; the heavy frameworks it imported (as a printed list)."""
    code = (
        "import sys; from click.testing import CliRunner; from edgenet.cli.main import cli\n"
        f"r = CliRunner().invoke(cli, {args!r}); assert r.exit_code == 0 and {expect!r} in r.output\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'tensorflow', 'timm', 'onnx'}))"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_help_is_instant():
    """The root group and --help import no torch/tensorflow: commands load lazily."""
    assert heavy_imports(["--help"], "import-weights") == "[]"


@pytest.fixture(scope="module")
def models_json():
    r = invoke("models", "--json")  # profiles all 16 variants: the one full run in this file
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.mark.slow
def test_models_json_contract(models_json):
    assert [row["name"] for row in models_json] == list_models()
    for row in models_json:
        assert list(row) == MODELS_KEYS
        v = get_variant(row["name"])
        assert (row["resolution"], row["width_mult"], row["depth_mult"], row["dropout"]) == (
            v.resolution,
            v.width_mult,
            v.depth_mult,
            v.dropout,
        )
        with torch.device("meta"):
            assert row["params"] == count_params(create_model(v))
        assert isinstance(row["macs"], int) and row["macs"] > 0
    by_name = {row["name"]: row for row in models_json}
    assert by_name["efficientnet_b0"]["params"] == 5_288_548
    assert by_name["efficientnet_b7"]["macs"] / 1e9 == pytest.approx(37, rel=0.05)


def test_models_table():
    r = invoke("models")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["name", "res", "width", "depth", "dropout", "params", "MACs"]
    assert lines[2].split() == ["efficientnet_b0", "224", "1", "1", "0.2", "5.29M", "385.81M"]
    assert [line.split()[0] for line in lines[2:]] == list_models()


def test_models_is_instant():
    """7.5 s before (every variant recounted); now a table read without importing torch."""
    assert heavy_imports(["models"], "efficientnet_b8") == "[]"


FAST_VARIANTS = ("efficientnet_b0", "efficientnet_lite0", "efficientnet_edgetpu_s")  # the rest: slow tier (5 s)


@pytest.mark.parametrize(
    "name", [n if n in FAST_VARIANTS else pytest.param(n, marks=pytest.mark.slow) for n in list_models()]
)
def test_cached_counts_equal_the_counter(name):
    """edgenet/models_table.py is what the counter says for every registered variant (regenerate it with
    ``python -m edgenet.profile`` after changing the registry)."""
    from edgenet.models_table import TABLE
    from edgenet.profile import table_row

    assert list(TABLE) == list_models()
    assert TABLE[name] == table_row(name)


@pytest.mark.parametrize("name, classes", [("efficientnet_b0", 10), ("efficientnet_lite4", 1), ("edgetpu_l", 37)])
def test_any_class_count_is_exact(name, classes):
    r = invoke("models", "--json", "--num-classes", str(classes))
    assert r.exit_code == 0, r.output
    row = {m["name"]: m for m in json.loads(r.stdout)}[get_variant(name).name]
    ref = profile_variant(name, num_classes=classes)
    assert (row["params"], row["macs"]) == (ref.params, ref.macs)


def test_scale_phi_1_json():
    r = invoke("scale", "--phi", "1", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert list(d) == SCALE_KEYS
    assert (d["phi"], d["depth_mult"], d["width_mult"], d["resolution"]) == (1.0, 1.2, 1.1, 256)
    ref = profile_variant("phi:1")  # the registry's φ variant: same rule, built independently of the command
    assert (d["params"], d["macs"]) == (ref.params, ref.macs)
    assert 1.5 < d["macs"] / profile_variant("b0").macs < 2.5  # ≈ (α·β²·γ²)^1 = 1.92 after rounding


def test_scale_text_and_overrides():
    r = invoke("scale", "--phi", "2", "--alpha", "1.3", "--beta", "1.0", "--gamma", "1.0")
    assert r.exit_code == 0, r.output
    assert "depth multiplier       1.6900" in r.stdout
    assert "width multiplier       1.0000" in r.stdout
    assert "-> 224 px" in r.stdout


def test_scale_unknown_base_lists_models():
    r = invoke("scale", "--phi", "1", "--base", "efficientnet_b9")
    assert_usage_error(r, "error: unknown model 'efficientnet_b9'", *list_models())
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--phi", "-1"], "Invalid value for '--phi'"),
        (["--phi", "abc"], "'abc' is not a valid float"),
        (["--phi", "nan"], "Invalid value for '--phi'"),
        (["--phi", "inf"], "Invalid value for '--phi'"),
        ([], "Missing option '--phi'"),
        (["--phi", "1", "--alpha", "0.5"], "Invalid value for '--alpha'"),
        (["--phi", "1", "--beta", "nan"], "Invalid value for '--beta'"),
        (["--phi", "1", "--gamma", "x"], "Invalid value for '--gamma'"),
    ],
)
def test_scale_bad_phi_is_a_usage_error(args, fragment):
    assert_usage_error(invoke("scale", *args), "Usage:", fragment)
