"""`python -m steps.embeddings [embed|db-info|db-stop]`: the one entrypoint (local Ray, or RAY_ADDRESS's cluster).

This is what a KubeRay RayJob runs; `embed` reads `pipelines/<dataset>/params.yaml` from the working directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from steps.errors import DregError
from steps.stage import report_error


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m steps.embeddings", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="embed", choices=["embed", "db-info", "db-stop"])
    parser.add_argument("--dataset", default="opencloudhub-readmes-embeddings", help="pipeline whose params to use")
    args = parser.parse_args(argv)
    root = Path.cwd()
    try:
        if args.command == "embed":
            from steps.embeddings.job import run_embed
            from steps.embeddings.params import EmbeddingsParams
            from steps.params import load_params

            run_embed(args.dataset, load_params(args.dataset, EmbeddingsParams).embed, root)
        elif args.command == "db-info":
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
