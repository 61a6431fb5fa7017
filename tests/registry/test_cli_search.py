"""`dreg search` and the embedded PostgreSQL: nothing created where nothing was embedded, no server left running
unless asked (`python -m steps.embeddings db-start`), and the `--json` shape."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from steps.dev.scaffold import create_registry
from steps.embeddings.pgserver import postmaster
from tests.support.registry import cli_env, run_dreg

ENV = {"HF_HUB_OFFLINE": "1", "COLUMNS": "240"}
DOCS = [("secrets-vault", "Rotating MinIO access keys", "Rotate the MinIO access keys every 90 days with mc admin."),
        ("bakery", "Sourdough", "Feed the starter with flour and water, then bake the loaf at 230 degrees.")]


def embeddings_cmd(root: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "steps.embeddings", command], cwd=root, capture_output=True,
                          text=True, env=cli_env(**ENV), check=False)


def test_search_where_nothing_was_embedded_creates_nothing(tmp_path):
    reg = create_registry(tmp_path)
    result = run_dreg(reg.root, "search", "how do I publish", env=cli_env(**ENV))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "nothing has been embedded here yet" in lines[0] and "dreg run opencloudhub-readmes-embeddings" in lines[0]
    assert not (reg.root / ".dreg").exists()


def fill_table(uri: str, table: str) -> None:
    """An embeddings table as the pipeline writes it (contract columns, model in the table comment), two rows."""
    import psycopg
    from pgvector.psycopg import register_vector

    from steps.embeddings.model import load_model, resolve_model
    from steps.embeddings.spec import DEFAULT_MODEL

    vectors = load_model(resolve_model(DEFAULT_MODEL)).encode([text for _, _, text in DOCS])
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
        conn.execute(f"CREATE TABLE {table} (id uuid PRIMARY KEY, content text NOT NULL, "
                     f"embedding vector({vectors.shape[1]}) NOT NULL, metadata jsonb NOT NULL)")
        conn.execute(f"COMMENT ON TABLE {table} IS '{json.dumps({'model': DEFAULT_MODEL})}'")
        for (repo, section, text), vector in zip(DOCS, vectors, strict=True):
            meta = {"source_repo": repo, "source_file": "README.md", "section_h1": section}
            conn.execute(f"INSERT INTO {table} VALUES (%s, %s, %s, %s)",
                         (uuid.uuid4(), text, vector, json.dumps(meta)))


@pytest.mark.xdist_group("embeddings")  # one embedded server and one embedding model per worker at a time
def test_search_json_and_no_server_left_running_unless_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reg = create_registry(tmp_path)
    pgdata = reg.root / ".dreg" / "pgdata"
    started = embeddings_cmd(reg.root, "db-start")
    assert started.returncode == 0 and "kept running" in started.stderr, started.stderr
    assert postmaster(pgdata) is not None  # asked to stay up: it outlives `db-start`
    try:
        fill_table(re.search(r"connect: psql '([^']+)'", started.stderr)[1], "probe_docs")
        found = run_dreg(reg.root, "search", "how do I rotate the MinIO keys?", "--k", "2", "--table", "probe_docs",
                         "--json", env=cli_env(**ENV))
        assert found.returncode == 0, found.stderr
        assert postmaster(pgdata) is not None  # a kept server is left as it was
    finally:
        assert "stopped" in embeddings_cmd(reg.root, "db-stop").stdout
    assert postmaster(pgdata) is None
    doc = json.loads(found.stdout)
    assert (doc["query"], doc["table"], doc["k"]) == ("how do I rotate the MinIO keys?", "probe_docs", 2)
    assert [h["rank"] for h in doc["hits"]] == [1, 2] and doc["hits"][0]["score"] > doc["hits"][1]["score"]
    assert doc["hits"][0]["metadata"]["source_repo"] == "secrets-vault" and "MinIO" in doc["hits"][0]["content"]

    killed = subprocess.Popen(["true"])
    killed.wait()  # a holder that died without letting go (as a killed dreg would) must not keep the server up
    (pgdata / ".handle_pids.json").write_text(json.dumps([killed.pid]))
    again = run_dreg(reg.root, "search", "sourdough starter", "--k", "1", "--table", "probe_docs",
                     env=cli_env(**ENV))
    assert again.returncode == 0, again.stderr
    assert "bakery" in again.stdout
    assert postmaster(pgdata) is None  # started for this search only, stopped when it ended
    info = embeddings_cmd(reg.root, "db-info")
    assert info.stdout.strip() == f"embedded PostgreSQL in {pgdata} (stopped)"


def wait_for_socket(path: Path, server: subprocess.Popen[str], seconds: float = 180) -> None:
    """Until `path` is a listening socket (the server failing first fails the test with its output)."""
    deadline = time.monotonic() + seconds
    while not path.is_socket():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError(f"no search server on {path}: {server.communicate()[1]}")
        time.sleep(0.2)


@pytest.mark.xdist_group("embeddings")
def test_served_search_answers_as_a_lone_one_and_goes_away(tmp_path, monkeypatch):
    """`dreg search --serve` answers later `dreg search` calls with the hits a lone search finds; a second server
    is refused; SIGTERM stops it, removes its socket and the database it started, and searches run alone again."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reg = create_registry(tmp_path)
    pgdata, sock = reg.root / ".dreg" / "pgdata", reg.root / ".dreg" / "search.sock"
    started = embeddings_cmd(reg.root, "db-start")
    assert started.returncode == 0, started.stderr
    fill_table(re.search(r"connect: psql '([^']+)'", started.stderr)[1], "probe_docs")
    assert "stopped" in embeddings_cmd(reg.root, "db-stop").stdout
    args = ("search", "how do I rotate the MinIO keys?", "--k", "2", "--table", "probe_docs", "--json")
    alone = run_dreg(reg.root, *args, env=cli_env(**ENV))
    assert alone.returncode == 0, alone.stderr

    server = subprocess.Popen([str(Path(sys.executable).parent / "dreg"), "search", "--serve", "--table",
                               "probe_docs", "--idle", "300"], cwd=reg.root, env=cli_env(**ENV),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_socket(sock, server)
        served = run_dreg(reg.root, *args, env=cli_env(**ENV))
        assert served.returncode == 0, served.stderr
        assert json.loads(served.stdout) == json.loads(alone.stdout)
        empty = run_dreg(reg.root, "search", "", "--table", "probe_docs", env=cli_env(**ENV))
        assert empty.returncode == 1 and "empty query" in empty.stderr
        second = run_dreg(reg.root, "search", "--serve", "--table", "probe_docs", env=cli_env(**ENV))
        assert second.returncode == 1 and "already answers" in second.stderr.strip().splitlines()[-1], second.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        _, said = server.communicate(timeout=120)
    assert server.returncode == 0, said
    assert "answered in" in said and "search server stopped" in said
    assert not sock.exists() and postmaster(pgdata) is None
    again = run_dreg(reg.root, *args, env=cli_env(**ENV))
    assert again.returncode == 0 and json.loads(again.stdout) == json.loads(alone.stdout), again.stderr
