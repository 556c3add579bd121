"""Time a .tflite model on this machine and print one JSON line: the program ``edgenet bench`` runs on a board.

This file is copied as it is to a Raspberry Pi, a Coral Dev Board or any Linux box reached over ssh, and run
there with that board's ``python3``. It therefore needs nothing but the standard library, NumPy (1.x is fine) and
whichever TFLite interpreter the board has, and it is written for Python 3.7 (no walrus, no ``f"{x=}"``,
no 3.9 builtins). ``edgenet bench --target local`` runs the same functions in-process
(edgenet.device_bench.backends.tflite), so a number measured on a board and one measured here come from the same loop.

Usage: ``python3 remote_runner.py '<json spec>'``; the spec keys are those of :func:`run_tflite`. The result is
printed on the last stdout line after ``RESULT_MARKER``; a failure prints ``{"ok": false, "error": ...}`` there and
exits with status 3, so the caller always gets a one-line reason.
"""

import json
import os
import platform
import socket
import sys
import time

RESULT_MARKER = "EDGENET_RESULT "
INTERPRETER_PACKAGES = ("ai_edge_litert", "tflite_runtime", "tensorflow")
INSTALL_HINT = (
    "no TFLite interpreter on this machine: pip install ai-edge-litert (Python 3.9+), or tflite-runtime "
    "(older boards), or on a Coral board apt-get install python3-tflite-runtime"
)
EDGETPU_LIBS = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
EDGETPU_HINT = (
    "Edge TPU runtime not found ({lib}: {why}): install it (Debian/Raspberry Pi OS: apt-get install "
    "libedgetpu1-std from Coral's package repository, see coral.ai/software) and plug in the Edge TPU"
)


class RunnerError(Exception):
    """A failure the user can act on; ``kind`` lets the caller pick its own wording."""

    def __init__(self, message, kind="error"):
        Exception.__init__(self, message)
        self.kind = kind


# ---------------------------------------------------------------------------------------------------- environment


try:  # on a board: the targets copy edgenet/cpu.py beside this file as edgenet_cpu.py (CPU_MODULE)
    from edgenet_cpu import arm_hwcaps, cpu_int8, cpu_model, emulator
except ImportError:  # in-process: bench --target local
    from edgenet.cpu import arm_hwcaps, cpu_int8, cpu_model, emulator

CPU_MODULE = "edgenet_cpu.py"  # the name edgenet/cpu.py travels under, beside this file


def basic_env():
    """What the machine is: needed next to every number, since a latency means nothing without it."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    env = {
        "hostname": socket.gethostname(),
        "os": platform.system(),
        "kernel": platform.release(),
        "arch": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "python": platform.python_version(),
        "emulated": emulator(),
    }
    env["cpu_int8_features"], env["cpu_int8"] = cpu_int8()
    hwcaps = arm_hwcaps()
    if hwcaps is not None:
        env["hwcaps"] = hwcaps
    try:
        import numpy

        env["numpy"] = numpy.__version__
    except ImportError:
        env["numpy"] = None
    return env


def _proc_status_mb(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def rss_mb():
    """Current resident set size in MiB (Linux /proc), else None."""
    return _proc_status_mb("VmRSS")


def peak_rss_mb():
    """Peak resident set size of this process image in MiB.

    Linux: VmHWM, the high-water mark of this program's own memory. Not ``ru_maxrss``: Linux carries the parent's
    peak across fork and exec into it, so a runner started by a process that had loaded torch would report torch's
    footprint. Elsewhere ``ru_maxrss`` (KiB on Linux/BSD, bytes on macOS)."""
    hwm = _proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def time_loop(fn, warmup, runs, seconds=None):
    """Call ``fn`` ``warmup`` times untimed, then time each call: ``runs`` calls, or calls for ``seconds``.

    ``fn`` is called directly (a bound method such as ``interpreter.invoke``), and only the call sits between
    the two clock reads, so the loop adds no more than two ``perf_counter`` calls to each measured inference.
    Returns per-call latencies in milliseconds.
    """
    for _ in range(warmup):
        fn()
    clock = time.perf_counter
    lat = []
    append = lat.append
    if seconds:
        end = clock() + seconds
        while True:
            t0 = clock()
            fn()
            t1 = clock()
            append(t1 - t0)
            if t1 >= end:
                break
    else:
        for _ in range(runs):
            t0 = clock()
            fn()
            append(clock() - t0)
    return [x * 1000.0 for x in lat]


def topk_rows(logits, k):
    """Indices of the k largest values of each row, best first (int8 logits are widened first: -(-128) overflows)."""
    import numpy as np

    flat = np.asarray(logits).reshape(len(logits), -1).astype(np.float64)
    k = min(k, flat.shape[1])
    return np.argsort(-flat, axis=1, kind="stable")[:, :k].tolist()


def batches(inputs, batch):
    """Yield (chunk, n_real): chunks of ``batch`` rows, the last padded by repeating its final row."""
    import numpy as np

    for start in range(0, len(inputs), batch):
        chunk = np.asarray(inputs[start : start + batch])
        n = len(chunk)
        if n < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - n, axis=0)])
        yield chunk, n


# ---------------------------------------------------------------------------------------------------- TFLite


def import_interpreter():
    """(module, package name, version): ai-edge-litert, else tflite-runtime, else TensorFlow's tf.lite."""
    errors = []
    try:
        from ai_edge_litert import interpreter as mod

        return mod, "ai_edge_litert", _version("ai-edge-litert", "ai_edge_litert")
    except ImportError as e:
        errors.append(str(e))
    try:
        from tflite_runtime import interpreter as mod

        return mod, "tflite_runtime", _version("tflite-runtime", "tflite_runtime")
    except ImportError as e:
        errors.append(str(e))
    try:
        import tensorflow as tf

        return tf.lite, "tensorflow", tf.__version__
    except ImportError as e:
        errors.append(str(e))
    raise RunnerError(INSTALL_HINT, kind="no_interpreter")


def _version(dist, module):
    try:
        from importlib import metadata  # novermin (Python 3.8+; the except below covers 3.7)

        return metadata.version(dist)
    except Exception:
        pass
    try:
        return __import__(module).__version__
    except Exception:
        return "unknown"


def _load_delegate(mod, name):
    load = getattr(mod, "load_delegate", None) or getattr(getattr(mod, "experimental", None), "load_delegate", None)
    if load is None:
        raise RunnerError("this TFLite interpreter cannot load delegates; install ai-edge-litert", kind="delegate")
    return load(name)


def make_interpreter(model_path, threads=1, delegate="xnnpack"):
    """An allocated interpreter and its description. ``delegate``: 'xnnpack' (TFLite's default CPU path),
    'none' (the reference builtin kernels, XNNPACK off) or 'edgetpu' (libedgetpu as an external delegate)."""
    mod, package, version = import_interpreter()
    kwargs = {"model_path": model_path, "num_threads": int(threads)}
    if delegate == "none":
        resolver = getattr(mod, "OpResolverType", None) or getattr(mod, "experimental", None).OpResolverType
        kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    elif delegate == "edgetpu":
        lib = EDGETPU_LIBS.get(platform.system(), "libedgetpu.so.1")
        try:
            kwargs["experimental_delegates"] = [_load_delegate(mod, lib)]
        except (ValueError, OSError) as e:
            why = (str(e).splitlines() or ["not loadable"])[0][:160]
            raise RunnerError(EDGETPU_HINT.format(lib=lib, why=why), kind="delegate") from None
    elif delegate != "xnnpack":
        raise RunnerError(f"unknown TFLite delegate {delegate!r}: use xnnpack, none or edgetpu")
    try:
        interp = mod.Interpreter(**kwargs)
    except ValueError as e:
        raise RunnerError(f"{model_path}: the interpreter could not load it ({str(e)[:200]})", "model") from None
    return interp, {"interpreter": package, "backend_version": version}


def delegate_nodes(interp):
    """How many delegate kernels the interpreter installed in its graph (None when this interpreter cannot say).

    A delegate that takes over part of a graph replaces those ops with one node of type DELEGATE; the
    interpreter's node list is its own record of what will run. It is the only honest answer to "did XNNPACK
    run": tflite-runtime 2.14 applies its default XNNPACK delegate to a float model but to no op of an int8 one
    (timed on a b0 at 64 px: 21 ms with and without default delegates), and logs nothing about it. An Edge TPU
    run needs no such check: its compiled op has no CPU kernel, so the invoke fails unless libedgetpu took it."""
    inner = getattr(interp, "_interpreter", None)
    try:
        return sum(1 for i in range(inner.NumNodes()) if inner.NodeName(i) == "DELEGATE")
    except Exception:  # an interpreter without the node accessors
        return None


def delegate_ran(requested, nodes):
    """The delegate that actually ran: ``requested`` when it installed kernels, 'none' when nothing was
    delegated (the builtin kernels ran everything), None when the interpreter cannot tell."""
    if nodes is None:
        return None
    if requested == "none":
        return "none" if nodes == 0 else "delegated"
    return requested if nodes > 0 else "none"


def random_input(shape, dtype, seed=0):
    """A deterministic random tensor of the model's own type (a uint8 image, an int8 tensor, or floats)."""
    import numpy as np

    rng = np.random.RandomState(seed)
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return rng.randint(max(info.min, -128), min(info.max, 255) + 1, size=shape).astype(dt)
    if dt.kind == "b":
        return rng.randint(0, 2, size=shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def _tensor_desc(d):
    q = d.get("quantization") or (0.0, 0)
    return {
        "name": d["name"],
        "shape": [int(x) for x in d["shape"]],
        "dtype": d["dtype"].__name__,
        "scale": float(q[0]),
        "zero_point": int(q[1]),
    }


def run_tflite(spec):
    """Load, time and (with ``inputs``) classify. Spec keys: model, threads, delegate, batch, warmup, runs,
    seconds, inputs (a .npy in the model's input type, one sample per row), topk, seed, and outputs (true: also
    return every input's raw output row, in the output tensor's own type, to compare two machines bit for bit)."""
    import numpy as np

    before = rss_mb()
    t0 = time.perf_counter()
    interp, info = make_interpreter(spec["model"], spec.get("threads", 1), spec.get("delegate", "xnnpack"))
    inp = interp.get_input_details()[0]
    batch = int(spec.get("batch", 1))
    if batch != int(inp["shape"][0]):
        interp.resize_tensor_input(inp["index"], [batch] + [int(x) for x in inp["shape"][1:]])
    try:
        interp.allocate_tensors()
    except (RuntimeError, ValueError) as e:
        raise RunnerError(
            "{}: cannot allocate tensors at batch {} ({})".format(spec["model"], batch, str(e)[:200])
        ) from None
    load_ms = (time.perf_counter() - t0) * 1000.0
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    x = random_input(tuple(int(s) for s in inp["shape"]), inp["dtype"], spec.get("seed", 0))
    interp.set_tensor(inp["index"], x)
    t0 = time.perf_counter()
    interp.invoke()
    first_ms = (time.perf_counter() - t0) * 1000.0
    nodes = delegate_nodes(interp)  # after the first invoke: some versions delegate lazily
    latencies = time_loop(interp.invoke, int(spec.get("warmup", 10)), int(spec.get("runs", 100)), spec.get("seconds"))
    result = run_record(
        latencies,
        load_ms,
        first_ms,
        before,
        _tensor_desc(inp),
        info["backend_version"],
        basic_env(),
        delegate_ran(spec.get("delegate", "xnnpack"), nodes),
        output=_tensor_desc(out),
        delegate_nodes=nodes,
        interpreter=info["interpreter"],
    )
    if spec.get("inputs"):
        data = np.load(spec["inputs"], mmap_mode="r")
        if data.dtype != inp["dtype"]:
            raise RunnerError("eval inputs are {} but the model takes {}".format(data.dtype, inp["dtype"].__name__))
        preds, outputs = [], []
        for chunk, n in batches(data, batch):
            interp.set_tensor(inp["index"], np.ascontiguousarray(chunk))
            interp.invoke()
            y = interp.get_tensor(out["index"])
            preds.extend(topk_rows(y, int(spec.get("topk", 5)))[:n])
            if spec.get("outputs"):
                outputs.extend(np.asarray(y).reshape(len(y), -1)[:n].tolist())
        result["predictions"] = preds
        if spec.get("outputs"):
            result["outputs"] = outputs
    return result


# The keys of every timed run's record, whichever backend made it; edgenet.device_bench.backends build it with
# :func:`run_record` from here, and this file builds it for itself on boards (it imports nothing of edgenet).
RECORD_FIELDS = (
    "ok",
    "latencies_ms",
    "load_ms",
    "first_inference_ms",
    "peak_rss_mb",
    "rss_before_load_mb",
    "input",
    "backend_version",
    "env",
    "delegate_ran",
)


def run_record(latencies, load_ms, first_ms, rss_before_mb, input_desc, backend_version, env, delegate_ran, **extra):
    """One timed run: the fields of :data:`RECORD_FIELDS` (peak RSS read now), then what the backend adds
    (``output``, ``interpreter``, ``peak_gpu_mb``, …); ``predictions`` are added after the eval pass.
    ``delegate_ran`` is what the runtime reports actually ran, None when it cannot tell."""
    result = {
        "ok": True,
        "latencies_ms": latencies,
        "load_ms": load_ms,
        "first_inference_ms": first_ms,
        "peak_rss_mb": peak_rss_mb(),
        "rss_before_load_mb": rss_before_mb,
        "input": input_desc,
        "backend_version": backend_version,
        "env": env,
        "delegate_ran": delegate_ran,
    }
    result.update(extra)
    return result


def emit(result):
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        if len(argv) != 1:
            raise RunnerError("usage: remote_runner.py '<json spec>'")
        spec = json.loads(argv[0])
        try:
            import numpy  # noqa: F401
        except ImportError:
            raise RunnerError("numpy is not installed on this machine: pip install numpy", kind="no_numpy") from None
        emit(run_tflite(spec))
        return 0
    except RunnerError as e:
        emit({"ok": False, "error": str(e), "kind": e.kind})
        return 3
    except Exception as e:  # an interpreter crash: still one readable line for the caller
        emit({"ok": False, "error": f"{type(e).__name__}: {str(e)[:300]}", "kind": "crash"})
        return 4


if __name__ == "__main__":
    sys.exit(main())
