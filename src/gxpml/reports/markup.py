"""The HTML body of a document, shared by the HTML and the PDF renderer.

Only charts differ between the two (Plotly in a browser, an SVG image for WeasyPrint), so
the renderer passes a function that draws one. Every piece of text goes through
:func:`escape`: a document's content is data, never markup.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from gxpml.reports.document import (
    Block,
    Callout,
    Cell,
    Chart,
    Document,
    KeyValues,
    Paragraph,
    Preformatted,
    Section,
    SignatureBlock,
    Status,
    Table,
    Value,
    format_value,
)

__all__ = ["ChartRenderer", "body", "escape"]

ChartRenderer = Callable[[Chart, str], str]
"""Draws ``chart`` into markup; the second argument is an element id unique in the page."""

MARKS = {Status.PASS: "\u2713", Status.FAIL: "\u2717", Status.WARN: "!"}
WORDS = {Status.PASS: "Pass", Status.FAIL: "Fail", Status.WARN: "Warning"}


def escape(text: str) -> str:
    """``text`` safe inside HTML content and quoted attributes."""
    return html.escape(text, quote=True)


def body(document: Document, chart: ChartRenderer) -> str:
    """Header, table of contents and sections of ``document`` as HTML (the ``<body>`` content)."""
    parts = [_header(document), _toc(document), "<main>"]
    for section, anchor in zip(document.sections, document.anchors, strict=True):
        parts.append(_section(section, anchor, chart))
    parts.append("</main>")
    return "\n".join(parts)


def _header(document: Document) -> str:
    parts = ['<header class="doc-header">', f'<h1 class="doc-title">{escape(document.title)}</h1>']
    if document.subtitle:
        parts.append(f'<p class="doc-subtitle">{escape(document.subtitle)}</p>')
    if document.pairs:
        parts.append(_key_values(document.pairs, "", "meta"))
    parts.append("</header>")
    return "\n".join(parts)


def _toc(document: Document) -> str:
    if not document.sections:
        return ""
    items = "\n".join(
        f'<li><a href="#{anchor}">{escape(section.title)}</a></li>'
        for section, anchor in zip(document.sections, document.anchors, strict=True)
    )
    return (
        '<nav class="toc" aria-labelledby="toc-title">\n'
        f'<h2 id="toc-title">Contents</h2>\n<ol>\n{items}\n</ol>\n</nav>'
    )


def _section(section: Section, anchor: str, chart: ChartRenderer) -> str:
    parts = [f'<section id="{anchor}">', f"<h2>{escape(section.title)}</h2>"]
    for index, block in enumerate(section.blocks, start=1):
        parts.append(_block(block, f"{anchor}-{index}", chart))
    parts.append("</section>")
    return "\n".join(parts)


def _block(block: Block, block_id: str, chart: ChartRenderer) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, KeyValues):
        return _key_values(block.pairs, block.caption, "kv")
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Chart):
        caption = f"<figcaption>{escape(block.caption)}</figcaption>" if block.caption else ""
        return (
            f'<figure class="chart" data-kind="{block.kind}" data-series="{len(block.series)}">'
            f"\n{chart(block, f'chart-{block_id}')}\n{caption}</figure>"
        )
    if isinstance(block, Callout):
        status = Status(block.status)
        title = block.title or WORDS[status]
        return (
            f'<div class="callout status-{status}" role="note">'
            f'<p class="callout-title"><span class="mark" title="{status}">{MARKS[status]}</span> '
            f"{escape(title)}</p>\n<p>{escape(block.text)}</p></div>"
        )
    if isinstance(block, Preformatted):
        caption = f"<figcaption>{escape(block.caption)}</figcaption>" if block.caption else ""
        return f'<figure class="pre"><pre>{escape(block.text)}</pre>{caption}</figure>'
    return _signatures(block)


def _key_values(pairs: tuple[tuple[str, Value], ...], caption: str, css: str) -> str:
    rows = "\n".join(
        f'<tr><th scope="row">{escape(k)}</th><td>{escape(format_value(v))}</td></tr>'
        for k, v in pairs
    )
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f'<table class="{css}">{cap}\n<tbody>\n{rows}\n</tbody>\n</table>'


def _cell(cell: Cell) -> str:
    classes = []
    if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
        classes.append("num")
    mark = ""
    if cell.status is not None:
        status = Status(cell.status)
        classes.append(f"status-{status}")
        mark = f'<span class="mark" title="{status}">{MARKS[status]}</span> '
    attrs = f' class="{" ".join(classes)}"' if classes else ""
    if cell.status is not None:
        attrs += f' data-status="{cell.status}"'
    return f"<td{attrs}>{mark}{escape(format_value(cell.value))}</td>"


def _table(table: Table) -> str:
    cap = f"<caption>{escape(table.caption)}</caption>" if table.caption else ""
    head = "".join(f'<th scope="col">{escape(c)}</th>' for c in table.columns)
    rows = "\n".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in table.cells)
    return (
        f'<table class="data">{cap}\n<thead><tr>{head}</tr></thead>\n'
        f"<tbody>\n{rows}\n</tbody>\n</table>"
    )


def _signatures(block: SignatureBlock) -> str:
    rows = []
    for line in block.signatures:
        signed = "Signed electronically" if line.name and line.signed_at else ""
        rows.append(
            f"<tr><td>{escape(line.meaning)}</td><td>{escape(line.name)}</td>"
            f'<td class="sign">{signed}</td><td>{escape(line.signed_at)}</td></tr>'
        )
    note = f'<p class="note">{escape(block.note)}</p>' if block.note else ""
    return (
        '<div class="signatures">\n<table class="signatures">\n<thead><tr>'
        '<th scope="col">Meaning</th><th scope="col">Printed name</th>'
        '<th scope="col">Signature</th><th scope="col">Date and time (UTC)</th>'
        "</tr></thead>\n<tbody>\n" + "\n".join(rows) + f"\n</tbody>\n</table>\n{note}</div>"
    )
