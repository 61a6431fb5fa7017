"""`dreg add`: release manually curated files (no pipeline) as `data/<dataset>/*.dvc`, under the release rules."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from statistics import fmean
from typing import Any

from steps import layout
from steps.errors import DregError
from steps.git import repo_root
from steps.kit.digests import file_digests
from steps.kit.files import atomic_path, write_bytes
from steps.kit.metadata import build_lineage, write_metadata
from steps.refs.versions import Bump, check_dataset
from steps.release.dvc import open_repo
from steps.release.sequence import Release, already_released, release, sync_with_origin

QUESTION_COLUMNS = ("question", "expected_answer", "key_concepts")
CONCEPT_SEPARATORS = re.compile(r"[;,|]")
RESERVED = ("metadata.json", ".gitignore", "README.md")  # README.md is the dataset card


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV file's header and rows, refused unless it is UTF-8, every quote is closed and every row has the header's
    width with no NUL byte (nothing is silently dropped, padded or swallowed)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, strict=True)
            header = [h.strip() for h in next(reader, [])]
            rows = [checked_row(path, reader.line_num, row, header) for row in reader if row]
    except UnicodeDecodeError as exc:
        raise DregError(f"{path.name}: not a UTF-8 CSV file (byte {exc.start} is not UTF-8)",
                        "save it as UTF-8 CSV") from None
    except csv.Error as exc:
        why = "a quoted field is never closed" if "end of data" in str(exc) else str(exc)[:120]
        raise DregError(f"{path.name}: not a valid CSV file ({why})",
                        "close every quoted field and save it as UTF-8 CSV") from None
    return header, rows


def checked_row(path: Path, line: int, row: list[str], header: list[str]) -> dict[str, str]:
    """One CSV row as {column: value}, refused when its width differs from the header's or it has a NUL byte."""
    if len(row) != len(header):
        raise DregError(f"{path.name}: row {line} has {len(row)} fields, the header has {len(header)}",
                        "give every row one value per column (quote fields that contain commas)")
    if any("\x00" in v for v in row):
        raise DregError(f"{path.name}: row {line} contains a NUL byte", "remove control characters from the file")
    return {k: v.strip() for k, v in zip(header, row, strict=True)}  # widths checked equal above


def read_questions(path: Path) -> list[dict[str, str]]:
    """Validate a questions CSV: header `question,expected_answer,key_concepts` and no empty field or row."""
    header, rows = read_csv(path)
    if sorted(header) != sorted(QUESTION_COLUMNS):
        raise DregError(f"{path.name}: header is {header or 'empty'}, expected {list(QUESTION_COLUMNS)}",
                        "the first line must be: question,expected_answer,key_concepts")
    if not rows:
        raise DregError(f"{path.name}: no rows below the header", "add at least one question")
    for line, row in enumerate(rows, start=2):
        empty = [c for c in QUESTION_COLUMNS if not row.get(c)]
        if empty:
            raise DregError(f"{path.name}: row {line} has empty {', '.join(empty)}", "fill every field of every row")
    return rows


def questions_summary(path: Path) -> dict[str, Any]:
    """Schema, row count and text statistics of a questions CSV."""
    rows = read_questions(path)
    concepts = [len([c for c in CONCEPT_SEPARATORS.split(r["key_concepts"]) if c.strip()]) for r in rows]
    return {
        "schema": {"format": "csv", "columns": {c: {"dtype": "string"} for c in QUESTION_COLUMNS}},
        "num_samples": len(rows),
        "metrics": {
            "question_length_chars": round(float(fmean([len(r["question"]) for r in rows])), 4),
            "expected_answer_length_chars": round(float(fmean([len(r["expected_answer"]) for r in rows])), 4),
            "key_concepts_per_question": round(float(fmean(concepts)), 4),
            "duplicate_questions": len(rows) - len({r["question"] for r in rows}),
        },
    }


def file_summary(path: Path) -> dict[str, Any]:
    """What is known of a file no validator claims: its format (by suffix)."""
    if path.stat().st_size == 0:
        raise DregError(f"{path.name} is empty", "curated files must have content")
    if path.suffix.lower() == ".csv":
        read_csv(path)  # a CSV is released only if the client can read it back whole
    return {"schema": {"format": path.suffix.lstrip(".") or "binary"}}


VALIDATORS: dict[str, Callable[[Path], dict[str, Any]]] = {"questions.csv": questions_summary}


def summarize(path: Path) -> dict[str, Any]:
    """Validate a curated file by its name and describe it for metadata.json."""
    return VALIDATORS.get(path.name, file_summary)(path)


def check_inputs(dataset: str, files: list[Path], root: Path, new: bool = False) -> None:
    """Refuse pipeline datasets, bad names, an unknown dataset without `new`, missing or duplicate files, and invalid
    content — before any change."""
    check_dataset(dataset)
    if dataset in layout.pipeline_datasets(root):
        raise DregError(f"{dataset} is produced by a pipeline", f"release it with `dreg run {dataset}`")
    known = layout.curated_datasets(root)
    if dataset not in known and not new:
        raise DregError(f"no curated dataset '{dataset}' yet",
                        "pass --new to create it (a release tag is permanent); "
                        f"existing: {', '.join(known[:5]) or 'none'}")
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise DregError(f"file names repeat: {names}", "each file is stored as data/<dataset>/<name>")
    for f in files:
        if not f.is_file():
            raise DregError(f"{f} is not a file", "pass the files to track (directories are not supported)")
        if f.suffix == ".dvc" or f.name in RESERVED:
            raise DregError(f"{f.name} cannot be tracked as a curated file", "pass data files, e.g. questions.csv")
        summarize(f)


def place(files: list[Path], folder: Path) -> list[Path]:
    """Copy each file into `folder` (unless it already is there); return the tracked paths."""
    placed = []
    for f in files:
        dest = folder / f.name
        if f.resolve() != dest.resolve():
            with atomic_path(dest) as tmp:
                shutil.copyfile(f, tmp)
        placed.append(dest)
    return placed


def tracked_files(root: Path, dataset: str) -> list[Path]:
    """Data files of a curated dataset: every `<name>.dvc` in its folder, as `<name>`."""
    return [p.with_suffix("") for p in layout.curated_dvcfiles(root, dataset)]


def dvc_add(repo, paths: list[Path]) -> None:
    """`dvc add` the files: cache them and write `<name>.dvc` plus .gitignore entries."""
    try:
        repo.add([str(p) for p in paths])
    except Exception as exc:  # noqa: BLE001 - DVC raises many types; any failure means nothing was added
        raise DregError(f"dvc add failed: {str(exc).splitlines()[0]}", "check the files and the DVC cache") from None


def write_curated_metadata(dataset: str, root: Path) -> None:
    """metadata.json of a curated dataset: each file's schema, rows and checksums (the release fingerprint)."""
    folder = root / layout.data_dir(dataset)
    schema, splits, metrics, sources = {}, {}, {}, []
    for path in tracked_files(root, dataset):
        if not path.is_file():
            raise DregError(f"{path.relative_to(root)} is tracked but not in the workspace",
                            f"fetch it first: dvc pull {path.relative_to(root)}.dvc")
        summary = summarize(path)
        rel = path.relative_to(folder).as_posix()
        schema[rel] = summary["schema"]
        if "num_samples" in summary:
            splits[path.stem] = {"num_samples": summary["num_samples"]}
        if "metrics" in summary:
            metrics[path.stem] = summary["metrics"]
        sources.append({"file": rel, "kind": "curated", "bytes": path.stat().st_size, **file_digests(path)})
    write_metadata(dataset, schema={"files": schema}, splits=splits, metrics=metrics,
                   lineage=build_lineage(sources, {}), root=root)


def add_files(dataset: str, files: list[Path], bump: Bump = "patch", push: bool = False,
              new: bool = False) -> Release | None:
    """Validate, `dvc add`, then release the data like a pipeline's; None if nothing changed. A dataset that does
    not exist yet needs `new`."""
    from steps.kit.lineage_events import LineageRun, read_lineage, reported

    root = repo_root()
    files = [f.resolve() for f in files]
    check_inputs(dataset, files, root, new)
    placed = place(files, root / layout.data_dir(dataset))
    with reported(LineageRun(f"{dataset}.add", [p.relative_to(root).as_posix() for p in placed], []), root) as run:
        made = add_placed(dataset, placed, bump, push, root)  # OpenLineage: START, COMPLETE/FAIL, like a publish
        if made is not None:
            run.outputs = [made.tag]
            run.lineage, run.metadata = read_lineage(dataset, root)
    return made


def add_placed(dataset: str, placed: list[Path], bump: Bump, push: bool, root: Path) -> Release | None:
    """`dvc add` the placed files, write the curated metadata and release; None if nothing changed."""
    repo = open_repo(root)
    dvc_add(repo, placed)
    meta = root / layout.metadata_json(dataset)
    before = meta.read_bytes() if meta.exists() else None
    write_curated_metadata(dataset, root)
    if push:
        sync_with_origin(dataset, root)
    if already_released(dataset, root):
        if before is not None:
            write_bytes(meta, before)
        return None
    dvcfiles = [str(p) for p in layout.curated_dvcfiles(root, dataset)]
    return release(dataset, dvcfiles, repo, root, bump=bump, automated=False, push=push, again="dreg add")
