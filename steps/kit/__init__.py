"""What stage code imports: params, the stage runner, downloads, digests, atomic files and YAML, tables, metadata."""
