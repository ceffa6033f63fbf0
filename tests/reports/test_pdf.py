"""The PDF report: every text present, paged with headers and footers, charts as vectors."""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream

from gxpml.errors import InvalidInput
from gxpml.reports import Chart, Document, Paragraph, Section, Series, render_pdf

LONG_TABLE_ROWS = 120


@dataclass
class Rendered:
    document: Document
    pdf: bytes
    connections: list[str]  # attempts to open a socket while rendering
    complaints: list[str]  # warnings WeasyPrint (or anything else) logged while rendering


@pytest.fixture(scope="module")
def rendered(make_document: Callable[..., Document]) -> Rendered:
    """One render serves every test below (WeasyPrint takes seconds), made with the network
    cut off and the log watched."""
    document = make_document(rows=LONG_TABLE_ROWS)
    connections: list[str] = []
    complaints: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        connections.append(repr(args))
        raise OSError("network access is not allowed while rendering")

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            complaints.append(f"{record.name}: {record.getMessage()}")

    watch = Watch(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(watch)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(socket.socket, "connect", refuse)
            patch.setattr(socket, "create_connection", refuse)
            pdf = render_pdf(document)
    finally:
        root.removeHandler(watch)
    return Rendered(document, pdf, connections, complaints)


@pytest.fixture(scope="module")
def reader(rendered: Rendered) -> PdfReader:
    return PdfReader(io.BytesIO(rendered.pdf))


@pytest.fixture(scope="module")
def pages(reader: PdfReader) -> list[str]:
    return [page.extract_text() for page in reader.pages]


def test_it_is_a_pdf_with_pages(rendered: Rendered, reader: PdfReader) -> None:
    assert rendered.pdf.startswith(b"%PDF-")
    assert len(reader.pages) > 1
    assert reader.metadata is not None and reader.metadata.title == "Validation report: fraud-clf:3"


def test_every_section_title_table_cell_and_header_value_is_in_the_text(
    rendered: Rendered, pages: list[str], hostile: str
) -> None:
    text = "\n".join(pages)
    document = rendered.document
    for section in document.sections:
        assert section.title in text
    for label, value in document.pairs:
        assert f"{label} {value}" in text
    for cell in ("AUC", "0.9134", "0.69 to 0.74", ">= 0.85", "\u2713 pass", "\u2717 fail",
                 "! 0.048", "extra-0", f"extra-{LONG_TABLE_ROWS - 1}", "Acceptance criteria"):
        assert cell in text, cell
    assert hostile in text  # shown as text, not interpreted
    assert "|   |--- class: 0" in text  # preformatted text keeps its indentation


def test_the_signature_block_is_printed_with_empty_lines_to_sign(pages: list[str]) -> None:
    last = pages[-1]
    assert "Meaning Printed name Signature Date and time (UTC)" in last
    assert "Authored Ada Lovelace Signed electronically 2024-05-01T12:30:00Z" in last
    assert "\nReviewed\nApproved\n" in last
    assert "Sign in the registry: gxpml model approve fraud-clf:3" in last


def test_every_page_has_the_title_and_page_n_of_n(pages: list[str]) -> None:
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
        assert text.count("Validation report: fraud-clf:3") >= 2  # header and footer


def test_a_long_table_splits_across_pages_and_repeats_its_header(pages: list[str]) -> None:
    header = "Metric Estimate 95% CI Criterion Result"
    with_header = [n for n, text in enumerate(pages) if header in text]
    assert len(with_header) >= 2
    rows = "\n".join(pages)
    assert all(f"extra-{i} " in rows for i in range(LONG_TABLE_ROWS))


def test_the_outline_holds_the_title_and_every_section(
    rendered: Rendered, reader: PdfReader
) -> None:
    outline = reader.outline
    assert len(outline) == 2
    title, children = outline
    assert not isinstance(title, list) and isinstance(children, list)
    assert title.title == rendered.document.title
    items = [item for item in children if not isinstance(item, list)]
    assert [item.title for item in items] == [s.title for s in rendered.document.sections]
    pages = [reader.get_destination_page_number(item) or 0 for item in items]
    assert pages == sorted(pages) and pages[0] >= 1  # sections follow the contents page


def _operators(reader: PdfReader, page_number: int) -> list[bytes]:
    page = reader.pages[page_number]
    stream = ContentStream(page.get_contents(), reader)
    return [operator for _, operator in stream.operations]


def _images(reader: PdfReader) -> list[Any]:
    images = []
    for page in reader.pages:
        resources: Any = page["/Resources"]
        xobjects = resources.get("/XObject", {})
        for ref in xobjects.values():
            if ref.get_object().get("/Subtype") == "/Image":
                images.append(ref)
    return images


def test_charts_are_vector_drawings_with_searchable_text(
    reader: PdfReader, pages: list[str]
) -> None:
    assert _images(reader) == []  # no raster image anywhere: charts are paths and text
    roc_page = next(n for n, text in enumerate(pages) if "ROC curve" in text)
    assert "False positive rate" in pages[roc_page] and "chance" in pages[roc_page]
    operators = _operators(reader, roc_page)
    # 50 segments per ROC curve (51 points), two curves, drawn as path operators
    assert operators.count(b"l") >= 100
    for title in ("Reliability diagram", "Permutation importance", "Recall by group",
                  "Predicted vs observed ($ cost)", "ECDF of scores"):
        assert any(title in text for text in pages), title


def test_the_same_document_renders_the_same_bytes(rendered: Rendered) -> None:
    small = Document("Same", [Section("A", [Paragraph("x"), Chart(
        "line", "c", [Series("s", [0, 1], [0, 1])])])])
    assert render_pdf(small) == render_pdf(small)


def test_rendering_needs_no_network(rendered: Rendered) -> None:
    assert rendered.connections == []


def test_weasyprint_finds_nothing_to_complain_about(rendered: Rendered) -> None:
    assert rendered.complaints == []


def test_an_archival_pdf_a_copy_can_be_asked_for() -> None:
    small = Document("Archive", [Section("A", [Paragraph("kept for 15 years")])])
    archival = PdfReader(io.BytesIO(render_pdf(small, variant="pdf/a-3b")))
    xmp = archival.xmp_metadata
    assert xmp is not None
    assert b'pdfaid:part="3" pdfaid:conformance="B"' in xmp.stream.get_data()
    assert "kept for 15 years" in "".join(page.extract_text() for page in archival.pages)


def test_an_unknown_variant_is_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="must be one of pdf/a-1a, .*pdf/ua-1.* Got 'pdf/z'"):
        render_pdf(Document("t", []), variant="pdf/z")
