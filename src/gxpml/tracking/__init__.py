"""Tracking: runs with their params, metrics, tags, inputs, artifacts and models; the
environment and code they ran with; seeds applied and recorded.

    with ws.start_run(experiment="breast-cancer", seed=42) as run:
        run.log_params({"C": 1.0})
        run.log_metric("auc", 0.97)
        run.log_model(clf, name="clf", input_example=X_test[:5])
"""

from gxpml.tracking.records import (
    ArtifactLink,
    InputInfo,
    Metric,
    ModelInfo,
    RunComparison,
    RunInfo,
    RunSource,
    RunStatus,
)
from gxpml.tracking.run import Run, start_run

__all__ = [
    "ArtifactLink",
    "InputInfo",
    "Metric",
    "ModelInfo",
    "Run",
    "RunComparison",
    "RunInfo",
    "RunSource",
    "RunStatus",
    "start_run",
]
