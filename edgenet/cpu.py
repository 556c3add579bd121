"""What CPU runs this process: model name, int8 instructions, aarch64 hardware capabilities, emulation.

Standard library only and Python 3.7 (no walrus, no ``f"{x=}"``, no 3.9 builtins), because boards run it too: the
ssh target copies this file beside ``remote_runner.py`` as ``edgenet_cpu.py``. The converter names the CPU's int8
instructions when this CPU's int8 kernels fail a model that is right (edgenet.converters.verify), and every bench row
records them (edgenet.device_bench.remote_runner.basic_env).
"""

import os
import platform


def cpuinfo_field(names):
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in names and value.strip():
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_model():
    """'AMD EPYC 7B13', 'Raspberry Pi 4 Model B Rev 1.4', ...: what a person would call this CPU or board."""
    model = cpuinfo_field(("model name",)) or cpuinfo_field(("Model", "Hardware"))
    if model:
        return model
    if platform.system() == "Darwin":
        try:
            import subprocess

            out = subprocess.check_output(["sysctl", "-n", "machdep.cpu.brand_string"], universal_newlines=True)
            return out.strip()
        except Exception:
            pass
    return platform.processor() or platform.machine()


# The AT_HWCAP (16) / AT_HWCAP2 (26) bits of the aarch64 extensions int8 and fp16 kernels are chosen by
# (linux/arch/arm64/include/uapi/asm/hwcap.h): NEON, fp16 arithmetic, dot-product, SVE/SVE2, i8mm, bf16, SME
AARCH64_HWCAPS = (
    ("asimd", 16, 1),
    ("asimdhp", 16, 10),
    ("asimddp", 16, 20),
    ("sve", 16, 22),
    ("sve2", 26, 1),
    ("i8mm", 26, 13),
    ("bf16", 26, 14),
    ("sme", 26, 23),
)
EMULATOR_ENV = "EDGENET_EMULATOR"
X86_VENDORS = ("GenuineIntel", "AuthenticAMD", "HygonGenuine")


def arm_hwcaps():
    """The aarch64 extensions this process may use, from its auxiliary vector; None on other machines.

    These bits are what XNNPACK's cpuinfo reads to pick its int8 kernels (dot-product, i8mm). They come from the
    auxiliary vector rather than /proc/cpuinfo's Features line because under qemu-user /proc/cpuinfo is the host's
    file while the auxiliary vector describes the CPU qemu emulates."""
    if platform.machine() not in ("aarch64", "arm64"):
        return None
    try:
        with open("/proc/self/auxv", "rb") as f:
            data = f.read()
    except OSError:
        return None
    import struct

    aux = dict(struct.iter_unpack("=QQ", data[: len(data) // 16 * 16]))  # (type, value) pairs of unsigned longs
    return [name for name, key, bit in AARCH64_HWCAPS if aux.get(key, 0) >> bit & 1]


def emulator():
    """What emulates this process ('qemu-aarch64 7.2.22'), or None on real hardware: its timings are then the
    emulator's on the host CPU, never a measure of the CPU it pretends to be.

    A launcher that starts an emulator names it in EDGENET_EMULATOR (scripts/arm64_root.sh's does). Without it, an
    ARM process that finds an x86 /proc/cpuinfo (qemu-user passes the host's file through) is emulated by
    something unnamed."""
    named = os.environ.get(EMULATOR_ENV)
    if named:
        return named
    if platform.machine().startswith(("aarch64", "arm")) and cpuinfo_field(("vendor_id",)) in X86_VENDORS:
        return f"unknown emulator ({platform.machine()} process, x86 /proc/cpuinfo)"
    return None


# The int8 dot-product instructions a CPU has, best first: they decide how much faster int8 runs than fp32 (and, on
# x86 without VNNI, whether ONNX Runtime's u8s8 GEMM can saturate). (/proc/cpuinfo flag, label)
X86_INT8 = (
    ("amx_int8", "AMX-INT8"),
    ("avx512_vnni", "AVX-512 VNNI"),
    ("avx_vnni", "AVX-VNNI"),
    ("avx512bw", "AVX-512BW, no VNNI"),
    ("avx2", "AVX2, no VNNI"),
    ("sse4_1", "SSE4.1"),
)
# aarch64: (hardware capability, as arm_hwcaps and /proc/cpuinfo's Features name it, label)
ARM_INT8 = (("i8mm", "NEON i8mm"), ("asimddp", "NEON dot-product"), ("asimd", "NEON, no dot-product"))


def cpu_int8():
    """(int8 features this CPU has, a label of the fastest int8 path): ``(["avx2", "avx512_vnni"], "AVX-512 VNNI")``.

    x86 reads /proc/cpuinfo's flags; aarch64 reads the hardware capabilities of :func:`arm_hwcaps` (what XNNPACK
    reads, and what an emulator such as qemu-user reports for the CPU it emulates), else /proc/cpuinfo's Features."""
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64", "i686", "i386"):
        have = set((cpuinfo_field(("flags",)) or "").split())
        table = X86_INT8
    elif machine in ("aarch64", "arm64"):
        hwcaps = arm_hwcaps()
        have = set(hwcaps if hwcaps is not None else (cpuinfo_field(("Features",)) or "").split())
        if not have and platform.system() == "Darwin":  # Apple silicon: dot-product on every M1 and later
            have = {"asimd", "asimddp"}
        table = ARM_INT8
    else:
        return [], None
    features = sorted(f for f, _ in table if f in have)
    return features, next((label for f, label in table if f in have), None)
