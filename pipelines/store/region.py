"""Region-pruned reads: only the rows whose stored H3 cell can lie in a study's region.

Layout that makes it cheap: every partition's rows are written sorted by ``h3_cell`` (so rows of
one place sit together; H3 numbers of a coarse cell's descendants are one contiguous range, see
``pipelines.index.h3_ranges``) in row groups of ``ROW_GROUP_ROWS``. Parquet keeps the min and max
``h3_cell`` of every row group in the file footer, so a read opens the footer, skips every row
group (and so every force-month) whose span meets none of the region's ranges, reads the columns
asked of the others and keeps the rows inside the ranges. A study with no force therefore reads
the crimes recorded by every force in its region, and nothing of the forces elsewhere.

Before any file is opened, the manifest prunes whole partitions: each entry lists the H3 cells
at ``INDEX_RESOLUTION`` (about 1,770 km² each) that hold its rows, written at ingest
(:func:`index_cells`), and :class:`PartitionIndex` keeps only the partitions with a cell that
meets the region's ranges. On a national store a ward study so opens the dozen files of the
forces around it, not the 1,440 of every force and month (one footer read each).

Files written before this layout (unsorted) or before the index are read correctly, only with
less skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import arrow_numpy
from pipelines.index.h3_cells import parent_cells
from pipelines.index.h3_ranges import descendant_bounds, in_ranges, overlaps, spans_meeting

ROW_GROUP_ROWS = 8_192
# Coarse enough that a force-month lists a few dozen cells (Devon and Cornwall: 17), fine
# enough that a ward's cells meet only the forces around it.
INDEX_RESOLUTION = 4
_H3 = "h3_cell"


def index_cells(cells: pa.Array | pa.ChunkedArray, presorted: bool = False) -> tuple[str, ...]:
    """The distinct ``INDEX_RESOLUTION`` parents of stored cells, as sorted H3 hex strings.

    ``presorted``: the cells are sorted ascending, nulls last, as a partition file stores them
    (:func:`region_ordered`). Their parents are then sorted too (a parent keeps its cell's
    leading bits), so the distinct ones are where the parent changes, with no sort again."""
    located = cells.slice(0, len(cells) - cells.null_count) if presorted else cells.drop_null()
    parents = arrow_numpy.to_numpy(parent_cells(located, INDEX_RESOLUTION))
    if not presorted:
        parents = np.sort(parents)
    if len(parents) == 0:
        return ()
    starts = np.flatnonzero(parents[1:] != parents[:-1]) + 1
    distinct = np.concatenate([parents[:1], parents[starts]])
    return tuple(f"{cell:x}" for cell in distinct.tolist())


class PartitionIndex:
    """Which partitions can hold rows in a region, from the cells their manifest entries list."""

    def __init__(
        self, keys: Sequence[tuple[str, str]], parents: Sequence[Sequence[str] | None]
    ) -> None:
        self._keys = list(keys)
        self._unindexed = [key for key, cells in zip(keys, parents, strict=True) if cells is None]
        owners = [i for i, cells in enumerate(parents) for _ in cells or ()]
        values = [int(cell, 16) for cells in parents for cell in cells or ()]
        self._owners = np.array(owners, dtype=np.int64)
        self._low, self._high = descendant_bounds(
            np.array(values, dtype=np.uint64), INDEX_RESOLUTION
        )

    def may_hold(self, ranges: np.ndarray) -> set[tuple[str, str]]:
        """Keys of the partitions that may hold a row in ``ranges`` (unindexed ones always)."""
        meets = spans_meeting(ranges, self._low, self._high)
        return {*self._unindexed, *(self._keys[i] for i in np.unique(self._owners[meets]))}


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
    # Through pipelines.arrow_numpy: pyarrow's own conversions import pandas (a study has none).
    cells = arrow_numpy.to_numpy(table[_H3].fill_null(arrow_numpy.scalar(0, table[_H3].type)))
    return (
        table.filter(arrow_numpy.from_numpy(in_ranges(ranges, cells)))
        .select(wanted)
        .replace_schema_metadata(None)
    )


def _may_hold(statistics: pq.Statistics | None, ranges: np.ndarray) -> bool:
    if statistics is None or not statistics.has_min_max:
        # No statistics: a row group of rows without a point only (nothing to place), or a
        # file from another writer; read it unless it holds nothing but nulls.
        return statistics is None or statistics.null_count != statistics.num_values
    return overlaps(ranges, int(statistics.min), int(statistics.max))
