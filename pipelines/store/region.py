"""Region-pruned reads: only the rows whose stored H3 cell can lie in a study's region.

Layout that makes it cheap: every partition's rows are written sorted by ``h3_cell`` (so rows of
one place sit together; H3 numbers of a coarse cell's descendants are one contiguous range, see
``pipelines.index.h3_ranges``) in row groups of ``ROW_GROUP_ROWS``. Parquet keeps the min and max
``h3_cell`` of every row group in the file footer, so a read opens the footer, skips every row
group (and so every force-month) whose span meets none of the region's ranges, reads the columns
asked of the others and keeps the rows inside the ranges. A study with no force therefore reads
the crimes recorded by every force in its region, and nothing of the forces elsewhere.

Files written before this layout (unsorted) are read correctly, only with less skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.index.h3_ranges import in_ranges, overlaps

ROW_GROUP_ROWS = 8_192
_H3 = "h3_cell"


def region_ordered(table: pa.Table) -> pa.Table:
    """Rows sorted by ``h3_cell`` (stable, rows without a point last): the order partitions are
    written in, so a region's rows share few row groups."""
    return table.sort_by([(_H3, "ascending")])


def read_file_in_ranges(path: Path, ranges: np.ndarray, columns: Iterable[str]) -> pa.Table:
    """Rows of one partition file whose ``h3_cell`` lies in ``ranges`` (the columns asked)."""
    wanted = list(columns)
    parquet = pq.ParquetFile(path)
    metadata = parquet.metadata
    h3_index = parquet.schema_arrow.get_field_index(_H3)
    groups = [
        group
        for group in range(metadata.num_row_groups)
        if _may_hold(metadata.row_group(group).column(h3_index).statistics, ranges)
    ]
    read_columns = wanted if _H3 in wanted else [*wanted, _H3]
    if not groups:
        return parquet.schema_arrow.empty_table().select(wanted).replace_schema_metadata(None)
    table = parquet.read_row_groups(groups, columns=read_columns)
    cells = table[_H3].fill_null(0).to_numpy()
    return (
        table.filter(pa.array(in_ranges(ranges, cells)))
        .select(wanted)
        .replace_schema_metadata(None)
    )


def _may_hold(statistics: pq.Statistics | None, ranges: np.ndarray) -> bool:
    if statistics is None or not statistics.has_min_max:
        # No statistics: a row group of rows without a point only (nothing to place), or a
        # file from another writer; read it unless it holds nothing but nulls.
        return statistics is None or statistics.null_count != statistics.num_values
    return overlaps(ranges, int(statistics.min), int(statistics.max))
