"""Release commands: `list`, `stage`, `run`, `publish`, `show`, `verify` — thin layers over `steps.refs`,
`steps.release` and `steps.inspect`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from steps import layout
from steps.cli.output import JsonFlag, RepoOption, console, plain, print_json, print_table, shown
from steps.errors import DregError
from steps.refs.handle import Registry, Release, open_registry
from steps.refs.pipelines import all_datasets, check_params, require_pipeline, require_registry, stages_of
from steps.refs.versions import Bump


def in_registry() -> Path:
    """The registry this command runs in (cwd or above; "not a data registry" otherwise), made the working dir."""
    root = require_registry()
    os.chdir(root)
    return root


@contextlib.contextmanager
def reading(repo: str | None) -> Iterator[Registry]:
    """The registry a read command reads: `--repo` (URL or path, from any folder) or this checkout (made the working
    directory), opened once through the one handle."""
    root = None if repo is not None else in_registry()
    with open_registry(repo, root or ".") as reg:
        yield reg


def release_metadata(reg: Registry, release: Release) -> dict[str, Any]:
    """metadata.json as released (curated releases have none: one error)."""
    text = reg.read_text(release, layout.metadata_json(release.dataset))
    if text is None:
        raise DregError(f"{release.tag} has no metadata.json", "curated datasets carry no metadata; see `dreg list`")
    return json.loads(text)


def complete_dataset(incomplete: str) -> list[str]:
    """Shell completion: the registry's dataset names (nothing outside a registry)."""
    try:
        return [d for d in all_datasets(require_registry()) if d.startswith(incomplete)]
    except DregError:
        return []


def complete_ref(incomplete: str) -> list[str]:
    """Shell completion: dataset names, then `DATASET@VERSION` from the local release tags."""
    dataset, at, _ = incomplete.partition("@")
    if not at:
        return complete_dataset(incomplete)
    try:
        with open_registry(None, require_registry()) as reg:
            names = [v.semver for v in reg.versions(dataset)] + ["latest", *reg.stages(dataset)]
    except DregError:
        return []
    return [f"{dataset}@{n}" for n in names if f"{dataset}@{n}".startswith(incomplete)]


def complete_stage(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion: the stages of the pipeline named before it (dvc.yaml order; nothing if there is none)."""
    try:
        root = require_registry()
        return [s for s in stages_of(str(ctx.params.get("dataset") or ""), root) if s.startswith(incomplete)]
    except (DregError, OSError):
        return []


DatasetArg = Annotated[str, typer.Argument(metavar="DATASET", autocompletion=complete_dataset, show_default=False)]
RefArg = Annotated[str, typer.Argument(metavar="DATASET[@VERSION]", autocompletion=complete_ref,
                                       help="DATASET, DATASET@1.2.0, DATASET@v1.2.0, DATASET@latest, DATASET@<stage> "
                                            "or the tag DATASET-v1.2.0.", show_default=False)]


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


def list_cmd(repo: RepoOption = None, as_json: JsonFlag = False) -> None:
    """Datasets, their published versions (newest first) and promotion stages; `--repo` reads another registry."""
    with reading(repo) as reg:
        rows: list[dict[str, Any]] = []
        for dataset in reg.datasets():
            versions = reg.versions(dataset)
            rows.append({"dataset": dataset, "latest": versions[0].semver if versions else None,
                         "tag": versions[0].tag if versions else None, "versions": [v.semver for v in versions],
                         "tags": [v.tag for v in versions], "stages": reg.stages(dataset) if versions else {}})
    if as_json:
        print_json({"repo": repo, "datasets": rows})
        return
    table = Table(Column("dataset", no_wrap=True), Column("latest", no_wrap=True), Column("versions", overflow="fold"),
                  Column("stages", overflow="fold"))
    for row in rows:
        stages = " ".join(f"{stage}={semver}" for stage, semver in sorted(row["stages"].items()))
        table.add_row(plain(row["dataset"]), shown(row["tag"]), newest_versions(row["versions"]), stages or "-")
    print_table(table)  # dataset names and tags never cut: versions and stages wrap


def newest_versions(versions: list[str], limit: int = 8) -> str:
    """The newest `limit` versions and how many more there are (`--json` lists all); "-" for none."""
    more = f" … {len(versions) - limit} more (--json lists all)" if len(versions) > limit else ""
    return " ".join(versions[:limit]) + more if versions else "-"


def stage_cmd(
    dataset: DatasetArg,
    stage: Annotated[str, typer.Argument(metavar="STAGE", autocompletion=complete_stage, show_default=False)],
    force: Annotated[bool, typer.Option("--force/--no-force", help="Run even if DVC sees no change.")] = False,
) -> None:
    """Run one DVC stage of a pipeline (what an Argo step calls)."""
    from steps.release.dvc import open_repo, reproduce

    in_registry()
    require_pipeline(dataset)
    if stage not in stages_of(dataset):
        raise DregError(f"{dataset} has no stage {stage[:40]!r}", f"stages: {', '.join(stages_of(dataset))}")
    check_params(dataset)
    setup_dvc_logging()
    ran = reproduce(open_repo(), dataset, stage=stage, force=force)
    console.print(f"{dataset}:{stage}: {'ran' if ran else 'up to date'}")


BumpOption = Annotated[Bump, typer.Option("--bump", help="Version part to bump.")]  # the tag grammar's kinds
Automated = Annotated[bool, typer.Option("--automated/--no-automated", help="Tag as -automated (scheduled runs).")]
Push = Annotated[bool, typer.Option("--push", help="Push the release commit and tag to origin.")]


def run_cmd(
    dataset: DatasetArg,
    force: Annotated[bool, typer.Option("--force/--no-force", help="Rerun every stage.")] = False,
    bump: BumpOption = "patch",
    automated: Automated = False,
    no_publish: Annotated[bool, typer.Option("--no-publish", help="Reproduce only.")] = False,
    push: Push = False,
) -> None:
    """Reproduce a pipeline, then publish a release if anything changed."""
    from steps.release.dvc import open_repo, reproduce
    from steps.release.sequence import publish_release

    in_registry()
    require_pipeline(dataset)
    check_params(dataset)
    setup_dvc_logging()
    repo = open_repo()
    ran = reproduce(repo, dataset, force=force)
    console.print(f"{dataset}: {'reproduced ' + ', '.join(ran) if ran else 'pipeline up to date'}")
    if not no_publish:
        publish_release(dataset, bump=bump, automated=automated, push=push, repo=repo)


TagResult = Annotated[Path | None, typer.Option(
    "--result", help="File to write the release's tag to: the one made, or the latest one already holding "
                     "these outputs (a repeated publish reports the same tag).")]


def publish_cmd(dataset: DatasetArg, bump: BumpOption = "patch", automated: Automated = False,
                push: Push = False, result: TagResult = None) -> None:
    """Publish what is reproduced as a new version (data pushed and checked before the tag)."""
    from steps.refs.versions import latest_version
    from steps.release.sequence import publish_release

    in_registry()
    require_pipeline(dataset)
    check_params(dataset)
    made = publish_release(dataset, bump=bump, automated=automated, push=push)
    if result is not None:
        version = made.version if made else latest_version(dataset)
        result.write_text(version.tag if version else "")


def show_cmd(ref: RefArg, repo: RepoOption = None, as_json: JsonFlag = False) -> None:
    """Metadata summary and lineage of a version (default: latest); `--repo` reads another registry."""
    with reading(repo) as reg:
        release = reg.resolve(ref)
        meta = release_metadata(reg, release)
    if as_json:
        print_json({"dataset": release.dataset, "version": release.version, "tag": release.tag,
                    "commit": release.commit, "metadata": meta})
        return
    lineage = meta.get("lineage") or {}
    console.print(plain(f"{release.tag}  commit {release.commit[:10]}  created {shown(lineage.get('created_at'))}"),
                  style="bold")
    print_table(show_table(meta))


def croissant_cmd(
    ref: RefArg, repo: RepoOption = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Croissant 1.0 JSON-LD of a version (also of releases made before releases wrote croissant.json)."""
    from steps.release.croissant import release_croissant

    with reading(repo) as reg:
        release = reg.resolve(ref)
        text = release_croissant(reg, release, release_metadata(reg, release))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


def show_table(meta: dict[str, Any]) -> Table:
    """Splits, metrics, classes, sources, upstream releases, params and lineage; unset fields shown as "-"."""
    from steps.inspect.diff import flatten

    lineage = meta.get("lineage") or {}
    table = Table(Column("field", no_wrap=True), Column("value", overflow="fold"), show_header=False, box=None)
    for split, info in sorted((meta.get("splits") or {}).items()):
        table.add_row(f"split {split}", f"{shown(info.get('num_samples'))} samples")
    for key, value in flatten(meta.get("metrics") or {}).items():
        if not isinstance(value, (dict, list)) and "distribution" not in key:
            table.add_row(f"metric {key}", shown(value))
    label = ((meta.get("schema") or {}).get("features") or {}).get("label") or {}
    if label.get("classes"):
        table.add_row("classes", ", ".join(map(str, label["classes"])))
    source = lineage.get("source") or {}
    table.add_row("source kind", shown(source.get("kind")))
    for f in source.get("files") or []:
        digest = f.get("sha256")
        table.add_row("source", f"{shown(f.get('url'))}  sha256 {digest[:16] + '…' if digest else '-'}")
    for name, tag in sorted((lineage.get("upstream") or {}).items()):
        table.add_row("upstream", f"{name}: {shown(tag)}")
    for key, value in flatten(lineage.get("params") or {}).items():
        table.add_row(f"param {key}", shown(value))
    for key in ("code_commit", "docker_image_tag", "argo_workflow_uid"):
        table.add_row(key, shown(lineage.get(key)))
    return table


def verify_cmd(
    ref: Annotated[str | None, typer.Argument(metavar="DATASET[@VERSION]", autocompletion=complete_ref,
                                              help="The version to check: fashion-mnist, fashion-mnist@1.0.0 or the "
                                                   "tag fashion-mnist-v1.0.0 (one grammar, as in show and diff).",
                                              show_default=False)] = None,
    remote_only: Annotated[bool, typer.Option("--remote-only", help="Read every object back from the DVC remote and "
                                              "check its hash (no rebuild).")] = False,
    all_tags: Annotated[bool, typer.Option("--all", help="With --remote-only: audit every release tag.")] = False,
) -> None:
    """Rebuild a version from its pinned inputs and compare every output with the tag's dvc.lock (or, with
    --remote-only, audit what the DVC remote holds for it)."""
    root = in_registry()
    with open_registry(None, root) as reg:
        for name in reg.release_tags() if all_tags else [ref] if ref is not None else []:
            reg.attested(reg.resolve(name))  # a signed release's attestation must hold before anything is trusted
        if remote_only:
            if (ref is None) == (not all_tags):
                raise DregError("give one version or --all", "e.g. dreg verify --remote-only --all")
            audit_cmd(reg.release_tags() if ref is None else [reg.resolve(ref).tag], root)
            return
        tag = reg.resolve(ref).tag if ref is not None and not all_tags else None
    if tag is None:
        raise DregError("verify needs one version (--all only with --remote-only)",
                        "e.g. dreg verify wine-quality@1.0.0")
    from steps.inspect.verify import verify_release

    setup_dvc_logging()
    report = verify_release(tag, root)
    for path in report.matched:
        console.print(f"[green]match[/green]   {path}")
    for path, (expected, got) in report.differ.items():
        console.print(f"[red]differs[/red] {path}: released {expected}, rebuilt {got}")
    if not report.reproducible:
        raise DregError(f"{tag} is not reproducible: {len(report.differ)} output(s) differ", "see the list above")
    console.print(f"[bold green]{tag} is reproducible[/bold green] ({len(report.matched)} outputs match)")
    audit_cmd([tag], root)


def audit_cmd(tags: list[str], root: Path) -> None:
    """`verify --remote-only`: each tag's objects read back from the DVC remote; exit 1 if any is missing or bad."""
    from steps.inspect.verify import audit_remote

    reports = audit_remote(tags, root)
    for report in reports:
        for problem in report.problems:
            console.print(f"[red]bad[/red] {report.tag}: {problem}", soft_wrap=True)
        if not report.problems:
            console.print(f"[green]ok[/green]  {report.tag} ({report.checked} objects)")
    bad = [r.tag for r in reports if r.problems]
    if bad:
        raise DregError(f"{len(bad)} of {len(reports)} tag(s) fail the remote audit: {', '.join(bad[:5])}",
                        "see the list above; delete each bad object from the remote, "
                        "then `dvc push` from a clean cache")
    console.print(f"[bold green]remote holds every object of {len(reports)} tag(s) intact[/bold green]")
