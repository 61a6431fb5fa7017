"""The one table of what runs on the cluster: datasets, their DVC stages, and compute profiles."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """Requests and limits for one step; GPU count and worker replicas apply to Ray worker groups."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    gpus: int
    ray_workers: int


@dataclass(frozen=True)
class Pipeline:
    """A dataset's DVC stages in order, its default profile, and the stage (if any) that runs on Ray."""

    dataset: str
    stages: tuple[str, ...]
    profile: str
    ray_stage: str | None = None
    scheduled: bool = False

    @property
    def needs_ray(self) -> bool:
        return self.ray_stage is not None


def task_name(stage: str) -> str:
    """Argo task names allow letters, digits and '-' only."""
    return stage.replace("_", "-")


PROFILES: dict[str, Profile] = {
    "cpu-small": Profile("500m", "1", "1Gi", "2Gi", gpus=0, ray_workers=1),
    "cpu-medium": Profile("1", "2", "4Gi", "8Gi", gpus=0, ray_workers=2),
    "cpu-large": Profile("4", "8", "16Gi", "32Gi", gpus=0, ray_workers=4),
    "gpu-small": Profile("2", "4", "8Gi", "16Gi", gpus=1, ray_workers=1),
    "gpu-medium": Profile("4", "8", "16Gi", "32Gi", gpus=1, ray_workers=2),
    "gpu-large": Profile("8", "16", "32Gi", "64Gi", gpus=2, ray_workers=4),
}

PIPELINES: dict[str, Pipeline] = {
    p.dataset: p
    for p in (
        Pipeline("wine-quality", ("download", "process", "analyze"), "cpu-small"),
        Pipeline("fashion-mnist", ("download", "process", "analyze"), "cpu-medium"),
        Pipeline("emotion", ("download", "process", "analyze"), "cpu-medium"),
        Pipeline("roco-radiology", ("download", "resolve_prompt", "process", "analyze"), "cpu-large"),
        Pipeline("opencloudhub-readmes-download", ("download", "analyze"), "cpu-small", scheduled=True),
        Pipeline(
            "opencloudhub-readmes-embeddings",
            ("embed", "analyze"),
            "gpu-small",
            ray_stage="embed",
            scheduled=True,
        ),
    )
}

SCHEDULED: tuple[str, ...] = tuple(name for name, p in PIPELINES.items() if p.scheduled)
BUMP_TYPES: tuple[str, ...] = ("patch", "minor", "major")
