"""Incremental and atomic replace: v1.0.0 → v1.1.0 under a concurrent reader, and a writer killed mid-write."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from psycopg import sql

from steps.embeddings.store import describe
from steps.errors import DregError
from tests.support.corpus import V1, V2
from tests.support.embeddings import (
    V1_TAG,
    V2_TAG,
    auto_precision,
    clone_table,
    expected_rows,
    other_precision,
    table_precisions,
    table_rows,
)

pytestmark = pytest.mark.xdist_group("embeddings")  # one pgserver and one Ray per worker

SNAPSHOT = ("SELECT coalesce(array_agg(id::text ORDER BY id), '{{}}'),"
            " coalesce(array_agg(DISTINCT metadata->>'dvc_data_version'), '{{}}') FROM {}")


class Reader(threading.Thread):
    """Reads the whole table in a loop (one statement = one snapshot) until stopped."""

    def __init__(self, pg, table: str) -> None:
        super().__init__(daemon=True)
        self.pg, self.table, self.stop, self.seen = pg, table, threading.Event(), []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.pg.connect() as conn:
                query = sql.SQL(SNAPSHOT).format(sql.Identifier(self.table))
                while not self.stop.is_set():
                    ids, versions = conn.execute(query).fetchone()
                    self.seen.append((tuple(ids), tuple(versions)))
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            self.error = exc


def embed_while_reading(embed, pg, source: str, table: str, tag: str, **overrides: Any) -> dict[str, Any]:
    """Clone `source` to `table`, then embed `tag` into it while a reader thread keeps reading it."""
    with pg.connect() as conn:
        clone_table(conn, source, table)
        before = table_rows(conn, table)
    reader = Reader(pg, table)
    reader.start()
    time.sleep(0.2)
    report = embed(tag, table, **overrides)
    time.sleep(0.2)
    reader.stop.set()
    reader.join()
    with pg.connect() as conn:
        assert reader.error is None, reader.error
        return {"before": before, "after": table_rows(conn, table), "state": describe(conn, table).state,
                "report": report, "seen": reader.seen, "precisions": table_precisions(conn, table)}


@pytest.fixture(scope="module")
def switch(embed, pg, v1_table) -> dict[str, Any]:
    """v1.1.0 embedded into a clone of the v1 table (an incremental change) under a reader."""
    return embed_while_reading(embed, pg, v1_table[0], "switch", V2_TAG)


@pytest.fixture(scope="module")
def reprecision(embed, pg, v1_table) -> dict[str, Any]:
    """v1.0.0 embedded again at another precision into a clone of the v1 table (a full replace) under a reader."""
    return embed_while_reading(embed, pg, v1_table[0], "reprecision", V1_TAG, precision=other_precision())


def test_incremental_rerun_embeds_only_new_or_changed_chunks(switch):
    before, after, run = switch["before"], switch["after"], switch["state"]["run"]
    old_hashes = {h for h, _, _ in before.values()}
    fresh = [i for i, (h, _, _) in after.items() if h not in old_hashes]
    assert set(after) == set(expected_rows(V2))
    assert 0 < len(fresh) < len(after)
    assert run["embedded"] == len(fresh)
    assert run["reused"] == len(after) - len(fresh)
    for row_id, (_digest, version, vector) in after.items():
        assert version == V2_TAG
        if row_id in before:
            assert vector == before[row_id][2]
    assert run["deleted"] == len(set(before) - set(after)) > 0
    assert run["write_path"] == "incremental"


def assert_readers_saw_old_then_new(run: dict[str, Any], old_version: str, new_version: str) -> None:
    """Every snapshot the reader took was the whole old set or the whole new set, and old never came after new."""
    old = (tuple(sorted(run["before"])), (old_version,))
    new = (tuple(sorted(run["after"])), (new_version,))
    kinds = Counter("old" if s == old else "new" if s == new else "other" for s in run["seen"])
    assert kinds["other"] == 0, [s for s in run["seen"] if s not in (old, new)][:1]
    assert kinds["old"] > 0 and kinds["new"] > 0
    first_new = next(i for i, s in enumerate(run["seen"]) if s == new)
    assert all(s == new for s in run["seen"][first_new:])


def test_readers_see_the_whole_old_set_or_the_whole_new_set(switch):
    assert_readers_saw_old_then_new(switch, V1_TAG, V2_TAG)


def test_precision_change_re_embeds_every_row_and_never_mixes_precisions(reprecision):
    before, after, run = reprecision["before"], reprecision["after"], reprecision["state"]["run"]
    assert set(after) == set(expected_rows(V1, precision=other_precision()))
    assert not set(after) & set(before)
    assert run["embedded"] == len(after) and run["reused"] == 0 and run["deleted"] == len(before)
    assert reprecision["precisions"] == {other_precision()} != {auto_precision()}
    assert reprecision["state"]["precision"] == reprecision["report"]["model"]["precision"] == other_precision()


def test_full_replace_swaps_in_a_fresh_table_that_readers_see_whole(reprecision, pg):
    assert reprecision["state"]["run"]["write_path"] == "full"
    assert_readers_saw_old_then_new(reprecision, V1_TAG, V1_TAG)
    with pg.connect() as conn:
        indexes = dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'reprecision'"))
        leftovers = conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'reprecision_dreg_new%'").fetchone()
    assert set(indexes) == {"reprecision_pkey", "reprecision_hnsw"} and leftovers == (0,)
    assert "USING hnsw (embedding vector_cosine_ops) WITH (m='16', ef_construction='64')" in indexes["reprecision_hnsw"]


def test_backend_killed_mid_write_leaves_the_previous_set_and_a_rerun_converges(embed, pg, v1_table):
    with pg.connect() as conn:
        clone_table(conn, v1_table[0], "killed")
        before = table_rows(conn, "killed")
        state_before = describe(conn, "killed").state
    outcome: dict[str, BaseException | None] = {}

    def write() -> None:
        try:
            embed(V2_TAG, "killed")
            outcome["error"] = None
        except BaseException as exc:  # noqa: BLE001
            outcome["error"] = exc

    with pg.connect() as blocker, pg.connect() as admin:
        blocker.autocommit = False
        blocker.execute("SELECT id FROM killed WHERE metadata->>'source_repo' = 'secrets-vault' LIMIT 1 FOR UPDATE")
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        deadline, pid = time.monotonic() + 120, None
        while pid is None and time.monotonic() < deadline and writer.is_alive():
            row = admin.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'dreg-embeddings'"
                                " AND wait_event_type = 'Lock'").fetchone()
            pid = row[0] if row else time.sleep(0.05)
        assert pid is not None, f"the writer never blocked inside its replace transaction: {outcome}"
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        writer.join(60)
        blocker.rollback()
    assert isinstance(outcome["error"], DregError) and "connection lost" in str(outcome["error"])
    with pg.connect() as conn:
        assert table_rows(conn, "killed") == before
        assert describe(conn, "killed").state == state_before
    embed(V2_TAG, "killed")
    with pg.connect() as conn:
        after = table_rows(conn, "killed")
    assert set(after) == set(expected_rows(V2)) and {v for _, v, _ in after.values()} == {V2_TAG}
