"""The runtime registry (edgenet.runtimes) is the one table every layer reads: each entry's parts exist and sit in the
layer that loads them, and the pipeline, modelinfo, bench and the CLI's choices are derived from it."""

from __future__ import annotations

import pytest
from test_import_graph import layer

from edgenet.runtimes import RUNTIMES, runtime_for_file


@pytest.mark.parametrize("name", list(RUNTIMES))
def test_every_part_of_an_entry_loads_from_its_own_layer(name):
    """The runner is core's (edgenet.artifacts), the backend bench's, the kinds module convert's: reading the table
    imports nothing, and each layer loads only the part it owns."""
    rt = RUNTIMES[name]
    assert rt.name == name and rt.suffixes and all(s.startswith(".") for s in rt.suffixes)
    assert rt.delegates and rt.devices and rt.label
    if rt.runner:
        assert layer(rt.runner.partition(":")[0]) == "core" and callable(rt.load(rt.runner))
    assert layer(rt.backend) == "bench" and callable(rt.load(rt.backend).run)
    if rt.kinds:
        assert layer(rt.kinds) == "convert" and rt.load(rt.kinds)
    assert rt.unavailable() is None or isinstance(rt.unavailable(), str)


def test_suffixes_formats_and_signatures_are_unique():
    suffixes = [s for rt in RUNTIMES.values() for s in rt.suffixes]
    assert len(suffixes) == len(set(suffixes))
    assert len({rt.format for rt in RUNTIMES.values()}) == len(RUNTIMES)
    assert len({rt.signature for rt in RUNTIMES.values() if rt.signature}) == sum(
        1 for r in RUNTIMES.values() if r.signature
    )
    assert runtime_for_file("a/model_int8.ort").name == "ort" and runtime_for_file("x.bin") is None


def test_every_kind_names_a_registered_runtime_with_its_suffix():
    from edgenet.converters.kinds import KINDS

    assert {"ort_fp32", "ort_int8", "executorch_int8", "tensorrt_int8", "int8"} <= set(KINDS)
    for kind in KINDS.values():
        rt = RUNTIMES[kind.runtime]
        assert runtime_for_file(kind.file) is rt, kind.name


def test_everything_else_is_derived_from_the_table():
    from click import Choice
    from edgenet.device_bench.backends import BACKENDS, DELEGATES, backend_module
    from edgenet.device_bench.modelinfo import DEFAULT_BACKEND, SUFFIX
    from edgenet.device_bench.targets.local import LocalTarget

    from edgenet.artifacts.runtime import runner_class
    from edgenet.cli.bench_cmd import bench

    assert BACKENDS == LocalTarget.backends == tuple(RUNTIMES)
    assert (
        DELEGATES["ort"] == ("none",) and backend_module("ort").__name__ == "edgenet.device_bench.backends.onnxruntime"
    )
    assert DEFAULT_BACKEND["ort"] == "ort" and SUFFIX["ort"] == ".ort" and SUFFIX["engine"] == ".engine"
    assert runner_class("m.ort").__name__ == "OnnxRunner" and runner_class("m.pte").__name__ == "ExecuTorchRunner"
    options = {p.name: p for p in bench.params}
    assert isinstance(options["backend"].type, Choice) and list(options["backend"].type.choices) == list(RUNTIMES)
    assert "tensorrt" in options["delegate"].type.choices and "edgetpu" in options["delegate"].type.choices


def test_a_registered_kind_can_be_asked_for_by_name():
    from edgenet.converters.options import ConvertOptions

    kinds, notes = ConvertOptions(out=".", int8=True, kinds=("ort_fp32", "int8", "ort_int8")).kind_names()
    assert kinds == ["fp32", "int8", "ort_fp32", "ort_int8"] and notes == []
