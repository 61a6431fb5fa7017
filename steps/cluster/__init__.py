"""Cluster plumbing the Argo steps call: the hand-off of a Ray stage's lock entry and outputs to the publish step."""
