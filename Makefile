# data-registry: `make demo` (the main job) and `make test` (the suite). Both set up .venv as needed.
PY := .venv/bin/python
VENV := .venv/.installed

.PHONY: demo test test-fast lint bench bench-embeddings venv clean-demo deps

venv: $(VENV)

$(VENV): pyproject.toml scripts/setup-venv.sh
	scripts/setup-venv.sh
	touch $@

demo: $(VENV)
	$(PY) -m steps.dev.demo

test: $(VENV)
	$(PY) -m pytest -n 2 --dist loadgroup --durations=15

test-fast: $(VENV)
	$(PY) -m pytest -n 2 --dist loadgroup -m "not system"

deps: $(VENV)
	$(PY) -m steps.dev.deps

lint: $(VENV)
	$(PY) -m ruff check steps workflows tests bench

bench: $(VENV)
	$(PY) bench/core.py

bench-embeddings: $(VENV)
	$(PY) bench/embeddings.py

clean-demo:
	rm -rf .demo

-include cluster.mk
