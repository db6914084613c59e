"""The HTML report of ``hipdx learn``: one self-contained file (figures as embedded PNG, no network)."""

from __future__ import annotations

import base64
import html
import io

import pandas as pd

DISCLAIMER = ("hipdx is decision support built from web articles, not a validated clinical device. Learned numbers "
              "are only as good as the confirmed diagnoses they were learned from.")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def reliability_figure(before: pd.DataFrame, after: pd.DataFrame):
    """Reliability plot (pooled over conditions): observed share present against mean prediction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    for frame, label, marker in ((before, "before (cited priors)", "o"), (after, "after (learned)", "s")):
        if frame is not None and len(frame):
            ax.plot(frame["mean_predicted"], frame["observed"], marker=marker, label=label)
    ax.set_xlabel("predicted P(present), held-out rows")
    ax.set_ylabel("observed share confirmed present")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    ax.set_title("Reliability on the held-out rows")
    return fig


def moved_figure(moved: pd.DataFrame):
    """The numbers that moved most: cited value and learned value with its 95% range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = moved.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(shown) + 1))
    y = range(len(shown))
    ax.scatter(shown["prior"], y, marker="o", label="cited prior", zorder=3)
    ax.errorbar(shown["learned"], y, xerr=[shown["learned"] - shown["learned_low"], shown["learned_high"] - shown["learned"]],
                fmt="s", label="learned (95% range)", zorder=2)
    ax.set_yticks(list(y))
    ax.set_yticklabels(shown["path"], fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("value (probability or relative risk, log scale)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Numbers that moved most")
    return fig


def trace_figure(history: list[float]):
    """Observed-data log posterior after each E-step (must never decrease)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(range(1, len(history) + 1), history, marker=".")
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("log posterior (nats)")
    ax.set_title("EM progress")
    return fig


def report_html(run) -> str:
    """The report as one HTML string (``run``: a :class:`service.learn_cmd.LearnRun`)."""
    from .learn_cmd import summary_text

    moved = run.moved_table(20)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>hipdx learn report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}pre{background:#f6f6f6;padding:1em;overflow:auto}"
        ".note{color:#8a4b00}</style></head><body>",
        "<h1>hipdx learn report</h1>",
        f"<p class='note'>{html.escape(DISCLAIMER)}</p>",
        f"<p>Model version <code>{html.escape(run.before.version)}</code> &rarr; <code>{html.escape(run.after.version)}</code>; "
        f"learned priors in <code>{html.escape(str(run.after.priors.directory))}</code>.</p>",
        "<h2>Summary</h2>",
        f"<pre>{html.escape(summary_text(run))}</pre>",
        "<h2>Calibration on the held-out rows</h2>",
    ]
    if run.scores_before is not None:
        table = pd.concat([run.scores_before[["n", "prevalence"]], run.scores_before[["log_loss", "brier"]].add_suffix(" before"),
                           run.scores_after[["log_loss", "brier"]].add_suffix(" after")], axis=1)
        parts.append(table.to_html(float_format=lambda x: f"{x:.4f}", border=0))
        parts.append(f"<p><img alt='reliability plot' src='{_png(reliability_figure(run.reliability_before, run.reliability_after))}'></p>")
        parts.append("<h3>Reliability data</h3>")
        rel = run.reliability_before.merge(run.reliability_after, on=["bin", "low", "high"], how="outer",
                                           suffixes=(" before", " after"))
        parts.append(rel.to_html(index=False, float_format=lambda x: f"{x:.3f}", border=0))
    else:
        parts.append("<p>No held-out labelled rows: calibration not compared.</p>")
    parts.append("<h2>Numbers that moved most</h2>")
    if len(moved):
        parts.append(f"<p><img alt='numbers that moved most' src='{_png(moved_figure(moved))}'></p>")
        parts.append(moved.to_html(index=False, float_format=lambda x: f"{x:.4g}", border=0))
    parts.append("<h2>EM progress</h2>")
    parts.append(f"<p><img alt='EM log posterior by iteration' src='{_png(trace_figure(run.result.history))}'></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run, path: str) -> None:
    """Write :func:`report_html` to ``path`` (UTF-8)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(report_html(run))
