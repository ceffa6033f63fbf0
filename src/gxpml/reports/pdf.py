"""Render a document as a PDF with WeasyPrint: charts as vector images, paged layout.

WeasyPrint runs no JavaScript, so each chart is drawn by matplotlib as SVG from the same
spec the HTML renderer gives Plotly, and embedded as a ``data:`` image. The fetcher accepts
``data:`` URLs only and fails on anything else: rendering never touches the network or the
file system. Pages carry the title in the header and "Page n of N" in the footer; long
tables break across pages and repeat their header row; the title and section headings form
the PDF outline (bookmarks).
"""

from __future__ import annotations

import base64
from typing import Any

from gxpml.errors import InvalidInput
from gxpml.reports import charts, markup, style
from gxpml.reports.document import Chart, Document

__all__ = ["render_pdf"]


def _chart_image(chart: Chart, element_id: str) -> str:
    data = base64.b64encode(charts.svg(chart).encode("utf-8")).decode("ascii")
    return (
        f'<img id="{element_id}" src="data:image/svg+xml;base64,{data}" '
        f'alt="{markup.escape(chart.title)}">'
    )


def _html(document: Document) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="generator" content="gxpml">\n'
        f"<title>{markup.escape(document.title)}</title>\n"
        "</head>\n<body>\n"
        f"{markup.body(document, _chart_image)}\n"
        "</body>\n</html>\n"
    )


def render_pdf(document: Document, *, variant: str | None = None) -> bytes:
    """``document`` as PDF bytes.

    ``variant`` asks WeasyPrint for a PDF profile: ``"pdf/a-3b"`` for an archival copy
    (fonts and colour profile embedded), ``"pdf/ua-1"`` for a tagged, accessible one.
    """
    try:
        import weasyprint  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportError(
            "Rendering a PDF needs WeasyPrint (and matplotlib for its charts); install them "
            "with: pip install 'gxpml[validation]'"
        ) from exc

    from weasyprint.pdf import VARIANTS  # type: ignore[import-untyped]

    if variant is not None and variant not in VARIANTS:
        known = ", ".join(sorted(v for v in VARIANTS if v != "debug"))
        raise InvalidInput(f"The PDF variant must be one of {known}. Got {variant!r} instead.")
    fetcher: Any = weasyprint.URLFetcher(allowed_protocols=("data",), fail_on_errors=True)
    page = weasyprint.HTML(string=_html(document), base_url=None, url_fetcher=fetcher)
    sheet = weasyprint.CSS(string=style.BASE + style.PAGED, base_url=None, url_fetcher=fetcher)
    pdf: bytes = page.write_pdf(stylesheets=[sheet], pdf_variant=variant)
    return pdf

