"""Chunks are embedded in batches of similar token length (less padding), and every vector comes back at its own
chunk's position."""

from __future__ import annotations

import itertools

import numpy as np

from steps.embeddings.pipeline import encode_by_length, length_batches


def fake_encode(seen: list[list[str]]):
    """A stand-in model: the vector of a text is (its length, its first character's code), so a vector in the wrong
    row shows; records each batch it is given."""
    def encode(batch: list[str]) -> np.ndarray:
        seen.append(batch)
        return np.array([[len(t), ord(t[0])] for t in batch], dtype=np.float32)
    return encode


def test_vectors_come_back_in_the_order_of_the_texts() -> None:
    rng = np.random.default_rng(7)
    texts = [chr(97 + i % 26) * int(n) for i, n in enumerate(rng.integers(1, 300, size=53))]
    seen: list[list[str]] = []
    got = encode_by_length(texts, [len(t) for t in texts], 8, fake_encode(seen))
    assert got.tolist() == [[len(t), ord(t[0])] for t in texts]
    assert [len(b) for b in seen] == [8] * 6 + [5]
    widths = [[len(t) for t in b] for b in seen]
    assert all(min(a) >= max(b) for a, b in itertools.pairwise(widths))  # longest first, no overlap


def test_batches_cover_every_text_once_and_keep_ties_in_order() -> None:
    batches = length_batches([3, 9, 3, 9, 1], 2)
    assert [b.tolist() for b in batches] == [[1, 3], [0, 2], [4]]
    assert encode_by_length([], [], 4, fake_encode([])).shape[0] == 0
