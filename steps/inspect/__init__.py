"""Looking at releases: rebuild-and-compare (`verify`), remote audits, and metadata diffs."""
