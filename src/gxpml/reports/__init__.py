"""Reports: build a :class:`Document`, render it as a self-contained HTML page or a PDF.

    doc = Document("Validation report", metadata={"Run": run_id}, sections=[
        Section("Summary", [Callout("pass", "All acceptance criteria met.")]),
        Section("Discrimination", [
            Table(["Metric", "Value", "Criterion"], [["AUC", Cell(0.91, "pass"), ">= 0.85"]]),
            Chart("line", "ROC", [Series("model", fpr, tpr), Series.diagonal("chance")],
                  x_label="False positive rate", y_label="True positive rate"),
        ]),
        Section("Approval", [SignatureBlock(["Authored", "Reviewed", "Approved"])]),
    ])
    html = render_html(doc)    # str: one file, plotly.js inlined, no network
    pdf = render_pdf(doc)      # bytes: WeasyPrint, charts as vector SVG
"""

from gxpml.reports.document import (
    Block,
    Callout,
    Cell,
    Chart,
    ChartKind,
    Document,
    KeyValues,
    Paragraph,
    Preformatted,
    Section,
    Series,
    SignatureBlock,
    SignatureLine,
    Status,
    Table,
)
from gxpml.reports.html import render_html
from gxpml.reports.pdf import render_pdf

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
    "render_html",
    "render_pdf",
]
