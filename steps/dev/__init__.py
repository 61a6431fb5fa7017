"""Developer tooling: `make demo`, scratch registries, format-faithful sample sources (not shipped in images)."""
