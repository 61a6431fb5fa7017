"""MLflow knows what a run read: `load(..., mlflow_context=)` and `log_input` log the release as a dataset input of
the active run on a real MLflow server, naming its tag, registry, commit, content digest and schema."""

from __future__ import annotations

import hashlib
import json

import mlflow
from mlflow.tracking import MlflowClient

import dreg_client
from tests.client.conftest import TAG


def expected_digest(toy) -> str:
    """The content digest recomputed from the files as the producer wrote them (path and md5 of each)."""
    folder = toy.root / "data" / "toy"
    lines = sorted(f"{p.relative_to(folder).as_posix()} {hashlib.md5(p.read_bytes()).hexdigest()}"
                   for p in (folder / "processed").rglob("*.parquet"))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]


def run_inputs(url: str, run_id: str) -> list:
    return MlflowClient(url).get_run(run_id).inputs.dataset_inputs


def context_of(dataset_input) -> str:
    return next(t.value for t in dataset_input.tags if t.key == "mlflow.data.context")


def test_load_logs_the_release_it_read_as_a_run_input(toy_local, mlflow_server, monkeypatch):
    for key, value in toy_local.env.items():
        monkeypatch.setenv(key, value)
    mlflow.set_tracking_uri(mlflow_server.url)
    mlflow.set_experiment("reads")
    origin = str(toy_local.origin)
    with mlflow.start_run() as training:
        train = dreg_client.load("toy@latest", split="train", repo=origin, mlflow_context="training")
    with mlflow.start_run() as evaluation:
        dreg_client.log_input("toy@1.0.0", context="evaluation", repo=origin)
    assert len(train) == 6
    [trained], [evaluated] = run_inputs(mlflow_server.url, training.info.run_id), run_inputs(
        mlflow_server.url, evaluation.info.run_id)
    assert (context_of(trained), context_of(evaluated)) == ("training", "evaluation")
    logged = trained.dataset
    assert logged.name == TAG and logged.source_type == "dreg"
    assert logged.digest == evaluated.dataset.digest == expected_digest(toy_local)
    source = json.loads(logged.source)
    assert source["registry"] in (origin, toy_local.origin.as_uri())
    assert {k: source[k] for k in ("tag", "commit", "dataset", "version")} == {
        "tag": TAG, "commit": dreg_client.resolve("toy@1.0.0", repo=origin).commit, "dataset": "toy",
        "version": "1.0.0"}
    columns = {c["name"]: c["type"] for c in json.loads(logged.schema)["mlflow_colspec"]}
    assert columns == {"x": "long", "label": "string"}
