"""The release rules: one version grammar, git and DVC operations, the one publish sequence, curate, verify, diff."""
