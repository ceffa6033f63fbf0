"""One chart spec, two drawings: a Plotly figure for HTML and a matplotlib SVG for PDF.

Both follow the same rules so the two renderings of a report show the same picture: the
Okabe-Ito colour-blind-safe palette in series order, dashed series in grey (reference lines
such as the diagonal), bar charts on a categorical axis in the order the categories first
appear, horizontal bars listed top to bottom.
"""

from __future__ import annotations

import html
import io
import threading
from typing import Any

from gxpml.reports.document import Chart, ChartKind, Series

__all__ = ["plotly_html", "svg"]

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
REFERENCE = "#888888"
FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"


def _colours(chart: Chart) -> list[str]:
    colours, n = [], 0
    for s in chart.series:
        if s.dashed:
            colours.append(REFERENCE)
        else:
            colours.append(PALETTE[n % len(PALETTE)])
            n += 1
    return colours


def _categories(chart: Chart) -> list[str]:
    seen: dict[str, None] = {}
    for s in chart.series:
        for x in s.xs:
            seen.setdefault(_label(x), None)
    return list(seen)


def _label(x: float | str) -> str:
    if isinstance(x, str):
        return x
    return f"{x:g}"


# --- Plotly (HTML) -------------------------------------------------------------------------


def _text(value: str) -> str:
    # Plotly reads a few HTML tags (<b>, <br>) in titles and labels; escaping shows user text
    # literally (Plotly decodes the entities back to characters).
    return html.escape(value, quote=False)


def _plotly_trace(chart: Chart, s: Series, colour: str) -> dict[str, Any]:
    kind = chart.kind_of(s)
    errors = s.errors
    horizontal = chart.horizontal and kind is ChartKind.BAR
    xs: list[Any] = [
        _text(_label(x)) if chart.kind is ChartKind.BAR or isinstance(x, str) else x
        for x in s.xs
    ]
    ys: list[float] = list(s.ys)
    trace: dict[str, Any] = {"name": _text(s.name), "showlegend": True}
    if errors is not None:
        trace["error_x" if horizontal else "error_y"] = {
            "type": "data", "array": list(errors[1]), "arrayminus": list(errors[0]),
            "symmetric": False, "visible": True, "color": "#333333", "thickness": 1.2,
        }
    if kind is ChartKind.BAR:
        trace.update(type="bar", marker={"color": colour})
        if horizontal:
            trace.update(x=ys, y=xs, orientation="h")
        else:
            trace.update(x=xs, y=ys)
        return trace
    trace.update(type="scatter", x=xs, y=ys)
    if kind is ChartKind.SCATTER:
        trace.update(mode="markers", marker={"color": colour, "size": 6})
        return trace
    trace.update(
        mode="lines+markers" if s.markers else "lines",
        line={"color": colour, "width": 2, "dash": "dash" if s.dashed else "solid",
              "shape": "hv" if kind is ChartKind.STEP else "linear"},
    )
    if s.markers:
        trace["marker"] = {"color": colour, "size": 6}
    return trace


def _axis(title: str, bounds: tuple[float, float] | None) -> dict[str, Any]:
    axis: dict[str, Any] = {
        "title": {"text": _text(title)}, "showline": True, "linecolor": "#444444",
        "ticks": "outside", "gridcolor": "#e6e6e6", "zeroline": False, "automargin": True,
    }
    if bounds is not None:
        axis["range"] = list(bounds)
    return axis


def plotly_html(chart: Chart, div_id: str) -> str:
    """The chart as a ``<div id=div_id>`` and the script that draws it with Plotly.

    plotly.js itself is not included: the page loads it once.
    """
    import plotly.graph_objects as go  # type: ignore[import-untyped]
    import plotly.io as pio  # type: ignore[import-untyped]

    colours = _colours(chart)
    traces = [_plotly_trace(chart, s, c) for s, c in zip(chart.series, colours, strict=True)]
    x_axis = _axis(chart.x_label, chart.x_range)
    y_axis = _axis(chart.y_label, chart.y_range)
    if chart.kind is ChartKind.BAR:
        categorical = {"type": "category", "categoryorder": "array",
                       "categoryarray": [_text(c) for c in _categories(chart)]}
        if chart.horizontal:
            y_axis.update(categorical, autorange="reversed")
        else:
            x_axis.update(categorical)
    layout = {
        "template": "none",
        "title": {"text": _text(chart.title), "x": 0.02, "xanchor": "left"},
        "font": {"family": FONT, "size": 12, "color": "#222222"},
        "paper_bgcolor": "#ffffff", "plot_bgcolor": "#ffffff",
        "xaxis": x_axis, "yaxis": y_axis, "barmode": "group",
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
        "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
        "hovermode": "closest",
    }
    figure = go.Figure({"data": traces, "layout": layout})
    config = {"displaylogo": False, "responsive": True}
    # div_id keeps the output deterministic (Plotly would draw a random uuid).
    markup: str = pio.to_html(
        figure, include_plotlyjs=False, full_html=False, div_id=div_id, config=config,
        default_height="440px", default_width="100%",
    )
    return markup


# --- matplotlib (PDF) ----------------------------------------------------------------------


_RC: dict[Any, Any] = {
    "svg.fonttype": "none",  # text stays text: searchable in the PDF, drawn in the page's font
    "svg.hashsalt": "gxpml",  # deterministic clip-path ids
    "text.parse_math": False,  # a '$' in a label is a dollar, not mathtext
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e6e6e6",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "legend.frameon": False,
    "legend.fontsize": 8,
}


# rc_context swaps matplotlib's process-wide rcParams; two threads drawing at once would
# restore each other's settings mid-drawing, so the drawings take turns.
_MATPLOTLIB = threading.Lock()


def svg(chart: Chart, width_in: float = 6.6, height_in: float = 3.6) -> str:
    """The chart drawn by matplotlib as an SVG document (vector; no date or random ids)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _MATPLOTLIB, matplotlib.rc_context(_RC):
        # A bare Figure on the Agg canvas: no pyplot, no GUI backend, no global figure list.
        figure = Figure(figsize=(width_in, height_in), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        _draw(axes, chart)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return buffer.getvalue()


def _draw(axes: Any, chart: Chart) -> None:
    colours = _colours(chart)
    bar_series = [s for s in chart.series if chart.kind_of(s) is ChartKind.BAR]
    categories = _categories(chart) if chart.kind is ChartKind.BAR else []
    position = {c: i for i, c in enumerate(categories)}
    width = 0.8 / max(len(bar_series), 1)
    bar_index = 0
    for s, colour in zip(chart.series, colours, strict=True):
        kind = chart.kind_of(s)
        errors = s.errors
        yerr = [list(errors[0]), list(errors[1])] if errors is not None else None
        if categories:
            xs: list[Any] = [position[_label(x)] for x in s.xs]
        else:
            xs = list(s.xs)
        if kind is ChartKind.BAR:
            offset = (bar_index - (len(bar_series) - 1) / 2) * width
            bar_index += 1
            at = [x + offset for x in xs]
            if chart.horizontal:
                axes.barh(at, s.ys, height=width, color=colour, label=s.name,
                          xerr=yerr, capsize=2, error_kw={"elinewidth": 0.8})
            else:
                axes.bar(at, s.ys, width=width, color=colour, label=s.name,
                         yerr=yerr, capsize=2, error_kw={"elinewidth": 0.8})
            continue
        style = {"color": colour, "label": s.name}
        if kind is ChartKind.SCATTER:
            axes.scatter(xs, s.ys, s=12, **style)
        else:
            axes.plot(xs, s.ys, linestyle="--" if s.dashed else "-", linewidth=1.4,
                      marker="o" if s.markers else None, markersize=3,
                      drawstyle="steps-post" if kind is ChartKind.STEP else "default", **style)
        if yerr is not None:
            axes.errorbar(xs, s.ys, yerr=yerr, fmt="none", ecolor=colour, elinewidth=0.8,
                          capsize=2)
    if categories:
        ticks = (axes.set_yticks if chart.horizontal else axes.set_xticks)
        ticks(range(len(categories)), labels=categories)
        if chart.horizontal:
            axes.invert_yaxis()
            axes.grid(False, axis="y")
        else:
            axes.grid(False, axis="x")
            if max((len(c) for c in categories), default=0) * len(categories) > 60:
                axes.tick_params(axis="x", labelrotation=30)
    axes.set_title(chart.title)
    x_label, y_label = chart.x_label, chart.y_label
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    if chart.x_range is not None:
        axes.set_xlim(*chart.x_range)
    if chart.y_range is not None:
        axes.set_ylim(*chart.y_range)
    if len(chart.series) > 1 or chart.series[0].name:
        axes.legend(loc="best")
