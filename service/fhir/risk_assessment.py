"""A FHIR R4 RiskAssessment from a diagnosis (``Diagnosis.to_dict()``): what an EHR can store.

- ``prediction``: one per condition, most probable first: ``outcome`` coded in the hipdx
  CodeSystem, ``probabilityDecimal`` (the posterior, 0..1), the interval over the uncertainty of
  the priors as the extension ``probability-interval`` (``valueRange``, low/high as plain 0..1
  decimals), and the prior and the main answers behind it in ``rationale``;
- ``basis``: the QuestionnaireResponse the answers came from;
- ``method``: hipdx and the model version;
- ``mitigation``: the triage and its red flags, also as the extension ``triage-level`` (a code:
  emergency | urgent | see_clinician | self_care; absent when there is no level);
- ``note``: the disclaimer, and answers that were partial, unread or outside the population;
- ``status``: ``preliminary`` when the answers are partial or triage is provisional, else ``final``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .cds import LEVEL_TEXT, pct
from .response import ReadResponse
from .terminology import INTERVAL_EXTENSION, TRIAGE_EXTENSION, hipdx_coding


def now() -> str:
    """The current time as a FHIR dateTime (UTC, seconds)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _prediction(c: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "outcome": {"coding": [hipdx_coding(c["id"], c["name"])], "text": c["name"]},
        "probabilityDecimal": float(c["probability"]),
    }
    interval = c.get("interval")
    if interval:
        out["extension"] = [{"url": INTERVAL_EXTENSION,
                             "valueRange": {"low": {"value": float(interval[0])}, "high": {"value": float(interval[1])}}}]
    rationale = f"Prior {pct(c['prior'])}."
    effects = c.get("evidence") or []
    if effects:
        rationale += " Main answers: " + "; ".join(f"{e['variable']} = {e['state']} ({e['effect']:+.2f})" for e in effects[:3]) + "."
    out["rationale"] = rationale
    return out


def _triage_text(triage: Mapping[str, Any]) -> str:
    level = triage.get("level")
    if level is None:
        return "No triage: nothing was answered."
    text = f"Triage: {LEVEL_TEXT.get(level, level)}" + (" (provisional)" if triage.get("provisional") else "") + "."
    flags = triage.get("red_flags") or []
    if flags:
        text += " Red flags: " + "; ".join(str(f.get("reason") or f.get("id")) for f in flags) + "."
    reasons = [r.get("reason") for r in triage.get("reasons") or [] if isinstance(r, Mapping) and r.get("reason")]
    if reasons and not flags:
        text += " " + " ".join(str(r) for r in reasons)
    open_questions = triage.get("open_questions") or []
    if open_questions:
        text += " Still to ask: " + ", ".join(open_questions) + "."
    return text


def risk_assessment(d: Mapping[str, Any], *, subject: Mapping[str, Any] | None = None,
                    basis: Mapping[str, Any] | None = None, read: ReadResponse | None = None,
                    occurrence: str | None = None) -> dict[str, Any]:
    """The RiskAssessment for diagnosis ``d``.

    ``subject``: a Reference to the patient (RiskAssessment.subject is required in R4: without
    one, a display-only reference says so); ``basis``: a Reference to the QuestionnaireResponse;
    ``read``: what was read of it (partial, unread answers); ``occurrence``: a dateTime (now)."""
    triage = d.get("triage") or {}
    version = (d.get("model") or {}).get("version", "")
    partial = bool(read and read.partial)
    notes = [{"text": d.get("disclaimer", "")}]
    if partial:
        notes.append({"text": f"Partial answers: the QuestionnaireResponse is {read.status}."})
    if read and read.unread:
        notes.append({"text": "Answers that could not be read (not used): "
                      + "; ".join(f"{n.link_id}: {n.reason}" for n in read.unread)})
    outside = d.get("outside_population")
    if outside:
        reason = outside.get("reason") if isinstance(outside, Mapping) else str(outside)
        notes.append({"text": f"Outside the model's population: {reason}"})
    out: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "status": "preliminary" if partial or triage.get("provisional") or triage.get("level") is None else "final",
        "code": {"text": "Causes of hip pain in a runner (hipdx)"},
        "subject": dict(subject) if subject else {"display": "the runner whose answers were assessed (no patient reference given)"},
        "occurrenceDateTime": occurrence or now(),
        "method": {"text": f"hipdx {version}: Bayesian network from cited priors (decision support, not a validated device)"},
        "prediction": [_prediction(c) for c in d.get("conditions") or []],
        "mitigation": _triage_text(triage),
        "note": notes,
    }
    if triage.get("level") is not None:
        out["extension"] = [{"url": TRIAGE_EXTENSION, "valueCode": triage["level"]}]
    if basis:
        out["basis"] = [dict(basis)]
    return out


def basis_reference(read: ReadResponse | None) -> dict[str, Any] | None:
    """A Reference to the QuestionnaireResponse: by id when it has one, else a display."""
    if read is None:
        return None
    if read.resource_id:
        return {"reference": f"QuestionnaireResponse/{read.resource_id}", "type": "QuestionnaireResponse"}
    when = f" authored {read.authored}" if read.authored else ""
    return {"type": "QuestionnaireResponse", "display": f"hipdx QuestionnaireResponse{when}"}
