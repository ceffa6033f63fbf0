"""The validation report of the bundled diabetes data (facet: sex) opens in real headless
Chromium with the network blocked and draws every chart; the CLI writes the three files
locally and through the server and exits 11 when a criterion fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gxpml.cli import app
from gxpml.reports import Chart
from gxpml.validation.report import build_document
from gxpml.validation.validate import validate
from support import diabetes_frame as diabetes
from support import train_diabetes_run as trained_run

CRITERIA = """
- {metric: r2, min: 0.2, split: test}
- {metric: mae, max: 70, split: test, bound: upper}
- {metric: mae, max: 80, split: test, subgroup: sex=2}
- {metric: DPPL, min: -0.5, max: 0.5, split: test}
"""
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from support import make_workspace

    folder = tmp_path_factory.mktemp("report")
    ws = make_workspace(folder / "ws", None)
    try:
        ws.data.register("diabetes", diabetes())
        ws.data.split("diabetes", test=0.25, validation=0.2, group="patient_id", seed=42)
        outcome = validate(ws, trained_run(ws), criteria=CRITERIA, out=folder / "out", facet="sex",
                           label="progression", n_bootstrap=100, pdf=False)
    finally:
        ws.close()
    return {"html": folder / "out" / "report.html", "results": outcome.results}


@pytest.fixture(scope="module")
def page(report: dict[str, Any]) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; install it with `apt-get install -y chromium` "
                    "(make test does this).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(offline=True)
            seen: dict[str, list[str]] = {"blocked": [], "errors": []}

            def route(route: Any) -> None:
                if route.request.url.startswith(("file:", "data:", "blob:")):
                    route.continue_()
                else:
                    seen["blocked"].append(route.request.url)
                    route.abort()

            context.route("**/*", route)
            tab = context.new_page()
            tab.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: seen["errors"].append(str(e)))
            tab.goto(Path(report["html"]).as_uri())
            tab.seen = seen
            yield tab
        finally:
            browser.close()


def _charts(results: dict[str, Any]) -> list[Chart]:
    document = build_document(results)
    return [block for section in document.sections for block in section.blocks if isinstance(block, Chart)]


def test_every_chart_of_the_report_is_drawn_in_the_browser(page: Any, report: dict[str, Any]) -> None:
    charts = _charts(report["results"])
    titles = {c.title for c in charts}
    assert {"Global importance: mean |SHAP|", "Error against the best-constant baseline"} <= titles
    assert any(t.startswith("Partial dependence and ICE") for t in titles)
    assert any(t.startswith("Bias metrics") for t in titles)
    page.wait_for_function(
        "n => document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= n", arg=len(charts), timeout=30_000)
    drawn = page.eval_on_selector_all(
        ".js-plotly-plot", "els => els.map(e => e.querySelectorAll('svg.main-svg g.trace').length)")
    assert drawn == [len(c.series) for c in charts]
    assert page.seen == {"blocked": [], "errors": []}


def test_the_report_shows_the_verdict_and_each_criterion(page: Any) -> None:
    text = page.inner_text("body")
    assert "Accepted" in text and "All 4 acceptance criteria are met." in text
    assert page.eval_on_selector_all("td.status-pass", "els => els.length") >= 4
    for title in ("Acceptance criteria", "Calibration and uncertainty", "Subgroups and bias", "Explanations",
                  "Stability", "Data and code lineage", "Environment", "Signatures"):
        assert page.locator(f"h2:has-text('{title}')").count() == 1, title


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_the_cli_writes_the_files_and_exits_11_when_a_criterion_fails(
    local: Any, tmp_path: Path, mode: str, request: pytest.FixtureRequest,
) -> None:
    local.data.register("diabetes", diabetes())
    local.data.split("diabetes", test=0.25, validation=0.2, group="patient_id", seed=42)
    run_id = trained_run(local)
    token = local.tokens.create("cli", expires_days=1)[1]
    where = ["--server", request.getfixturevalue("server").url] if mode == "remote" else \
        ["--workspace", str(local.settings.home)]
    criteria = tmp_path / "criteria.yaml"
    criteria.write_text(CRITERIA, encoding="utf-8")
    card = tmp_path / "card.yaml"
    card.write_text("intended_use: research only\nlimitations: 442 patients from one study\n", encoding="utf-8")
    common = [*where, "validate", run_id, "--facet", "sex", "--label", "progression", "--bootstrap", "50",
              "--no-pdf"]
    result = CliRunner().invoke(app, [*common, "--criteria", str(criteria), "--card", str(card),
                                      "--out", str(tmp_path / "ok"), "--json"], env={"GXPML_TOKEN": token})
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is True and len(data["judgements"]) == 4
    assert set(data["files"]) == {"results.json", "report.html"}
    results = json.loads((tmp_path / "ok" / "results.json").read_text())
    assert results["model_card"] == {"intended_use": "research only", "limitations": "442 patients from one study"}

    criteria.write_text("- {metric: r2, min: 0.99, split: test}\n", encoding="utf-8")
    failed = CliRunner().invoke(app, [*common, "--criteria", str(criteria), "--out", str(tmp_path / "no")],
                                env={"GXPML_TOKEN": token, "COLUMNS": "200"})
    assert failed.exit_code == 11, failed.output
    assert "FAIL" in failed.stdout and "Not accepted" in failed.stdout
    assert "the criteria changed after validations" in failed.stdout
    listed = CliRunner().invoke(app, [*where, "validations", run_id, "--json"], env={"GXPML_TOKEN": token})
    assert [v["passed"] for v in json.loads(listed.stdout)] == [False, True]
