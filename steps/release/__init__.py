"""The write path: the one release sequence, origin sync, DVC pushes and remote checks, curated data, the card."""
