"""`dreg handoff export|import|run`: cluster plumbing that moves a Ray stage's results to the publish step.

Hidden from `dreg --help`: the rendered WorkflowTemplates call it, people do not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from steps.kit.files import write_bytes

handoff_app = typer.Typer(
    help="Move a stage's lock entry and outputs between the Ray pods and the workflow workspace.",
    no_args_is_help=True,
)


Key = Annotated[str, typer.Option("--key", help="hand-off key: the Argo workflow uid")]
Remote = Annotated[str | None, typer.Option("--remote", help="DVC remote (default: DVC_REMOTE)")]


def _remote(remote: str | None) -> str:
    from steps.config import get_settings

    return remote or get_settings().dvc_remote


@handoff_app.command("export")
def export_command(
    dataset: str,
    stage: str,
    key: Key,
    remote: Remote = None,
) -> None:
    """Push a finished stage's outputs and lock entry to the DVC remote under KEY."""
    from steps.cluster.handoff import export_stage
    from steps.release.dvc import open_repo

    with open_repo(Path.cwd()) as repo:
        bundle = export_stage(repo, dataset, stage, key, _remote(remote))
    typer.echo(f"exported {dataset}:{stage} at {bundle['commit'][:12]} under {key}")


@handoff_app.command("check")
def check_command(
    dataset: str,
    stage: str,
    result: Annotated[Path, typer.Option("--result", help="file to write true (must run) or false to")],
    force: Annotated[bool, typer.Option("--force/--no-force", help="always run")] = False,
    remote: Remote = None,
) -> None:
    """Decide before any GPU is requested whether the stage must run here (its lock and the remote)."""
    from steps.cluster.handoff import run_reasons
    from steps.release.dvc import open_repo

    with open_repo(Path.cwd()) as repo:
        reasons = ["forced"] if force else run_reasons(repo, dataset, stage, _remote(remote))
    write_bytes(result, b"true" if reasons else b"false")
    if reasons:
        typer.echo(f"{dataset}:{stage} must run: {'; '.join(reasons)}")
    else:
        typer.echo(f"{dataset}:{stage}: nothing to do (lock matches, outputs are on the remote)")


@handoff_app.command("import")
def import_command(
    dataset: str,
    stage: str,
    key: Key,
    remote: Remote = None,
    ran: Annotated[
        bool, typer.Option("--ran/--skipped", help="the stage ran (import its hand-off) or was not needed")
    ] = True,
) -> None:
    """Merge an exported stage into this checkout: lock entry, uncached files, pulled outputs; for a
    stage that did not need to run, pull its locked outputs."""
    from steps.cluster.handoff import import_stage, restore_stage
    from steps.release.dvc import open_repo

    if not ran:
        restore_stage(Path.cwd(), dataset, stage, _remote(remote), open_repo)
        typer.echo(f"{dataset}:{stage} did not need to run: pulled its locked outputs")
        return
    bundle = import_stage(Path.cwd(), dataset, stage, key, _remote(remote), open_repo)
    typer.echo(f"imported {dataset}:{stage} ({len(bundle['lock'].get('outs', []))} outputs) from {key}")


@handoff_app.command("run")
def run_command(
    dataset: str,
    stage: str,
    rev: Annotated[str, typer.Option("--rev", help="commit the workflow checked out")],
    key: Key,
    repo_url: Annotated[str, typer.Option("--repo-url", envvar="GIT_REPO_URL", help="registry repo to clone")],
    force: Annotated[bool, typer.Option("--force/--no-force", help="re-run the stage even if cached")] = False,
) -> None:
    """Ray head entrypoint: clone at REV, run the stage, export it under KEY."""
    from steps.cluster.handoff import run_remote

    run_remote(dataset, stage, rev, key, force, repo_url)
