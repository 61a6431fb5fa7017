#!/usr/bin/env bash
# Local kind cluster for development: Argo Workflows, the KubeRay operator and MinIO from their
# official Helm charts (pinned), this repo's chart with values-kind.yaml, and the rendered
# WorkflowTemplates ready for `argo submit`.
#
#   scripts/kind.sh up [--dry-run]     create and provision the cluster
#   scripts/kind.sh down [--dry-run]   delete it
#
# --dry-run prints every command (secret values masked) and runs none.
# Environment: KIND_CLUSTER, GIT_REPO_URL, GITHUB_TOKEN (for pushes), MINIO_ROOT_PASSWORD,
# BUILD_RAY_IMAGE=1 to also build and load the (large, CUDA-based) Ray image.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CLUSTER="${KIND_CLUSTER:-data-registry}"
NAMESPACE=data-registry
KIND_NODE_IMAGE=kindest/node:v1.33.1
ARGO_WORKFLOWS_CHART=1.1.1   # Argo Workflows v4.1
KUBERAY_CHART=1.7.0
MINIO_CHART=5.4.0
HELM="$(command -v helm || echo "$ROOT/.venv/bin/helm")"
DRY_RUN=0

run() {
  echo "+ $*"
  if [[ $DRY_RUN == 0 ]]; then "$@"; fi
}

apply() {  # create an object idempotently
  echo "+ $* --dry-run=client -o yaml | kubectl apply -f -"
  if [[ $DRY_RUN == 0 ]]; then "$@" --dry-run=client -o yaml | kubectl apply -f -; fi
}

secret() {  # secret NAMESPACE NAME KEY=VALUE...; values are never printed
  local namespace=$1 name=$2 literals=() shown=()
  shift 2
  for pair in "$@"; do
    literals+=("--from-literal=$pair")
    shown+=("--from-literal=${pair%%=*}=***")
  done
  echo "+ kubectl -n $namespace create secret generic $name ${shown[*]} --dry-run=client -o yaml | kubectl apply -f -"
  if [[ $DRY_RUN == 0 ]]; then
    kubectl -n "$namespace" create secret generic "$name" "${literals[@]}" --dry-run=client -o yaml | kubectl apply -f -
  fi
}

up() {
  local minio_password="${MINIO_ROOT_PASSWORD:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}"
  run kind create cluster --name "$CLUSTER" --image "$KIND_NODE_IMAGE" --wait 180s

  run "$HELM" upgrade --install argo-workflows argo-workflows --repo https://argoproj.github.io/argo-helm \
    --version "$ARGO_WORKFLOWS_CHART" --namespace argo --create-namespace \
    --set "controller.workflowNamespaces={$NAMESPACE}" --set server.authModes={server} --wait
  run "$HELM" upgrade --install kuberay-operator kuberay-operator --repo https://ray-project.github.io/kuberay-helm/ \
    --version "$KUBERAY_CHART" --namespace kuberay --create-namespace --wait

  apply kubectl create namespace minio
  secret minio minio-root rootUser=registry "rootPassword=$minio_password"
  run "$HELM" upgrade --install minio minio --repo https://charts.min.io/ \
    --version "$MINIO_CHART" --namespace minio --set mode=standalone --set replicas=1 \
    --set existingSecret=minio-root --set persistence.size=5Gi --set resources.requests.memory=512Mi \
    --set "buckets[0].name=data-registry" --set "buckets[0].policy=none" --wait

  apply kubectl create namespace "$NAMESPACE"
  secret "$NAMESPACE" data-registry-s3 AWS_ACCESS_KEY_ID=registry "AWS_SECRET_ACCESS_KEY=$minio_password"
  secret "$NAMESPACE" data-registry-git "token=${GITHUB_TOKEN:-}"

  run docker build -f "$ROOT/images/pipeline.Dockerfile" -t data-registry-pipeline:dev "$ROOT"
  run kind load docker-image data-registry-pipeline:dev --name "$CLUSTER"
  if [[ "${BUILD_RAY_IMAGE:-0}" == 1 ]]; then
    run docker build -f "$ROOT/images/ray.Dockerfile" -t data-registry-ray:dev "$ROOT"
    run kind load docker-image data-registry-ray:dev --name "$CLUSTER"
  fi

  local repo_args=()
  if [[ -n "${GIT_REPO_URL:-}" ]]; then repo_args=(--set "git.repoUrl=$GIT_REPO_URL"); fi
  run "$HELM" upgrade --install data-registry "$ROOT/charts/data-registry" --namespace "$NAMESPACE" \
    -f "$ROOT/charts/data-registry/values-kind.yaml" "${repo_args[@]}" --wait
  run kubectl -n "$NAMESPACE" get workflowtemplates
  echo "ready: argo submit -n $NAMESPACE --from workflowtemplate/wine-quality --watch"
}

down() {
  run kind delete cluster --name "$CLUSTER"
}

usage() {
  echo "usage: scripts/kind.sh up|down [--dry-run]" >&2
  exit 2
}

main() {
  local command="${1:-}"
  shift || true
  for arg in "$@"; do
    case "$arg" in
      --dry-run) DRY_RUN=1 ;;
      *) usage ;;
    esac
  done
  case "$command" in
    up | down) ;;
    *) usage ;;
  esac
  if [[ $DRY_RUN == 0 ]]; then
    for tool in kind kubectl docker "$HELM"; do
      command -v "$tool" >/dev/null || { echo "kind.sh: $tool is required" >&2; exit 1; }
    done
  fi
  "$command"
}

main "$@"
