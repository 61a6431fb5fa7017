# Ray image for the embeddings stage (KubeRay RayJob head and GPU workers).
# The base tag pins the Ray version to the one in pyproject.toml's `embeddings` extra
# (tests/cluster/test_images.py keeps them equal).
# Build from the repo root: docker build -f images/ray.Dockerfile .
FROM rayproject/ray:2.60.0-py311-gpu

USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN git config --system credential.helper \
        '!f() { test "$1" = get && test -n "${GITHUB_TOKEN:-}" && printf "username=x-access-token\npassword=%s\n" "$GITHUB_TOKEN"; }; f' \
    && git config --system --add safe.directory '*'

WORKDIR /opt/data-registry
COPY --chown=ray:users pyproject.toml README.md ./
COPY --chown=ray:users steps ./steps
USER ray
# Same extra as local setup; on this CUDA base pip takes the CUDA build of the pinned torch.
RUN pip install --no-cache-dir ".[embeddings]" \
    && python -c "import ray, torch, steps; print('ray', ray.__version__, 'torch', torch.__version__)"

ARG DOCKER_IMAGE_TAG=dev
ENV DOCKER_IMAGE_TAG=${DOCKER_IMAGE_TAG}
WORKDIR /home/ray
