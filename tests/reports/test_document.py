"""The document model checks its values once, when built, and stores them immutably."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gxpml.errors import InvalidInput
from gxpml.reports import (
    Callout,
    Cell,
    Chart,
    ChartKind,
    Document,
    KeyValues,
    Section,
    Series,
    SignatureBlock,
    SignatureLine,
    Status,
    Table,
)
from gxpml.reports.document import format_value


def test_sequences_become_tuples_and_numpy_values_plain_python() -> None:
    series = Series("s", np.array([0, 1, 2]), np.array([0.5, 0.25, 1.0]), error=[0.1, 0.1, 0.1])
    assert series.x == (0.0, 1.0, 2.0) and type(series.x[0]) is float
    assert series.errors == ((0.1, 0.1, 0.1), (0.1, 0.1, 0.1))
    table = Table(["a", "b"], [[np.int64(3), np.float32(0.5)]])
    assert table.cells == ((Cell(3), Cell(0.5)),)
    assert type(table.cells[0][0].value) is int


def test_two_documents_built_alike_are_equal_and_frozen(document: Document) -> None:
    other = dataclasses.replace(document)
    assert other == document
    with pytest.raises(dataclasses.FrozenInstanceError):
        document.title = "changed"  # type: ignore[misc]


def test_metadata_and_key_values_keep_their_order() -> None:
    doc = Document("t", [], metadata={"b": 1, "a": "x"})
    assert doc.pairs == (("b", 1), ("a", "x"))
    assert KeyValues([("k", None)]).pairs == (("k", None),)


def test_status_and_kind_accept_their_names() -> None:
    assert Cell(1, "fail").status is Status.FAIL
    assert Callout("pass", "ok").status is Status.PASS
    assert Chart("bar", "t", [Series("s", ["a"], [1])]).kind is ChartKind.BAR


def test_an_unknown_status_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(InvalidInput, match="must be one of pass, fail, warn or None. Got 'ok'"):
        Cell(1, "ok")


def test_an_unknown_chart_kind_is_refused() -> None:
    with pytest.raises(InvalidInput, match="one of line, step, scatter, bar. Got 'pie'"):
        Chart("pie", "t", [Series("s", [1], [1])])


def test_a_row_must_have_one_cell_per_column() -> None:
    with pytest.raises(InvalidInput, match="Row 2 of table .* has 1 cells but the table has 2"):
        Table(["a", "b"], [[1, 2], [3]])


def test_cells_must_be_text_or_numbers() -> None:
    with pytest.raises(InvalidInput, match="Cell 1 of row 1 must be a string, a number or None"):
        Table(["a"], [[{"x": 1}]])


def test_series_need_one_y_per_x_and_one_error_per_point() -> None:
    with pytest.raises(InvalidInput, match="has 2 x values and 1 y values"):
        Series("s", [1, 2], [1])
    with pytest.raises(InvalidInput, match="has 1 error values for 2 points"):
        Series("s", [1, 2], [1, 2], error=[0.1])
    with pytest.raises(InvalidInput, match="error_minus but no error"):
        Series("s", [1], [1], error_minus=[0.1])


def test_a_chart_needs_series_and_ordered_ranges() -> None:
    with pytest.raises(InvalidInput, match="has no series"):
        Chart("line", "empty", [])
    with pytest.raises(InvalidInput, match="low < high"):
        Chart("line", "t", [Series("s", [1], [1])], x_range=(1, 0))


def test_anchors_are_derived_from_position_unless_given_and_must_be_unique() -> None:
    doc = Document("t", [Section("A"), Section("B", anchor="bee"), Section("C")])
    assert doc.anchors == ("section-1", "bee", "section-3")
    with pytest.raises(InvalidInput, match="share the anchor 'section-2'"):
        Document("t", [Section("A", anchor="section-2"), Section("B")])
    with pytest.raises(InvalidInput, match="must start with a letter"):
        Section("A", anchor="1 bad")


def test_sections_take_only_blocks() -> None:
    with pytest.raises(InvalidInput, match="holds a str; blocks are"):
        Section("A", ["just text"])  # type: ignore[list-item]


def test_signature_lines_may_be_given_by_meaning_alone() -> None:
    block = SignatureBlock(["Reviewed", SignatureLine("Approved", "A. Reviewer", "2024-01-01")])
    assert block.signatures == (SignatureLine("Reviewed"), SignatureLine("Approved", "A. Reviewer",
                                                                        "2024-01-01"))


@pytest.mark.parametrize(("value", "shown"), [
    (None, "\u2014"), (float("nan"), "\u2014"), (True, "yes"), (12345678, "12345678"),
    (0.912345, "0.9123"), (1e-7, "1e-07"), ("0.90 to 0.93", "0.90 to 0.93"),
])
def test_values_are_formatted_predictably(value: object, shown: str) -> None:
    assert format_value(value) == shown  # type: ignore[arg-type]


def test_the_public_face_is_one_sorted_all() -> None:
    import gxpml.reports

    assert gxpml.reports.__all__ == sorted(gxpml.reports.__all__)
    for name in gxpml.reports.__all__:
        assert hasattr(gxpml.reports, name), name
