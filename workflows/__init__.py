"""Hera definitions of the cluster pipelines; `python -m workflows.render` writes their YAML."""
