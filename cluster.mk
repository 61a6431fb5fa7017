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

helm-lint: $(VENV) $(HELM)
	$(HELM) lint $(CHART) -f $(CHART)/values-images.yaml
	$(HELM) lint $(CHART) -f $(CHART)/values-images.yaml -f $(CHART)/values-gpu.yaml
	$(HELM) template data-registry $(CHART) -f $(CHART)/values-images.yaml >/dev/null
	$(HELM) template data-registry $(CHART) -f $(CHART)/values-images.yaml -f $(CHART)/values-gpu.yaml >/dev/null
	$(HELM) template data-registry $(CHART) -f $(CHART)/values-images.yaml -f $(CHART)/values-opencloudhub.yaml >/dev/null

kind-up:
	scripts/kind.sh up

kind-down:
	scripts/kind.sh down
