"""The HTML report in a real browser: headless Chromium, network blocked, charts drawn.

Needs Debian's Chromium at /usr/bin/chromium (``apt-get install -y chromium``); playwright
drives it, no browser download. A missing browser fails the test: it is part of the suite.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gxpml.reports import Document, render_html

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@dataclass
class Session:
    page: Any
    blocked: list[str] = field(default_factory=list)  # requests that tried to leave the file
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions
    dialogs: list[str] = field(default_factory=list)  # alert() & co: injected script ran


@pytest.fixture(scope="module")
def session(
    tmp_path_factory: pytest.TempPathFactory, document: Document, chart_traces: dict[str, int]
) -> Iterator[Session]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the browser test needs it. "
            "Install it with `apt-get install -y chromium` (Debian's package; do not run "
            "`playwright install`)."
        )
    from playwright.sync_api import sync_playwright

    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(document), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(offline=True)
            page = context.new_page()
            session = Session(page)

            def route(route: Any) -> None:
                if route.request.url.startswith(("file:", "data:", "blob:")):
                    route.continue_()
                else:
                    session.blocked.append(route.request.url)
                    route.abort()

            context.route("**/*", route)
            def console(message: Any) -> None:
                if message.type == "error":
                    session.errors.append(message.text)

            def dialog(box: Any) -> None:
                session.dialogs.append(box.message)
                box.dismiss()

            page.on("console", console)
            page.on("pageerror", lambda error: session.errors.append(str(error)))
            page.on("dialog", dialog)
            page.goto(path.as_uri())
            page.wait_for_function(
                """ids => ids.every(id => {
                    const el = document.getElementById(id);
                    return el && el.classList.contains('js-plotly-plot')
                        && el.querySelector('svg.main-svg') !== null;
                })""",
                arg=list(chart_traces),
                timeout=30_000,
            )
            yield session
        finally:
            browser.close()


def test_every_chart_is_drawn_with_its_traces(
    session: Session, chart_traces: dict[str, int]
) -> None:
    plots = session.page.eval_on_selector_all(".js-plotly-plot", "els => els.map(e => e.id)")
    assert plots == list(chart_traces)
    for chart_id, traces in chart_traces.items():
        drawn = session.page.eval_on_selector(
            f"#{chart_id}",
            "el => ({traces: el.querySelectorAll('svg.main-svg g.trace').length,"
            " legend: el.querySelectorAll('g.legend g.traces').length})",
        )
        assert drawn == {"traces": traces, "legend": traces}, chart_id


def test_bars_and_error_bars_are_drawn(session: Session) -> None:
    counts = session.page.eval_on_selector(
        "#chart-explanations-2",
        "el => ({bars: el.querySelectorAll('g.trace.bars g.point').length,"
        " errors: el.querySelectorAll('g.errorbar').length})",
    )
    assert counts == {"bars": 6, "errors": 6}


def test_nothing_left_the_page_and_nothing_failed(session: Session) -> None:
    assert session.blocked == []
    assert session.errors == []


def test_hostile_text_is_shown_not_run(session: Session) -> None:
    assert session.dialogs == []
    text = session.page.inner_text("main")
    assert text.count('<script>alert("x")</script>') == 2  # paragraph and table cell
    ticks = session.page.eval_on_selector(
        "#chart-explanations-1", "el => el.querySelector('.yaxislayer-above').textContent"
    )
    assert "<b>bold?</b>" in ticks  # a category label Plotly would otherwise render bold


def test_the_table_of_contents_jumps_to_its_sections(session: Session) -> None:
    page = session.page
    page.click("nav.toc a[href='#explanations']")
    assert page.evaluate("location.hash") == "#explanations"
    top = page.eval_on_selector("#explanations", "el => el.getBoundingClientRect().top")
    assert abs(top) < 5
