"""Hotspot statistics on H3 cells: pure functions on arrays and cell sets (no HTTP, no disk)."""
