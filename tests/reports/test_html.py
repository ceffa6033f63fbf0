"""The HTML report is one self-contained, escaped, deterministic file."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from gxpml.reports import (
    Cell,
    Chart,
    Document,
    Paragraph,
    Section,
    Series,
    Table,
    render_html,
)
from gxpml.reports.html import CONTENT_SECURITY_POLICY


class _Elements(HTMLParser):
    """Every start tag with its attributes (script bodies are not parsed as markup)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(page)
    parser.close()
    return parser.tags


@pytest.fixture
def page(document: Document) -> str:
    return render_html(document)


def test_the_page_loads_nothing_from_outside(page: str) -> None:
    tags = _elements(page)
    assert not [t for t, _ in tags if t in ("link", "iframe", "object", "embed", "base")]
    for tag, attrs in tags:
        for name in ("src", "href", "action", "srcset", "data"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith("#"), f"<{tag} {name}={value!r}> points outside the page"
    assert "@import" not in page and "url(http" not in page


def test_a_content_security_policy_forbids_fetching_anything(page: str) -> None:
    metas = [a for t, a in _elements(page) if t == "meta" and a.get("http-equiv")]
    assert metas == [{"http-equiv": "Content-Security-Policy", "content": CONTENT_SECURITY_POLICY}]
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "connect-src" not in CONTENT_SECURITY_POLICY  # falls back to 'none'


def test_plotly_js_is_inlined_once_and_each_chart_has_its_own_script(
    page: str, chart_traces: dict[str, int]
) -> None:
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    assert page.count(get_plotlyjs()) == 1
    scripts = [a for t, a in _elements(page) if t == "script"]
    assert len(scripts) == 1 + len(chart_traces)
    for chart_id in chart_traces:
        assert f'<div id="{chart_id}" class="plotly-graph-div"' in page
        assert re.search(rf'Plotly\.newPlot\(\s*"{chart_id}"', page)


def test_a_page_without_charts_carries_no_javascript() -> None:
    page = render_html(Document("Plain", [Section("Only text", [Paragraph("hello")])]))
    assert "<script" not in page
    assert len(page) < 20_000


def test_text_is_escaped_everywhere(page: str, hostile: str) -> None:
    assert "<script>alert" not in page
    # paragraph and table cell, both shown as text
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 2
    # a category label reaches Plotly escaped, inside JSON that cannot close the script
    assert "<b>bold?</b>" not in page
    assert r'"&lt;b&gt;bold?&lt;\u002fb&gt;"' in page


def test_attributes_cannot_be_broken_out_of() -> None:
    page = render_html(Document('"><img src=x onerror=alert(1)>', [Section("A")]))
    assert "<img" not in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_cells_carry_their_status_as_a_class_and_a_mark(page: str) -> None:
    cells = [a for t, a in _elements(page) if t == "td" and a.get("data-status")]
    assert [(a["data-status"], a["class"]) for a in cells] == [
        ("pass", "status-pass"), ("fail", "status-fail"),
        ("warn", "num status-warn"), ("warn", "status-warn"),
    ]
    assert '<span class="mark" title="pass">\u2713</span> pass</td>' in page
    assert '<span class="mark" title="fail">\u2717</span> fail</td>' in page
    assert '<td class="num status-warn" data-status="warn"><span class="mark" title="warn">!</span> 0.048' in page


def test_numbers_are_right_aligned_and_missing_values_shown_as_a_dash() -> None:
    page = render_html(Document("t", [Section("A", [Table(["n", "x"], [[1, None]])])]))
    assert '<td class="num">1</td><td>\u2014</td>' in page


def test_the_table_of_contents_links_every_section(page: str, document: Document) -> None:
    tags = _elements(page)
    links = [a["href"] for t, a in tags if t == "a"]
    ids = [a["id"] for t, a in tags if t == "section"]
    assert links == [f"#{anchor}" for anchor in document.anchors] == [f"#{i}" for i in ids]
    for section in document.sections:
        assert f"<h2>{section.title}</h2>" in page


def test_the_header_shows_title_subtitle_and_metadata(page: str) -> None:
    assert '<h1 class="doc-title">Validation report: fraud-clf:3</h1>' in page
    assert '<p class="doc-subtitle">Run 7f3a9c1e</p>' in page
    assert '<tr><th scope="row">Run id</th><td>7f3a9c1e</td></tr>' in page


def test_the_page_has_print_rules(page: str) -> None:
    assert "@media print" in page and "break-inside: avoid" in page


def test_the_same_document_renders_the_same_bytes(document: Document) -> None:
    assert render_html(document) == render_html(document)


def test_signature_lines_are_left_empty_to_be_signed_in_the_registry(page: str) -> None:
    assert "<tr><td>Reviewed</td><td></td><td class=\"sign\"></td><td></td></tr>" in page
    assert "Ada Lovelace</td><td class=\"sign\">Signed electronically</td>" in page


def test_a_wide_table_stays_escaped_with_statuses() -> None:
    rows = [[f"<i>{i}</i>", Cell(i, "pass" if i % 2 else "fail")] for i in range(50)]
    page = render_html(Document("t", [Section("A", [Table(["<name>", "v"], rows)])]))
    assert "<i>" not in page and "&lt;name&gt;" in page
    assert page.count('data-status="fail"') == 25


def test_charts_name_their_kind_and_series_count(page: str) -> None:
    figures = [a for t, a in _elements(page) if t == "figure" and a.get("class") == "chart"]
    assert [(f["data-kind"], f["data-series"]) for f in figures] == [
        ("line", "3"), ("line", "2"), ("bar", "1"), ("bar", "2"), ("scatter", "2"), ("step", "1"),
    ]


def test_a_single_chart_document_is_valid() -> None:
    chart = Chart("line", "t", [Series("s", [0, 1], [0, 1])])
    page = render_html(Document("t", [Section("A", [chart])]))
    assert 'id="chart-section-1-1"' in page
