"""`edgenet convert` from the command line: bad input gives one line and a non-zero exit; --json is the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import one_line_error

from edgenet.cli.main import cli


def run(*args: str):
    return CliRunner().invoke(cli, ["convert", *args])


@pytest.fixture(scope="module")
def lite0_ckpt(tmp_path_factory):
    from edgenet.checkpoint import checkpoint_from_model, save_checkpoint
    from edgenet.models import create_model

    path = tmp_path_factory.mktemp("ckpt") / "lite0.pt"
    save_checkpoint(path, checkpoint_from_model(create_model("lite0", num_classes=3), classes=["a", "b", "c"]))
    return path


def test_unknown_model_lists_names():
    res = run("--model", "b9")
    assert res.exit_code == 2
    one_line_error(res, "unknown model 'b9'", "efficientnet_b0", "efficientnet_lite4")


def test_missing_and_corrupt_checkpoint(tmp_path):
    one_line_error(run("--checkpoint", str(tmp_path / "nope.pt")), "nope.pt", "not found")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00garbage" * 10)
    one_line_error(run("--checkpoint", str(bad)), "bad.pt", "not a readable checkpoint")


def test_mismatched_checkpoint(lite0_ckpt):
    one_line_error(run("--checkpoint", str(lite0_ckpt), "--model", "b0"), "holds efficientnet_lite0", "--model b0")
    one_line_error(run("--checkpoint", str(lite0_ckpt), "--num-classes", "5"), "has 3 classes", "--num-classes 5")


def test_bad_calibration_folder(tmp_path):
    args = ("--model", "lite0", "--img-size", "32", "--int8", "--out", str(tmp_path / "o"))
    one_line_error(run(*args, "--calib-data", str(tmp_path / "missing")), "missing", "calibration folder not found")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.jpg").write_bytes(b"not an image")
    one_line_error(run(*args, "--calib-data", str(tmp_path / "empty")), "no readable image")
    assert not (tmp_path / "o").exists()


def test_resolution_below_32():
    res = run("--model", "lite0", "--img-size", "16")
    assert res.exit_code == 2 and "16" in res.output


def test_output_not_writable(tmp_path):
    (tmp_path / "f").write_text("")
    one_line_error(
        run("--model", "lite0", "--img-size", "32", "-q", "--out", str(tmp_path / "f" / "o")), "not writable"
    )


@pytest.mark.slow
def test_json_report_and_labels(lite0_ckpt, tmp_path):
    res = run("--checkpoint", str(lite0_ckpt), "--img-size", "32", "--json", "-q", "--out", str(tmp_path))
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["model"] == "efficientnet_lite0" and report["num_classes"] == 3 and report["resolution"] == 32
    assert report["weights"] == "checkpoint:lite0.pt" and report["calibration"] is None
    assert [a["name"] for a in report["artifacts"]] == ["fp32"]
    assert (tmp_path / "labels.txt").read_text() == "a\nb\nc\n"
    assert json.loads((tmp_path / "report.json").read_text())["artifacts"][0]["bytes"] > 0


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.slow
def test_third_party_failure_is_one_line(lite0_ckpt, tmp_path, monkeypatch, verbose):
    """An exception deep inside onnx2tf: one line naming the stage and model, traceback in a log (and with -v)."""
    import onnx2tf

    def broken(**kwargs):
        print("onnx2tf's own chatter")
        raise ValueError("Dimensions must be equal, but are 113 and 96\nfor DepthwiseConv2dNative ...")

    monkeypatch.setattr(onnx2tf, "convert", broken)
    out = tmp_path / "out"
    res = run(
        "--checkpoint", str(lite0_ckpt), "--img-size", "32", "-q", "--out", str(out), *(["-v"] if verbose else [])
    )
    assert res.exit_code == 4 and not out.exists()
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ONNX → TensorFlow: onnx2tf failed on efficientnet_lite0 (ValueError: Dimensions")
    log = last.rsplit("traceback in ", 1)[1]
    text = Path(log).read_text(encoding="utf-8")
    assert "onnx2tf's own chatter" in text and "Traceback" in text and "DepthwiseConv2dNative" in text
    if verbose:
        assert "Traceback (most recent call last)" in res.stderr
    else:
        one_line_error(res, "onnx2tf failed", code=4)


def test_absurd_sizes_and_normalisation_are_refused_in_one_line():
    """--img-size 100000 ran out of memory, phi:1000 overflowed, phi:100 built for minutes, std 0 gave NaN inputs."""
    from edgenet.errors import EdgenetError
    from edgenet.preprocess import Preprocess

    res = run("--model", "b0", "--img-size", "100000")
    assert res.exit_code == 2 and "100000 is not in the range 32<=x<=2048" in res.output
    res = run("--phi", "1000")
    assert res.exit_code == 2 and "1000.0 is not in the range 0<=x<=10" in res.output
    one_line_error(run("--model", "phi:100"), "phi 100 is too large: at most 10")
    with pytest.raises(EdgenetError, match="give three positive numbers"):
        Preprocess(resolution=224, std=(0.0, 0.0, 0.0))
    with pytest.raises(EdgenetError, match="three finite numbers"):
        Preprocess(resolution=224, mean=(float("nan"), 0.0, 0.0))


@pytest.mark.slow
def test_accuracy_table_names_its_k(lite0_ckpt, tmp_path):
    """With 3 classes "top-5" is always 100 %: the table and report.json name the k actually used."""
    from helpers import shapes_folder

    data = shapes_folder(tmp_path / "val", classes=["a", "b", "c"], per_class=2, size=32)
    res = run("--checkpoint", str(lite0_ckpt), "--img-size", "32", "-q", "--eval-data", str(data), "--out",
              str(tmp_path / "o"))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "top-3" in res.stdout and "top-5" not in res.stdout
    acc = json.loads((tmp_path / "o" / "report.json").read_text())["accuracy"]
    assert {m["k"] for m in acc.values()} == {3} and acc["torch"]["n"] == 6
