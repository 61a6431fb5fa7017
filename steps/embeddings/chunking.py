"""Markdown → clean, header-aware, size-bounded chunks; noise is dropped with a reason."""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from functools import lru_cache

HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]
MAX_BAD_BYTES_RATIO = 0.01

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_BADGE = re.compile(r"\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\)")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_HTML_HEADING = re.compile(r"<h([1-3])\b[^>]*>(.*?)</h\1\s*>", re.DOTALL | re.IGNORECASE)
_BREAK = re.compile(r"<br\s*/?>|</p\s*>|</div\s*>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(\s[^<>]*)?/?>")
_BOX_ART = re.compile(r"[\u2500-\u259f\u25a0-\u25ff\u2800-\u28ff]")
_EMPTY_LINK = re.compile(r"\[\s*\]\([^)]*\)")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANKS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class ChunkConfig:
    """The chunking params: sizes in characters, noise as the share of symbol characters."""

    chunk_size: int
    chunk_overlap: int
    min_chunk_chars: int
    max_noise_ratio: float


@dataclass(frozen=True)
class Piece:
    """One chunk of a document, or a dropped one (`drop_reason` set)."""

    content: str
    sections: dict[str, str | None] = field(default_factory=dict)
    drop_reason: str | None = None

    @property
    def sha256(self) -> str:
        return content_sha256(self.content)


def content_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def decode_document(data: bytes) -> tuple[str, None] | tuple[None, str]:
    """UTF-8 text of a document, or (None, reason) for an empty or binary one."""
    if b"\x00" in data:
        return None, "binary"
    text = data.decode("utf-8", errors="replace")
    if text.count("\ufffd") > max(1, int(len(text) * MAX_BAD_BYTES_RATIO)):
        return None, "binary"
    if not text.strip():
        return None, "empty"
    return text, None


def _heading(match: re.Match[str]) -> str:
    inner = _TAG.sub("", match[2])
    return f"\n\n{'#' * int(match[1])} {' '.join(inner.split())}\n\n"


def clean_markdown(text: str) -> str:
    """Drop HTML comments and tags, badges, image links and box-drawing art; keep prose, code and headings."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _COMMENT.sub("", text)
    text = _BADGE.sub("", text)
    text = _IMAGE.sub("", text)
    text = _HTML_HEADING.sub(_heading, text)
    text = _BREAK.sub("\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = _BOX_ART.sub(" ", text)
    text = _EMPTY_LINK.sub("", text)
    text = _TRAILING.sub("\n", text)
    return _BLANKS.sub("\n\n", text).strip()


def noise_ratio(text: str) -> float:
    """Share of non-space characters that are neither letters nor digits."""
    chars = [c for c in text if not c.isspace()]
    return sum(1 for c in chars if not c.isalnum()) / len(chars) if chars else 1.0


@lru_cache(maxsize=8)
def _splitters(chunk_size: int, chunk_overlap: int):
    from langchain_text_splitters import Language, MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

    headers = MarkdownHeaderTextSplitter(HEADERS, strip_headers=False)
    sizes = RecursiveCharacterTextSplitter.from_language(
        Language.MARKDOWN, chunk_size=chunk_size, chunk_overlap=chunk_overlap, strip_whitespace=True
    )
    return headers, sizes


def chunk_markdown(text: str, cfg: ChunkConfig) -> list[Piece]:
    """Split by h1–h3 sections, then by size with overlap; mark short, noisy and repeated chunks as dropped."""
    headers, sizes = _splitters(cfg.chunk_size, cfg.chunk_overlap)
    pieces: list[Piece] = []
    seen: set[str] = set()
    for section in headers.split_text(clean_markdown(text)):
        names = {f"section_{h}": section.metadata.get(h) for _, h in HEADERS}
        for part in sizes.split_text(section.page_content):
            content = _TRAILING.sub("\n", part).strip()
            reason = None
            if len(content) < cfg.min_chunk_chars:
                reason = "too_short"
            elif noise_ratio(content) > cfg.max_noise_ratio:
                reason = "noise"
            elif (digest := content_sha256(content)) in seen:
                reason = "duplicate"
            else:
                seen.add(digest)
            pieces.append(Piece(content, names, reason))
    return pieces
