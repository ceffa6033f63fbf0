"""A sample report that uses every block, shared by the HTML, PDF and browser tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from gxpml.reports import (
    Callout,
    Cell,
    Chart,
    Document,
    KeyValues,
    Paragraph,
    Preformatted,
    Section,
    Series,
    SignatureBlock,
    SignatureLine,
    Table,
)

HOSTILE = '<script>alert("x")</script>'

# chart id (derived from its position) -> number of traces Plotly must draw
CHART_TRACES = {
    "chart-discrimination-2": 3,  # ROC: two models and the diagonal
    "chart-discrimination-3": 2,  # reliability: curve with markers and the diagonal
    "chart-explanations-1": 1,  # feature importance, horizontal bars with error bars
    "chart-explanations-2": 2,  # per-group metrics, grouped bars with asymmetric errors
    "chart-explanations-3": 2,  # predicted vs observed: scatter and the diagonal
    "chart-explanations-4": 1,  # ECDF as a step curve
}


def sample_document(rows: int = 8) -> Document:
    fpr = np.linspace(0.0, 1.0, 51)
    features = ["age", "dose_mg", "creatinine", "weight", "<b>bold?</b>"]
    return Document(
        title="Validation report: fraud-clf:3",
        subtitle="Run 7f3a9c1e",
        metadata={
            "Run id": "7f3a9c1e",
            "Model": "fraud-clf:3",
            "Dataset digest": "sha256:" + "ab" * 32,
            "Generated at": "2024-05-01T12:00:00Z",
        },
        sections=[
            Section("Summary", [
                Callout("pass", "All 4 acceptance criteria are met.", title="Passed"),
                Callout("warn", "Group 'F, 65+' has only 41 samples; its interval is wide."),
                Paragraph(f"The model was evaluated on the held-out test split. {HOSTILE}"),
            ]),
            Section("Discrimination", anchor="discrimination", blocks=[
                Table(
                    ["Metric", "Estimate", "95% CI", "Criterion", "Result"],
                    [
                        ["AUC", 0.9134, "0.90 to 0.93", ">= 0.85", Cell("pass", "pass")],
                        ["Recall", 0.7123, "0.69 to 0.74", ">= 0.75", Cell("fail", "fail")],
                        ["ECE", Cell(0.048, "warn"), "0.03 to 0.06", "<= 0.05", Cell("warn", "warn")],
                        [HOSTILE, 1, None, "-", "-"],
                    ] + [[f"extra-{i}", i * 0.5, "-", "-", "-"] for i in range(rows)],
                    caption="Acceptance criteria",
                ),
                Chart("line", "ROC curve", [
                    Series("model", fpr, np.sqrt(fpr)),
                    Series("baseline", fpr, fpr ** 0.8),
                    Series.diagonal("chance"),
                ], x_label="False positive rate", y_label="True positive rate",
                    x_range=(0, 1), y_range=(0, 1), caption="ROC on the test split"),
                Chart("line", "Reliability diagram", [
                    Series("model", [0.1, 0.3, 0.5, 0.7, 0.9], [0.12, 0.28, 0.55, 0.66, 0.93],
                           markers=True),
                    Series.diagonal("perfectly calibrated"),
                ], x_label="Mean predicted probability", y_label="Fraction of positives"),
            ]),
            Section("Explanations", anchor="explanations", blocks=[
                Chart("bar", "Permutation importance", [
                    Series("importance", features, [0.21, 0.15, 0.09, 0.04, 0.01],
                           error=[0.02, 0.015, 0.01, 0.005, 0.002]),
                ], x_label="Drop in AUC", horizontal=True),
                Chart("bar", "Recall by group", [
                    Series("recall", ["F", "M", "F, 65+"], [0.71, 0.73, 0.62],
                           error=[0.02, 0.02, 0.08], error_minus=[0.03, 0.02, 0.11]),
                    Series("precision", ["F", "M", "F, 65+"], [0.81, 0.80, 0.77],
                           error=[0.02, 0.02, 0.05]),
                ], y_label="Score", y_range=(0, 1)),
                Chart("scatter", "Predicted vs observed ($ cost)", [
                    Series("patients", [1, 2, 3, 4, 5], [1.1, 1.9, 3.2, 3.8, 5.3]),
                    Series.diagonal("y = x", 0, 6),
                ], x_label="Observed", y_label="Predicted"),
                Chart("step", "ECDF of scores", [
                    Series("scores", [0.1, 0.2, 0.4, 0.8], [0.25, 0.5, 0.75, 1.0]),
                ]),
                Preformatted("|--- dose_mg <= 12.50\n|   |--- class: 0\n|--- dose_mg >  12.50\n"
                             "|   |--- class: 1", caption="Surrogate tree rules"),
                KeyValues({"Explainer": "permutation", "Repeats": 10, "Seed": 42},
                          caption="Settings"),
            ]),
            Section("Approval", [
                SignatureBlock([
                    SignatureLine("Authored", "Ada Lovelace", "2024-05-01T12:30:00Z"),
                    "Reviewed",
                    "Approved",
                ], note="Sign in the registry: gxpml model approve fraud-clf:3"),
            ]),
        ],
    )


@pytest.fixture(scope="session")
def document() -> Document:
    """The sample report: every block kind, hostile text, six charts (frozen, so shared)."""
    return sample_document()


@pytest.fixture(scope="session")
def make_document() -> Callable[..., Document]:
    """Builds the sample report; ``rows`` extra table rows make its table span pages."""
    return sample_document


@pytest.fixture(scope="session")
def chart_traces() -> dict[str, int]:
    """The sample report's chart ids and the number of traces each must draw."""
    return dict(CHART_TRACES)


@pytest.fixture(scope="session")
def hostile() -> str:
    return HOSTILE
