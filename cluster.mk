# Cluster targets, included by the Makefile. $(PY) is the project's venv Python.
PY ?= .venv/bin/python
HELM ?= $(shell command -v helm 2>/dev/null || echo .venv/bin/helm)
CHART := charts/data-registry

.PHONY: render render-check kind-up kind-down helm-lint

render: $(VENV)
	$(PY) -m workflows.render

render-check: $(VENV)
	$(PY) -m workflows.render --check

$(HELM):
	scripts/install-helm.sh

# values-images.yaml carries the digests the images workflow wrote; until it has, stand-in digests
# (tests/cluster/values-test-digests.yaml) let the non-kind layouts lint. Kind needs none.
LINT_IMAGES := -f $(CHART)/values-images.yaml -f tests/cluster/values-test-digests.yaml

helm-lint: $(VENV) $(HELM)
	$(HELM) lint --strict $(CHART) $(LINT_IMAGES)
	$(HELM) lint --strict $(CHART) $(LINT_IMAGES) -f $(CHART)/values-gpu.yaml
	$(HELM) lint --strict $(CHART) $(LINT_IMAGES) -f $(CHART)/values-opencloudhub.yaml
	$(HELM) lint --strict $(CHART) -f $(CHART)/values-images.yaml -f $(CHART)/values-kind.yaml
	$(HELM) template data-registry $(CHART) $(LINT_IMAGES) >/dev/null
	$(HELM) template data-registry $(CHART) $(LINT_IMAGES) -f $(CHART)/values-gpu.yaml >/dev/null
	$(HELM) template data-registry $(CHART) $(LINT_IMAGES) -f $(CHART)/values-opencloudhub.yaml >/dev/null
	$(HELM) template data-registry $(CHART) -f $(CHART)/values-images.yaml -f $(CHART)/values-kind.yaml >/dev/null

kind-up:
	scripts/kind.sh up

kind-down:
	scripts/kind.sh down
