"""The crime store: Parquet files partitioned by force and month, with their coverage ledger."""

from pipelines.store.coverage import PartitionCoverage
from pipelines.store.crime_store import CrimeStore, resolve_data_dir

__all__ = ["CrimeStore", "PartitionCoverage", "resolve_data_dir"]
