"""``ws.runs`` of a workspace reached through ``gxpml server``: the same methods as
:class:`gxpml.tracking.runs.Runs`, over ``/api/v1/runs``. The :class:`Run` object is the
same class as locally, so metric points are buffered here, in the client, and sent in
batches; model files travel through the artifacts API."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gxpml.tracking.records import (
    ArtifactLink,
    InputInfo,
    Metric,
    ModelInfo,
    RunComparison,
    RunInfo,
    RunSource,
    check_metrics,
    check_params,
    check_tags,
)

if TYPE_CHECKING:
    from gxpml.remote import RemoteWorkspace
    from gxpml.tracking.run import Run

__all__ = ["RemoteRuns"]

#: Metric points per request: well under the server's 1 MiB limit on JSON bodies.
POINTS_PER_REQUEST = 5000


def _id(run_id: str) -> str:
    return quote(str(run_id), safe="")


class RemoteRuns:
    def __init__(self, ws: RemoteWorkspace) -> None:
        self._ws = ws

    def start(
        self, experiment: str, *, seed: int | None = None, name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Run:
        """Start a run on the server; the environment captured is this process's."""
        from gxpml.tracking.run import begin

        return begin(self, self._ws, experiment, seed=seed, name=name, tags=tags)

    def get(self, run_id: str) -> RunInfo:
        return RunInfo.from_dict(self._ws._json("GET", f"/runs/{_id(run_id)}"))

    def metrics(self, run_id: str, key: str) -> list[Metric]:
        data = self._ws._json("GET", f"/runs/{_id(run_id)}/metrics", params={"key": key})
        return [Metric.from_dict(p) for p in data]

    def list(
        self, *, experiment: str | None = None, status: str | None = None, limit: int = 100,
    ) -> list[RunInfo]:
        params: dict[str, Any] = {"limit": limit}
        if experiment is not None:
            params["experiment"] = experiment
        if status is not None:
            params["status"] = status
        return [RunInfo.from_dict(r) for r in self._ws._json("GET", "/runs", params=params)]

    def compare(self, run_ids: Sequence[str]) -> RunComparison:
        ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
        return RunComparison.from_dict(self._ws._json("GET", "/runs/compare", params={"ids": ids}))

    def load_model(self, run_id: str, name: str, *, allow_pickle: bool = False) -> Any:
        """Download model ``name`` (digest checked) and deserialize it here, trusting only the
        types its record names."""
        from gxpml.tracking.run import load_model

        return load_model(self._ws, self.get(run_id), name, allow_pickle=allow_pickle)

    def create(
        self, experiment: str, *, seed: int, name: str | None = None,
        tags: Mapping[str, str] | None = None, source: RunSource | None = None,
    ) -> RunInfo:
        body = {"experiment": experiment, "seed": seed, "name": name, "tags": dict(tags or {}),
                "source": (source or RunSource()).to_dict()}
        return RunInfo.from_dict(self._ws._json("POST", "/runs", json=body))

    def log_batch(
        self, run_id: str, *, params: Mapping[str, Any] | None = None, metrics: Sequence[Metric] = (),
        tags: Mapping[str, str] | None = None,
    ) -> None:
        # Checked here too, so that a bad value fails at the call with the SDK's message.
        checked = check_params(params or {})
        check_tags(tags or {})
        points = check_metrics(metrics)
        if not (checked or tags or points):
            return
        first = {"params": {k: json.loads(v) for k, v in checked.items()}, "tags": dict(tags or {})}
        chunks = [points[i:i + POINTS_PER_REQUEST] for i in range(0, len(points), POINTS_PER_REQUEST)] or [[]]
        for n, chunk in enumerate(chunks):
            body = {**(first if n == 0 else {"params": {}, "tags": {}}), "metrics": [p.to_dict() for p in chunk]}
            self._ws._json("POST", f"/runs/{_id(run_id)}/batch", json=body)

    def log_input(self, run_id: str, dataset: str, *, split: str | None = None) -> InputInfo:
        return InputInfo.from_dict(self._ws._json(
            "POST", f"/runs/{_id(run_id)}/inputs", json={"dataset": dataset, "split": split}))

    def log_artifact(self, run_id: str, digest: str, *, name: str, kind: str = "artifact") -> ArtifactLink:
        return ArtifactLink.from_dict(self._ws._json(
            "POST", f"/runs/{_id(run_id)}/artifacts", json={"digest": digest, "name": name, "kind": kind}))

    def add_model(
        self, run_id: str, name: str, *, digest: str, flavor: str, format: str,
        trusted_types: Sequence[str], vouched_types: Sequence[str], signature: Mapping[str, Any],
        libraries: Mapping[str, str], example_digest: str | None = None,
    ) -> ModelInfo:
        body = {"name": name, "digest": digest, "flavor": flavor, "format": format,
                "trusted_types": list(trusted_types), "vouched_types": list(vouched_types),
                "signature": dict(signature), "libraries": dict(libraries), "example_digest": example_digest}
        return ModelInfo.from_dict(self._ws._json("POST", f"/runs/{_id(run_id)}/models", json=body))

    def attach_report(self, run_id: str, digest: str, *, kind: str, produced_by: str | None = None) -> str:
        body = {"digest": digest, "kind": kind, "produced_by": produced_by}
        return str(self._ws._json("POST", f"/runs/{_id(run_id)}/reports", json=body)["node"])

    def end(self, run_id: str, status: str = "finished", *, error: str | None = None) -> RunInfo:
        return RunInfo.from_dict(self._ws._json(
            "POST", f"/runs/{_id(run_id)}/end", json={"status": status, "error": error}))

    def kill(self, run_id: str, *, reason: str) -> RunInfo:
        return RunInfo.from_dict(self._ws._json("POST", f"/runs/{_id(run_id)}/kill", json={"reason": reason}))
