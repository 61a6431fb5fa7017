"""`python -m steps.embeddings db-info|db-start|db-stop`: where the vectors live; keeping the embedded PostgreSQL up.

Commands start the embedded server when they need it and stop it when they end; `db-start` keeps one running (to
connect with psql or an application) until `db-stop`.

The embed stage itself has one entry point, like every stage: `dreg stage opencloudhub-readmes-embeddings embed`
(DVC runs `python -m steps.datasets.opencloudhub_readmes_embeddings embed`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from steps.errors import DregError
from steps.kit.stage import report_error


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m steps.embeddings", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["db-info", "db-start", "db-stop"])
    args = parser.parse_args(argv)
    try:
        from steps.config import get_settings
        from steps.embeddings.pgserver import pgdata_path, postmaster, start_embedded, stop_embedded
        from steps.refs.pipelines import require_registry

        s = get_settings()
        if args.command == "db-info" and s.pgvector_host:
            print(f"{s.pgvector_user}@{s.pgvector_host}:{s.pgvector_port}/{s.pgvector_database}")
            return
        root = Path.cwd() if s.pgdata or s.scratch else require_registry()  # never a .dreg/ outside a registry
        pgdata = pgdata_path(root)
        if args.command == "db-info":
            print(f"embedded PostgreSQL in {pgdata} ({'running' if postmaster(pgdata) else 'stopped'})")
        elif args.command == "db-start":
            start_embedded(pgdata, keep=True)
        else:
            print(f"stopped {pgdata}" if stop_embedded(pgdata) else "not running")
    except DregError as exc:
        report_error(exc)
        sys.exit(1)


if __name__ == "__main__":
    main()
