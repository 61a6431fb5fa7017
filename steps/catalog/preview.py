"""The data preview of a release: the first rows of each split (text shortened, images as small PNG thumbnails in
the site), read through the registry handle, like the Hugging Face dataset viewer."""

from __future__ import annotations

import io
import json
import posixpath
from pathlib import Path
from typing import Any

from steps import layout
from steps.kit.files import write_bytes
from steps.refs.handle import Registry, Release

ROWS = 20  # rows shown per split
TEXT = 120  # characters of a cell shown; the rest in its tooltip (up to TOOLTIP)
TOOLTIP = 1000
THUMB = 96  # longest side of an image thumbnail, pixels
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
Cell = dict[str, str]  # {"text": shown, "title": full} or {"image": path under the site, "alt": text}


def split_files(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """(split or file name, file path under data/<dataset>/) to preview: each split's file, train first; for curated
    data (schema.files maps a path to its schema) each file."""
    files = (meta.get("schema") or {}).get("files") or {}
    splits = sorted(meta.get("splits") or {}, key=lambda s: (s != "train", s))
    pairs = [(s, files[s]) for s in splits if isinstance(files.get(s), str)]
    return pairs or [(path, path) for path, spec in sorted(files.items()) if isinstance(spec, dict)]


def text_cell(value: Any) -> Cell:
    """A value as shortened text; the full text (capped) as its tooltip."""
    if isinstance(value, list) and value and all(isinstance(v, dict) and "value" in v for v in value):
        return conversation_cell(value)
    elif isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False, default=str)
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = "" if value is None else str(value)
    short = shorten(text, TEXT)
    return {"text": short, "title": text[:TOOLTIP] if short != text else ""}


def conversation_cell(messages: list[dict[str, Any]]) -> Cell:
    """Chat messages (`from`, `value`) as `from: value | …`, each message shortened alike so every turn shows."""
    full = " | ".join(f"{m.get('from', '')}: {m['value']}".strip() for m in messages)
    budget = max(20, TEXT // len(messages))
    short = " | ".join(f"{m.get('from', '')}: {shorten(str(m['value']).strip(), budget)}".strip() for m in messages)
    return {"text": short, "title": full[:TOOLTIP] if short != full else ""}


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def thumbnail(image: Any) -> bytes:
    """A PIL image as a PNG of at most THUMB pixels a side (a tiny image, e.g. 28x28, kept at its size)."""
    image = image.convert("L" if image.mode in ("1", "L", "I;16", "I", "F") else "RGB")
    image.thumbnail((THUMB, THUMB))
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def pixel_image(value: Any) -> Any | None:
    """A 2-D list of 0-255 numbers (e.g. a fashion-mnist `image`) as a PIL image; None for anything else."""
    import numpy as np
    from PIL import Image

    if not (isinstance(value, list) and len(value) >= 4 and all(isinstance(r, list) for r in value)):
        return None
    try:
        pixels = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if pixels.ndim != 2 or pixels.shape[1] < 4 or pixels.min() < 0 or pixels.max() > 255:
        return None
    return Image.fromarray(pixels.astype(np.uint8), mode="L")


def encoded_image(data: bytes) -> Any | None:
    """Image file bytes (JPEG, PNG…) as a PIL image; None when they are not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return image


class SplitReader:
    """Reads one split's first rows from a release and writes its thumbnails under the site's `previews/`."""

    def __init__(self, reg: Registry, release: Release, out: Path, features: dict[str, Any] | None = None) -> None:
        self.reg, self.release, self.out = reg, release, out
        self.folder = f"previews/{release.dataset}/{release.semver}"
        self.names = class_names(features or {})

    def image_cell(self, image: Any, name: str, alt: str) -> Cell:
        """Write `image` as a thumbnail named `name` and return its cell."""
        path = f"{self.folder}/{name}.png"
        write_bytes(self.out / path, thumbnail(image))
        return {"image": path, "alt": alt}

    def cell(self, split: str, row: int, column: str, value: Any, folder: str) -> Cell:
        """One value: an image (pixels, image bytes or an image file of the release beside the split) or text."""
        name, alt = f"{safe(split)}-{row}-{safe(column)}", f"{column} of row {row}"
        if isinstance(value, dict) and isinstance(value.get("bytes"), bytes):
            value = value["bytes"]
        image = None
        if isinstance(value, bytes):
            image = encoded_image(value)
        elif isinstance(value, list):
            image = pixel_image(value)
        elif isinstance(value, str) and value.lower().endswith(IMAGE_SUFFIXES) and "/" not in value:
            data = self.reg.read_data(self.release, posixpath.join(folder, value))
            image = encoded_image(data)
        if image is not None:
            return self.image_cell(image, name, alt)
        names = self.names.get(column, [])
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            return text_cell(f"{value} ({names[value]})")  # a class label with its name, like the Hub's viewer
        return text_cell(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)

    def records(self, path: str) -> list[dict[str, Any]]:
        """The first ROWS records of a parquet, CSV or JSON (a list of objects, or JSON lines) file."""
        rel = layout.data_file(self.release.dataset, path)
        if path.endswith(".parquet"):
            import pyarrow.parquet as pq

            rows: list[dict[str, Any]] = []
            with self.reg.fs(self.release).open(rel, "rb") as f:  # the footer and the first row group(s) only
                for batch in pq.ParquetFile(f).iter_batches(batch_size=ROWS):
                    rows += batch.to_pylist()[:ROWS - len(rows)]
                    if len(rows) >= ROWS:
                        break
            return rows
        if path.endswith(".csv"):
            import pandas as pd

            with self.reg.fs(self.release).open(rel, "rb") as f:
                frame = pd.read_csv(f, nrows=ROWS, sep=None, engine="python")
            return [{str(k): (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]
        data = self.reg.read_data(self.release, path)
        if path.endswith(".jsonl"):
            return [json.loads(line) for line in data.decode().splitlines()[:ROWS] if line.strip()]
        doc = json.loads(data)
        rows = doc if isinstance(doc, list) else [doc]
        return [r if isinstance(r, dict) else {"value": r} for r in rows[:ROWS]]

    def split(self, split: str, path: str, images: str | None) -> dict[str, Any]:
        """{"file", "columns", "rows"} of one split (its image files looked up in `images`, default beside it)."""
        records = self.records(path)
        columns = list(dict.fromkeys(k for r in records for k in r))
        folder = (images or posixpath.join(posixpath.dirname(path), "images")).rstrip("/")
        rows = [[self.cell(split, i, c, r.get(c), folder) for c in columns] for i, r in enumerate(records)]
        return {"file": path, "columns": columns, "rows": rows}


def class_names(features: dict[str, Any]) -> dict[str, list[str]]:
    """{column: class names} of integer-coded columns whose schema lists their classes by name."""
    return {name: spec["classes"] for name, spec in features.items() if isinstance(spec, dict)
            and str(spec.get("dtype", "")).startswith(("int", "uint")) and spec.get("column", name) == name
            and isinstance(spec.get("classes"), list) and all(isinstance(c, str) for c in spec["classes"])}


def safe(name: str) -> str:
    """A name usable in a file name: letters, digits, `-` and `_` kept, the rest `_`."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:60]


def read_preview(reg: Registry, release: Release, meta: dict[str, Any], out: Path) -> dict[str, Any]:
    """{split: {"file", "columns", "rows"} or {"file", "error"}} for every split (or curated file) of the release;
    one unreadable split never fails the catalogue."""
    schema = meta.get("schema") or {}
    features = schema.get("features") if isinstance(schema.get("features"), dict) else {}
    reader, images = SplitReader(reg, release, out, features), schema.get("images") or {}
    preview: dict[str, Any] = {}
    for split, path in split_files(meta):
        try:
            preview[split] = reader.split(split, path, images.get(split) if isinstance(images, dict) else None)
        except Exception as exc:  # noqa: BLE001 - shown on the page instead of failing the build
            preview[split] = {"file": path, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return preview


def complete(preview: Any, out: Path) -> bool:
    """Whether a recorded preview can be reused: no split failed and its thumbnails are still in the site."""
    if not isinstance(preview, dict):
        return False
    splits = preview.values()
    return all(isinstance(s, dict) and "rows" in s for s in splits) and all(
        (out / cell["image"]).is_file() for s in splits for row in s["rows"] for cell in row if "image" in cell)
