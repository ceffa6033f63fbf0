"""Datasets: versions, content digests, schemas and checks, profiles, splits, erasure."""
