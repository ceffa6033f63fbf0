"""A dataset version is named by the digest of its rows and schema: every byte counts, the file
format does not."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from gxpml.data.digest import ContentDigest, content_digest
from gxpml.data.frames import open_source


def digest_of(source: Any) -> str:
    src = open_source(source)
    digest = ContentDigest(src.schema)
    for batch in src.batches():
        digest.update(batch)
    return digest.hexdigest()


def test_csv_parquet_and_dataframe_of_the_same_data_have_the_same_digest(
    workspace: Any, diabetes: pd.DataFrame, files: dict[str, Path],
) -> None:
    from_csv = workspace.data.register("diabetes-csv", files["csv"])
    from_parquet = workspace.data.register("diabetes-parquet", files["parquet"])
    from_frame = workspace.data.register("diabetes-frame", diabetes)
    assert from_csv.digest == from_parquet.digest == from_frame.digest
    assert from_csv.columns == from_frame.columns
    assert (from_csv.num_rows, len(from_csv.columns)) == (442, 12)
    assert [from_csv.source_format, from_parquet.source_format, from_frame.source_format] == ["csv", "parquet", "dataframe"]
    # the same content under two names is stored twice: erasing one never touches the other
    assert from_csv.artifact != from_parquet.artifact


def test_a_polars_dataframe_has_the_digest_of_the_same_pandas_data(workspace: Any, diabetes: pd.DataFrame) -> None:
    import polars as pl

    from_polars = workspace.data.register("diabetes-polars", pl.from_pandas(diabetes))
    from_pandas = workspace.data.register("diabetes-pandas", diabetes)
    assert from_polars.digest == from_pandas.digest and from_polars.num_rows == 442
    assert from_polars.columns == from_pandas.columns
    assert workspace.data.load("diabetes-polars").equals(workspace.data.load("diabetes-pandas"))


def test_a_one_byte_change_changes_the_digest(workspace: Any, files: dict[str, Path], tmp_path: Path) -> None:
    original = files["csv"].read_bytes()
    changed = tmp_path / "changed.csv"
    position = original.index(b"P0200,") + len(b"P0200,") + 1  # a digit of patient 200's age
    altered = bytearray(original)
    altered[position] = ord("7") if altered[position] != ord("7") else ord("8")
    changed.write_bytes(bytes(altered))

    first = workspace.data.register("diabetes", files["csv"])
    second = workspace.data.register("diabetes", changed)
    assert first.digest != second.digest
    assert (first.version, second.version) == (1, 2)


def test_identical_content_returns_the_existing_version(workspace: Any, files: dict[str, Path], diabetes: pd.DataFrame) -> None:
    first = workspace.data.register("diabetes", files["csv"])
    again = workspace.data.register("diabetes", diabetes)
    assert again.id == first.id and again.version == 1
    assert [v.ref for v in workspace.data.list("diabetes")] == ["diabetes:1"]


def test_loading_and_registering_again_round_trips_to_the_same_digest(workspace: Any, diabetes: pd.DataFrame) -> None:
    first = workspace.data.register("diabetes", diabetes)
    loaded = workspace.data.load("diabetes:1")
    pd.testing.assert_frame_equal(loaded, diabetes, check_dtype=False)
    assert loaded.dtypes.astype(str).tolist() == diabetes.dtypes.astype(str).tolist()
    assert workspace.data.register("diabetes", loaded).id == first.id


def test_names_order_types_and_rows_all_count() -> None:
    base = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    digests = {
        "base": digest_of(base),
        "renamed": digest_of(base.rename(columns={"a": "A"})),
        "reordered": digest_of(base[["b", "a"]]),
        "retyped": digest_of(base.astype({"a": "float64"})),
        "rows reordered": digest_of(base.iloc[[1, 0, 2]].reset_index(drop=True)),
        "missing vs empty": digest_of(base.fillna({"b": ""})),
        "a row fewer": digest_of(base.iloc[:2]),
    }
    assert len(set(digests.values())) == len(digests), digests


def test_missing_values_are_one_thing_however_spelled() -> None:
    as_nan = pd.DataFrame({"x": [1.5, float("nan")]})
    as_none = pd.DataFrame({"x": pd.array([1.5, None], dtype="Float64")})
    assert digest_of(as_nan) == digest_of(as_none)


def reference_digest(columns: list[tuple[str, str, list[Any]]]) -> str:
    """The digest as docs/data.md defines it, written out independently of gxpml's code."""
    rows = len(columns[0][2])
    header = json.dumps({"columns": [{"name": n, "type": t} for n, t, _ in columns], "rows": rows},
                        sort_keys=True, separators=(",", ":"))
    h = hashlib.sha256(b"gxpml-dataset-digest/1\n" + header.encode() + b"\n")
    for _, kind, values in columns:
        validity = bytes(0 if v is None else 1 for v in values)
        lengths = b""
        if kind == "string":
            encoded = [(v or "").encode("utf-8") for v in values]
            data = b"".join(encoded)
            lengths = b"".join(struct.pack("<q", len(e)) for e in encoded)
        elif kind == "float64":
            data = b"".join(struct.pack("<d", 0.0 if v is None else v) for v in values)
        elif kind == "bool":
            data = bytes(1 if v else 0 for v in values)
        else:  # int64, datetime: microseconds since the epoch
            data = b"".join(struct.pack("<q", v or 0) for v in values)
        for stream in (validity, data, lengths):
            h.update(hashlib.sha256(stream).digest())
    return h.hexdigest()


def test_the_digest_is_the_documented_one_and_pinned() -> None:
    """Changing the definition silently would rename every dataset version: the value may
    change only with a new digest version."""
    table = pa.table({"id": ["P1", None, "Zoë"], "n": [1, None, -3], "x": [0.5, None, -0.0],
                      "ok": [True, False, None], "t": pa.array([0, 86_400_000_000, None], pa.timestamp("us"))})
    expected = reference_digest([
        ("id", "string", ["P1", None, "Zoë"]), ("n", "int64", [1, None, -3]), ("x", "float64", [0.5, None, -0.0]),
        ("ok", "bool", [True, False, None]), ("t", "datetime", [0, 86_400_000_000, None]),
    ])
    assert content_digest(table) == expected == "4937c456620289fa64c0b6d4348fc29e640f13ec112f1f6a134ab7da7df6cbfe"


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(st.one_of(st.none(), st.integers(-2**62, 2**62)),
                            st.one_of(st.none(), st.text(max_size=8)),
                            st.one_of(st.none(), st.floats(allow_nan=False))), max_size=40),
    cut=st.integers(min_value=1, max_value=40),
)
def test_the_digest_does_not_depend_on_how_rows_are_batched(rows: list[tuple[Any, Any, Any]], cut: int) -> None:
    table = pa.table({
        "i": pa.array([r[0] for r in rows], pa.int64()),
        "s": pa.array([r[1] for r in rows], pa.string()),
        "f": pa.array([r[2] for r in rows], pa.float64()),
    })
    whole = content_digest(table)
    digest = ContentDigest(table.schema)
    for batch in table.to_batches(max_chunksize=cut):
        digest.update(batch)
    assert digest.hexdigest() == whole
