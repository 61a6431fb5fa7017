"""`python -m steps.embeddings db-info|db-stop`: where the vectors live, and stopping the embedded PostgreSQL.

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
    parser.add_argument("command", choices=["db-info", "db-stop"])
    args = parser.parse_args(argv)
    root = Path.cwd()
    try:
        if args.command == "db-info":
            from steps.embeddings.db import pg_target

            print(pg_target(root).where)
        else:
            from steps.embeddings.pgserver import pgdata_path, stop_embedded

            print(f"stopped {pgdata_path(root)}" if stop_embedded(pgdata_path(root)) else "not running")
    except DregError as exc:
        report_error(exc)
        sys.exit(1)


if __name__ == "__main__":
    main()
