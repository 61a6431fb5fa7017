# Pipeline image: what every Argo container step runs (`dreg stage`, `dreg publish`, checkout).
# Build from the repo root: docker build -f images/pipeline.Dockerfile .
FROM python:3.11-slim-bookworm

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
COPY pyproject.toml README.md ./
COPY steps ./steps
# Same extras as local setup, without the GPU/ML extra (`embeddings` lives in the Ray image).
RUN pip install ".[prompts]" && dvc --version && dreg --help >/dev/null

ARG DOCKER_IMAGE_TAG=dev
ENV DOCKER_IMAGE_TAG=${DOCKER_IMAGE_TAG}

USER 1000:1000
WORKDIR /workspace
ENTRYPOINT []
CMD ["dreg", "--help"]
