"""Acceptance criteria: declared before evaluation, locked by digest, judged after.

The criteria document is a YAML list; each entry names a metric, a threshold, the split it is
judged on and, optionally, a subgroup and which bound of the estimate is judged::

    - {metric: roc_auc, min: 0.85, split: test, bound: lower}   # lower bound of its interval
    - {metric: fnr, max: 0.10, split: test, subgroup: "sex=1"}
    - {metric: DPPL, min: -0.1, max: 0.1, split: test}          # both: an inclusive range

``min`` passes values >= min, ``max`` values <= max; give either or both. ``bound`` is
``point`` (the default), ``lower`` or ``upper``. Metric names are the evaluation metrics of
:mod:`gxpml.validation.metrics` and the bias metrics by their SageMaker Clarify names.
Entries are numbered from 1 in messages. :attr:`Criteria.digest` is the SHA-256 of
:meth:`Criteria.canonical`, so the criteria can be recorded in the audit trail before any
result exists; :func:`judge` then compares each entry with its result.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from gxpml.canonical import canonical_json, sha256_hex
from gxpml.errors import InvalidInput
from gxpml.validation.estimate import Estimate, json_number
from gxpml.validation.metrics import METRICS

__all__ = [
    "BIAS_METRICS",
    "BOUNDS",
    "Criteria",
    "Criterion",
    "Judgement",
    "judge",
    "metric_names",
    "parse_criteria",
]

BIAS_METRICS: tuple[str, ...] = (
    "CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL",  # pre-training (labels only)
    "DPPL", "DI", "DCA", "DCR", "DAR", "DRR", "RD", "SD", "AD", "TE", "CDDPL", "FT", "GE",
)
BOUNDS: tuple[str, ...] = ("point", "lower", "upper")
_FIELDS = ("metric", "min", "max", "split", "subgroup", "bound")

Bound = Literal["point", "lower", "upper"]
Status = Literal["pass", "fail", "missing"]


def metric_names() -> tuple[str, ...]:
    """Every name a criterion may use: evaluation metrics, then bias metrics."""
    return (*METRICS, *BIAS_METRICS)


def _number(value: float) -> str:
    return f"{value:.4g}"


@dataclass(frozen=True)
class Criterion:
    """One entry: ``metric`` (its ``bound``) on ``split`` and ``subgroup`` within [min, max]."""

    metric: str
    split: str
    min: float | None = None
    max: float | None = None
    subgroup: str | None = None
    bound: Bound = "point"

    @property
    def key(self) -> tuple[str, str | None, str]:
        """``(split, subgroup, metric)``, the key :func:`judge` looks results up by."""
        return (self.split, self.subgroup, self.metric)

    def describe(self) -> str:
        """E.g. ``roc_auc lower bound >= 0.85 on test (sex=1)``."""
        if self.min is not None and self.max is not None:
            rule = f"within [{_number(self.min)}, {_number(self.max)}]"
        elif self.min is not None:
            rule = f"≥ {_number(self.min)}"
        else:
            assert self.max is not None
            rule = f"≤ {_number(self.max)}"
        return f"{self._subject()} {rule} {self._where()}"

    def _subject(self) -> str:
        return self.metric if self.bound == "point" else f"{self.metric} {self.bound} bound"

    def _where(self) -> str:
        return f"on {self.split}" + (f" ({self.subgroup})" if self.subgroup else "")

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "min": self.min, "max": self.max, "split": self.split,
                "subgroup": self.subgroup, "bound": self.bound}


@dataclass(frozen=True)
class Criteria:
    """The parsed, validated acceptance criteria, in document order."""

    entries: tuple[Criterion, ...]

    def canonical(self) -> str:
        """Canonical JSON of the entries: equal criteria give identical text (and digest)."""
        return canonical_json([e.to_dict() for e in self.entries])

    @property
    def digest(self) -> str:
        """SHA-256 of :meth:`canonical`, to lock the criteria in the audit trail."""
        return sha256_hex(self.canonical())

    def to_dict(self) -> dict[str, Any]:
        return {"entries": [e.to_dict() for e in self.entries], "digest": self.digest}


@dataclass(frozen=True)
class Judgement:
    """One criterion against its result: ``pass``, ``fail`` or ``missing`` (which fails)."""

    criterion: Criterion
    status: Status
    value: float | None
    sentence: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {**self.criterion.to_dict(), "status": self.status, "passed": self.passed,
                "value": json_number(self.value), "sentence": self.sentence}


# ---------------------------------------------------------------------------------------------
# Parsing


def _read(source: str | os.PathLike[str]) -> Any:
    if isinstance(source, os.PathLike):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"Cannot read the acceptance criteria file {path}: {exc.strerror}; "
                               "check the path.") from exc
    else:
        text = source
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"The acceptance criteria are not valid YAML: {exc}. "
                           "Write a list of entries such as "
                           "'- {metric: roc_auc, min: 0.85, split: test}'.") from exc


def _threshold(raw: Any, where: str, name: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise InvalidInput(f"{where}: {name} must be a number, got {raw!r}; write e.g. {name}: 0.85 "
                           "(without quotes).")
    if not math.isfinite(raw):
        raise InvalidInput(f"{where}: {name} must be a finite number, got {raw!r}.")
    return float(raw)


def _text(raw: Any, where: str, name: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInput(f"{where}: {name} must be a non-empty text, got {raw!r}.")
    return raw.strip()


def _entry(raw: Any, index: int, count: int) -> Criterion:
    where = f"Acceptance criterion entry {index} of {count}"
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where} is not a mapping ({raw!r}); write e.g. "
                           "'- {metric: roc_auc, min: 0.85, split: test}'.")
    unknown = [str(k) for k in raw if k not in _FIELDS]
    if unknown:
        raise InvalidInput(f"{where} has unknown field(s) {', '.join(unknown)}; "
                           f"the fields are {', '.join(_FIELDS)}.")
    if "metric" not in raw:
        raise InvalidInput(f"{where} has no metric; name one, e.g. metric: roc_auc.")
    metric = _text(raw["metric"], where, "metric")
    names = metric_names()
    if metric not in names:
        close = difflib.get_close_matches(metric, names, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise InvalidInput(f"{where} has unknown metric {metric!r}.{hint} "
                           f"Valid metrics: {', '.join(names)}.")
    if "split" not in raw:
        raise InvalidInput(f"{where} ({metric}) has no split; say which data it is judged on, "
                           "e.g. split: test.")
    split = _text(raw["split"], where, "split")
    low, high = _threshold(raw.get("min"), where, "min"), _threshold(raw.get("max"), where, "max")
    if low is None and high is None:
        raise InvalidInput(f"{where} ({metric}) has neither min nor max; give a threshold, "
                           "e.g. min: 0.85, or both for a range.")
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"{where} ({metric}): min {low:g} is above max {high:g}; swap them.")
    subgroup = raw.get("subgroup")
    if subgroup is not None:
        subgroup = _text(subgroup, where, "subgroup")
        column, sep, value = subgroup.partition("=")
        if not sep or not column.strip() or not value.strip():
            raise InvalidInput(f"{where}: subgroup must read column=value (e.g. sex=1), "
                               f"got {subgroup!r}.")
        subgroup = f"{column.strip()}={value.strip()}"
    bound = raw.get("bound", "point")
    if bound not in BOUNDS:
        raise InvalidInput(f"{where}: bound must be one of {', '.join(BOUNDS)}, got {bound!r}.")
    return Criterion(metric, split, low, high, subgroup, bound)


def parse_criteria(source: str | os.PathLike[str]) -> Criteria:
    """Parse and validate acceptance criteria from YAML text, or from a file given as a Path."""
    document = _read(source)
    if isinstance(document, str) and document.endswith((".yaml", ".yml")):
        raise InvalidInput(f"The acceptance criteria text is just {document!r}; to read a file, "
                           "pass it as a path (pathlib.Path).")
    if not isinstance(document, list):
        kind = "nothing" if document is None else f"a {type(document).__name__}"
        raise InvalidInput(f"The acceptance criteria must be a YAML list of entries such as "
                           f"'- {{metric: roc_auc, min: 0.85, split: test}}'; got {kind}.")
    if not document:
        raise InvalidInput("The acceptance criteria list is empty; declare at least one criterion.")
    return Criteria(tuple(_entry(raw, i, len(document)) for i, raw in enumerate(document, 1)))


# ---------------------------------------------------------------------------------------------
# Judging


def _judge_one(criterion: Criterion, estimate: Estimate | None) -> Judgement:
    subject, where = criterion._subject(), criterion._where()
    if estimate is None:
        return Judgement(criterion, "missing", None,
                         f"{subject} {where}: missing, no such result was computed: fail")
    value = estimate.bound(criterion.bound)
    if value is None:
        return Judgement(criterion, "fail", None,
                         f"{subject} {where}: not available (the estimate has no interval; "
                         "evaluate with bootstrap resamples): fail")
    value = float(value)
    if math.isnan(value):
        return Judgement(criterion, "fail", value,
                         f"{subject} {where} is undefined (NaN; e.g. a class absent from the "
                         "rows): fail")
    low, high, shown = criterion.min, criterion.max, _number(value)
    if low is not None and value < low:
        return Judgement(criterion, "fail", value, f"{subject} {shown} < {_number(low)} {where}: fail")
    if high is not None and value > high:
        return Judgement(criterion, "fail", value, f"{subject} {shown} > {_number(high)} {where}: fail")
    if low is not None and high is not None:
        rule = f"{shown} within [{_number(low)}, {_number(high)}]"
    elif low is not None:
        rule = f"{shown} ≥ {_number(low)}"
    else:
        assert high is not None
        rule = f"{shown} ≤ {_number(high)}"
    return Judgement(criterion, "pass", value, f"{subject} {rule} {where}: pass")


def judge(criteria: Criteria,
          lookup: Mapping[tuple[str, str | None, str], Estimate]) -> list[Judgement]:
    """Judge each criterion, in order, on ``lookup[(split, subgroup or None, metric)]``.

    A result that is absent is ``missing``; one that is None or NaN fails; each judgement
    carries a sentence such as ``roc_auc lower bound 0.91 ≥ 0.85 on test: pass``.
    """
    return [_judge_one(c, lookup.get(c.key)) for c in criteria.entries]
