"""The active run: what training code holds while it runs.

    with ws.start_run(experiment="breast-cancer", seed=42) as run:
        run.log_params({"C": 1.0})
        for epoch in range(100):
            run.log_metric("loss", loss)        # buffered; written in sealed batches
        run.log_model(clf, name="clf", input_example=X_test[:5])

The same class serves a local workspace and one reached through ``gxpml server``: it writes
through the workspace's ``runs`` service and ``artifacts`` store, whichever they are.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeAlias

from gxpml.canonical import utcnow
from gxpml.errors import Conflict, GxpmlError, IntegrityError, NotFound
from gxpml.tracking.environment import apply_seed, capture_environment
from gxpml.tracking.models import deserialize, example_bytes, serialize, signature_of
from gxpml.tracking.records import (
    MAX_SEED,
    ArtifactLink,
    Metric,
    ModelInfo,
    RunInfo,
    RunSource,
    RunStatus,
    check_key,
    check_metric_value,
    check_seed,
    check_step,
    check_tags,
    check_text,
    check_transition,
    parse_status,
)

if TYPE_CHECKING:
    from gxpml.remote import RemoteWorkspace
    from gxpml.tracking.remote import RemoteRuns
    from gxpml.tracking.runs import Runs
    from gxpml.workspace import Workspace

    AnyWorkspace: TypeAlias = Workspace | RemoteWorkspace
    AnyRuns: TypeAlias = Runs | RemoteRuns

__all__ = ["Run", "begin", "load_model", "start_run"]


class Run:
    """A running run. Leaving its ``with`` block ends it: normally as finished, by an
    exception as failed (the exception goes on), by Ctrl-C as killed.

    Params, tags, inputs, artifacts and models are recorded at once. Metric points are
    buffered and written in batches, each sealed into the audit trail as one segment: when
    ``flush_every`` points are waiting, when ``flush_seconds`` have passed since the last
    write, at :meth:`log_metrics`, :meth:`flush` and when the run ends.
    """

    flush_every = 1000
    flush_seconds = 10.0

    def __init__(self, runs: AnyRuns, ws: AnyWorkspace, info: RunInfo, *, owns_workspace: bool = False) -> None:
        self._runs = runs
        self._ws = ws
        self.id = info.id
        self.experiment = info.experiment
        self.name = info.name
        self.seed = info.seed
        self._status = info.status
        self._buffer: list[Metric] = []
        self._next_step: dict[str, int] = {}
        self._last_flush = time.monotonic()
        self._owns_workspace = owns_workspace

    def __repr__(self) -> str:
        return f"Run({self.id!r}, experiment={self.experiment!r}, status={self._status.value!r})"

    @property
    def status(self) -> RunStatus:
        return self._status

    def info(self) -> RunInfo:
        """The run as recorded now (buffered metric points are written first)."""
        if self._status is RunStatus.RUNNING:
            self.flush()
        return self._runs.get(self.id)

    def _check_running(self) -> None:
        if self._status is not RunStatus.RUNNING:
            raise Conflict(
                f"Run {self.id} is {self._status.value}: it accepts no more params, metrics, tags, inputs, "
                "artifacts or models. Start a new run (ws.start_run(...)) to record more."
            )

    # ------------------------------------------------------------------ params and tags

    def log_param(self, key: str, value: Any) -> None:
        """Record a hyperparameter; once set, it cannot change (Conflict)."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several hyperparameters at once."""
        self._check_running()
        self._runs.log_batch(self.id, params=params)

    def set_tag(self, key: str, value: str) -> None:
        """Label the run; setting a tag again replaces its value (the old one stays audited)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._check_running()
        self._runs.log_batch(self.id, tags=tags)

    # ------------------------------------------------------------------ metrics

    def _point(self, key: str, value: Any, step: int | None) -> Metric:
        check_key(key, "metric")
        number = check_metric_value(key, value)
        step = self._next_step.get(key, 0) if step is None else check_step(key, step)
        self._next_step[key] = step + 1
        return Metric(key=key, value=number, step=step, ts=utcnow())

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record ``value`` of metric ``key`` (buffered). ``step`` defaults to one more than
        the last step of ``key`` (0 for the first)."""
        self._check_running()
        self._buffer.append(self._point(key, value, step))
        if len(self._buffer) >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Record several metrics at the same step, and write what is buffered."""
        self._check_running()
        points = [self._point(key, value, step) for key, value in metrics.items()]
        self._buffer.extend(points)
        self.flush()

    def flush(self) -> None:
        """Write the buffered metric points now, as one sealed segment."""
        if not self._buffer:
            return
        self._runs.log_batch(self.id, metrics=self._buffer)
        self._buffer = []
        self._last_flush = time.monotonic()

    # ------------------------------------------------------------------ inputs and outputs

    def use_dataset(self, ref: str, split: str | None = None) -> Any:
        """Read the dataset version ``NAME[:VERSION]`` (only its ``split`` rows: ``"train"``,
        ``"validation"`` or ``"test"``) as a pandas DataFrame, and record it as an input of
        the run. ``NAME`` alone is pinned to its latest version before it is read, so the run
        records exactly the version it got."""
        self._check_running()
        data = self._ws.data
        pinned = data.show(ref).ref
        frame = data.load(pinned, split=split)
        self._runs.log_input(self.id, pinned, split=split)
        return frame

    def log_artifact(self, path: str | Path, name: str | None = None) -> ArtifactLink:
        """Store the file at ``path`` and link it to the run under ``name`` (default: its name)."""
        self._check_running()
        path = Path(path)
        if not path.is_file():
            raise NotFound(f"Cannot log {path}: the file does not exist.")
        name = name if name is not None else path.name
        check_text(name, "artifact name", max_length=500)
        info = self._ws.artifacts.put(path, name=name)
        return self._runs.log_artifact(self.id, info.digest, name=name)

    def log_model(
        self, model: Any, name: str, input_example: Any = None, *, trusted: list[str] | None = None,
        allow_pickle: bool = False,
    ) -> ModelInfo:
        """Save ``model`` (a fitted scikit-learn compatible estimator) with skops as an output
        of the run, with its input signature and ``input_example``. Types outside the model's
        library must be vouched for with ``trusted=[...]``; a raw pickle is written only with
        ``allow_pickle=True``."""
        self._check_running()
        check_key(name, "model")
        signature = signature_of(model, input_example)
        saved = serialize(model, trusted=trusted, allow_pickle=allow_pickle)
        suffix = "skops" if saved.format == "skops" else "pkl"
        stored = self._ws.artifacts.put(saved.data, name=f"{name}.{suffix}")
        example = None
        if input_example is not None:
            example = self._ws.artifacts.put(example_bytes(input_example), name=f"{name}.input_example.json").digest
        return self._runs.add_model(
            self.id, name, digest=stored.digest, flavor=saved.flavor, format=saved.format,
            trusted_types=list(saved.trusted_types), vouched_types=list(saved.vouched_types),
            signature=signature, libraries=saved.libraries, example_digest=example,
        )

    # ------------------------------------------------------------------ ending

    def end(self, status: str = "finished", *, error: str | None = None) -> RunInfo:
        """End the run (``finished``, ``failed`` or ``killed``) after writing buffered points."""
        target = parse_status(status)
        check_transition(self.id, self._status, target)
        try:
            if target is RunStatus.FINISHED:
                try:
                    self.flush()
                except GxpmlError as exc:
                    self._finish(RunStatus.FAILED, f"buffered metrics could not be written: {exc.message}")
                    raise
            else:
                self._try_flush()
            return self._finish(target, error)
        finally:
            self._close()

    def _try_flush(self) -> None:
        try:
            self.flush()
        except GxpmlError:
            self._buffer = []  # the run is failing anyway; its end is recorded below

    def _finish(self, status: RunStatus, error: str | None) -> RunInfo:
        info = self._runs.end(self.id, status.value, error=error)
        self._status = info.status
        return info

    def _close(self) -> None:
        if self._owns_workspace:
            self._owns_workspace = False
            self._ws.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._status is not RunStatus.RUNNING:  # ended inside the block
            self._close()
            return
        if exc is None:
            self.end()
            return
        status = RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        try:
            self.end(status.value, error=error)
        except GxpmlError as failure:
            # Never hide the code's own exception behind a bookkeeping one.
            exc.add_note(f"gxpml could not record run {self.id} as {status.value}: {failure.message}")


def begin(
    runs: AnyRuns, ws: AnyWorkspace, experiment: str, *, seed: int | None, name: str | None,
    tags: Mapping[str, str] | None, owns_workspace: bool = False,
) -> Run:
    """Start a run: check the arguments, seed, capture and store the environment (and the
    entry-point file unless it is a clean git commit), then record the run."""
    check_text(experiment, "experiment")
    check_text(name, "run name", required=False)
    check_tags(tags or {})
    seed = secrets.randbelow(MAX_SEED + 1) if seed is None else check_seed(seed)
    apply_seed(seed)
    capture = capture_environment(seed)
    environment = ws.artifacts.put(capture.to_json(), name="environment.json")
    entry = capture.environment["entry_point"]
    git = capture.environment["git"] or {}
    code = None
    if capture.code_file is not None:
        code = ws.artifacts.put(capture.code_file, name=capture.code_file.name).digest
    source = RunSource(
        environment_digest=environment.digest, entry_point=entry["path"], code_digest=entry["sha256"],
        code_artifact=code, git_commit=git.get("commit"), git_dirty=git.get("dirty"),
    )
    info = runs.create(experiment, seed=seed, name=name, tags=tags, source=source)
    return Run(runs, ws, info, owns_workspace=owns_workspace)


def load_model(ws: AnyWorkspace, run: RunInfo, name: str, *, allow_pickle: bool) -> Any:
    """Read model ``name`` of ``run`` (its bytes verified against the recorded digest), then
    deserialize it trusting only the recorded types."""
    model = run.model(name)
    data = ws.artifacts.read_bytes(model.digest)
    if hashlib.sha256(data).hexdigest() != model.digest:  # read_bytes checks too; never trust one check
        raise IntegrityError(f"Model {name} of run {run.id} does not match its recorded digest sha256:{model.digest}.")
    return deserialize(data, format=model.format, trusted_types=model.trusted_types,
                       allow_pickle=allow_pickle, what=f"Model {name} of run {run.id}")


def start_run(
    experiment: str, *, seed: int | None = None, name: str | None = None, tags: Mapping[str, str] | None = None,
) -> Run:
    """Start a run in the default workspace: the server ``GXPML_SERVER`` names, else the local
    workspace (``GXPML_HOME`` or ``./.gxpml``), opened with ``GXPML_TOKEN`` or the stored
    session. The workspace is closed when the run ends."""
    from gxpml.workspace import Workspace

    ws: AnyWorkspace = Workspace.connect() if os.environ.get("GXPML_SERVER") else Workspace.open()
    try:
        return begin(ws.runs, ws, experiment, seed=seed, name=name, tags=tags, owns_workspace=True)
    except BaseException:
        ws.close()
        raise
