"""Data quality checks: a declared schema with checks, run with pandera on registration.

The checks file is YAML or JSON (or the same structure as a dict)::

    strict: false              # true: columns not declared below are refused
    columns:
      patient_id:
        dtype: string          # int64 | float64 | bool | string | datetime | datetime[UTC]
        nullable: false        # default true
        unique: true           # default false
        checks:
          str_matches: "^P[0-9]{4}$"
      age:
        dtype: int64
        checks:
          in_range: {min: 0, max: 120}
      sex:
        checks:
          isin: [F, M]

Checks: ``ge``, ``gt``, ``le``, ``lt``, ``eq``, ``ne`` (a number, or a date/time for datetime
columns, or text for string columns); ``in_range`` (``{min, max}``, inclusive); ``isin`` and
``notin`` (a list); ``str_matches`` (a regular expression that must match at the start of
the value); ``str_length`` (``{min, max}``, either optional). Missing values never fail a
check; ``nullable: false`` is what forbids them.

Two kinds of failure, kept apart on purpose:

* the data's *structure* does not match the declaration (a declared column is missing, has
  another type, or an undeclared column appears under ``strict``): :class:`InvalidInput`,
  nothing is registered;
* *values* fail checks: the version is registered, the failures are recorded, and the
  version is blocked until overridden with a reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gxpml.canonical import canonical_json
from gxpml.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import pyarrow as pa  # type: ignore[import-untyped]

__all__ = ["CHECKS", "DTYPES", "CheckRunner", "ChecksSpec", "parse_checks"]

#: Declared dtype spellings -> canonical type.
DTYPES = {
    "int": "int64", "int64": "int64", "integer": "int64",
    "float": "float64", "float64": "float64", "double": "float64", "number": "float64",
    "bool": "bool", "boolean": "bool",
    "str": "string", "string": "string", "text": "string",
    "datetime": "datetime", "timestamp": "datetime", "date": "datetime", "datetime64": "datetime",
    "datetime[utc]": "datetime[UTC]", "timestamp[utc]": "datetime[UTC]",
}
CHECKS = ("eq", "ne", "ge", "gt", "le", "lt", "in_range", "isin", "notin", "str_matches", "str_length")
_COMPARISONS = ("eq", "ne", "ge", "gt", "le", "lt")
_COLUMN_KEYS = ("dtype", "nullable", "unique", "checks", "description")
_TOP_KEYS = ("columns", "strict", "description")
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: str | None
    nullable: bool = True
    unique: bool = False
    checks: tuple[tuple[str, Any], ...] = ()

    def labels(self) -> list[str]:
        """Every check this column declares, in order, as results name them."""
        out = [] if self.nullable else ["not_null"]
        if self.unique:
            out.append("unique")
        return out + [_label(name, arg) for name, arg in self.checks]


@dataclass(frozen=True)
class ChecksSpec:
    columns: tuple[ColumnSpec, ...]
    strict: bool = False
    description: str | None = None
    origin: str = "checks"  # where it came from, for messages

    def to_dict(self) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        for c in self.columns:
            entry: dict[str, Any] = {"nullable": c.nullable, "unique": c.unique, "checks": dict(c.checks)}
            if c.dtype is not None:
                entry["dtype"] = c.dtype
            columns[c.name] = entry
        out: dict[str, Any] = {"strict": self.strict, "columns": columns}
        if self.description:
            out["description"] = self.description
        return out

    def canonical(self) -> bytes:
        return canonical_json(self.to_dict()).encode("utf-8")

    @property
    def declared_types(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns if c.dtype is not None}

    def validate_schema(self, types: Mapping[str, str]) -> None:
        """InvalidInput naming every way the data's columns differ from the declaration."""
        problems = []
        for c in self.columns:
            if c.name not in types:
                problems.append(f"column {c.name!r} is missing")
            elif c.dtype is not None and types[c.name] != c.dtype and types[c.name] != "null":
                problems.append(f"column {c.name!r} is {types[c.name]}, declared {c.dtype}")
        if self.strict:
            declared = {c.name for c in self.columns}
            extra = [n for n in types if n not in declared]
            if extra:
                problems.append(f"undeclared column(s) {', '.join(repr(n) for n in extra)} (strict: true)")
        if problems:
            raise InvalidInput(
                f"The data does not match the declared schema ({self.origin}): {'; '.join(problems)}. "
                "Fix the data or the checks file; nothing was registered."
            )
        for c in self.columns:
            kind = types[c.name]
            for name, arg in c.checks:
                _check_applies(self.origin, c.name, kind, name, arg)


def _label(name: str, arg: Any) -> str:
    if name in ("in_range", "str_length"):
        return f"{name}({', '.join(f'{k}={json.dumps(v)}' for k, v in sorted(arg.items()))})"
    return f"{name}({json.dumps(arg, ensure_ascii=False)})"


# --------------------------------------------------------------------------- parsing


def parse_checks(source: str | Path | Mapping[str, Any] | ChecksSpec) -> ChecksSpec:
    """A checks declaration from a YAML/JSON file path or a dict; InvalidInput says what is wrong."""
    if isinstance(source, ChecksSpec):
        return source
    if isinstance(source, Mapping):
        return _parse(source, "checks")
    if not isinstance(source, (str, Path)):
        raise InvalidInput(f"checks must be a YAML or JSON file path or a dict; got a {type(source).__name__}.")
    path = Path(source)
    origin = f"checks file {path.name}"
    if not path.is_file():
        raise NotFound(f"The checks file {path} does not exist.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read the {origin}: {exc}.") from exc
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"The {origin} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from exc
    elif path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
            raise InvalidInput(f"The {origin} is not valid YAML{at}: {getattr(exc, 'problem', None) or exc}.") from exc
    else:
        raise InvalidInput(f"The {origin} must be YAML (.yaml, .yml) or JSON (.json).")
    if not isinstance(data, Mapping):
        raise InvalidInput(f"The {origin} must hold a mapping with a 'columns' key; got {type(data).__name__}.")
    return _parse(data, origin)


def _parse(data: Mapping[str, Any], origin: str) -> ChecksSpec:
    def bad(where: str, what: str) -> InvalidInput:
        return InvalidInput(f"The {origin} is malformed at {where}: {what}. See docs/data.md for the format.")

    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise bad("the top level", f"unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(_TOP_KEYS)}")
    columns = data.get("columns")
    if not isinstance(columns, Mapping) or not columns:
        raise bad("'columns'", "expected a mapping of column name to its declaration")
    strict = data.get("strict", False)
    if not isinstance(strict, bool):
        raise bad("'strict'", f"expected true or false, got {strict!r}")
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise bad("'description'", "expected text")
    specs = []
    for name, decl in columns.items():
        where = f"columns.{name}"
        if not isinstance(name, str) or not name:
            raise bad("'columns'", f"column names must be text, got {name!r}")
        if decl is None:
            decl = {}
        if not isinstance(decl, Mapping):
            raise bad(where, "expected a mapping (dtype, nullable, unique, checks)")
        unknown = [k for k in decl if k not in _COLUMN_KEYS]
        if unknown:
            raise bad(where, f"unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(_COLUMN_KEYS)}")
        dtype = decl.get("dtype")
        if dtype is not None:
            if not isinstance(dtype, str) or dtype.lower() not in DTYPES:
                raise bad(f"{where}.dtype", f"unknown dtype {dtype!r}; known: int64, float64, bool, string, datetime, datetime[UTC]")
            dtype = DTYPES[dtype.lower()]
        flags = {}
        for flag, default in (("nullable", True), ("unique", False)):
            value = decl.get(flag, default)
            if not isinstance(value, bool):
                raise bad(f"{where}.{flag}", f"expected true or false, got {value!r}")
            flags[flag] = value
        raw_checks = decl.get("checks") or {}
        if not isinstance(raw_checks, Mapping):
            raise bad(f"{where}.checks", "expected a mapping of check name to its argument, e.g. {ge: 0}")
        checks = []
        for check, arg in raw_checks.items():
            checks.append((check, _parse_check(f"{where}.checks.{check}", check, arg, bad)))
        specs.append(ColumnSpec(name, dtype, flags["nullable"], flags["unique"], tuple(checks)))
    return ChecksSpec(tuple(specs), strict, description, origin)


def _scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool))


def _parse_check(where: str, name: str, arg: Any, bad: Any) -> Any:
    if name not in CHECKS:
        raise bad(where, f"unknown check {name!r}; known: {', '.join(CHECKS)}")
    if name in _COMPARISONS:
        if isinstance(arg, bool) or not isinstance(arg, (int, float, str)):
            raise bad(where, f"expected a number, a date or text, got {arg!r}")
        return arg
    if name in ("in_range", "str_length"):
        if isinstance(arg, list) and len(arg) == 2 and name == "in_range":
            arg = {"min": arg[0], "max": arg[1]}
        if not isinstance(arg, Mapping) or not arg or any(k not in ("min", "max") for k in arg):
            raise bad(where, "expected {min: ..., max: ...}")
        if name == "in_range" and set(arg) != {"min", "max"}:
            raise bad(where, "in_range needs both min and max (use ge or le for one bound)")
        for key, value in arg.items():
            if name == "str_length" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise bad(f"{where}.{key}", f"expected a whole number of characters, got {value!r}")
            if name == "in_range" and (isinstance(value, bool) or not isinstance(value, (int, float, str))):
                raise bad(f"{where}.{key}", f"expected a number or a date, got {value!r}")
        return dict(arg)
    if name in ("isin", "notin"):
        if not isinstance(arg, list) or not arg or not all(_scalar(v) for v in arg):
            raise bad(where, "expected a non-empty list of values")
        return list(arg)
    if not isinstance(arg, str):  # str_matches
        raise bad(where, f"expected a regular expression, got {arg!r}")
    try:
        re.compile(arg)
    except re.error as exc:
        raise bad(where, f"{arg!r} is not a valid regular expression ({exc})") from exc
    return arg


def _check_applies(origin: str, column: str, kind: str, name: str, arg: Any) -> None:
    """Refuse checks that cannot apply to the column's type (they would fail every row)."""
    numeric = kind in ("int64", "float64")
    problem = None
    if name in ("str_matches", "str_length") and kind != "string":
        problem = f"{name} applies to string columns, and {column!r} is {kind}"
    elif name in (*_COMPARISONS, "in_range"):
        values = list(arg.values()) if isinstance(arg, Mapping) else [arg]
        for value in values:
            if numeric and not isinstance(value, (int, float)):
                problem = f"{name} compares {column!r} ({kind}) with {value!r}, which is not a number"
            elif kind.startswith("datetime"):
                try:
                    _timestamp(value, kind)
                except (ValueError, TypeError):
                    problem = f"{name} compares {column!r} ({kind}) with {value!r}, which is not a date or time"
            elif kind == "string" and not isinstance(value, str):
                problem = f"{name} compares {column!r} (string) with {value!r}, which is not text"
    if problem:
        raise InvalidInput(f"The {origin} does not fit the data: {problem}. Nothing was registered.")


def _timestamp(value: Any, kind: str) -> Any:
    import pandas as pd  # type: ignore[import-untyped]

    stamp = pd.Timestamp(value)
    if kind == "datetime[UTC]":
        return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if stamp.tzinfo is not None:
        raise ValueError("a zone on a column without one")
    return stamp


# --------------------------------------------------------------------------- running


@dataclass
class _Result:
    column: str
    check: str
    failures: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: int, value: Any) -> None:
        self.failures += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append({"row": row, "value": _json_value(value)})


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return _json_value(value.item())
    return str(value)


class CheckRunner:
    """Runs a :class:`ChecksSpec` over canonical batches (pandera per batch; ``unique`` across
    batches, which keeps the values seen in memory)."""

    def __init__(self, spec: ChecksSpec, types: Mapping[str, str]) -> None:
        import pandera.pandas as pa_

        self.spec = spec
        self._results: dict[tuple[str, str], _Result] = {}
        self._labels: dict[tuple[str, int | None], str] = {}
        columns = {}
        for c in spec.columns:
            kind = types[c.name]
            for label in c.labels():
                self._results[(c.name, label)] = _Result(c.name, label)
            checks = []
            for number, (name, arg) in enumerate(c.checks):
                checks.append(_pandera_check(pa_, name, arg, kind))
                self._labels[(c.name, number)] = _label(name, arg)
            columns[c.name] = pa_.Column(None, checks=checks, nullable=c.nullable, required=True)
        self._schema = pa_.DataFrameSchema(columns)
        self._errors = pa_.errors.SchemaErrors
        self._unique: dict[str, set[Any]] = {c.name: set() for c in spec.columns if c.unique}
        self._offset = 0

    def update(self, batch: pa.RecordBatch) -> None:
        names = [c.name for c in self.spec.columns]
        selected = batch.select(names)
        frame = selected.to_pandas()
        try:
            self._schema.validate(frame, lazy=True)
        except self._errors as exc:
            cases = exc.failure_cases
            for column, check, number, value, index in zip(
                cases["column"], cases["check"], cases["check_number"], cases["failure_case"], cases["index"],
                strict=True,
            ):
                number = None if number is None or number != number else int(number)
                if check == "not_nullable":
                    label = "not_null"
                elif number is not None:
                    label = self._labels.get((column, number), str(check))
                else:
                    label = str(check)
                result = self._results.setdefault((column, label), _Result(str(column), label))
                row = self._offset + int(index) if index is not None and index == index else -1
                result.add(row, value)
        for name, seen in self._unique.items():
            result = self._results[(name, "unique")]
            for i, value in enumerate(selected.column(name).to_pylist()):
                if value is None:
                    continue
                if value in seen:
                    result.add(self._offset + i, value)
                else:
                    seen.add(value)
        self._offset += batch.num_rows

    def results(self) -> list[dict[str, Any]]:
        """``[{"column", "check", "failures"}]`` in declaration order: what the record keeps."""
        return [{"column": r.column, "check": r.check, "failures": r.failures} for r in self._results.values()]

    def details(self) -> list[dict[str, Any]]:
        """The results with example failing values (row number and value): for the artifact."""
        return [{"column": r.column, "check": r.check, "failures": r.failures, "examples": r.examples}
                for r in self._results.values()]


def _pandera_check(pa_: Any, name: str, arg: Any, kind: str) -> Any:
    def value(v: Any) -> Any:
        return _timestamp(v, kind) if kind.startswith("datetime") else v

    check = pa_.Check
    if name in _COMPARISONS:
        method = {"eq": check.eq, "ne": check.ne, "ge": check.ge, "gt": check.gt, "le": check.le, "lt": check.lt}[name]
        return method(value(arg))
    if name == "in_range":
        return check.in_range(value(arg["min"]), value(arg["max"]))
    if name == "isin":
        return check.isin(arg)
    if name == "notin":
        return check.notin(arg)
    if name == "str_matches":
        return check.str_matches(arg)
    return check.str_length(arg.get("min"), arg.get("max"))
