"""Spatial weights on H3 cells: binary k-ring neighbourhoods as sparse matrices.

The k-ring of a cell is every cell within ``k`` grid steps (H3 ``grid_disk``), itself included:
7 cells for k=1, 19 for k=2. Only cells of the study set are neighbours, so a cell on the rim of
the study region has fewer than 3k(k+1) neighbours; that is what ArcGIS and esda do with a fixed
neighbourhood too.
"""

from __future__ import annotations

import h3
import h3ronpy
import numpy as np
import pyarrow as pa
from scipy import sparse

from pipelines import arrow_numpy
from pipelines.quoting import quoted

_h3 = h3.api.basic_int


def check_cells(cells: np.ndarray) -> np.ndarray:
    """``cells`` as a 1-D uint64 array of distinct, valid H3 cells of one resolution."""
    array = np.asarray(cells)
    if array.ndim != 1:
        raise ValueError(f"cells must be a 1-D array of H3 cells, got shape {array.shape}")
    if len(array) == 0:
        raise ValueError("cells is empty: a study needs at least one H3 cell")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"cells must be H3 cells as integers (uint64), got dtype {array.dtype}")
    array = array.astype(np.uint64, copy=False)
    # A study's cells come sorted (the cover's order): strictly increasing has no duplicates;
    # otherwise neighbours in sorted order are compared (numpy's hash-based unique is far
    # slower on uint64).
    if not (array[1:] > array[:-1]).all():
        ordered = np.sort(array)
        if (ordered[1:] == ordered[:-1]).any():
            raise ValueError("cells holds duplicates: each H3 cell must appear once")
    # Validity and resolution for every cell at once (h3ronpy gives null for an invalid cell).
    valid = pa.array(h3ronpy.cells_valid(arrow_numpy.from_numpy(array, pa.uint64()))).is_valid()
    valid = arrow_numpy.to_numpy(valid)
    if not valid.all():
        invalid = int(array[np.argmin(valid)])
        raise ValueError(f"{invalid} is not a valid H3 cell")
    # An H3 cell index keeps its resolution in bits 52-55.
    resolutions = (array >> np.uint64(52)) & np.uint64(0xF)
    mixed = resolutions != resolutions[0]
    if mixed.any():
        other = int(resolutions[np.argmax(mixed)])
        raise ValueError(
            f"cells mix H3 resolutions ({int(resolutions[0])} and {other}); "
            "a study uses one resolution"
        )
    return array


def kring_weights(cells: np.ndarray, k: int = 1) -> sparse.csr_matrix:
    """Binary n x n weights: w[i, j] = 1 when cell j is within ``k`` steps of cell i (i included).

    Rows and columns follow the order of ``cells``; neighbours outside ``cells`` are dropped.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ValueError(f"k must be an integer number of grid steps, got {quoted(k)}")
    if k < 1:
        raise ValueError(f"k must be at least 1 (the ring of immediate neighbours), got {k}")
    cells = check_cells(cells)
    n = len(cells)
    order = np.argsort(cells)
    sorted_cells = cells[order]

    # One flat array of every cell's disk (h3ronpy, vectorised; the same cells as h3's grid_disk),
    # then one vectorised lookup of which are in the study.
    disks = pa.array(h3ronpy.grid_disk(arrow_numpy.from_numpy(cells, pa.uint64()), k))
    sizes = np.diff(arrow_numpy.to_numpy(disks.offsets)).astype(np.int64)
    flat = arrow_numpy.to_numpy(disks.flatten()).astype(np.uint64)
    row = np.repeat(np.arange(n, dtype=np.int64), sizes)
    position = np.searchsorted(sorted_cells, flat)
    position[position == n] = 0
    present = sorted_cells[position] == flat
    row = row[present]
    column = order[position[present]]
    data = np.ones(len(row), dtype=np.float64)
    weights = sparse.csr_matrix((data, (row, column)), shape=(n, n))
    weights.sort_indices()
    return weights


def without_self(weights: sparse.csr_matrix) -> sparse.csr_matrix:
    """The same weights with the diagonal removed (for statistics that exclude the cell itself)."""
    result = sparse.csr_matrix(weights, copy=True)
    result.setdiag(0)
    result.eliminate_zeros()
    return result


def row_standardised(weights: sparse.csr_matrix) -> sparse.csr_matrix:
    """Each row divided by its sum, so a spatial lag is a neighbourhood mean; empty rows stay 0."""
    result = sparse.csr_matrix(weights, copy=True, dtype=np.float64)
    sums = np.asarray(result.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums != 0)
    result = sparse.csr_matrix(sparse.diags(scale) @ result)
    result.sort_indices()
    return result


def to_libpysal(weights: sparse.spmatrix, ids: list | None = None) -> object:
    """The weights as a ``libpysal.weights.W`` (for checking results against esda)."""
    from libpysal.weights import WSP

    matrix = sparse.csr_matrix(weights)
    return WSP(matrix, id_order=ids).to_W(silence_warnings=True)
