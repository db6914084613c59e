"""The hipdx Questionnaire (FHIR R4, SDC extensions), generated from the model's variables.

One item per variable, grouped by the variable's group, in the model's order:

- a variable read from a number (age, rest days, training hours) is asked as that number: its
  ``linkId`` is the numeric field (``age``, ``rest_days_per_week``, ``weekly_training_hours``),
  ``type`` ``integer`` when its range and cut points are whole numbers, else ``decimal``, with the
  SDC ``questionnaire-unit`` (UCUM) and the core ``minValue``/``maxValue`` extensions;
- a present/absent or yes/no variable is a ``boolean`` (true = present / yes);
- any other variable is a ``choice`` whose ``answerOption`` are codings in the hipdx CodeSystem.

``required`` is never set: every answer is optional and the model reads what it gets.
"""

from __future__ import annotations

from typing import Any

from .terminology import QUESTIONNAIRE_URL, SYSTEM, UCUM, hipdx_coding, state_display
from .units import question_unit

BOOLEAN_STATES = ({"present", "absent"}, {"yes", "no"})
UNIT_EXTENSION = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
MIN_EXTENSION = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/maxValue"
GROUP_TITLES = {"red_flags": "Red flags"}


def link_id(variable: Any) -> str:
    """The item's linkId: the numeric field for a variable asked as a number, else its id."""
    return variable.numeric.field if variable.numeric is not None else variable.id


def item_type(variable: Any) -> str:
    """``integer`` | ``decimal`` | ``boolean`` | ``choice`` for a model variable."""
    n = variable.numeric
    if n is not None:
        whole = all(float(x).is_integer() for x in (n.min, n.max, *n.cut_points))
        return "integer" if whole else "decimal"
    if set(variable.states) in BOOLEAN_STATES:
        return "boolean"
    return "choice"


def _number_item(variable: Any, kind: str) -> dict[str, Any]:
    n = variable.numeric
    value_key = "valueInteger" if kind == "integer" else "valueDecimal"
    cast = int if kind == "integer" else float
    extensions = [{"url": MIN_EXTENSION, value_key: cast(n.min)}, {"url": MAX_EXTENSION, value_key: cast(n.max)}]
    unit = question_unit(n.unit)
    if unit is not None:
        extensions.insert(0, {"url": UNIT_EXTENSION, "valueCoding": {"system": UCUM, "code": unit[0], "display": n.unit}})
    return {"extension": extensions}


def item(variable: Any) -> dict[str, Any]:
    """The Questionnaire item for one model variable."""
    kind = item_type(variable)
    out: dict[str, Any] = {"linkId": link_id(variable), "code": [hipdx_coding(variable.id)], "text": variable.question,
                           "type": kind}
    if kind in ("integer", "decimal"):
        out = {**_number_item(variable, kind), **out}
    elif kind == "choice":
        out["answerOption"] = [{"valueCoding": hipdx_coding(s, state_display(s))} for s in variable.states]
    return out


def group_title(group: str) -> str:
    return GROUP_TITLES.get(group, group.replace("_", " ").capitalize())


def questionnaire(model: Any) -> dict[str, Any]:
    """The hipdx Questionnaire for ``model`` (canonical ``url``, ``version`` = model version)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for variable in model.variables.values():
        groups.setdefault(variable.group, []).append(item(variable))
    return {
        "resourceType": "Questionnaire",
        "id": "hipdx",
        "url": QUESTIONNAIRE_URL,
        "version": model.version,
        "name": "HipdxRunnerHipPain",
        "title": "Hip pain in a runner (hipdx)",
        "status": "active",
        "experimental": False,
        "subjectType": ["Patient"],
        "publisher": "hipdx",
        "description": ("Questions of the hipdx model (adult runners with hip pain they connect with running). "
                        "Every answer is optional. Decision support built from web articles, not a validated "
                        "clinical device."),
        "purpose": "Answers feed the hipdx CDS Hooks service and RiskAssessment/$assess; codes are in " + SYSTEM,
        "item": [{"linkId": group, "text": group_title(group), "type": "group", "item": items}
                 for group, items in groups.items()],
    }


def link_ids(model: Any) -> dict[str, str]:
    """Every linkId (and other name) an answer may come under -> the model field it is read as:
    the Questionnaire's linkIds plus every variable id and numeric alias the model accepts."""
    out = {name: name for name in model.vocabulary.names}
    for variable in model.variables.values():
        out[link_id(variable)] = link_id(variable)
    return out
