"""Render a document as one self-contained HTML file with interactive Plotly charts.

Nothing is loaded from the network: the CSS and plotly.js are inlined (plotly.js once, and
only when the document has a chart), and a Content-Security-Policy forbids the page to
fetch or connect anywhere, so an archived report opens the same way years later and never
calls out. The output depends on the document alone: no timestamps, no random ids.
"""

from __future__ import annotations

import functools

from gxpml.reports import charts, markup, style
from gxpml.reports.document import Chart, Document

__all__ = ["CONTENT_SECURITY_POLICY", "render_html"]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; base-uri 'none'; form-action 'none'"
)


@functools.cache
def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportError(
            "Rendering charts in HTML needs Plotly; install it with: pip install 'gxpml[validation]'"
        ) from exc

    source: str = get_plotlyjs()
    # Inlined into a <script> element, which the first "</script" would end.
    if "</script" in source.lower():  # pragma: no cover - not so in any plotly.js release
        raise RuntimeError("plotly.js contains '</script' and cannot be inlined")
    return source


def render_html(document: Document) -> str:
    """``document`` as a complete, self-contained HTML page."""
    has_charts = any(isinstance(b, Chart) for s in document.sections for b in s.blocks)
    script = f"<script>{_plotly_js()}</script>\n" if has_charts else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="gxpml">\n'
        f"<title>{markup.escape(document.title)}</title>\n"
        f"<style>{style.BASE}{style.SCREEN}</style>\n"
        f"{script}</head>\n<body>\n"
        f"{markup.body(document, charts.plotly_html)}\n"
        "</body>\n</html>\n"
    )
