"""One configuration in a fresh process (started by ``targets/local.py`` through a bootstrap that keeps the cwd off
``sys.path``; the module is ``edgenet.device_bench.worker`` with a JSON spec as its argument).

Every local measurement runs here rather than in the ``edgenet bench`` process, so that load time, first
inference and peak RSS belong to that configuration alone (not to the models and runtimes loaded before it), and
thread pools start from the configuration's own settings. Output protocol: that of ``remote_runner``."""

from __future__ import annotations

import json
import sys

from edgenet.device_bench.remote_runner import RunnerError, emit


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        spec = json.loads(argv[0])
        from edgenet.device_bench.backends import backend_module

        emit(backend_module(spec["backend"]).run(spec))
        return 0
    except RunnerError as e:
        emit({"ok": False, "error": str(e), "kind": e.kind})
        return 3
    except Exception as e:
        emit({"ok": False, "error": f"{type(e).__name__}: {str(e)[:300]}", "kind": "crash"})
        return 4


if __name__ == "__main__":
    sys.exit(main())
