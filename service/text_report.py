"""A diagnosis as a plain-text report for a terminal (``hipdx diagnose``'s default output).

Reads the JSON body (``Diagnosis.to_dict()``), so what it prints is what the API sends: triage
first (level, reasons, red flags), then a table of conditions with intervals, then why (the
answers that moved the most probable conditions, with their sources by title) and the next
questions. Keys other issues add (``triage.reasons``, ``provisional``, ``open_questions``,
``outside_population``, ``explanations``) are shown when present. Lines fit ``width`` columns.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

WIDTH = 100
WHY_CONDITIONS = 3  # "why" for the most probable conditions
WHY_ITEMS = 5  # answers per condition
MIN_EFFECT = 0.0005  # smaller effects round to 0.0 points and are left out
LEVEL_WORDS = {"emergency": "EMERGENCY", "urgent": "URGENT", "see_clinician": "SEE A CLINICIAN",
               "self_care": "SELF-CARE", None: "NOT RATED"}


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%" if 0 < p < 0.1 else f"{100 * p:.0f}%"


def _wrap(text: str, width: int, indent: str = "", first: str | None = None) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent if first is None else first,
                         subsequent_indent=indent, break_long_words=True, break_on_hyphens=False) or [first or indent]


def _cite(item: Mapping[str, Any]) -> str:
    name = item.get("title") or item.get("source")
    if not name:
        return f"assumption: {item['reason']}" if item.get("reason") else ""
    if item.get("quote"):
        return f'{name}: "{item["quote"]}"'
    if item.get("reason"):
        return f"{name}: assumption: {item['reason']}"
    return str(name)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 1)].rstrip() + "…"


def triage_lines(body: Mapping[str, Any], width: int = WIDTH) -> list[str]:
    triage = body.get("triage") or {}
    level = triage.get("level")
    label = (body.get("summary") or {}).get("triage_label", "")
    head = f"TRIAGE: {LEVEL_WORDS.get(level, str(level))}" + (f" - {label}" if label else "")
    if triage.get("provisional"):
        head += " (provisional)"
    lines = _wrap(head, width)
    for r in triage.get("reasons") or []:
        lines += _wrap(f"{r.get('reason') or r.get('rule')}" + (f" [{_cite(r)}]" if _cite(r) else ""), width, "    ", "  - ")
    for f in triage.get("red_flags") or []:
        lines += _wrap(f"RED FLAG {f['id']}: {f['reason']}" + (f" [{_cite(f)}]" if _cite(f) else ""), width, "    ", "  ! ")
    if triage.get("open_questions"):
        lines += _wrap("To settle the triage, ask: " + ", ".join(triage["open_questions"]), width, "    ", "  ? ")
    outside = body.get("outside_population")
    if isinstance(outside, Mapping) and outside.get("reason"):
        lines += _wrap(f"OUTSIDE THE MODEL'S POPULATION: {outside['reason']}", width, "  ")
    return lines


def explanation_lines(body: Mapping[str, Any], width: int = WIDTH) -> list[str]:
    explanations = body.get("explanations") or []
    if not explanations:
        return []
    lines = ["Most likely explanations (conditions present together)"]
    for e in explanations[:5]:
        present = " + ".join(e.get("present") or []) or "none of the conditions in the model"
        lines += _wrap(present, width, " " * 9, f"  {_pct(e['probability']):>5}  ")
    return lines


def condition_lines(body: Mapping[str, Any], width: int = WIDTH) -> list[str]:
    conditions = body.get("conditions") or []
    has_interval = any(c.get("interval") for c in conditions)
    numbers = 6 + (16 if has_interval else 0) + 8
    bar_width = 20
    name_width = max(20, width - 2 - numbers - bar_width - 2)
    head = f"  {'condition':<{name_width}} {'prob':>5}" + (f" {'90% interval':>15}" if has_interval else "") + f" {'prior':>7}  "
    lines = ["Conditions, most probable first", head.rstrip()]
    for c in conditions:
        row = f"  {_shorten(c['name'], name_width):<{name_width}} {_pct(c['probability']):>5}"
        if has_interval:
            lo, hi = c.get("interval") or (None, None)
            row += f" {(_pct(lo) + ' - ' + _pct(hi)) if lo is not None else '':>15}"
        row += f" {_pct(c['prior']):>7}  " + "#" * round(bar_width * c["probability"])
        lines.append(row.rstrip())
    return lines


def why_lines(body: Mapping[str, Any], width: int = WIDTH) -> list[str]:
    conditions = [c for c in (body.get("conditions") or [])[:WHY_CONDITIONS] if c.get("evidence")]
    if not conditions:
        return []
    lines = _wrap(f"Why (the answers that moved the {len(conditions)} most probable conditions; "
                  "pts = percentage points, x = odds ratio)", width)
    for c in conditions:
        lines += _wrap(c["name"], width, "  ")
        items = [e for e in c["evidence"] if abs(e["effect"]) >= MIN_EFFECT][:WHY_ITEMS]
        if not items:
            lines.append("    no answer moved it by 0.1 point or more")
        for e in items:
            ratio = f"x{e['likelihood_ratio']:g}" if "likelihood_ratio" in e else ""
            head = f"    {100 * e['effect']:+6.1f} pts {ratio:>8}  {e['variable']} = {e['state']}"
            lines.append(head)
            for s in e.get("sources") or []:
                if _cite(s):
                    lines += _wrap(_cite(s), width, " " * 8)
    return lines


def next_question_lines(body: Mapping[str, Any], width: int = WIDTH) -> list[str]:
    questions = body.get("next_questions")
    if questions is None:
        return []
    if not questions:
        return ["Ask next: nothing left worth asking"]
    lines = ["Ask next"]
    for i, q in enumerate(questions, 1):
        text = f"{q['question']} ({q['variable']})" + (f"; {q['reason']}" if q.get("reason") else "")
        lines += _wrap(text, width, "      ", f"  {i:>2}. ")
    return lines


def format_text(body: Mapping[str, Any], width: int = WIDTH) -> str:
    """The whole report for one diagnosis body; every line at most ``width`` columns (a condition
    name is shortened with an ellipsis to fit the table)."""
    model = body.get("model") or {}
    sections = [
        [f"hipdx {model.get('version', '')}: decision support from web articles, not a diagnosis"],
        triage_lines(body, width),
        explanation_lines(body, width),
        condition_lines(body, width),
        why_lines(body, width),
        next_question_lines(body, width),
        _wrap("Answers as understood: " + (", ".join(f"{k}={v}" for k, v in (body.get("evidence") or {}).items()) or "none"),
              width, "  "),
        _wrap(body.get("disclaimer", ""), width),
    ]
    return "\n\n".join("\n".join(s) for s in sections if s) + "\n"
