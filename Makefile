# data-registry: `make demo` (the main job) and `make test` (the suite). Both set up .venv as needed.
PY := .venv/bin/python
VENV := .venv/.installed

.PHONY: browser shells demo test test-fast faults lint typecheck docs bench bench-attest bench-remote-list bench-tags bench-files bench-embeddings bench-search bench-gpu bench-scale venv clean-demo deps real-mirror test-real-data e2e

venv: $(VENV)

$(VENV): pyproject.toml clients/python/pyproject.toml scripts/setup-venv.sh
	scripts/setup-venv.sh
	touch $@

# Replaces .demo/ (it says so first); ends by printing where the demo registry is and how to use it.
demo: $(VENV)
	$(PY) -m steps.dev.demo

# Two sessions: the embeddings suite (pgvector, Ray, models) runs in its own, so at most one in-process Ray
# and one set of embedding actors live per worker and the two halves never compete for memory.
test: $(VENV) browser shells
	$(PY) -m pytest -n 2 --dist loadgroup --durations=15 --ignore=tests/embeddings --ignore=tests/e2e
	$(PY) -m pytest -n 2 --dist loadgroup --durations=15 tests/embeddings

test-fast: $(VENV) browser shells
	$(PY) -m pytest -n 2 --dist loadgroup -m "not system"

# Headless Chromium for the catalogue's browser tests (apt-get, root or sudo); a no-op once it is on PATH.
browser:
	scripts/install-browser.sh

# tmux and zsh for the completion tests, typed into a real bash and zsh (apt-get, root or sudo); a no-op once present.
shells:
	scripts/install-shells.sh

# Both images built from images/ as CI builds them (on a local debootstrap stand-in base), then the rendered
# WorkflowTemplates played in containers: wine-quality and the embeddings RayJob (docs/e2e.md). Root: dockerd.
e2e: $(VENV)
	scripts/install-docker.sh
	$(PY) -m pytest tests/e2e -q -p no:cacheprovider
	$(PY) -m tests.e2e

# The fault suite alone (also part of `make test`): prints a table fault / tries / held.
faults: $(VENV)
	$(PY) -m pytest tests/faults -n 2 --dist loadgroup -q -p no:cacheprovider

deps: $(VENV)
	$(PY) -m steps.dev.deps

# ruff (E501, imports, bugbear, pyupgrade), mypy, the generated docs (docs/cli.md, the README's settings table),
# the stage deps in dvc.yaml and the rendered chart templates: each fails when stale. `make typecheck`: mypy alone.
lint: $(VENV)
	$(PY) -m ruff check steps workflows tests bench clients
	$(PY) -m mypy
	$(PY) -m steps.dev.docs --check
	$(PY) -m steps.dev.deps --check
	$(PY) -m workflows.render --check

# mypy over steps/, workflows/ and the client (strict there): pyproject.toml [tool.mypy].
typecheck: $(VENV)
	$(PY) -m mypy

# Rewrite the generated docs after changing a command, an option or a setting.
docs: $(VENV)
	$(PY) -m steps.dev.docs

bench: $(VENV)
	$(PY) -m bench.core

# `dreg list --repo` (the origin's refs, no clone) against `git clone` + `dreg list`, on a 200-tag registry.
bench-remote-list: $(VENV)
	$(PY) -m bench.remote_list

# 5,000 release tags + 200 promotion tags over 10 datasets (git fast-import): dreg list / show / list --repo /
# client resolution against git reading the same refs; catalog build, full and after one more release.
TAGS ?= 5000
bench-tags: $(VENV)
	TAGS=$(TAGS) $(PY) -m bench.tags

# Many small JPEGs released through dreg, each step against bare DVC (push, pull, status --cloud); growth per file.
FILES ?= 10000,30000,100000
bench-files: $(VENV)
	FILES=$(FILES) $(PY) -m bench.files

# load() of a signed fashion-mnist release, verified (pinned key) vs the same release unsigned (goal <= 1.1x).
bench-attest: $(VENV)
	$(PY) bench/attest_load.py

bench-embeddings: $(VENV)
	$(PY) -m bench.embeddings

# `dreg search` cold (fresh process, embedded PostgreSQL stopped) and warm (server + model up) on a small table.
bench-search: $(VENV)
	$(PY) -m bench.search

# The throughput table on CUDA (fp16, batch sweep, one actor per GPU): run it on a GPU machine with a CUDA torch.
bench-gpu: $(VENV)
	$(PY) -m bench.gpu

# Opt-in, heavy: HNSW on 200k vectors (build time, index size, p50/p95, recall@10 at ef_search 40/100), stored as
# vector and as halfvec (index size ratio).
SCALE ?= 200000
bench-scale: $(VENV)
	SCALE=$(SCALE) $(PY) -m bench.scale

# Opt-in: the genuine upstream files offline (Debian's dataset-fashion-mnist; UCI wine CSVs by hand, see the script)
# in .dreg/real-mirror (or REAL_MIRROR=<folder>), then the real-data test that releases fashion-mnist from them.
REAL_MIRROR ?= .dreg/real-mirror
real-mirror:
	scripts/real-mirror.sh $(REAL_MIRROR)

test-real-data: $(VENV) real-mirror
	DREG_REAL_MIRROR=$(abspath $(REAL_MIRROR)) $(PY) -m pytest -m real_data tests/contracts

clean-demo:
	@echo "removing .demo/ (the demo registry, its origin, DVC remote, mirror and site)"
	rm -rf .demo

-include cluster.mk
