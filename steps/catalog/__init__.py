"""The catalogue: a static HTML site (no JavaScript) of a registry's releases, read from its git tags."""
