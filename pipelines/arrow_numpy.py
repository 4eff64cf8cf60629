"""Arrow <-> numpy for fixed-width values, through the arrays' buffers.

pyarrow imports pandas (when it is installed) the first time it converts to or from numpy or
Python values: ``Array.to_numpy`` (even zero-copy), ``np.asarray(array)``, ``pa.array(...)``,
``pa.scalar(...)`` and compute functions given a Python number. That import costs a new
process 0.1-0.15 CPU s; a study needs none of pandas. These functions give the same arrays,
dtypes included, by reading and wrapping buffers, which pyarrow does without its pandas shim.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa

__all__ = ["from_numpy", "from_strings", "scalar", "to_numpy", "to_objects", "to_uint64"]


def to_numpy(values: pa.Array | pa.ChunkedArray, nulls_as: float | None = None) -> np.ndarray:
    """The values of an integer, floating point or boolean array, as
    ``values.to_numpy(zero_copy_only=False)`` gives them (same dtype; a read-only view of the
    buffer for one chunk of numbers, a new array for booleans or several chunks). Nulls become
    ``nulls_as`` (as ``values.fill_null(nulls_as).to_numpy()``); without it, nulls raise
    ValueError, as does another type (its conversion is not a copy of the buffer)."""
    if nulls_as is not None and values.null_count:
        values = values.fill_null(scalar(nulls_as, values.type))
    if isinstance(values, pa.ChunkedArray):
        chunks = values.chunks
        if len(chunks) == 1:
            return _chunk(chunks[0])
        dtype = _dtype(values.type)
        if not chunks:
            return np.zeros(0, dtype=dtype)
        return np.concatenate([_chunk(chunk) for chunk in chunks])
    return _chunk(values)


def to_uint64(values: object, drop_nulls: bool = False) -> np.ndarray:
    """An integer array of any Arrow library (pyarrow's, or the arro3 arrays h3ronpy returns,
    through the Arrow PyCapsule interface) as uint64 values, e.g. H3 cells. Nulls (h3ronpy's
    invalid cells) are left out with ``drop_nulls``; without it they raise ValueError."""
    array = pa.array(values)
    if drop_nulls and array.null_count:
        array = array.drop_null()
    return to_numpy(array).astype(np.uint64, copy=False)


def from_numpy(
    values: np.ndarray, type: pa.DataType | None = None, mask: np.ndarray | None = None
) -> pa.Array:
    """A 1-D numpy array of numbers or booleans as an Arrow array, as
    ``pa.array(values, type=type, mask=mask)`` makes it: null where ``mask`` is True; ``type``
    defaults to the dtype's own, and the values are converted to it as numpy's ``astype`` does
    (give a type that holds them)."""
    values = np.asarray(values)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D array, got {values.ndim} dimensions")
    arrow_type = pa.from_numpy_dtype(values.dtype) if type is None else type
    dtype = _dtype(arrow_type)
    if dtype == np.bool_:
        data = np.packbits(values.astype(np.bool_, copy=False), bitorder="little")
    else:
        data = np.ascontiguousarray(values, dtype=dtype)
    validity = None
    if mask is not None:
        mask = np.asarray(mask, dtype=np.bool_)
        if mask.shape != values.shape:
            raise ValueError(f"mask of {mask.shape} for values of {values.shape}")
        if mask.any():
            validity = pa.py_buffer(np.packbits(~mask, bitorder="little"))
    # The Arrow array keeps the numpy arrays alive through the buffers.
    return pa.Array.from_buffers(arrow_type, len(values), [validity, pa.py_buffer(data)])


def from_strings(values: Iterable[str | None]) -> pa.StringArray:
    """Python strings (None: null) as an Arrow string array: ``pa.array(values, pa.string())``."""
    values = list(values)
    encoded = [b"" if value is None else _utf8(value) for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"{offsets[-1]:,} bytes of text: more than one string array holds")
    missing = np.fromiter((value is None for value in values), dtype=np.bool_, count=len(values))
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing.any() else None
    return pa.StringArray.from_buffers(
        len(values),
        pa.py_buffer(offsets.astype(np.int32)),
        pa.py_buffer(b"".join(encoded)),
        validity,
        int(missing.sum()),
    )


def to_objects(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A string (or any) array's values as a numpy object array of Python values (None: null),
    as ``values.to_numpy(zero_copy_only=False)`` gives strings."""
    objects = np.empty(len(values), dtype=object)
    objects[:] = values.to_pylist()
    return objects


def scalar(value: object, type: pa.DataType) -> pa.Scalar:
    """``value`` as an Arrow scalar of ``type`` (``pa.scalar(value, type)``), e.g. the other
    side of a compute function's comparison: given a Python number, pyarrow imports pandas."""
    return from_numpy(np.array([value], dtype=_dtype(type)), type)[0]


def _utf8(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"expected a string or None, got {type(value).__name__}")
    return value.encode("utf-8")


def _chunk(array: pa.Array) -> np.ndarray:
    dtype = _dtype(array.type)
    if array.null_count:
        raise ValueError(f"{array.null_count} null values: no numpy array of {array.type}")
    data, offset = array.buffers()[1], array.offset
    if data is None or len(array) == 0:  # an empty array may have no buffer
        data, offset = b"", 0
    if dtype == np.bool_:
        bits = np.frombuffer(data, dtype=np.uint8)
        unpacked = np.unpackbits(bits, bitorder="little", count=offset + len(array))
        return unpacked[offset:].view(np.bool_)
    view = np.frombuffer(data, dtype=dtype, count=len(array), offset=offset * dtype.itemsize)
    view.flags.writeable = False  # Arrow data is immutable (a buffer from numpy may not be)
    return view


def _dtype(type: pa.DataType) -> np.dtype:
    if not (pa.types.is_integer(type) or pa.types.is_floating(type) or pa.types.is_boolean(type)):
        raise ValueError(f"{type} values are not plain numbers: no buffer view of them")
    return np.dtype(type.to_pandas_dtype())
