"""Both drawings of a chart spec are deterministic and keep the spec's text as text."""

from __future__ import annotations

import re
import threading

from gxpml.reports import Chart, Series
from gxpml.reports.charts import plotly_html, svg

ROC = Chart("line", "ROC $ curve", [Series("m", [0, 0.5, 1], [0, 0.8, 1]),
                                   Series.diagonal("chance")], x_label="FPR", y_label="TPR")
BARS = Chart("bar", "Importance", [Series("imp", ["b", "a"], [2, 1], error=[0.1, 0.2])],
             horizontal=True)


def test_svg_is_vector_text_without_date_or_random_ids() -> None:
    drawing = svg(ROC)
    assert drawing == svg(ROC)
    assert "<dc:date>" not in drawing and "<image" not in drawing
    assert ">ROC $ curve<" in drawing and ">FPR<" in drawing  # text, not glyph outlines
    assert drawing.count("<path") > 5


def test_svg_drawings_from_threads_are_identical() -> None:
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(svg(BARS))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1


def test_plotly_markup_uses_the_given_id_only() -> None:
    markup = plotly_html(ROC, "chart-x-1")
    assert markup == plotly_html(ROC, "chart-x-1")
    ids = set(re.findall(r'id="([^"]+)"', markup))
    ids |= set(re.findall(r'getElementById\("([^"]+)"', markup))
    assert ids == {"chart-x-1"}
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", markup)  # no uuid


def test_plotly_gets_dashed_grey_reference_lines_and_reversed_horizontal_bars() -> None:
    roc = plotly_html(ROC, "c")
    assert '"dash":"dash"' in roc and '"color":"#888888"' in roc
    bars = plotly_html(BARS, "b")
    assert '"orientation":"h"' in bars and '"autorange":"reversed"' in bars
    assert '"arrayminus":[0.1,0.2]' in bars
