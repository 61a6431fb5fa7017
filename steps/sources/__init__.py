"""External systems the pipelines read from: the GitHub REST API and the MLflow Prompt Registry."""
