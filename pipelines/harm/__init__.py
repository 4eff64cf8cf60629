"""Harm weights: what a crime of each police.uk category is worth (count, cost, or sentence days).

Built-in tables ship as YAML in ``pipelines/harm/tables/``; see docs/harm-weights.md for each
table's source, version and derivation.
"""

from pipelines.harm.table import (
    POLICE_GENERATED,
    HarmTable,
    HarmTableError,
    list_tables,
    load_table,
)

__all__ = ["POLICE_GENERATED", "HarmTable", "HarmTableError", "list_tables", "load_table"]
