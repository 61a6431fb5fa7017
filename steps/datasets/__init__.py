"""One module per dataset, each exposing its stages to `python -m steps.datasets.<module> STAGE`."""
