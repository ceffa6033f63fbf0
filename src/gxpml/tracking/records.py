"""What the tracking SDK returns (frozen dataclasses with ``to_dict``/``from_dict``, the
shape the REST API sends) and the checks every value passes at the entry point."""

from __future__ import annotations

import datetime as dt
import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gxpml.canonical import canonical_json, format_ts, parse_ts
from gxpml.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "ArtifactLink",
    "InputInfo",
    "Metric",
    "ModelInfo",
    "RunComparison",
    "RunInfo",
    "RunSource",
    "RunStatus",
]


class RunStatus(StrEnum):
    """The lifecycle of a run: it starts running and ends exactly once."""

    RUNNING = "running"  # started; accepts params, metrics, tags, artifacts, inputs and models
    FINISHED = "finished"  # its code completed (the ``with`` block ended normally); read-only
    FAILED = "failed"  # its code raised; the error is recorded; read-only
    KILLED = "killed"  # stopped from outside (interrupted, or killed with a reason); read-only


#: Legal moves; anything else is a Conflict that names the current state.
TRANSITIONS: Mapping[RunStatus, frozenset[RunStatus]] = {
    RunStatus.RUNNING: frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED}),
    RunStatus.FINISHED: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.KILLED: frozenset(),
}

MODEL_FORMATS = ("skops", "pickle")
ARTIFACT_KINDS = ("artifact", "environment", "code", "model", "example")
#: Reports about finished runs, and the permission attaching one needs.
REPORT_KINDS = {"reproduction": "run.create", "validation": "model.validate"}
SPLITS = ("train", "validation", "test")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Metric:
    """One metric point: ``value`` of ``key`` at ``step``, logged at ``ts`` (UTC)."""

    key: str
    value: float
    step: int
    ts: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "step": self.step, "ts": format_ts(self.ts)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metric:
        return cls(key=data["key"], value=float(data["value"]), step=int(data["step"]), ts=parse_ts(data["ts"]))


@dataclass(frozen=True)
class RunSource:
    """Where a run's code and environment are recorded (what ``gxpml reproduce`` needs)."""

    environment_digest: str | None = None  # the environment JSON artifact
    entry_point: str | None = None  # the script, relative to its git root when in a repository
    code_digest: str | None = None  # SHA-256 of the entry-point file
    code_artifact: str | None = None  # the file itself, stored unless it is a clean git commit
    git_commit: str | None = None
    git_dirty: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RunSource:
        return cls(**{k: (data or {}).get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class InputInfo:
    """A declared input: a dataset version (resolved to ``NAME:VERSION``) and, when only some
    rows were read, the split and the assignment (``split_id``) they came from."""

    id: str
    kind: str
    ref: str
    version_id: str | None
    digest: str | None
    split: str | None
    split_id: str | None
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "created_at": format_ts(self.created_at)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputInfo:
        return cls(**{**{k: data[k] for k in cls.__dataclass_fields__}, "created_at": parse_ts(data["created_at"])})


@dataclass(frozen=True)
class ArtifactLink:
    """An artifact linked to a run under ``name``."""

    name: str
    kind: str
    digest: str
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "created_at": format_ts(self.created_at)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArtifactLink:
        return cls(**{**{k: data[k] for k in cls.__dataclass_fields__}, "created_at": parse_ts(data["created_at"])})


@dataclass(frozen=True)
class ModelInfo:
    """A model a run produced, as recorded: load it with ``ws.runs.load_model(run_id, name)``."""

    id: str
    run_id: str
    name: str
    flavor: str
    format: str
    digest: str
    trusted_types: tuple[str, ...]
    vouched_types: tuple[str, ...]
    signature: dict[str, Any]
    example_digest: str | None
    libraries: dict[str, str]
    created_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "trusted_types": list(self.trusted_types),
                "vouched_types": list(self.vouched_types), "created_at": format_ts(self.created_at)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInfo:
        values = {k: data[k] for k in cls.__dataclass_fields__}
        return cls(**{**values, "trusted_types": tuple(data["trusted_types"]),
                      "vouched_types": tuple(data["vouched_types"]), "created_at": parse_ts(data["created_at"])})


@dataclass(frozen=True)
class RunInfo:
    """A run as recorded: its state, params, latest metric values, tags, inputs and outputs."""

    id: str
    experiment: str
    name: str | None
    status: RunStatus
    seed: int
    created_by: str  # user name
    started_at: dt.datetime
    ended_at: dt.datetime | None
    error: str | None
    source: RunSource
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # the last value logged per key
    tags: dict[str, str] = field(default_factory=dict)
    inputs: tuple[InputInfo, ...] = ()
    artifacts: tuple[ArtifactLink, ...] = ()
    models: tuple[ModelInfo, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "experiment": self.experiment, "name": self.name, "status": str(self.status),
            "seed": self.seed, "created_by": self.created_by, "started_at": format_ts(self.started_at),
            "ended_at": None if self.ended_at is None else format_ts(self.ended_at), "error": self.error,
            "source": self.source.to_dict(), "params": dict(self.params), "metrics": dict(self.metrics),
            "tags": dict(self.tags), "inputs": [i.to_dict() for i in self.inputs],
            "artifacts": [a.to_dict() for a in self.artifacts], "models": [m.to_dict() for m in self.models],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunInfo:
        return cls(
            id=data["id"], experiment=data["experiment"], name=data["name"], status=RunStatus(data["status"]),
            seed=data["seed"], created_by=data["created_by"], started_at=parse_ts(data["started_at"]),
            ended_at=None if data["ended_at"] is None else parse_ts(data["ended_at"]), error=data["error"],
            source=RunSource.from_dict(data["source"]), params=dict(data["params"]),
            metrics={k: float(v) for k, v in data["metrics"].items()}, tags=dict(data["tags"]),
            inputs=tuple(InputInfo.from_dict(i) for i in data["inputs"]),
            artifacts=tuple(ArtifactLink.from_dict(a) for a in data["artifacts"]),
            models=tuple(ModelInfo.from_dict(m) for m in data["models"]),
        )

    def model(self, name: str) -> ModelInfo:
        """The model logged under ``name``."""
        for model in self.models:
            if model.name == name:
                return model
        logged = ", ".join(m.name for m in self.models) or "none"
        raise NotFound(f"Run {self.id} has no model named {name!r} (models: {logged}).")


@dataclass(frozen=True)
class RunComparison:
    """Params and latest metrics of several runs side by side, and which of them differ."""

    run_ids: tuple[str, ...]
    params: dict[str, dict[str, Any]]  # key -> run id -> value (None where not logged)
    metrics: dict[str, dict[str, float | None]]
    differing_params: tuple[str, ...]
    differing_metrics: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"run_ids": list(self.run_ids), "params": self.params, "metrics": self.metrics,
                "differing_params": list(self.differing_params), "differing_metrics": list(self.differing_metrics)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunComparison:
        return cls(run_ids=tuple(data["run_ids"]), params=dict(data["params"]), metrics=dict(data["metrics"]),
                   differing_params=tuple(data["differing_params"]), differing_metrics=tuple(data["differing_metrics"]))


def compare(runs: Sequence[RunInfo]) -> RunComparison:
    """Line up the params and latest metrics of ``runs`` (in the order given)."""
    ids = tuple(r.id for r in runs)
    params = {k: {r.id: r.params.get(k) for r in runs} for k in sorted({k for r in runs for k in r.params})}
    metrics = {k: {r.id: r.metrics.get(k) for r in runs} for k in sorted({k for r in runs for k in r.metrics})}

    def differ(table: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
        return tuple(k for k, by_run in table.items() if len({canonical_json(v) for v in by_run.values()}) > 1)

    return RunComparison(run_ids=ids, params=params, metrics=metrics,
                         differing_params=differ(params), differing_metrics=differ(metrics))


# --------------------------------------------------------------------------- checks

_KEY = re.compile(r"^[\w.\-/ :]{1,250}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_PARAM_JSON = 6000
MAX_TAG_VALUE = 5000
MAX_STEP = 2**63 - 1
MAX_SEED = 2**32 - 1


def check_key(key: object, what: str) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise InvalidInput(
            f"{what.capitalize()} name {key!r} is not valid: use 1-250 letters, digits, spaces or "
            "'_', '-', '.', '/', ':'."
        )
    return key


def check_text(value: object, what: str, *, max_length: int = 200, required: bool = True) -> str | None:
    """A free-text field: a string without control characters (NUL, escapes) and not too long."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"{what.capitalize()} must be a non-empty string, got {value!r}.")
    if len(value) > max_length or _CONTROL.search(value):
        raise InvalidInput(
            f"{what.capitalize()} {value[:60]!r} is not valid: at most {max_length} characters and no "
            "control characters."
        )
    return value


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= int(seed) <= MAX_SEED:
        raise InvalidInput(f"The seed must be an integer from 0 to {MAX_SEED} (numpy's range), got {seed!r}.")
    return int(seed)


def _plain(value: Any, key: str) -> Any:
    """``value`` as plain JSON data (numpy scalars unwrapped), or InvalidInput naming ``key``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise InvalidInput(f"Param {key!r} is {number}: params must be finite numbers, strings, booleans or None.")
        return number
    if isinstance(value, (list, tuple)):
        return [_plain(v, key) for v in value]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, key) for k, v in value.items()}
    raise InvalidInput(
        f"Param {key!r} is a {type(value).__name__} ({value!r:.80}), which cannot be recorded as is: "
        "log a number, string, boolean, None, or a list/dict of those (e.g. str(value))."
    )


def check_params(params: Mapping[str, Any]) -> dict[str, str]:
    """The params as canonical JSON text by key, checked."""
    if not isinstance(params, Mapping):
        raise InvalidInput(f"Params must be a mapping of name to value, got {type(params).__name__}.")
    checked = {}
    for key, value in params.items():
        text = canonical_json(_plain(value, check_key(key, "param")))
        if len(text) > MAX_PARAM_JSON:
            raise InvalidInput(f"Param {key!r} is {len(text)} characters as JSON; at most {MAX_PARAM_JSON} are recorded. "
                               "Store large values as an artifact (run.log_artifact).")
        checked[key] = text
    return checked


def check_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    if not isinstance(tags, Mapping):
        raise InvalidInput(f"Tags must be a mapping of name to string, got {type(tags).__name__}.")
    checked: dict[str, str] = {}
    for key, value in tags.items():
        check_key(key, "tag")
        if not isinstance(value, str):
            raise InvalidInput(f"Tag {key!r} must be a string, got {type(value).__name__} {value!r:.80}.")
        checked[key] = check_text(value, f"tag {key!r}", max_length=MAX_TAG_VALUE, required=False) or ""
    return checked


def check_metric_value(key: str, value: object) -> float:
    """A metric value as a finite float, or InvalidInput naming the key and the value."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(f"Metric {key!r} must be a number, got {type(value).__name__} {value!r:.80}.")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInput(
            f"Metric {key!r} is {number}: metrics must be finite numbers. Check the computation "
            "that produced it (a division by zero, a diverging loss)."
        )
    return number


def check_step(key: str, step: object) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or not 0 <= int(step) <= MAX_STEP:
        raise InvalidInput(f"The step of metric {key!r} must be an integer >= 0, got {step!r}.")
    return int(step)


def check_metrics(points: Sequence[Metric]) -> list[Metric]:
    """Metric points from a batch (the REST edge and the SDK both send these), checked."""
    return [Metric(key=check_key(p.key, "metric"), value=check_metric_value(p.key, p.value),
                   step=check_step(p.key, p.step), ts=p.ts) for p in points]


def parse_status(value: object) -> RunStatus:
    try:
        return RunStatus(str(value))
    except ValueError:
        raise InvalidInput(f"Unknown run status {value!r}; one of {', '.join(RunStatus)}.") from None


def check_transition(run_id: str, current: str, new: RunStatus) -> None:
    if new not in TRANSITIONS[RunStatus(current)]:
        raise Conflict(
            f"Run {run_id} is {current}: it cannot become {new}. A run ends once; start a new run "
            "(ws.start_run(...)) to record more."
        )
