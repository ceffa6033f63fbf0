"""The document model every gxpml report is built from, whatever it is rendered to.

A :class:`Document` is a title, a header table of metadata and a list of :class:`Section`;
a section holds blocks. The model knows nothing about HTML or PDF: the validation report
and the monitoring reports build a ``Document`` and hand it to ``render_html`` or
``render_pdf``. All classes are frozen; sequences given to them are stored as tuples and
numbers (numpy's included) as plain Python values, so two documents built from the same
values compare equal and render to the same bytes.

Values are checked once, here, when the document is built; the renderers trust them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeAlias, cast

from gxpml.errors import InvalidInput

__all__ = [
    "Block",
    "Callout",
    "Cell",
    "Chart",
    "ChartKind",
    "Document",
    "KeyValues",
    "Paragraph",
    "Preformatted",
    "Section",
    "Series",
    "SignatureBlock",
    "SignatureLine",
    "Status",
    "Table",
    "format_value",
]

Value: TypeAlias = str | int | float | None
"""What a table cell or key-value row shows; numbers are formatted by :func:`format_value`."""

Pairs: TypeAlias = Mapping[str, object] | Iterable[tuple[str, object]]
"""Labels and values, as a mapping or as pairs; values are checked to be :data:`Value`."""


class Status(StrEnum):
    """The verdict a table cell or callout carries; colours and marks follow it."""

    PASS = "pass"  # an acceptance criterion is met
    FAIL = "fail"  # an acceptance criterion is not met
    WARN = "warn"  # met, but worth a reader's attention (near a limit, too few samples)


class ChartKind(StrEnum):
    """How a series is drawn."""

    LINE = "line"  # curves: ROC, precision-recall, reliability, metric over time
    STEP = "step"  # step curves (post): ECDF, cumulative gains
    SCATTER = "scatter"  # markers only: predicted vs observed
    BAR = "bar"  # categories: feature importance, per-group metrics with error bars


_ANCHOR = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")


def format_value(value: Value) -> str:
    """How a cell value is shown: text as is, integers in full, floats to 4 significant
    digits, ``None`` and NaN as an em dash. Pass a string to choose another format."""
    if value is None:
        return "\u2014"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "\u2014"
        return f"{value:.4g}"
    return value


def _status(value: Status | str | None, where: str) -> Status | None:
    if value is None:
        return None
    try:
        return Status(value)
    except ValueError:
        raise InvalidInput(
            f"The status of {where} must be one of pass, fail, warn or None. Got {value!r} instead."
        ) from None


def _value(value: Any, where: str) -> Value:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return _value(item(), where)
    raise InvalidInput(
        f"{where} must be a string, a number or None. Got {type(value).__name__} instead; "
        "format it as a string first."
    )


def _pairs(rows: Pairs, where: str) -> tuple[tuple[str, Value], ...]:
    items = rows.items() if isinstance(rows, Mapping) else rows
    out = []
    for key, value in items:
        out.append((str(key), _value(value, f"The value of {key!r} in {where}")))
    return tuple(out)


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # frozen dataclasses normalise in __post_init__


# --- blocks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text (no markup: ``<`` shows as ``<``)."""

    text: str


@dataclass(frozen=True)
class KeyValues:
    """A two-column table of labels and values, e.g. the parameters of a run."""

    rows: Pairs
    caption: str = ""

    def __post_init__(self) -> None:
        _set(self, "rows", _pairs(self.rows, "a KeyValues block"))

    @property
    def pairs(self) -> tuple[tuple[str, Value], ...]:
        """The rows as ``(label, value)`` pairs."""
        return self.rows  # type: ignore[return-value]


@dataclass(frozen=True)
class Cell:
    """A table cell with a verdict: shown highlighted and marked ✓, ✗ or !."""

    value: Value
    status: Status | str | None = None

    def __post_init__(self) -> None:
        _set(self, "value", _value(self.value, "A cell value"))
        _set(self, "status", _status(self.status, f"cell {self.value!r}"))


@dataclass(frozen=True)
class Table:
    """A table with a header row; cells are values or :class:`Cell` (value with a status).

    Long tables split across PDF pages and repeat their header row on each page.
    """

    columns: Sequence[str]
    rows: Sequence[Sequence[object]]  # Value or Cell, checked when built
    caption: str = ""

    def __post_init__(self) -> None:
        columns = tuple(str(c) for c in self.columns)
        if not columns:
            raise InvalidInput("A table needs at least one column; pass its column names.")
        rows = []
        for number, row in enumerate(self.rows, start=1):
            cells = tuple(
                c if isinstance(c, Cell) else Cell(_value(c, f"Cell {i} of row {number}"))
                for i, c in enumerate(row, start=1)
            )
            if len(cells) != len(columns):
                raise InvalidInput(
                    f"Row {number} of table {self.caption or columns!r} has {len(cells)} cells "
                    f"but the table has {len(columns)} columns; give one value per column."
                )
            rows.append(cells)
        _set(self, "columns", columns)
        _set(self, "rows", tuple(rows))

    @property
    def cells(self) -> tuple[tuple[Cell, ...], ...]:
        """The rows with every cell as a :class:`Cell`."""
        return self.rows  # type: ignore[return-value]


@dataclass(frozen=True)
class Series:
    """One named series of a chart.

    ``x`` and ``y`` have the same length; for bar charts ``x`` holds the category labels.
    ``error`` is the error bar above the value (and below it, unless ``error_minus`` is
    given), as distances from ``y``. ``kind`` overrides the chart's kind for this series
    (a dashed diagonal line on a scatter chart); ``dashed`` draws a line dashed.
    """

    name: str
    x: Sequence[float] | Sequence[str] | Any
    y: Sequence[float] | Any
    error: Sequence[float] | Any | None = None
    error_minus: Sequence[float] | Any | None = None
    kind: ChartKind | str | None = None
    dashed: bool = False
    markers: bool = False

    def __post_init__(self) -> None:
        x = tuple(_point(v, f"series {self.name!r}") for v in self.x)
        y = tuple(_number(v, f"series {self.name!r}") for v in self.y)
        if len(x) != len(y):
            raise InvalidInput(
                f"Series {self.name!r} has {len(x)} x values and {len(y)} y values; "
                "give one y per x."
            )
        _set(self, "x", x)
        _set(self, "y", y)
        for name in ("error", "error_minus"):
            values = getattr(self, name)
            if values is None:
                continue
            values = tuple(_number(v, f"series {self.name!r}") for v in values)
            if len(values) != len(y):
                raise InvalidInput(
                    f"Series {self.name!r} has {len(values)} {name} values for {len(y)} points; "
                    "give one per point."
                )
            _set(self, name, values)
        if self.error is None and self.error_minus is not None:
            raise InvalidInput(f"Series {self.name!r} has error_minus but no error; give both.")
        if self.kind is not None:
            _set(self, "kind", _kind(self.kind))

    @classmethod
    def diagonal(cls, name: str, low: float = 0.0, high: float = 1.0) -> Series:
        """The dashed line y = x: perfect calibration on a reliability diagram, chance on ROC."""
        return cls(name, (low, high), (low, high), kind=ChartKind.LINE, dashed=True)

    @property
    def xs(self) -> tuple[float | str, ...]:
        return cast(tuple[float | str, ...], self.x)

    @property
    def ys(self) -> tuple[float, ...]:
        return cast(tuple[float, ...], self.y)

    @property
    def errors(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """``(below, above)`` error distances, or None."""
        if self.error is None:
            return None
        plus = cast(tuple[float, ...], self.error)
        minus = cast(tuple[float, ...], self.error_minus) if self.error_minus is not None else plus
        return minus, plus


def _number(value: Any, where: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"The y values of {where} must be numbers. Got {value!r}.") from None


def _point(value: Any, where: str) -> float | str:
    if isinstance(value, str):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"The x values of {where} must be numbers or category names. Got {value!r}."
        ) from None


def _kind(value: ChartKind | str) -> ChartKind:
    try:
        return ChartKind(value)
    except ValueError:
        kinds = ", ".join(k.value for k in ChartKind)
        raise InvalidInput(f"A chart kind must be one of {kinds}. Got {value!r} instead.") from None


@dataclass(frozen=True)
class Chart:
    """A chart: interactive (Plotly) in HTML, a vector image (matplotlib SVG) in PDF.

    ``horizontal`` lays bars sideways (categories on the vertical axis, as feature
    importances read best). ``x_label``/``x_range`` and ``y_label``/``y_range`` name and fix
    the drawn horizontal and vertical axes, e.g. ``(0, 1)`` for ROC; for horizontal bars the
    values run along x.
    """

    kind: ChartKind | str
    title: str
    series: Sequence[Series]
    x_label: str = ""
    y_label: str = ""
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None
    horizontal: bool = False
    caption: str = ""

    def __post_init__(self) -> None:
        _set(self, "kind", _kind(self.kind))
        series = tuple(self.series)
        if not series:
            raise InvalidInput(f"Chart {self.title!r} has no series; give at least one.")
        for s in series:
            if not isinstance(s, Series):
                raise InvalidInput(
                    f"Chart {self.title!r} takes Series objects. Got {type(s).__name__}."
                )
        _set(self, "series", series)
        for name in ("x_range", "y_range"):
            bounds = getattr(self, name)
            if bounds is not None:
                low, high = (float(b) for b in bounds)
                if not low < high:
                    raise InvalidInput(
                        f"The {name} of chart {self.title!r} must be (low, high) with low < high. "
                        f"Got {bounds!r}."
                    )
                _set(self, name, (low, high))

    def kind_of(self, series: Series) -> ChartKind:
        """The kind ``series`` is drawn as: its own, or the chart's."""
        return ChartKind(series.kind or self.kind)


@dataclass(frozen=True)
class Callout:
    """A highlighted verdict or note, e.g. "All acceptance criteria met"."""

    status: Status | str
    text: str
    title: str = ""

    def __post_init__(self) -> None:
        _set(self, "status", _status(self.status, "a callout") or Status.WARN)


@dataclass(frozen=True)
class Preformatted:
    """Monospaced text kept exactly as given (line breaks, indentation): rules, logs, code."""

    text: str
    caption: str = ""


@dataclass(frozen=True)
class SignatureLine:
    """One signature: its meaning (authored, reviewed, approved); name and date stay empty
    until the record is signed in the registry, and are filled in when a signed record is
    exported."""

    meaning: str
    name: str = ""
    signed_at: str = ""


@dataclass(frozen=True)
class SignatureBlock:
    """The signature table at the end of a record (21 CFR Part 11 §11.50)."""

    lines: Sequence[SignatureLine | str]
    note: str = ""

    def __post_init__(self) -> None:
        lines = tuple(s if isinstance(s, SignatureLine) else SignatureLine(str(s)) for s in self.lines)
        if not lines:
            raise InvalidInput("A signature block needs at least one line, e.g. 'Approved'.")
        _set(self, "lines", lines)

    @property
    def signatures(self) -> tuple[SignatureLine, ...]:
        return self.lines  # type: ignore[return-value]


Block: TypeAlias = (
    Paragraph | KeyValues | Table | Chart | Callout | Preformatted | SignatureBlock
)
_BLOCKS = (Paragraph, KeyValues, Table, Chart, Callout, Preformatted, SignatureBlock)


# --- structure -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """A titled section; ``anchor`` is its id in HTML links (``section-N`` when omitted)."""

    title: str
    blocks: Sequence[Block] = ()
    anchor: str | None = None

    def __post_init__(self) -> None:
        blocks = tuple(self.blocks)
        for block in blocks:
            if not isinstance(block, _BLOCKS):
                raise InvalidInput(
                    f"Section {self.title!r} holds a {type(block).__name__}; blocks are "
                    "Paragraph, KeyValues, Table, Chart, Callout, Preformatted or SignatureBlock."
                )
        _set(self, "blocks", blocks)
        if self.anchor is not None and not _ANCHOR.fullmatch(self.anchor):
            raise InvalidInput(
                f"The anchor of section {self.title!r} must start with a letter and hold only "
                f"letters, digits, '-' and '_' (at most 64). Got {self.anchor!r} instead."
            )


@dataclass(frozen=True)
class Document:
    """A report: title, optional subtitle, a metadata table in its header, and sections."""

    title: str
    sections: Sequence[Section]
    subtitle: str = ""
    metadata: Pairs = field(default=())

    def __post_init__(self) -> None:
        sections = tuple(self.sections)
        for section in sections:
            if not isinstance(section, Section):
                raise InvalidInput(
                    f"Document {self.title!r} takes Section objects. Got {type(section).__name__}."
                )
        _set(self, "sections", sections)
        _set(self, "metadata", _pairs(self.metadata, "the document metadata"))
        seen: set[str] = set()
        for anchor in self.anchors:
            if anchor in seen:
                raise InvalidInput(
                    f"Two sections of {self.title!r} share the anchor {anchor!r}; give each its own."
                )
            seen.add(anchor)

    @property
    def pairs(self) -> tuple[tuple[str, Value], ...]:
        """The metadata as ``(label, value)`` pairs."""
        return self.metadata  # type: ignore[return-value]

    @property
    def anchors(self) -> tuple[str, ...]:
        """Each section's anchor, in order (derived from its position when not given)."""
        return tuple(
            s.anchor or f"section-{n}" for n, s in enumerate(self.sections, start=1)
        )
