"""`data-pipelines`: run a list of datasets in parallel, each through its own template; and its nightly schedule."""

from __future__ import annotations

from typing import Any

from hera.expr import g
from hera.workflows import DAG, CronWorkflow, Parameter, Resource, WorkflowTemplate
from hera.workflows.models import WorkflowTemplateRef

from workflows.common import (
    PART_OF,
    arg,
    as_inputs,
    create_and_wait,
    image_parameters,
    params,
    passthrough,
    run_parameters,
    workflow_settings,
)
from workflows.deployment import Deployment

FANOUT = "data-pipelines"
CRON = "data-pipelines-nightly"
# The parameters every dataset's template takes, handed on to each child workflow.
FORWARDED = ("git_rev", "force", "bump_type", "is_automated", "image", "ray_image")
# The nightly run ends: with the schedule's `Forbid`, a hung run would otherwise stop every later one. Each
# child ends within its own deadline (at most pipeline.RAY_WORKFLOW_DEADLINE); this one leaves room for the
# children that wait for a mutex held by a manual run of the same dataset.
FANOUT_DEADLINE = 12 * 3600


def child_workflow_manifest() -> dict[str, Any]:
    """The Workflow the fan-out creates for one dataset, from that dataset's WorkflowTemplate."""
    dataset = arg("dataset")
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "generateName": f"{dataset}-",
            "labels": {**PART_OF, "data-registry/parent-workflow": f"{g.workflow.name:$}"},
        },
        "spec": {
            "workflowTemplateRef": {"name": dataset},
            "arguments": {"parameters": [{"name": name, "value": arg(name)} for name in FORWARDED]},
        },
    }


def run_pipeline() -> Resource:
    """Submit one dataset's pipeline as a child Workflow and wait for it."""
    success, failure = "status.phase == Succeeded", "status.phase in (Failed,Error)"
    return create_and_wait(
        "run-pipeline", child_workflow_manifest(), params("dataset", *FORWARDED), success, failure
    )


def fanout_arguments(d: Deployment) -> list[Parameter]:
    """The datasets to run (default: the scheduled ones), then what each dataset's template takes."""
    datasets = Parameter(name="datasets", value=d.cron_datasets, description="JSON list of dataset names")
    return [datasets, *run_parameters(), *image_parameters(d)]


def fanout_template(d: Deployment) -> WorkflowTemplate:
    """One child workflow per listed dataset; one failing does not stop the others."""
    arguments = fanout_arguments(d)
    settings = workflow_settings(d, d.fanout_service_account)
    with WorkflowTemplate(
        name=FANOUT, labels=PART_OF, arguments=arguments, active_deadline_seconds=FANOUT_DEADLINE, **settings
    ) as wt:
        run = run_pipeline()
        with DAG(name="main", inputs=as_inputs(arguments), fail_fast=False):
            run(
                name="pipeline",
                with_param=arg("datasets"),
                arguments={"dataset": f"{g.item:$}", **passthrough(*FORWARDED)},
            )
    return wt


def cron_workflow(d: Deployment) -> CronWorkflow:
    """Nightly run of the scheduled datasets, tagged as automated releases."""
    return CronWorkflow(
        name=CRON,
        namespace=d.namespace,
        labels=PART_OF,
        schedules=[d.cron_schedule],
        timezone=d.cron_timezone,
        concurrency_policy="Forbid",
        starting_deadline_seconds=3600,
        successful_jobs_history_limit=3,
        failed_jobs_history_limit=3,
        workflow_template_ref=WorkflowTemplateRef(name=FANOUT),
        arguments=[
            Parameter(name="datasets", value=d.cron_datasets),
            Parameter(name="is_automated", value="true"),
        ],
    )
