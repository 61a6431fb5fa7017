# Pipeline image: what every Argo container step runs (`dreg stage`, `dreg publish`, checkout).
# Build from the repo root: docker build -f images/pipeline.Dockerfile .
# BASE: the upstream image in production; `make e2e` passes a local stand-in (images/base-python.Dockerfile).
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# Git authenticates with $GITHUB_TOKEN from the pod's Secret; nothing is written to disk.
RUN git config --system credential.helper \
        '!f() { test "$1" = get && test -n "${GITHUB_TOKEN:-}" && printf "username=x-access-token\npassword=%s\n" "$GITHUB_TOKEN"; }; f' \
    && git config --system --add safe.directory '*'

RUN useradd --create-home --uid 1000 --user-group registry

WORKDIR /opt/data-registry
COPY pyproject.toml ./
# the consumer client (`dreg_client`), a dependency of the package: its own distribution, installed beside it
COPY clients/python ./clients/python
# pip.conf / pip-ca: optional build secrets (a local package mirror and its CA, see tests/e2e/images.py);
# absent in production builds, and never part of a layer.
# The dependencies first, on an empty package: this layer is rebuilt only when pyproject.toml changes.
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf,mode=0444 \
    --mount=type=secret,id=pip-ca,mode=0444 \
    mkdir steps && touch steps/__init__.py README.md && pip install ./clients/python ".[prompts]" \
    && pip uninstall -q -y data-registry && rm -rf steps build ./*.egg-info README.md
COPY README.md ./
COPY steps ./steps
# Same extras as local setup, without the GPU/ML extra (`embeddings` lives in the Ray image).
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf,mode=0444 \
    --mount=type=secret,id=pip-ca,mode=0444 \
    pip install ./clients/python ".[prompts]" && dvc --version && dreg --help >/dev/null

ARG DOCKER_IMAGE_TAG=dev
ENV DOCKER_IMAGE_TAG=${DOCKER_IMAGE_TAG}

USER 1000:1000
WORKDIR /workspace
ENTRYPOINT []
CMD ["dreg", "--help"]
