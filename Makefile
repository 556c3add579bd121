# `make demo` and `make test` are the two commands a fresh machine needs (README, quick start).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint install clean client-check docs arm64-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The main job: convert B1 to ONNX + TFLite fp32 + full-int8, every stage verified, print the summary,
# then time both TFLite artefacts at 1 and 2 threads.
demo: $(STAMP)
	$(BIN)/edgenet convert --model b1 --int8 --out build/demo
	$(BIN)/edgenet bench build/demo/model_int8.tflite build/demo/model_fp32.tflite --threads 1,2 --runs 50

# What CI runs (.ci/run): ruff, the whole suite (slow tests included) and the docs site with --strict.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mkdocs build --strict --quiet
	$(BIN)/python -m pytest

# The documentation site (mkdocs.yml, docs/) into build/site/; --strict fails on a broken link or anchor.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

# The real-client tier (scripts/mediapipe_check.sh): MediaPipe 0.10.21 in its own venv must give the same top-1 as
# edgenet on >= 98 % of real photos for the raw-input uint8 and fp32 bundles of the pretrained Lite0.
client-check: $(STAMP)
	EDGENET_PY=$(BIN)/python scripts/mediapipe_check.sh --forms raw --test-photos

# The ARM tier (issue 23): a Debian arm64 root run by qemu-user, built once into /var/cache/edgenet/arm64 by
# scripts/arm64_root.sh (root needed; 5-9 min on 2 shared cores, so not in CI), must answer like x86 through the ssh
# target; docs/benchmarks/arm64.md has the full-size check (benchmarks/arm64.py).
arm64-check: $(STAMP)
	$(if $(filter 0,$(shell id -u)),,sudo) PYTHON=$(abspath $(BIN)/python) scripts/arm64_root.sh
	EDGENET_REQUIRE_ARM64=1 $(BIN)/python -m pytest tests/device_bench/test_arm64.py

# The edit-test loop: every test not marked slow, under a minute on a 2-core machine.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build .pytest_cache
