"""pipelines.arrow_numpy gives what pyarrow's own conversions give (values and dtypes, bit for
bit) without pyarrow importing pandas, which a study in a new process does not need."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipelines import arrow_numpy
from tests.fresh_process import modules_loaded

NUMBER_TYPES = [
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
    pa.uint64(),
    pa.float16(),
    pa.float32(),
    pa.float64(),
]


def _random(rng: np.random.Generator, arrow_type: pa.DataType, n: int) -> np.ndarray:
    dtype = np.dtype(arrow_type.to_pandas_dtype())
    if dtype.kind == "f":
        values = rng.normal(scale=1e3, size=n).astype(dtype)
        values[rng.random(n) < 0.1] = np.nan
        values[rng.random(n) < 0.05] = -0.0
        return values
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=n, dtype=dtype, endpoint=True)


def _same(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.dtype == theirs.dtype
    assert ours.shape == theirs.shape
    assert ours.tobytes() == theirs.tobytes()  # bit for bit: NaN payloads and -0.0 included


@pytest.mark.parametrize("arrow_type", NUMBER_TYPES, ids=str)
def test_numbers_and_slices_read_as_to_numpy_reads_them(arrow_type: pa.DataType) -> None:
    rng = np.random.default_rng(len(str(arrow_type)))
    for n in (0, 1, 7, 64, 1_001):
        whole = pa.array(_random(rng, arrow_type, n), type=arrow_type)
        spans = [(0, n), (min(3, n), n), (min(1, n), max(n - 5, min(1, n))), (n, n)]
        for start, stop in spans:
            sliced = whole.slice(start, stop - start)
            _same(arrow_numpy.to_numpy(sliced), sliced.to_numpy(zero_copy_only=False))
        # Read-only views of the buffer, as pyarrow's zero-copy views.
        assert not arrow_numpy.to_numpy(whole).flags.writeable
        assert not whole.to_numpy().flags.writeable


@pytest.mark.parametrize("arrow_type", [pa.int32(), pa.uint64(), pa.float64()], ids=str)
def test_chunked_arrays_read_as_to_numpy_reads_them(arrow_type: pa.DataType) -> None:
    rng = np.random.default_rng(7)
    pieces = [pa.array(_random(rng, arrow_type, n), type=arrow_type) for n in (5, 0, 130, 1)]
    for chunks in (pieces, pieces[2:3], [piece.slice(1) for piece in pieces if len(piece)], []):
        chunked = pa.chunked_array(chunks, type=arrow_type)
        _same(arrow_numpy.to_numpy(chunked), chunked.to_numpy())


def test_bit_packed_booleans_are_unpacked_at_any_offset() -> None:
    rng = np.random.default_rng(3)
    values = pa.array(rng.random(203) < 0.4)
    for start in range(0, 17):
        sliced = values.slice(start, 203 - 2 * start)
        _same(arrow_numpy.to_numpy(sliced), sliced.to_numpy(zero_copy_only=False))
    chunked = pa.chunked_array([values.slice(5, 9), values.slice(1, 100)])
    _same(arrow_numpy.to_numpy(chunked), chunked.to_numpy())


def test_nulls_are_refused_unless_a_value_stands_for_them() -> None:
    cells = pa.array([5, None, 7, None], type=pa.uint64()).slice(1)
    with pytest.raises(ValueError, match="2 null values"):
        arrow_numpy.to_numpy(cells)
    _same(arrow_numpy.to_numpy(cells, nulls_as=0), cells.fill_null(0).to_numpy())
    coordinates = pa.chunked_array([[1.5, None], [None, -2.0]], type=pa.float64())
    # What a coordinate column gives pyarrow's to_numpy: NaN for each null.
    _same(arrow_numpy.to_numpy(coordinates, nulls_as=np.nan), coordinates.to_numpy())
    codes = pc.dictionary_encode(pa.array(["a", None, "b", "a"])).indices
    _same(arrow_numpy.to_numpy(codes, nulls_as=-1), codes.fill_null(-1).to_numpy())


def test_values_that_are_not_plain_numbers_are_refused() -> None:
    for values in (
        pa.array(["a", "b"]),
        pa.array([1, 2]).dictionary_encode(),
        pa.array([0, 1], type=pa.timestamp("s")),
    ):
        with pytest.raises(ValueError, match="not plain numbers"):
            arrow_numpy.to_numpy(values)


@pytest.mark.parametrize("arrow_type", [*NUMBER_TYPES, pa.bool_()], ids=str)
def test_numpy_arrays_become_the_arrays_pa_array_makes(arrow_type: pa.DataType) -> None:
    rng = np.random.default_rng(11)
    if pa.types.is_boolean(arrow_type):
        values = rng.random(77) < 0.5
    else:
        values = _random(rng, arrow_type, 77)
    for sample in (values, values[::3], values[5:9], values[:0]):  # strided and empty too
        ours = arrow_numpy.from_numpy(sample, arrow_type)
        theirs = pa.array(sample, type=arrow_type)
        assert ours.type == theirs.type
        assert ours.null_count == 0
        _same(arrow_numpy.to_numpy(ours), theirs.to_numpy(zero_copy_only=False))
        assert ours.equals(theirs) or np.isnan(sample.astype(np.float64)).any()
    # The type defaults to the dtype's own, as pa.array's.
    assert arrow_numpy.from_numpy(values).type == pa.array(values).type


def test_a_mask_makes_nulls_as_pa_array_makes_them() -> None:
    rng = np.random.default_rng(5)
    values = rng.integers(0, 2**63, size=100, dtype=np.uint64)
    for mask in (rng.random(100) < 0.3, np.zeros(100, dtype=bool), np.ones(100, dtype=bool)):
        ours = arrow_numpy.from_numpy(values, pa.uint64(), mask=mask)
        theirs = pa.array(values, type=pa.uint64(), mask=mask)
        assert ours.equals(theirs)
        assert ours.null_count == theirs.null_count == mask.sum()
    with pytest.raises(ValueError, match="mask"):
        arrow_numpy.from_numpy(values, pa.uint64(), mask=np.zeros(3, dtype=bool))


def test_cells_of_any_arrow_library_read_as_uint64() -> None:
    """h3ronpy answers with arro3 arrays (read through the Arrow PyCapsule interface), null
    where a cell is invalid: those are left out when asked, else refused, never read as a
    number."""
    arro3 = pytest.importorskip("arro3.core")
    cells = pa.array([617700169958293503, None, 617700169958293504], pa.uint64())
    for given in (cells, arro3.Array.from_arrow(cells)):
        with pytest.raises(ValueError, match="null"):
            arrow_numpy.to_uint64(given)
        expected = cells.drop_null().to_numpy().astype(np.uint64)
        _same(arrow_numpy.to_uint64(given, drop_nulls=True), expected)
    _same(arrow_numpy.to_uint64(pa.array([1, 2], pa.int64())), np.array([1, 2], dtype=np.uint64))


def test_scalars_compare_as_pyarrow_scalars_do() -> None:
    values = pa.array([0.5, 1.0, None, 2.0])
    one = arrow_numpy.scalar(1.0, pa.float64())
    assert one.equals(pa.scalar(1.0, type=pa.float64()))
    assert pc.equal(values, one).equals(pc.equal(values, 1.0))
    assert pc.fill_null(values, arrow_numpy.scalar(0, pa.float64())).equals(values.fill_null(0))
    assert arrow_numpy.scalar(2**64 - 1, pa.uint64()).as_py() == 2**64 - 1


def test_strings_become_the_arrays_pa_array_makes() -> None:
    for values in ([], ["E05014007"], ["a", None, "", "Saint-Étienne ✓", None], ["x"] * 1000):
        ours = arrow_numpy.from_strings(values)
        theirs = pa.array(values, type=pa.string())
        assert ours.equals(theirs)
        assert ours.null_count == theirs.null_count
        objects = arrow_numpy.to_objects(ours)
        expected = theirs.to_numpy(zero_copy_only=False)
        assert objects.dtype == expected.dtype == object
        assert objects.tolist() == expected.tolist()
    with pytest.raises(TypeError, match="got int"):
        arrow_numpy.from_strings(["a", 1])  # not text: refused, not written as something else


def test_no_conversion_imports_pandas() -> None:
    """pyarrow's own conversions import pandas when it is installed (the first assertion shows
    this test can fail); these do not."""
    pytest.importorskip("pandas")
    theirs = "import numpy as np, pyarrow as pa\npa.array(np.arange(3)).to_numpy()\n"
    loaded, _ = modules_loaded(theirs, ["pandas"])
    assert loaded == ["pandas"]
    ours = """
import numpy as np, pyarrow as pa, pyarrow.compute as pc
from pipelines import arrow_numpy as an
cells = an.from_numpy(np.arange(10, dtype=np.uint64), pa.uint64(), mask=np.arange(10) % 3 == 0)
an.to_numpy(cells, nulls_as=0)
an.to_numpy(pa.chunked_array([cells.slice(2), cells]), nulls_as=0)
an.to_numpy(pc.is_valid(cells))
an.to_numpy(pc.greater(cells, an.scalar(4, pa.uint64())), nulls_as=False)
an.to_numpy(an.from_numpy(np.linspace(0, 1, 5)).slice(1))
codes = pc.index_in(an.from_strings(["b", None, "a"]), value_set=an.from_strings(["a", "b"]))
an.to_numpy(codes, nulls_as=-1)
an.to_objects(an.from_strings(["a", None]))
from arro3.core import Array
an.to_uint64(Array.from_arrow(cells), drop_nulls=True)
"""
    loaded, _ = modules_loaded(ours, ["pandas"])
    assert loaded == []
