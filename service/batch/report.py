"""The HTML report of a scoring run: one self-contained page (figures embedded, no network).

It shows rows read, scored and with errors by reason; the input's detected format and what was
guessed; triage counts; each condition's posterior distribution (a matplotlib histogram, from the
counts gathered chunk by chunk); the model version and the mapping used.
"""

from __future__ import annotations

import base64
import html
import io
import os

import numpy as np

from .errors import BatchError
from .summary import HIST_BINS, Summary

TRIAGE_ORDER = ("emergency", "urgent", "see_clinician", "self_care", "(none)")


def write_report(path: str, summary: Summary, metadata: dict) -> None:
    """Write the report to ``path`` (atomically); :class:`BatchError` when matplotlib is missing."""
    page = render(summary, metadata)
    tmp = f"{path}.incomplete-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(page)
    os.replace(tmp, path)


def render(summary: Summary, metadata: dict) -> str:
    """The report as one HTML string."""
    esc = html.escape
    rows = [("rows read", summary.rows_read), ("rows scored", summary.rows_scored), ("rows with errors", summary.rows_with_errors)]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>hipdx score report</title>",
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#222}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}td.n{text-align:right}pre{background:#f4f4f4;"
        "padding:.5rem;white-space:pre-wrap}figure{display:inline-block;margin:.3rem}</style></head><body>",
        "<h1>hipdx score report</h1>",
        "<p><strong>Decision support built from web articles, not a validated clinical device.</strong> "
        "Red flags are listed per row in the output's <code>red_flags</code> column.</p>",
        "<h2>Rows</h2><table id='rows'>",
        *(f"<tr><th>{esc(k)}</th><td class='n'>{v:,}</td></tr>" for k, v in rows),
        "</table>",
        f"<h2>Input</h2><p id='format'>{esc(summary.input_format)}</p>",
        f"<p>input: <code>{esc(str(metadata.get('input', {}).get('path', '')))}</code>; output: <code>{esc(summary.output)}</code></p>",
    ]
    if summary.notes:
        parts.append("<ul id='notes'>" + "".join(f"<li>{esc(n)}</li>" for n in summary.notes) + "</ul>")
    parts.append("<h2>Rows with errors, by reason</h2>")
    if summary.reasons:
        parts.append("<table id='reasons'><tr><th>rows</th><th>reason</th></tr>" + "".join(
            f"<tr><td class='n'>{k:,}</td><td>{esc(r)}</td></tr>"
            for r, k in sorted(summary.reasons.items(), key=lambda kv: (-kv[1], kv[0]))) + "</table>")
    else:
        parts.append("<p>none</p>")
    parts.append("<h2>Triage</h2><table id='triage'><tr><th>level</th><th>rows</th></tr>")
    levels = [lv for lv in TRIAGE_ORDER if lv in summary.triage] + sorted(set(summary.triage) - set(TRIAGE_ORDER))
    parts += [f"<tr><td>{esc(lv)}</td><td class='n'>{summary.triage[lv]:,}</td></tr>" for lv in levels]
    parts.append("</table><p>(none): rows not triaged (errors without red flags, empty rows).</p>")
    parts.append("<h2>Posterior distributions</h2><p>Scored rows per posterior probability, in bins of 0.05.</p>")
    for condition, counts in summary.histograms.items():
        parts.append(f"<figure><img alt='posterior of {esc(condition)}' src='data:image/png;base64,{_histogram_png(condition, counts)}'>"
                     f"<figcaption>{esc(condition)}</figcaption></figure>")
    model = metadata.get("model", {})
    parts.append(f"<h2>Model and mapping</h2><p id='model'>model {esc(str(model.get('name', 'hipdx')))} version "
                 f"<code>{esc(str(model.get('version', summary.model_version)))}</code></p>")
    mapping = metadata.get("mapping")
    if mapping:
        parts.append(f"<p>mapping <code>{esc(mapping['path'])}</code> (sha256 {esc(mapping['sha256'][:16])}...)</p>"
                     f"<pre id='mapping'>{esc(mapping['text'])}</pre>")
    else:
        parts.append("<p id='mapping'>no mapping: columns named by variable ids</p>")
    parts.append(f"<p>created {esc(str(metadata.get('created', '')))}</p></body></html>")
    return "\n".join(parts)


def _histogram_png(condition: str, counts: np.ndarray) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BatchError("--report needs matplotlib: pip install 'hipdx[report]'") from None
    fig, ax = plt.subplots(figsize=(3.2, 2.2), dpi=80)
    edges = np.linspace(0, 1, HIST_BINS + 1)
    ax.bar(edges[:-1], counts, width=1 / HIST_BINS, align="edge", color="#4477aa")
    ax.set_xlim(0, 1)
    ax.set_title(condition, fontsize=9)
    ax.set_xlabel("posterior probability", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()
