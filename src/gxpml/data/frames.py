"""Reading tabular data into gxpml's canonical form: a stream of Arrow record batches.

Whatever the source (CSV, Parquet, a pandas DataFrame, an Arrow table), the data is brought
to a small set of canonical column types, so the same data has the same schema, the same
stored Parquet and the same content digest however it arrived:

=================  ==================================================================
canonical type     from
=================  ==================================================================
``int64``          any signed or unsigned integer type (uint64 must fit in int64)
``float64``        any floating-point type; NaN becomes missing
``bool``           booleans
``string``         strings of any width, dictionary-encoded strings
``datetime``       timestamps without a zone and dates, at microsecond precision
``datetime[UTC]``  timestamps with a zone, converted to UTC, at microsecond precision
``null``           a column with no values at all and no type (an empty CSV column)
=================  ==================================================================

Other types (decimals, nested lists and structs, binary, durations) are refused with a
message saying how to convert them. Sources are read in batches of :data:`BATCH_ROWS` rows,
so memory stays bounded however large the file.

CSV files are read twice: a first pass infers each column's type over *all* rows (the first
type in int64, float64, bool, datetime, datetime[UTC] that every non-missing value parses
as, else string), a second converts. Missing values are the empty field and the usual
spellings (``NA``, ``NaN``, ``null``, ``N/A``, ...), as in pandas.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pacsv  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from gxpml.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

__all__ = [
    "BATCH_ROWS",
    "CANONICAL_TYPES",
    "Source",
    "arrow_type",
    "open_source",
    "type_name",
]

BATCH_ROWS = 65_536

#: Canonical type name -> Arrow type.
CANONICAL_TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "datetime": pa.timestamp("us"),
    "datetime[UTC]": pa.timestamp("us", tz="UTC"),
    "null": pa.null(),
}

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zst")
PARQUET_SUFFIXES = (".parquet", ".pq")


def arrow_type(name: str) -> pa.DataType:
    return CANONICAL_TYPES[name]


def type_name(arrow: pa.DataType) -> str:
    """The canonical name of a canonical Arrow type."""
    for name, candidate in CANONICAL_TYPES.items():
        if arrow.equals(candidate):
            return name
    raise AssertionError(f"not a canonical type: {arrow}")


def canonical_type(column: str, arrow: pa.DataType) -> pa.DataType:
    """The canonical type data of type ``arrow`` is stored as; InvalidInput if unsupported."""
    t = pa.types
    if t.is_dictionary(arrow):
        return canonical_type(column, arrow.value_type)
    if t.is_null(arrow):
        return pa.null()
    if t.is_boolean(arrow):
        return pa.bool_()
    if t.is_integer(arrow):
        return pa.int64()
    if t.is_floating(arrow):
        return pa.float64()
    if t.is_string(arrow) or t.is_large_string(arrow) or t.is_string_view(arrow):
        return pa.string()
    if t.is_timestamp(arrow):
        return pa.timestamp("us", tz="UTC" if arrow.tz else None)
    if t.is_date(arrow):
        return pa.timestamp("us")
    hint = {
        "decimal": "cast it to float64 (or to string to keep every digit)",
        "binary": "decode it to text, or store it as an artifact instead",
        "time": "combine it with a date into a datetime, or store it as text",
        "duration": "convert it to a number of seconds",
    }
    kind = next((k for k in hint if str(arrow).startswith(k) or k in str(arrow)), None)
    advice = hint[kind] if kind else "flatten it into columns of numbers, text, booleans or datetimes"
    raise InvalidInput(
        f"Column {column!r} has type {arrow}, which datasets do not hold: {advice}. "
        f"Supported: integers, floats, booleans, strings, dates and datetimes."
    )


def canonical_schema(schema: pa.Schema) -> pa.Schema:
    names = list(schema.names)
    for name in names:
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"Every column needs a non-empty name; got {name!r}.")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"Column names must be unique; repeated: {', '.join(duplicates)}.")
    return pa.schema([pa.field(f.name, canonical_type(f.name, f.type)) for f in schema])


def normalize(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` in the canonical ``schema`` (same column names and order)."""
    columns = []
    for field_, column in zip(schema, batch.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        if pa.types.is_timestamp(column.type) and column.type.tz and field_.type.tz:
            column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
        if not column.type.equals(field_.type):
            try:
                column = column.cast(field_.type, safe=True)
            except pa.ArrowException as exc:
                raise InvalidInput(_cast_problem(field_.name, column.type, field_.type, exc)) from exc
        if pa.types.is_floating(field_.type) and column.null_count < len(column):
            nan = pc.is_nan(column)
            if pc.any(nan).as_py():
                column = pc.if_else(nan, pa.scalar(None, field_.type), column)
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def _cast_problem(name: str, source: pa.DataType, target: pa.DataType, exc: Exception) -> str:
    if pa.types.is_timestamp(target):
        return (f"Column {name!r} holds timestamps finer than a microsecond, which datasets do not keep: "
                f"round them first (e.g. df[{name!r}].dt.floor('us')).")
    if pa.types.is_integer(source):
        return f"Column {name!r} holds integers too large for int64 ({exc}); store them as strings."
    return f"Column {name!r} ({source}) cannot be read as {target}: {exc}."


def _rebatch(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Normalized batches of at most BATCH_ROWS rows."""
    for batch in batches:
        for start in range(0, batch.num_rows, BATCH_ROWS):
            yield normalize(batch.slice(start, BATCH_ROWS), schema)


@dataclass
class Source:
    """Data to register: its canonical schema, and how to stream its canonical batches."""

    format: str  # csv | parquet | dataframe
    uri: str | None
    schema: pa.Schema
    _batches: Callable[[], Iterator[pa.RecordBatch]]

    def batches(self) -> Iterator[pa.RecordBatch]:
        return self._batches()

    @property
    def type_names(self) -> dict[str, str]:
        return {f.name: type_name(f.type) for f in self.schema}


def open_source(source: Any, *, declared_types: Mapping[str, str] | None = None,
                source_format: str | None = None) -> Source:
    """A CSV or Parquet path, or a DataFrame-like object, ready to stream.

    ``declared_types`` (column -> canonical type name, from a checks file) fix the types of
    CSV columns, which text alone cannot (a zip code ``01234`` is a string).
    """
    if isinstance(source, (str, Path)):
        return _open_path(Path(source), declared_types or {}, source_format)
    table = _to_arrow(source)
    schema = canonical_schema(table.schema)
    return Source(source_format or "dataframe", None, schema,
                  lambda: _rebatch(iter(table.to_batches(max_chunksize=BATCH_ROWS)), schema))


def file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    suffix = "".join(path.suffixes) or "(none)"
    raise InvalidInput(
        f"Cannot register {path.name}: the format of {suffix!r} files is not supported. "
        "Use CSV (.csv, .csv.gz) or Parquet (.parquet), or pass a pandas DataFrame."
    )


def _open_path(path: Path, declared: Mapping[str, str], source_format: str | None) -> Source:
    fmt = file_format(path)
    if not path.exists():
        raise NotFound(f"Cannot register {path}: the file does not exist.")
    if not path.is_file():
        raise InvalidInput(f"Cannot register {path}: it is not a file.")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror or exc}. Check its permissions.") from exc
    if fmt == "parquet":
        return _open_parquet(path, source_format)
    return _open_csv(path, declared, source_format)


def _open_parquet(path: Path, source_format: str | None) -> Source:
    try:
        with pq.ParquetFile(path) as file:
            arrow_schema = file.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"Cannot read {path.name} as Parquet: {exc}. Is it a complete Parquet file?") from exc
    schema = canonical_schema(arrow_schema)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            with pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20) as file:
                yield from _rebatch(file.iter_batches(batch_size=BATCH_ROWS), schema)
        except (pa.ArrowException, OSError) as exc:
            raise InvalidInput(f"Cannot read {path.name} as Parquet: {exc}.") from exc

    return Source(source_format or "parquet", str(path), schema, batches)


# --------------------------------------------------------------------------- CSV

#: Candidate types of a CSV column, in order of preference.
_CSV_CANDIDATES = ("int64", "float64", "bool", "datetime", "datetime[UTC]")
_BOOL_TEXT = pa.array(["true", "false", "True", "False", "TRUE", "FALSE"])


def _csv_reader(path: Path, names: list[str] | None) -> pacsv.CSVStreamingReader:
    read = pacsv.ReadOptions(block_size=8 << 20)
    convert = pacsv.ConvertOptions(
        column_types=None if names is None else {n: pa.string() for n in names},
        strings_can_be_null=True, quoted_strings_can_be_null=True,
    )
    stream = pa.input_stream(str(path), compression="detect")
    try:
        return pacsv.open_csv(stream, read_options=read, convert_options=convert)
    except (pa.ArrowException, OSError) as exc:
        stream.close()
        if "Empty CSV file" in str(exc):
            raise InvalidInput(f"Cannot register {path.name}: the file is empty (not even a header row).") from exc
        raise InvalidInput(f"Cannot read {path.name} as CSV: {exc}.") from exc


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> InvalidInput:
    return InvalidInput(
        f"Cannot read {path.name} as CSV: it is not UTF-8 text (byte {exc.object[exc.start:exc.start + 1]!r} "
        f"at position {exc.start}). Save it as UTF-8 and register it again."
    )


def _csv_batches(path: Path, names: list[str]) -> Iterator[pa.RecordBatch]:
    reader = _csv_reader(path, names)
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (pa.ArrowException, OSError) as exc:
                raise InvalidInput(f"Cannot read {path.name} as CSV: {exc}.") from exc
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, exc) from exc
            yield batch
    finally:
        reader.close()


def _parses_as(column: pa.Array, candidate: str) -> bool:
    if candidate == "bool":
        return bool(pc.all(pc.is_in(column, value_set=_BOOL_TEXT)).as_py() is not False)
    try:
        column.cast(CANONICAL_TYPES[candidate])
    except pa.ArrowException:
        return False
    return True


def _open_csv(path: Path, declared: Mapping[str, str], source_format: str | None) -> Source:
    reader = _csv_reader(path, None)
    try:
        names = list(reader.schema.names)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from exc
    finally:
        reader.close()
    canonical_schema(pa.schema([pa.field(n, pa.string()) for n in names]))  # names valid and unique
    remaining = {n: list(_CSV_CANDIDATES) for n in names if n not in declared}
    seen_values = dict.fromkeys(names, False)
    for batch in _csv_batches(path, names):
        for name in remaining:
            column = batch.column(name).drop_null()
            if not len(column):
                continue
            seen_values[name] = True
            remaining[name] = [c for c in remaining[name] if _parses_as(column, c)]
    types: dict[str, str] = {}
    for name in names:
        if name in declared:
            types[name] = declared[name]
        elif not seen_values[name]:
            types[name] = "null"
        else:
            types[name] = remaining[name][0] if remaining[name] else "string"
    schema = pa.schema([pa.field(n, CANONICAL_TYPES[types[n]]) for n in names])

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in _csv_batches(path, names):
            columns = []
            for field_, column in zip(schema, batch.columns, strict=True):
                columns.append(_convert_text(path, field_, column))
            yield from _rebatch(iter([pa.RecordBatch.from_arrays(columns, schema=schema)]), schema)

    return Source(source_format or "csv", str(path), schema, batches)


def _convert_text(path: Path, field_: pa.Field, column: pa.Array) -> pa.Array:
    target = field_.type
    if pa.types.is_string(target):
        return column
    if pa.types.is_null(target):
        if column.null_count != len(column):
            raise InvalidInput(f"Column {field_.name!r} of {path.name} was declared null but holds values.")
        return pa.nulls(len(column))
    if pa.types.is_boolean(target):
        lowered = pc.utf8_lower(column)
        bad = pc.and_(pc.is_valid(column), pc.invert(pc.is_in(lowered, value_set=pa.array(["true", "false", "1", "0"]))))
        if pc.any(bad).as_py():
            raise _declared_mismatch(path, field_.name, "bool", column.filter(bad)[0].as_py())
        return pc.or_(pc.equal(lowered, "true"), pc.equal(lowered, "1"))
    try:
        return column.cast(target)
    except pa.ArrowException:
        sample = next((v for v in column.to_pylist() if v is not None and not _parses_as(pa.array([v]), type_name(target))), None)
        raise _declared_mismatch(path, field_.name, type_name(target), sample) from None


def _declared_mismatch(path: Path, column: str, declared: str, value: Any) -> InvalidInput:
    return InvalidInput(
        f"The data does not match the declared schema: column {column!r} of {path.name} is declared "
        f"{declared} but holds {value!r}. Fix the data or the checks file; nothing was registered."
    )


# --------------------------------------------------------------------------- DataFrames


def _to_arrow(source: Any) -> pa.Table:
    if isinstance(source, pa.Table):
        return source
    if isinstance(source, pa.RecordBatch):
        return pa.Table.from_batches([source])
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(source, pd.DataFrame):
        return _from_pandas(source)
    if hasattr(source, "to_arrow"):  # polars and friends
        table = source.to_arrow()
        if isinstance(table, pa.Table):
            return table
    raise InvalidInput(
        f"Cannot register a {type(source).__name__}: pass a CSV or Parquet file path, a pandas "
        "DataFrame, a polars DataFrame or a pyarrow Table."
    )


def _from_pandas(df: pd.DataFrame) -> pa.Table:
    if any(name is not None for name in df.index.names):
        raise InvalidInput(
            "The DataFrame has a named index, which a dataset does not keep: call df.reset_index() "
            "to keep it as a column, or df.reset_index(drop=True) to drop it."
        )
    if not all(isinstance(c, str) for c in df.columns):
        raise InvalidInput(
            f"Column names must be strings; got {[c for c in df.columns if not isinstance(c, str)][:5]!r}. "
            "Rename them, e.g. df.columns = [str(c) for c in df.columns]."
        )
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        objects = [str(c) for c in df.columns if df[c].dtype == object]
        hint = f" Columns of mixed Python objects: {', '.join(objects[:5])}." if objects else ""
        raise InvalidInput(f"Cannot convert the DataFrame to columns of one type each: {exc}.{hint}") from exc


def write_parquet(table_or_batches: pa.Table | Iterator[pa.RecordBatch], schema: pa.Schema,
                  sink: str | Path | io.BytesIO, *, metadata: Mapping[str, str] | None = None) -> None:
    """Write canonical batches as Parquet (zstd), one row group per batch."""
    with pq.ParquetWriter(sink, schema.with_metadata(dict(metadata or {})), compression="zstd", use_dictionary=False) as writer:
        if isinstance(table_or_batches, pa.Table):
            writer.write_table(table_or_batches, row_group_size=BATCH_ROWS)
        else:
            for batch in table_or_batches:
                writer.write_batch(batch)
