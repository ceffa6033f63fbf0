"""The reports' CSS: one base sheet, plus screen/print rules (HTML) or paged-media rules (PDF).

Kept as Python strings rather than files so the package needs no data files to render.
"""

from __future__ import annotations

__all__ = ["BASE", "PAGED", "SCREEN"]

BASE = """
:root { --pass: #1a7f37; --pass-bg: #e6f4ea; --fail: #b42318; --fail-bg: #fdecea;
        --warn: #8a5a00; --warn-bg: #fff4d6; --rule: #d0d4da; --muted: #5b6270; }
html { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #1f2328;
       line-height: 1.45; }
h1, h2 { line-height: 1.2; }
h1.doc-title { font-size: 1.7em; margin: 0 0 .2em; }
.doc-subtitle { font-size: 1.1em; color: var(--muted); margin: 0 0 .8em; }
h2 { font-size: 1.3em; border-bottom: 1px solid var(--rule); padding-bottom: .2em;
     margin: 1.6em 0 .6em; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .9em; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: 0 0 .3em; }
th, td { border: 1px solid var(--rule); padding: .25em .55em; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
thead th { background: #f2f4f7; }
table.meta th, table.kv th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.status-pass { background: var(--pass-bg); color: var(--pass); }
td.status-fail { background: var(--fail-bg); color: var(--fail); font-weight: bold; }
td.status-warn { background: var(--warn-bg); color: var(--warn); }
.mark { font-weight: bold; }
.callout { border-left: 5px solid; padding: .4em .9em; margin: .8em 0; }
.callout p { margin: .3em 0; }
.callout-title { font-weight: bold; }
.callout.status-pass { border-color: var(--pass); background: var(--pass-bg); }
.callout.status-fail { border-color: var(--fail); background: var(--fail-bg); }
.callout.status-warn { border-color: var(--warn); background: var(--warn-bg); }
.callout.status-pass .callout-title { color: var(--pass); }
.callout.status-fail .callout-title { color: var(--fail); }
.callout.status-warn .callout-title { color: var(--warn); }
figure { margin: .8em 0 1.2em; }
figcaption { font-size: .85em; color: var(--muted); margin-top: .3em; }
pre { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: .8em;
      background: #f6f8fa; border: 1px solid var(--rule); padding: .6em .8em;
      white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
nav.toc ol { padding-left: 1.4em; margin: .3em 0; }
nav.toc h2 { border: none; font-size: 1.1em; margin: 1em 0 .2em; }
table.signatures { width: 100%; }
table.signatures td { height: 2.4em; }
table.signatures th:nth-child(1) { width: 18%; }
table.signatures th:nth-child(3) { width: 30%; }
.signatures .note { font-size: .85em; color: var(--muted); }
"""

SCREEN = """
body { max-width: 1100px; margin: 0 auto; padding: 1.5em 2em 4em; background: #fff; }
table.data { min-width: 50%; }
table.data tbody tr:nth-child(even) td:not([class*="status-"]) { background: #fafbfc; }
nav.toc { background: #f6f8fa; border: 1px solid var(--rule); padding: .2em 1.2em .6em;
          margin: 1em 0; }
a { color: #0b5cad; }
.chart { border: 1px solid var(--rule); padding: .4em; }
@media print {
  body { max-width: none; padding: 0; }
  nav.toc { break-after: page; border: none; background: none; }
  h2 { break-after: avoid; }
  table, figure, .callout, .signatures { break-inside: avoid; }
  table.data { break-inside: auto; }
  tr { break-inside: avoid; }
  thead { display: table-header-group; }
  .chart { border: none; }
  .modebar-container { display: none !important; }
  a { color: inherit; text-decoration: none; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

PAGED = """
@page {
  size: A4; margin: 22mm 16mm 20mm;
  @top-left { content: string(doc-title); font-size: 8pt; color: #5b6270;
              vertical-align: bottom; padding-bottom: 3mm; }
  @top-right { content: string(doc-subtitle); font-size: 8pt; color: #5b6270;
               vertical-align: bottom; padding-bottom: 3mm; }
  @bottom-left { content: string(doc-title); font-size: 8pt; color: #5b6270;
                 vertical-align: top; padding-top: 3mm; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 8pt;
                  color: #5b6270; vertical-align: top; padding-top: 3mm; }
}
html { font-size: 9.5pt; }
h1.doc-title { string-set: doc-title content(); bookmark-level: 1; }
.doc-subtitle { string-set: doc-subtitle content(); }
section > h2 { bookmark-level: 2; break-after: avoid; }
nav.toc h2 { bookmark-level: none; }
nav.toc { break-after: page; }
nav.toc a { color: inherit; text-decoration: none; }
nav.toc a::after { content: target-counter(attr(href), page); float: right; }
nav.toc li { margin: .15em 0; }
a { color: inherit; }
table.data { width: 100%; }
tr { break-inside: avoid; }
thead { display: table-header-group; }
table.kv, table.meta, .callout, figure, .signatures { break-inside: avoid; }
figure.pre { break-inside: auto; }
figure.chart img { width: 100%; height: auto; }
"""
