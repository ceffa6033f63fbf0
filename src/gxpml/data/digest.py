"""The content digest of a dataset: SHA-256 over its schema and every value of every row.

Definition (version 1), over the canonical form of the data (see :mod:`gxpml.data.frames`)::

    digest = SHA-256( b"gxpml-dataset-digest/1\\n"
                      || canonical_json({"columns": [{"name": N, "type": T}, ...], "rows": R})
                      || b"\\n"
                      || for each column, in order:
                             SHA-256(validity) || SHA-256(values) || SHA-256(lengths) )

where, for each column, over all rows in order:

* ``validity`` is one byte per row: 1 if the value is present, 0 if missing;
* ``values`` encodes each row's value, a missing value as the type's zero:
  ``int64`` 8 bytes little-endian; ``float64`` the IEEE-754 binary64 bits, little-endian;
  ``bool`` one byte 0/1; ``datetime``/``datetime[UTC]`` microseconds since the Unix epoch
  (UTC) as 8 bytes little-endian; ``string`` the UTF-8 bytes of the values, concatenated;
  ``null`` nothing;
* ``lengths`` is, for ``string`` columns, each value's UTF-8 byte length as 8 bytes
  little-endian (so the concatenation is unambiguous); empty for other types.

Each column's three streams are hashed separately, so the digest does not depend on how the
rows were batched when read, and it is computed in one pass in bounded memory. The digest
depends on column names, order and types, and on row order; it does not depend on the file
format (the same data as CSV or Parquet has the same digest), on compression or on the
Parquet writer. It is written ``sha256:<64 hex digits>``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from gxpml.canonical import canonical_json
from gxpml.data.frames import type_name

__all__ = ["DIGEST_PREFIX", "ContentDigest", "content_digest"]

DIGEST_PREFIX = b"gxpml-dataset-digest/1\n"


class ContentDigest:
    """Feed canonical batches with :meth:`update`; :meth:`hexdigest` at the end."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.rows = 0
        self._streams = [(hashlib.sha256(), hashlib.sha256(), hashlib.sha256()) for _ in schema]

    def update(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        for (validity, values, lengths), column in zip(self._streams, batch.columns, strict=True):
            validity.update(_validity(column))
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                data, sizes = _string_parts(column)
                values.update(data)
                lengths.update(sizes)
            elif not pa.types.is_null(column.type):
                values.update(_fixed_width(column))

    def hexdigest(self) -> str:
        header = {"columns": [{"name": f.name, "type": type_name(f.type)} for f in self.schema],
                  "rows": self.rows}
        h = hashlib.sha256(DIGEST_PREFIX)
        h.update(canonical_json(header).encode("utf-8"))
        h.update(b"\n")
        for streams in self._streams:
            for stream in streams:
                h.update(stream.digest())
        return h.hexdigest()


def _validity(column: pa.Array) -> bytes:
    if column.null_count == 0:
        return b"\x01" * len(column)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    return np.asarray(valid, dtype=np.uint8).tobytes()


def _fixed_width(column: pa.Array) -> bytes | memoryview:
    if pa.types.is_boolean(column.type):
        filled = column.fill_null(False) if column.null_count else column
        return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.uint8).tobytes()
    if pa.types.is_timestamp(column.type):
        column = column.view(pa.int64())
    zero: Any = 0.0 if pa.types.is_floating(column.type) else 0
    filled = column.fill_null(zero) if column.null_count else column
    dtype = "<f8" if pa.types.is_floating(column.type) else "<i8"
    array = np.ascontiguousarray(filled.to_numpy(zero_copy_only=False), dtype=dtype)
    return array.data.cast("B")


def _string_parts(column: pa.Array) -> tuple[memoryview, bytes]:
    if column.null_count:
        column = column.fill_null("")
    column = column.cast(pa.large_string())
    offsets = np.frombuffer(column.buffers()[1], dtype="<i8")[column.offset:column.offset + len(column) + 1]
    data_buffer = column.buffers()[2]
    start, end = (int(offsets[0]), int(offsets[-1])) if len(offsets) else (0, 0)
    data = memoryview(data_buffer)[start:end] if data_buffer is not None else memoryview(b"")
    sizes = np.ascontiguousarray(np.diff(offsets), dtype="<i8").tobytes()
    return data, sizes


def content_digest(table: pa.Table) -> str:
    """The digest of a canonical table (for tests and small data)."""
    digest = ContentDigest(table.schema)
    for batch in table.to_batches():
        digest.update(batch)
    return digest.hexdigest()

