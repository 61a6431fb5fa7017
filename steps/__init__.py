"""data-registry: versioned datasets as DVC pipelines, released as immutable git tags."""
