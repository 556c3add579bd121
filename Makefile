# `make demo` and `make test` are the two commands a fresh machine needs (README, quick start).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint install clean

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

# What CI runs (.ci/run): ruff and the whole suite, slow tests included.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The edit-test loop: every test not marked slow, under a minute on a 2-core machine.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build .pytest_cache
