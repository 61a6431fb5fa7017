"""The catalogue: a static HTML site of a registry's releases (a data preview, stages, cards, lineage, drift), read from
its git tags through the registry handle; a few lines of optional JavaScript filter the index."""
