# The two commands: `make run` and `make test`. Everything else is a step they share.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check install lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first and pinned: a CPU wheel lies on disk; an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	# The embedding backend the settings name, ready: with onnx, exported once into <data dir>/models.
	$(BIN)/python -c "from core.settings import load_settings; from retrieval.embeddings import build_embeddings; build_embeddings(load_settings())"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/wepos migrate
	$(BIN)/wepos demo
	$(BIN)/wepos serve

test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# The fast tier while you work: lint, types and the unit tests (no servers, no end-to-end runs).
check: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -m "not e2e"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python -m benchmarks.conversation
	$(BIN)/python -m benchmarks.ingest

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
