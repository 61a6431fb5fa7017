"""OpenLineage RunEvents (START, then COMPLETE or FAIL) for stage runs and publishes, through openlineage-python:
appended to `.dreg/openlineage/events.jsonl` by default, sent over HTTP when OPENLINEAGE_URL is set. Emitting is
best effort: a lineage backend that is down never fails a stage (one warning on stderr)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from steps import layout
from steps.config import get_settings

EVENTS_FILE = "openlineage/events.jsonl"  # under the git-ignored state folder
NAMESPACE = "data-registry"
PRODUCER = "https://github.com/opencloudhub/data-registry"
LINEAGE_FACET = "dreg_lineage"
LINEAGE_SCHEMA = "https://github.com/opencloudhub/data-registry/blob/main/docs/openlineage.md#the-dreg_lineage-run-facet"


@dataclass
class LineageRun:
    """One run being reported: its job, datasets and the facets to add on completion."""

    job: str
    inputs: list[str]
    outputs: list[str]
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    lineage: dict[str, Any] | None = None  # metadata.json's lineage block, when the run wrote one
    metadata: dict[str, Any] | None = None


def events_path(root: Path) -> Path:
    """Where the file transport appends events (one JSON document a line)."""
    return layout.state_dir(root) / EVENTS_FILE


def make_client(root: Path) -> Any:
    """An OpenLineage client: HTTP when OPENLINEAGE_URL is set, else the events file."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.facet_v2 import set_producer
    from openlineage.client.transport.file import FileConfig, FileTransport

    set_producer(PRODUCER)
    if os.environ.get("OPENLINEAGE_URL"):
        return OpenLineageClient()
    path = events_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(path), append=True)))


def stage_datasets(dataset: str, stage: str, root: Path) -> tuple[list[str], list[str]]:
    """(data inputs, outputs) of a pipeline stage, as its dvc.yaml declares them (code deps left out); none when
    the stage runs without its pipeline's files (a Ray job's working directory)."""
    where = root / layout.dvc_yaml(dataset)
    if not where.is_file():
        return [], []
    spec = (yaml.safe_load(where.read_text()) or {}).get("stages", {}).get(stage, {})
    paths = [next(iter(d)) if isinstance(d, dict) else str(d) for d in spec.get("deps") or []]
    outs = [next(iter(o)) if isinstance(o, dict) else str(o) for o in spec.get("outs") or []]
    return [p for p in paths if p.startswith(f"{layout.DATA}/")], outs


def lineage_facet(lineage: dict[str, Any]) -> Any:
    """Our lineage (params, code commit, image, workflow, source digests, upstream) as a custom run facet."""
    from openlineage.client.facet_v2 import RunFacet

    facet = RunFacet().with_additional_properties(**lineage)
    facet._schemaURL = LINEAGE_SCHEMA
    return facet


def dataset_facets(metadata: dict[str, Any]) -> dict[str, Any]:
    """Schema (the features and their dtypes) and data source (the first source file's URL) of an output."""
    from openlineage.client.facet_v2 import datasource_dataset, schema_dataset

    features = (metadata.get("schema") or {}).get("features") or {}
    fields = [schema_dataset.SchemaDatasetFacetFields(name=name, type=str(spec.get("dtype") or "-"))
              for name, spec in sorted(features.items()) if isinstance(spec, dict)]
    facets: dict[str, Any] = {"schema": schema_dataset.SchemaDatasetFacet(fields=fields)}
    files = ((metadata.get("lineage") or {}).get("source") or {}).get("files") or []
    uri = next((f.get("url") for f in files if f.get("url")), None)
    if uri:
        facets["dataSource"] = datasource_dataset.DatasourceDatasetFacet(name=urlsplit_host(uri), uri=uri)
    return facets


def urlsplit_host(uri: str) -> str:
    """The scheme and host of a URL (a data source's name)."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def parent_facet() -> Any | None:
    """The Argo workflow as the parent run (ARGO_WORKFLOW_UID and ARGO_WORKFLOW_NAME), when it names a UUID."""
    from openlineage.client.facet_v2 import parent_run

    uid, name = get_settings().argo_workflow_uid, os.environ.get("ARGO_WORKFLOW_NAME")
    try:
        uuid.UUID(str(uid))
    except ValueError:
        return None
    return parent_run.ParentRunFacet(run=parent_run.Run(runId=str(uid)),
                                     job=parent_run.Job(namespace=NAMESPACE, name=name or "argo-workflow"))


def run_event(run: LineageRun, state: str, error: BaseException | None = None) -> Any:
    """The RunEvent of `run` in `state` (START, COMPLETE or FAIL)."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import error_message_run

    facets: dict[str, Any] = {}
    parent = parent_facet()
    if parent is not None:
        facets["parent"] = parent
    if run.lineage is not None and state == "COMPLETE":
        facets[LINEAGE_FACET] = lineage_facet(run.lineage)
    if error is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=str(error)[:2000] or type(error).__name__, programmingLanguage="python",
            stackTrace="".join(traceback.format_exception(error))[-4000:])
    out_facets = dataset_facets(run.metadata) if run.metadata and state == "COMPLETE" else {}
    return RunEvent(
        eventType=getattr(RunState, state), eventTime=datetime.now(UTC).isoformat(), producer=PRODUCER,
        run=Run(runId=run.run_id, facets=facets), job=Job(namespace=NAMESPACE, name=run.job),
        inputs=[InputDataset(namespace=NAMESPACE, name=name) for name in run.inputs],
        outputs=[OutputDataset(namespace=NAMESPACE, name=name, facets=out_facets) for name in run.outputs])


def emit(client: Any, run: LineageRun, state: str, error: BaseException | None = None) -> None:
    """Send one event; a failure to send is a warning, never the run's failure."""
    try:
        client.emit(run_event(run, state, error))
    except Exception as exc:  # noqa: BLE001 - lineage is best effort by design
        print(f"warning: OpenLineage event not sent ({type(exc).__name__}: {str(exc)[:200]})", file=sys.stderr)


def read_lineage(dataset: str, root: Path) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(lineage block, whole metadata) of the workspace's metadata.json, or (None, None)."""
    path = root / layout.metadata_json(dataset)
    if not path.exists():
        return None, None
    meta = json.loads(path.read_text())
    return meta.get("lineage"), meta


@contextlib.contextmanager
def reported(run: LineageRun, root: Path) -> Iterator[LineageRun]:
    """START now; COMPLETE when the block ends, FAIL (with the error) when it raises or exits non-zero."""
    client = make_client(root)
    emit(client, run, "START")
    try:
        yield run
    except SystemExit as exc:
        emit(client, run, "COMPLETE" if exc.code in (0, None) else "FAIL", None if exc.code in (0, None) else exc)
        raise
    except BaseException as exc:
        emit(client, run, "FAIL", exc)
        raise
    emit(client, run, "COMPLETE")


@contextlib.contextmanager
def stage_run(dataset: str, stage: str, root: Path | None = None) -> Iterator[LineageRun]:
    """Report a pipeline stage: its dvc.yaml datasets; on completion, the lineage of a metadata.json it wrote."""
    root = root or Path.cwd()
    inputs, outputs = stage_datasets(dataset, stage, root)
    run = LineageRun(f"{dataset}.{stage}", inputs, outputs)
    with reported(run, root):
        yield run
        if layout.metadata_json(dataset) in outputs:
            run.lineage, run.metadata = read_lineage(dataset, root)
