"""Hera definitions of the cluster pipelines; `python -m workflows.render` writes their YAML into the chart.

profiles (plain data) · deployment (per-cluster settings) · common (shared pieces) · pipeline (one
dataset's template) · rayjob (its Ray stage) · fanout (`data-pipelines` and its CronWorkflow) · render.
"""
