"""Plain data: the compute profiles, and what the cluster needs to know about each dataset.

Each dataset's default profile, Ray stage and schedule, and its stage names in order, come from
`pipelines/<dataset>/dvc.yaml` (its `artifacts:` entry and `stages:`), read at render time.
"""

from __future__ import annotations

from dataclasses import dataclass

from steps import layout
from steps.refs.pipelines import facts, stages_of


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
    """A dataset's default compute profile, the stage (if any) that runs on Ray, and its schedule."""

    dataset: str
    profile: str
    ray_stage: str | None = None
    schedule: str = "manual"

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



def declared(dataset: str) -> Pipeline:
    """A dataset's pipeline as its dvc.yaml declares it; an unknown profile is an error naming the file."""
    f = facts(dataset, layout.CODE_ROOT)
    if f.profile not in PROFILES:
        raise SystemExit(f"{layout.dvc_yaml(dataset)}: profile {f.profile!r} is not one of {', '.join(PROFILES)}")
    return Pipeline(dataset, f.profile, f.ray_stage, f.schedule)


PIPELINES: dict[str, Pipeline] = {name: declared(name) for name in layout.pipeline_datasets(layout.CODE_ROOT)}


def scheduled(cadence: str) -> tuple[str, ...]:
    """The datasets whose dvc.yaml declares `schedule: <cadence>` (nightly: the CronWorkflow; weekly: GitHub)."""
    return tuple(name for name, p in PIPELINES.items() if p.schedule == cadence)


SCHEDULED: tuple[str, ...] = scheduled("nightly")
