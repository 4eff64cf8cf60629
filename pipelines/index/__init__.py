"""Spatial indexing of crime points."""
