"""Every stage run and every publish reports OpenLineage RunEvents (START, then COMPLETE or FAIL) to the events
file: datasets from dvc.yaml, the release tag as the publish's output, our lineage as a run facet that equals
metadata.json's, the Argo workflow as parent run, and a failed stage's error."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from pathlib import Path
from typing import Any, ClassVar

import pytest

from steps import layout
from steps.dev.scaffold import update_params
from steps.kit.lineage_events import LINEAGE_FACET, LineageRun, events_path
from steps.kit.lineage_events import reported as lineage_reported
from tests.support.registry import Released, cli_env, git, local_registry, run_dreg
from tests.support.servers import SourceServer, free_port

TAG = "wine-quality-v1.0.0"
WORKFLOW_UID = str(uuid.UUID(int=42))


def read_events(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in events_path(root).read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory, source_server: SourceServer) -> tuple[Released, list, list]:
    """wine-quality released once, then a run whose download fails (a wrong checksum) inside an Argo workflow:
    (the registry, the events of the release, the events of the failed run)."""
    base = tmp_path_factory.mktemp("openlineage")
    released = Released(local_registry(base, source_server), cli_env(DREG_CACHE_DIR=str(base / "dreg-cache")))
    released.dreg("run", "wine-quality")
    first = read_events(released.reg.root)
    update_params(released.reg.root, "wine-quality", {"download": {"sources": {"red": {"sha256": "0" * 64}}}})
    failed = run_dreg(released.reg.root, "run", "wine-quality",
                      env=cli_env(ARGO_WORKFLOW_UID=WORKFLOW_UID, ARGO_WORKFLOW_NAME="wine-quality-nightly"))
    assert failed.returncode != 0
    return released, first, read_events(released.reg.root)[len(first):]


def without_nulls(value: Any) -> Any:
    """`value` with null fields left out, as OpenLineage serialises facets (null and absent mean "not recorded")."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return [without_nulls(v) for v in value] if isinstance(value, list) else value


def by_job(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in events:
        out.setdefault(e["job"]["name"], []).append(e["eventType"])
    return out


def test_each_stage_and_the_publish_report_start_then_complete(reported) -> None:
    _, events, _ = reported
    assert by_job(events) == {f"wine-quality.{s}": ["START", "COMPLETE"]
                              for s in ("download", "process", "analyze", "publish")}
    for e in events:
        assert e["producer"] and e["schemaURL"].startswith("https://openlineage.io/spec/")
        uuid.UUID(e["run"]["runId"])
        assert e["job"]["namespace"] == "data-registry"
    runs = {e["job"]["name"]: e["run"]["runId"] for e in events if e["eventType"] == "START"}
    assert all(e["run"]["runId"] == runs[e["job"]["name"]] for e in events)  # COMPLETE closes its own START
    process = next(e for e in events if e["job"]["name"] == "wine-quality.process" and e["eventType"] == "COMPLETE")
    assert [d["name"] for d in process["inputs"]] == ["data/wine-quality/raw"]
    assert [d["name"] for d in process["outputs"]] == ["data/wine-quality/processed"]
    publish = events[-1]
    assert publish["job"]["name"] == "wine-quality.publish" and [d["name"] for d in publish["outputs"]] == [TAG]


def test_the_lineage_rebuilt_from_the_events_equals_metadata_json(reported) -> None:
    released, events, _ = reported
    meta = json.loads(git(released.reg.root, "show", f"{TAG}:{layout.metadata_json('wine-quality')}"))
    for job in ("wine-quality.analyze", "wine-quality.publish"):
        done = next(e for e in events if e["job"]["name"] == job and e["eventType"] == "COMPLETE")
        facet = {k: v for k, v in done["run"]["facets"][LINEAGE_FACET].items() if not k.startswith("_")}
        assert facet == without_nulls(meta["lineage"]) and facet["params"] and facet["source"]["files"]
        [output] = done["outputs"]
        fields = {f["name"]: f["type"] for f in output["facets"]["schema"]["fields"]}
        assert fields["alcohol"] == meta["schema"]["features"]["alcohol"]["dtype"]
        assert output["facets"]["dataSource"]["uri"] == meta["lineage"]["source"]["files"][0]["url"]


def test_a_failed_stage_reports_fail_with_its_error_under_the_workflow(reported) -> None:
    _, _, events = reported
    download = [e for e in events if e["job"]["name"] == "wine-quality.download"]
    assert [e["eventType"] for e in download] == ["START", "FAIL"]
    error = download[1]["run"]["facets"]["errorMessage"]
    assert "sha256" in error["message"].lower() or "checksum" in error["message"].lower()
    parent = download[1]["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == WORKFLOW_UID and parent["job"]["name"] == "wine-quality-nightly"
    assert "wine-quality.publish" not in by_job(events) or by_job(events)["wine-quality.publish"][-1] != "COMPLETE"


class Collector(http.server.BaseHTTPRequestHandler):
    """A lineage backend double (Marquez's endpoint): keeps every posted event."""

    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.received.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_events_go_over_http_when_openlineage_url_is_set_and_a_dead_backend_fails_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{server.server_port}")
        with lineage_reported(LineageRun("wine-quality.publish", ["data/wine-quality/processed"], []), tmp_path):
            pass
    finally:
        server.shutdown()
    assert [(path, e["eventType"]) for path, e in Collector.received] == [("/api/v1/lineage", "START"),
                                                                          ("/api/v1/lineage", "COMPLETE")]
    assert not events_path(tmp_path).exists()
    monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(ValueError, match="boom"), lineage_reported(LineageRun("x.download", [], []), tmp_path):
        raise ValueError("boom")  # the stage's own error, not the lineage backend's
    assert "OpenLineage event not sent" in capsys.readouterr().err


def test_dreg_add_reports_its_release_like_a_publish(tmp_path: Path, source_server: SourceServer) -> None:
    """A curated release (`dreg add`) emits START then COMPLETE: the added files in, the new tag out, its lineage."""
    reg = local_registry(tmp_path / "reg", source_server)
    (tmp_path / "table.csv").write_text("city,rain_mm\nPorto,1200\nOslo,760\n")
    added = run_dreg(reg.root, "add", "notes", str(tmp_path / "table.csv"), "--new", env=cli_env())
    assert added.returncode == 0, added.stderr
    events = [e for e in read_events(reg.root) if e["job"]["name"] == "notes.add"]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    done = events[-1]
    assert [d["name"] for d in done["inputs"]] == ["data/notes/table.csv"]
    assert [d["name"] for d in done["outputs"]] == ["notes-v1.0.0"]
    assert done["run"]["facets"][LINEAGE_FACET]["source"]["kind"] == "curated"
