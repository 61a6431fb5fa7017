# Ray image for the embeddings stage (KubeRay RayJob head and GPU workers).
# The base tag pins the Ray version to the one in pyproject.toml's `embeddings` extra
# (tests/cluster/test_images.py keeps them equal).
# Build from the repo root: docker build -f images/ray.Dockerfile .
# BASE: the upstream image in production; `make e2e` passes a local stand-in (images/base-ray.Dockerfile).
ARG BASE=rayproject/ray:2.60.0-py311-gpu
FROM ${BASE}

USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN git config --system credential.helper \
        '!f() { test "$1" = get && test -n "${GITHUB_TOKEN:-}" && printf "username=x-access-token\npassword=%s\n" "$GITHUB_TOKEN"; }; f' \
    && git config --system --add safe.directory '*'

# pip builds the project in place (egg-info next to pyproject.toml): the folder must belong to `ray`.
RUN install -d -o ray -g users /opt/data-registry
WORKDIR /opt/data-registry
COPY --chown=ray:users pyproject.toml ./
# the consumer client (`dreg_client`), a dependency of the package: its own distribution, installed beside it
COPY --chown=ray:users clients/python ./clients/python
USER ray
# pip.conf / pip-ca: optional build secrets (a local package mirror and its CA, see tests/e2e/images.py);
# absent in production builds, and never part of a layer.
# The dependencies first, on an empty package: this layer is rebuilt only when pyproject.toml changes.
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf,mode=0444 \
    --mount=type=secret,id=pip-ca,mode=0444 \
    mkdir steps && touch steps/__init__.py README.md && pip install --no-cache-dir ./clients/python ".[embeddings]" \
    && pip uninstall -q -y data-registry && rm -rf steps build ./*.egg-info README.md
COPY --chown=ray:users README.md ./
COPY --chown=ray:users steps ./steps
# Same extra as local setup; on this CUDA base pip takes the CUDA build of the pinned torch (a local
# package mirror may offer the CPU build instead).
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf,mode=0444 \
    --mount=type=secret,id=pip-ca,mode=0444 \
    pip install --no-cache-dir ./clients/python ".[embeddings]" \
    && python -c "import ray, torch, steps; print('ray', ray.__version__, 'torch', torch.__version__)"

ARG DOCKER_IMAGE_TAG=dev
ENV DOCKER_IMAGE_TAG=${DOCKER_IMAGE_TAG}
WORKDIR /home/ray
