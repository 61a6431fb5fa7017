"""Plain data: the compute profiles, and what only the cluster needs to know about each dataset.

Stage names and their order come from `pipelines/<dataset>/dvc.yaml`, read at render time.
"""

from __future__ import annotations

from dataclasses import dataclass

from steps import layout
from steps.refs.pipelines import stages_of


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
    """A dataset's default compute profile, the stage (if any) that runs on Ray, and whether it runs nightly."""

    dataset: str
    profile: str
    ray_stage: str | None = None
    scheduled: bool = False

    @property
    def stages(self) -> tuple[str, ...]:
        """The DVC stages in order, from the dataset's dvc.yaml."""
        return tuple(stages_of(self.dataset, layout.CODE_ROOT))

    @property
    def needs_ray(self) -> bool:
        """Whether one stage runs as a RayJob."""
        return self.ray_stage is not None


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
        Pipeline("wine-quality", "cpu-small"),
        Pipeline("fashion-mnist", "cpu-medium"),
        Pipeline("emotion", "cpu-medium"),
        Pipeline("roco-radiology", "cpu-large"),
        Pipeline("opencloudhub-readmes-download", "cpu-small", scheduled=True),
        Pipeline("opencloudhub-readmes-embeddings", "gpu-small", ray_stage="embed", scheduled=True),
    )
}

SCHEDULED: tuple[str, ...] = tuple(name for name, p in PIPELINES.items() if p.scheduled)
