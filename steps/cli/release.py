"""Release commands: `list`, `stage`, `run`, `publish`, `show`, `verify` — thin layers over `steps.registry`."""

from __future__ import annotations

import json
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from steps import layout
from steps.errors import DregError
from steps.registry.pipelines import all_datasets, check_params, require_pipeline, stages_of

console = Console(highlight=False)


class MessageOnly(logging.Formatter):
    """DVC log lines without tracebacks: failures reach the user as one DregError line."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def setup_dvc_logging() -> None:
    """Show DVC's stage progress lines on stderr."""
    import dvc.logger  # noqa: F401  (its import installs DVC's own handlers, which we replace)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(MessageOnly())
    logger = logging.getLogger("dvc")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def list_cmd() -> None:
    """Datasets and their published versions, newest first."""
    from steps.registry.versions import list_versions

    table = Table("dataset", "latest", "versions")
    for dataset in all_datasets():
        versions = list_versions(dataset)
        table.add_row(dataset, versions[0].tag if versions else "-", " ".join(v.semver for v in versions) or "-")
    console.print(table)


def stage_cmd(
    dataset: str,
    stage: str,
    force: Annotated[bool, typer.Option("--force/--no-force", help="Run even if DVC sees no change.")] = False,
) -> None:
    """Run one DVC stage of a pipeline (what an Argo step calls)."""
    from steps.registry.dvc import open_repo, reproduce

    require_pipeline(dataset)
    if stage not in stages_of(dataset):
        raise DregError(f"{dataset} has no stage {stage[:40]!r}", f"stages: {', '.join(stages_of(dataset))}")
    check_params(dataset)
    setup_dvc_logging()
    ran = reproduce(open_repo(), dataset, stage=stage, force=force)
    console.print(f"{dataset}:{stage}: {'ran' if ran else 'up to date'}")


class BumpKind(str, Enum):
    patch = "patch"
    minor = "minor"
    major = "major"


Bump = Annotated[BumpKind, typer.Option("--bump", help="Version part to bump.")]
Automated = Annotated[bool, typer.Option("--automated/--no-automated", help="Tag as -automated (scheduled runs).")]
Push = Annotated[bool, typer.Option("--push", help="Push the release commit and tag to origin.")]


def run_cmd(
    dataset: str,
    force: Annotated[bool, typer.Option("--force/--no-force", help="Rerun every stage.")] = False,
    bump: Bump = BumpKind.patch,
    automated: Automated = False,
    no_publish: Annotated[bool, typer.Option("--no-publish", help="Reproduce only.")] = False,
    push: Push = False,
) -> None:
    """Reproduce a pipeline, then publish a release if anything changed."""
    from steps.registry.dvc import open_repo, reproduce
    from steps.registry.release import publish_release

    require_pipeline(dataset)
    check_params(dataset)
    setup_dvc_logging()
    repo = open_repo()
    ran = reproduce(repo, dataset, force=force)
    console.print(f"{dataset}: {'reproduced ' + ', '.join(ran) if ran else 'pipeline up to date'}")
    if not no_publish:
        publish_release(dataset, bump=bump.value, automated=automated, push=push, repo=repo)


def publish_cmd(dataset: str, bump: Bump = BumpKind.patch, automated: Automated = False, push: Push = False) -> None:
    """Publish what is reproduced as a new version (data pushed and checked before the tag)."""
    from steps.registry.release import publish_release

    require_pipeline(dataset)
    check_params(dataset)
    publish_release(dataset, bump=bump.value, automated=automated, push=push)


def show_cmd(ref: Annotated[str, typer.Argument(metavar="DATASET[@VERSION]")]) -> None:
    """Metadata summary and lineage of a version (default: latest)."""
    from steps.git import git_out, show_file
    from steps.registry.diff import flatten
    from steps.registry.versions import resolve_ref

    v = resolve_ref(ref)
    text = show_file(v.tag, layout.metadata_json(v.dataset))
    if text is None:
        raise DregError(f"{v.tag} has no metadata.json", "curated datasets carry no metadata")
    meta = json.loads(text)
    lineage = meta.get("lineage", {})
    console.print(f"[bold]{v.tag}[/bold]  commit {git_out('rev-list', '-n1', v.tag)[:10]}  "
                  f"created {lineage.get('created_at', '?')}")
    table = Table("field", "value", show_header=False, box=None)
    for split, info in sorted(meta.get("splits", {}).items()):
        table.add_row(f"split {split}", f"{info.get('num_samples')} samples")
    for key, value in flatten(meta.get("metrics", {})).items():
        if not isinstance(value, (dict, list)) and "distribution" not in key:
            table.add_row(f"metric {key}", str(value))
    label = meta.get("schema", {}).get("features", {}).get("label", {})
    if label.get("classes"):
        table.add_row("classes", ", ".join(map(str, label["classes"])))
    source = lineage.get("source", {})
    table.add_row("source kind", str(source.get("kind")))
    for f in source.get("files", []):
        table.add_row("source", f"{f.get('url')}  sha256 {str(f.get('sha256'))[:16]}…")
    for name, tag in sorted(lineage.get("upstream", {}).items()):
        table.add_row("upstream", f"{name}: {tag}")
    for key, value in flatten(lineage.get("params", {})).items():
        table.add_row(f"param {key}", str(value))
    for key in ("code_commit", "docker_image_tag", "argo_workflow_uid"):
        table.add_row(key, str(lineage.get(key)))
    console.print(table)


def verify_cmd(
    tag: Annotated[str | None, typer.Argument(help="Release tag, e.g. wine-quality-v1.0.0.")] = None,
    remote_only: Annotated[bool, typer.Option("--remote-only", help="Read every object back from the DVC remote and "
                                              "check its hash (no rebuild).")] = False,
    all_tags: Annotated[bool, typer.Option("--all", help="With --remote-only: audit every release tag.")] = False,
) -> None:
    """Rebuild a version from its pinned inputs and compare every output with the tag's dvc.lock (or, with
    --remote-only, audit what the DVC remote holds for it)."""
    if remote_only:
        audit_cmd(tag, all_tags)
        return
    if tag is None or all_tags:
        raise DregError("verify needs one TAG (--all only with --remote-only)", "e.g. dreg verify wine-quality-v1.0.0")
    from steps.registry.verify import verify_release

    setup_dvc_logging()
    report = verify_release(tag, Path.cwd())
    for path in report.matched:
        console.print(f"[green]match[/green]   {path}")
    for path, (expected, got) in report.differ.items():
        console.print(f"[red]differs[/red] {path}: released {expected}, rebuilt {got}")
    if not report.reproducible:
        raise DregError(f"{tag} is not reproducible: {len(report.differ)} output(s) differ", "see the list above")
    console.print(f"[bold green]{tag} is reproducible[/bold green] ({len(report.matched)} outputs match)")
    audit_cmd(tag, all_tags=False)


def audit_cmd(tag: str | None, all_tags: bool) -> None:
    """`verify --remote-only`: each tag's objects read back from the DVC remote; exit 1 if any is missing or bad."""
    from steps.registry.verify import audit_remote, release_tags

    if (tag is None) == (not all_tags):
        raise DregError("give one TAG or --all", "e.g. dreg verify --remote-only --all")
    reports = audit_remote(release_tags(Path.cwd()) if all_tags else [tag], Path.cwd())
    for report in reports:
        for problem in report.problems:
            console.print(f"[red]bad[/red] {report.tag}: {problem}", soft_wrap=True)
        if not report.problems:
            console.print(f"[green]ok[/green]  {report.tag} ({report.checked} objects)")
    bad = [r.tag for r in reports if r.problems]
    if bad:
        raise DregError(f"{len(bad)} of {len(reports)} tag(s) fail the remote audit: {', '.join(bad[:5])}",
                        "see the list above; delete each bad object from the remote, then `dvc push` from a clean cache")
    console.print(f"[bold green]remote holds every object of {len(reports)} tag(s) intact[/bold green]")
