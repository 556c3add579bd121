#!/usr/bin/env bash
# The real-client tier (issue 17): MediaPipe's ImageClassifier must give the same top-1 as `edgenet eval
# --model-file` on >= 98 % of real photos for the uint8 and fp32 bundles. MediaPipe 0.10.21 needs numpy<2 and
# protobuf 4, which edgenet's TensorFlow cannot share a venv with, so it gets its own (build/venv-mediapipe, made
# once). Arguments go to scripts/mediapipe_check.py (e.g. --limit 200, --out docs/benchmarks).
#   EDGENET_PY   edgenet's python            [default: .venv/bin/python, else python3]
#   CLIENT_PY    python for the client venv  [default: the first of python3.12 … python3.9; mediapipe has wheels
#                                              for CPython 3.9–3.12 only]
set -euo pipefail
cd "$(dirname "$0")/.."
EDGENET_PY=${EDGENET_PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
VENV=build/venv-mediapipe
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import mediapipe" 2>/dev/null; then
    py=${CLIENT_PY:-}
    if [ -z "$py" ]; then
        for v in 3.12 3.11 3.10 3.9; do
            if "python$v" -c "" 2>/dev/null; then py="python$v"; break; fi
        done
    fi
    if [ -z "$py" ]; then
        echo "mediapipe_check: no python 3.9-3.12 found (mediapipe 0.10.21 has no wheel for others); set CLIENT_PY" >&2
        exit 2
    fi
    rm -rf "$VENV"
    "$py" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q "numpy<2" "mediapipe==0.10.21"
fi
exec "$EDGENET_PY" scripts/mediapipe_check.py --client-python "$VENV/bin/python" "$@"
