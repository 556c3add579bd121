"""The CPU's int8 instructions travel with every bench row: table, --json, results db (migrated), HTML report.

They decide what int8 gains over fp32 (VNNI or NEON dot-product: about ×2–4; AVX2 without VNNI: little) and whether
ONNX Runtime's u8s8 GEMM can saturate, so a slow int8 row must be readable as "slow CPU" or "bad model"."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner
from edgenet.device_bench import remote_runner
from edgenet.device_bench.bench import Plan, run_benchmarks
from edgenet.device_bench.db import SCHEMA_VERSION, ResultsDB
from edgenet.device_bench.report import render_html

from edgenet import cpu
from edgenet.cli.main import cli

FAST = dict(warmup=1, runs=3)


def fake_cpu(monkeypatch, machine: str, flags: str = "", features: str = "", hwcaps=None) -> None:
    fields = {"flags": flags, "Features": features}
    monkeypatch.setattr(cpu.platform, "machine", lambda: machine)
    monkeypatch.setattr(cpu, "cpuinfo_field", lambda names: next((fields[n] for n in names), None))
    monkeypatch.setattr(cpu, "arm_hwcaps", lambda: hwcaps)


@pytest.mark.parametrize(
    ("flags", "label"),
    [
        ("fpu sse4_1 avx2 fma", "AVX2, no VNNI"),  # the class whose u8s8 GEMM saturates (Zen 2, Haswell–Skylake)
        ("sse4_1 avx2 avx512f avx512bw", "AVX-512BW, no VNNI"),  # Skylake-SP
        ("sse4_1 avx2 avx512bw avx512_vnni", "AVX-512 VNNI"),  # Cascade Lake, Ice Lake, Zen 4
        ("sse4_1 avx2 avx_vnni", "AVX-VNNI"),  # Alder Lake
        ("sse4_1 avx2 avx512bw avx512_vnni amx_tile amx_int8", "AMX-INT8"),  # Sapphire Rapids
        ("sse2", None),
    ],
)
def test_x86_labels_from_cpuinfo_flags(monkeypatch, flags, label):
    fake_cpu(monkeypatch, "x86_64", flags=flags)
    features, got = cpu.cpu_int8()
    assert got == label
    assert set(features) <= set(flags.split())


@pytest.mark.parametrize(
    ("hwcaps", "features", "label"),
    [
        (["asimd"], "", "NEON, no dot-product"),  # Cortex-A53/A72 (Raspberry Pi 3/4)
        (["asimd", "asimdhp", "asimddp"], "", "NEON dot-product"),  # Cortex-A76 (Pi 5), A55
        (["asimd", "asimddp", "sve", "i8mm", "bf16"], "", "NEON i8mm"),  # Cortex-A78/X1+ with i8mm, Graviton 3
        (None, "fp asimd asimddp", "NEON dot-product"),  # no auxiliary vector: /proc/cpuinfo's Features
    ],
)
def test_arm_labels_from_hwcaps(monkeypatch, hwcaps, features, label):
    fake_cpu(monkeypatch, "aarch64", features=features, hwcaps=hwcaps)
    assert cpu.cpu_int8()[1] == label


def test_this_machine_is_described():
    env = remote_runner.basic_env()
    assert "cpu_int8" in env and isinstance(env["cpu_int8_features"], list)
    flags = (cpu.cpuinfo_field(("flags",)) or "").split()
    if "avx2" in flags:  # every x86 machine CI runs on
        assert env["cpu_int8"] and "avx2" in env["cpu_int8_features"]
        assert ("VNNI" in env["cpu_int8"] and "no VNNI" not in env["cpu_int8"]) == (
            "avx512_vnni" in flags or "avx_vnni" in flags
        ), f"{env['cpu_int8']} from flags {flags}"


def test_bench_rows_db_and_report_carry_it(tiny, tmp_path):
    model = tiny / "tflite" / "model_int8.tflite"
    label = cpu.cpu_int8()[1]
    db_path = tmp_path / "r.sqlite"
    with ResultsDB(db_path) as db:
        (result,) = run_benchmarks([model], Plan(threads=(1,), **FAST), db=db, command="t", progress=False)
        (row,) = db.rows()
    assert result.cpu_int8 == label == row["cpu_int8"]
    page = render_html([row], "r.sqlite")
    assert '<th class="t">CPU int8</th>' in page and f'<td class="t">{label or "–"}</td>' in page
    res = CliRunner().invoke(cli, ["bench", str(model), "--threads", "1", "--runs", "3", "--warmup", "1"])
    assert res.exit_code == 0, res.output
    assert "CPU int8" in res.output and (f"int8: {label}" in res.output if label else True)
    res = CliRunner().invoke(cli, ["bench", str(model), "--runs", "3", "--warmup", "1", "--json"])
    assert json.loads(res.stdout)[0]["cpu_int8"] == label


def test_a_version_3_db_gains_the_column_from_each_rows_environment(tiny, tmp_path):
    path = tmp_path / "v3.sqlite"
    with ResultsDB(path) as db:
        plan = Plan(threads=(1, 2), **FAST)
        run_benchmarks([tiny / "tflite" / "model_int8.tflite"], plan, db=db, command="t", progress=False)
    con = sqlite3.connect(path)
    env = json.loads(con.execute("SELECT env_json FROM results").fetchone()[0])
    con.executescript(
        "ALTER TABLE results DROP COLUMN cpu_int8; ALTER TABLE results DROP COLUMN emulated;"
        "UPDATE meta SET value = '3' WHERE key = 'schema_version';"
    )
    con.execute("UPDATE results SET env_json = '{}' WHERE id = 2")  # as edgenet wrote rows before it recorded int8
    con.commit()
    con.close()
    with ResultsDB(path) as db:
        assert db.schema_version == SCHEMA_VERSION == 4
        got = [r["cpu_int8"] for r in db.rows(latest_only=False)]
    assert got == [env["cpu_int8"], None]
