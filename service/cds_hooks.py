"""CDS Hooks (HL7, 1.x/2.0): a ``patient-view`` service that reads the runner's answers from a FHIR
QuestionnaireResponse in the prefetch and returns cards.

- ``questionnaire_answers``: QuestionnaireResponse (or a search Bundle whose first entry is one)
  -> evidence dict keyed by ``linkId`` (a variable id or alias); nested items are walked.
- ``cards``: one info/warning card with the top conditions, and a critical card per red flag.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from .problems import Problem

SERVICE_ID = "hipdx-runner-hip-pain"
PREFETCH_KEY = "questionnaireResponse"
HOOK = "patient-view"
SUMMARY_MAX = 139  # CDS Hooks: summary SHALL be under 140 characters
TOP_CONDITIONS = 5


def discovery() -> dict[str, Any]:
    return {"services": [{
        "hook": HOOK,
        "id": SERVICE_ID,
        "title": "hipdx: hip pain in runners",
        "description": ("Probabilities of the common causes of hip pain in a runner, triage and red flags, from the "
                        "runner's answers to the hipdx questionnaire (QuestionnaireResponse, linkId = hipdx variable id). "
                        "Decision support, not a validated clinical device."),
        "prefetch": {PREFETCH_KEY: "QuestionnaireResponse?subject={{context.patientId}}&_sort=-authored&_count=1"},
        "usageRequirements": "The patient's latest QuestionnaireResponse to the hipdx questionnaire must be prefetched.",
    }]}


def _bad(detail: str, link_id: str | None = None, **members: Any) -> Problem:
    return Problem(400, detail, slug="invalid-questionnaire-response", title="Invalid QuestionnaireResponse",
                   linkId=link_id, **members)


def questionnaire_response(prefetched: Any) -> dict[str, Any] | None:
    """The QuestionnaireResponse in a prefetch value (the resource, or a search Bundle); None when
    there is none (null, or an empty Bundle)."""
    if prefetched is None:
        return None
    if not isinstance(prefetched, Mapping):
        raise _bad("prefetch.questionnaireResponse must be a FHIR resource")
    kind = prefetched.get("resourceType")
    if kind == "Bundle":
        entries = prefetched.get("entry") or []
        if not isinstance(entries, list):
            raise _bad("Bundle.entry must be a list")
        resources = [e.get("resource") for e in entries if isinstance(e, Mapping)]
        resources = [r for r in resources if isinstance(r, Mapping) and r.get("resourceType") == "QuestionnaireResponse"]
        return dict(resources[0]) if resources else None
    if kind != "QuestionnaireResponse":
        raise _bad(f"prefetch.questionnaireResponse has resourceType {kind!r}; expected QuestionnaireResponse or Bundle")
    return dict(prefetched)


def _answer_value(link_id: str, answer: Any) -> Any:
    if not isinstance(answer, Mapping):
        raise _bad("answer must be an object", link_id)
    if "valueCoding" in answer:
        coding = answer["valueCoding"]
        code = coding.get("code") if isinstance(coding, Mapping) else None
        if not isinstance(code, str):
            raise _bad("valueCoding.code must be a string", link_id)
        return code
    if "valueString" in answer:
        if not isinstance(answer["valueString"], str):
            raise _bad("valueString must be a string", link_id)
        return answer["valueString"]
    if "valueBoolean" in answer:
        if not isinstance(answer["valueBoolean"], bool):
            raise _bad("valueBoolean must be true or false", link_id)
        return answer["valueBoolean"]
    for key in ("valueInteger", "valueDecimal"):
        if key in answer:
            value = answer[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _bad(f"{key} must be a number", link_id)
            return value
    kinds = [k for k in answer if k.startswith("value")]
    raise _bad(f"unsupported answer type {kinds[0] if kinds else 'none'}; use valueCoding, valueString, valueBoolean, "
               "valueInteger or valueDecimal", link_id)


def questionnaire_answers(qr: Mapping[str, Any]) -> dict[str, Any]:
    """linkId -> answer value for every answered item, nested items included. Items without an
    answer (groups, skipped questions) are left out; two different answers to one linkId are refused."""
    out: dict[str, Any] = {}

    def walk(items: Any) -> None:
        if items is None:
            return
        if not isinstance(items, list):
            raise _bad("item must be a list")
        for item in items:
            if not isinstance(item, Mapping):
                raise _bad("each item must be an object")
            link_id = item.get("linkId")
            if not isinstance(link_id, str) or not link_id:
                raise _bad("every item needs a linkId")
            answers = item.get("answer") or []
            if not isinstance(answers, list):
                raise _bad("answer must be a list", link_id)
            if len(answers) > 1:
                raise _bad("more than one answer; give one", link_id)
            for answer in answers:
                value = _answer_value(link_id, answer)
                if link_id in out and out[link_id] != value:
                    raise _bad("answered twice with different values", link_id)
                out[link_id] = value
                walk(answer.get("item"))
            walk(item.get("item"))

    walk(qr.get("item"))
    return out


def check_subject(qr: Mapping[str, Any], patient_id: str) -> None:
    """Refuse answers that belong to another patient than the one in context."""
    subject = qr.get("subject")
    ref = subject.get("reference") if isinstance(subject, Mapping) else None
    if isinstance(ref, str) and ref.startswith("Patient/") and ref.split("/")[1] != patient_id:
        raise _bad("the QuestionnaireResponse's subject is not context.patientId")


# ---------------------------------------------------------------------------- cards
def short_name(name: str) -> str:
    return name.split(" (")[0]


def clip(text: str, limit: int = SUMMARY_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _pct(p: float) -> str:
    if p >= 0.995:
        return ">99%"
    return f"{100 * p:.0f}%" if p >= 0.005 else "<1%"


def cards(diagnosis: Mapping[str, Any], source_label: str, source_url: str | None = None) -> list[dict[str, Any]]:
    """CDS cards for a diagnosis dict (the body of POST /v1/diagnosis)."""
    source: dict[str, Any] = {"label": source_label}
    if source_url:
        source["url"] = source_url
    conditions = diagnosis["conditions"]
    triage = diagnosis["triage"]
    top = conditions[:TOP_CONDITIONS]
    summary_parts = [f"{short_name(c['name'])} {_pct(c['probability'])}" for c in top[:2]]
    summary = clip("hipdx: " + ", ".join(summary_parts) + f"; triage {triage['level'].replace('_', ' ')}")
    lines = [f"**Triage:** {triage['level'].replace('_', ' ')}", "",
             "| Condition | Probability | Interval | Prior |", "| --- | --- | --- | --- |"]
    for c in top:
        interval = c.get("interval")
        shown = f"{_pct(interval[0])} to {_pct(interval[1])}" if interval else "n/a"
        lines.append(f"| {c['name']} | {_pct(c['probability'])} | {shown} | {_pct(c['prior'])} |")
    reasoning = diagnosis.get("reasoning") or {}
    if reasoning.get("interval_level"):
        lines += ["", f"Intervals: {100 * reasoning['interval_level']:.0f}% ranges over the uncertainty of the priors."]
    if reasoning.get("top_two_may_swap"):
        lines += ["", "The two most likely conditions may swap order within that uncertainty."]
    effects = top[0].get("evidence") if top else None
    if effects:
        drivers = [f"{e['variable']} = {e['state']} ({e['effect']:+.2f})" for e in effects[:3]]
        lines += ["", f"**Main reasons for {short_name(top[0]['name'])}:** " + "; ".join(drivers)]
    questions = diagnosis.get("next_questions") or []
    if questions:
        q = questions[0]
        lines += ["", f"**Ask next:** {q['question']} (`{q['variable']}`)"]
    lines += ["", f"_{diagnosis['disclaimer']}_"]
    level = triage["level"]
    out = [{
        "uuid": str(uuid.uuid4()),
        "summary": summary,
        "detail": "\n".join(lines),
        "indicator": "info" if level == "self_care" else "warning",
        "source": source,
    }]
    for flag in triage.get("red_flags", []):
        detail = [f"**Red flag ({flag.get('level', 'urgent').replace('_', ' ')}):** {flag['reason']}"]
        if flag.get("source"):
            quote = f': "{flag["quote"]}"' if flag.get("quote") else ""
            detail.append(f"Source: {flag['source']}{quote}")
        detail.append(f"_{diagnosis['disclaimer']}_")
        out.append({
            "uuid": str(uuid.uuid4()),
            "summary": clip(f"Red flag: {flag['reason']}"),
            "detail": "\n\n".join(detail),
            "indicator": "critical",
            "source": source,
        })
    return out
