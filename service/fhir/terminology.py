"""Code systems hipdx writes and reads: its own CodeSystem (generated from the model) and the
standard codes it accepts for answers.

hipdx CodeSystem (``SYSTEM``): one concept per answer state (``present``, ``female``,
``40_49``...), per condition (the ``outcome`` of a RiskAssessment prediction), per question (the
variable ids, used as ``Questionnaire.item.code``) and per CDS card override reason, under four
abstract grouping concepts. Codes are the model's own ids, so they never drift from the priors.

Standard codes read (by system AND code; a code from any other system is never taken as a hipdx
state):

- yes / no: LOINC answer codes ``LA33-6`` / ``LA32-8`` and SNOMED CT ``373066001`` / ``373067005``
  (read as ``present``/``absent`` or ``yes``/``no``, whichever the variable has);
  LOINC ``LA4489-6`` "Unknown" reads as not answered;
- sex: HL7 ``administrative-gender`` ``female``/``male``; ``other``/``unknown`` read as sex
  unknown (the model's priors are stated for women and men only; such an answer is not an error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CANONICAL_BASE = "http://hipdx.org/fhir"
SYSTEM = f"{CANONICAL_BASE}/CodeSystem/hipdx"
QUESTIONNAIRE_URL = f"{CANONICAL_BASE}/Questionnaire/hipdx"
INTERVAL_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/probability-interval"
TRIAGE_EXTENSION = f"{CANONICAL_BASE}/StructureDefinition/triage-level"

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
GENDER = "http://hl7.org/fhir/administrative-gender"
UCUM = "http://unitsofmeasure.org"

YES, NO, UNKNOWN = "yes", "no", "unknown"
STANDARD_ANSWERS: dict[tuple[str, str], str] = {
    (LOINC, "LA33-6"): YES,
    (LOINC, "LA32-8"): NO,
    (LOINC, "LA4489-6"): UNKNOWN,
    (SNOMED, "373066001"): YES,
    (SNOMED, "373067005"): NO,
}
GENDER_STATES = {"female": "female", "male": "male", "other": None, "unknown": None}

OVERRIDE_REASONS: dict[str, str] = {
    "already-assessed": "Already assessed or managed by the clinician",
    "not-applicable": "Does not apply to this patient",
    "answers-wrong": "The patient's answers were recorded wrongly",
    "patient-declined": "The patient declined",
    "disagree-with-model": "Clinical judgement differs from the model",
}
GROUPS = {
    "answer": "Answer states of hipdx questions",
    "condition": "Conditions hipdx estimates (RiskAssessment outcomes)",
    "question": "hipdx questions (model variables)",
    "override-reason": "Reasons a clinician may give for overriding a hipdx card",
}


class CodingError(ValueError):
    """A coding that hipdx cannot take as an answer (unknown system, or a code outside it)."""


def hipdx_coding(code: str, display: str | None = None) -> dict[str, str]:
    """A Coding in the hipdx CodeSystem."""
    out = {"system": SYSTEM, "code": code}
    if display:
        out["display"] = display
    return out


def state_display(state: str) -> str:
    """Human text for a state id (``30_39`` -> ``30 to 39``, ``up_to_13_5`` -> ``up to 13.5``)."""
    words = state.replace("_plus", " or more").replace("_5", ".5").replace("_", " ")
    if words[:1].isdigit() and " " in words and words.split(" ")[1][:1].isdigit():
        a, b = words.split(" ", 1)
        words = f"{a} to {b}"
    return words[:1].upper() + words[1:]


def read_coding(coding: Any, states: tuple[str, ...], variable: str) -> str | None:
    """A Coding -> a state of a variable with ``states``; None when it says "unknown".

    Raises :class:`CodingError` when the system is not one hipdx reads or the code is not a state
    of this variable. A coding without ``system`` is read as a hipdx code (forms built from this
    Questionnaire sometimes drop the system)."""
    if not isinstance(coding, Mapping):
        raise CodingError("valueCoding must be an object")
    code, system = coding.get("code"), coding.get("system")
    if not isinstance(code, str) or not code:
        raise CodingError("valueCoding.code must be a non-empty string")
    if system is not None and not isinstance(system, str):
        raise CodingError("valueCoding.system must be a string")
    if system in (None, SYSTEM):
        if code in states:
            return code
        raise CodingError(f"code {code!r} is not an answer to {variable}; allowed: {', '.join(states)}")
    if system == GENDER and set(states) == {"female", "male"}:
        if code in GENDER_STATES:
            return GENDER_STATES[code]
        raise CodingError(f"administrative-gender has no code {code!r}")
    standard = STANDARD_ANSWERS.get((system, code))
    if standard == UNKNOWN:
        return None
    if standard is not None:
        if set(states) == {"yes", "no"}:
            return standard
        if set(states) == {"present", "absent"}:
            return "present" if standard == YES else "absent"
        raise CodingError(f"a yes/no code does not answer {variable}; allowed: {', '.join(states)}")
    raise CodingError(f"code {code!r} of system {system!r} is not one hipdx reads")


def code_system(model: Any) -> dict[str, Any]:
    """The hipdx CodeSystem (FHIR R4), generated from the model: answer states, conditions,
    questions and override reasons. ``version`` is the model version."""
    states: dict[str, None] = {}
    for var in model.variables.values():
        for s in var.states:
            states.setdefault(s, None)

    def group(code: str, children: list[dict[str, Any]]) -> dict[str, Any]:
        return {"code": code, "display": GROUPS[code], "property": [{"code": "notSelectable", "valueBoolean": True}],
                "concept": children}

    return {
        "resourceType": "CodeSystem",
        "id": "hipdx",
        "url": SYSTEM,
        "version": model.version,
        "name": "HipdxCodes",
        "title": "hipdx codes: answers, conditions, questions, override reasons",
        "status": "active",
        "experimental": False,
        "publisher": "hipdx",
        "description": ("Codes of the hipdx model (hip pain in runners), generated from its priors. Decision support "
                        "built from web articles, not a validated clinical device."),
        "caseSensitive": True,
        "hierarchyMeaning": "grouped-by",
        "content": "complete",
        "property": [{"code": "notSelectable", "uri": "http://hl7.org/fhir/concept-properties#notSelectable",
                      "type": "boolean", "description": "A grouping concept, not used in answers"}],
        "concept": [
            group("answer", [{"code": s, "display": state_display(s)} for s in states]),
            group("condition", [{"code": c, "display": model.condition_name(c)} for c in model.conditions]),
            group("question", [{"code": vid, "display": var.question} for vid, var in model.variables.items()]),
            group("override-reason", [{"code": k, "display": v} for k, v in OVERRIDE_REASONS.items()]),
        ],
    }
