"""SDC adaptive questioning: ``Questionnaire/hipdx/$next-question``.

Input: a QuestionnaireResponse (posted as is, or as the ``in`` parameter of a ``Parameters``).
Output: the same response with a contained adaptive Questionnaire (SDC
``sdc-questionnaire-adapt``: the questions asked so far plus the next one) and the next question
added as an unanswered item, ``status`` ``in-progress``; or, when the model says more answers
would not change anything (``should_stop``) or nothing is left to ask, ``status`` ``completed``.
The next question is the model's first ``next_questions`` entry not asked yet (red-flag
screening questions come first when triage could still change).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .questionnaire import item as question_item
from .terminology import QUESTIONNAIRE_URL

CONTAINED_ID = "hipdx-adaptive"
ADAPT_PROFILE = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-adapt"


def _asked(items: Any, out: set[str]) -> set[str]:
    for it in items or []:
        if isinstance(it, Mapping):
            if isinstance(it.get("linkId"), str):
                out.add(it["linkId"])
            _asked(it.get("item"), out)
            for answer in it.get("answer") or []:
                if isinstance(answer, Mapping):
                    _asked(answer.get("item"), out)
    return out


def _contained_questionnaire(qr: Mapping[str, Any], model: Any) -> dict[str, Any]:
    for resource in qr.get("contained") or []:
        if isinstance(resource, Mapping) and resource.get("resourceType") == "Questionnaire" \
                and resource.get("id") == CONTAINED_ID:
            return copy.deepcopy(dict(resource))
    return {"resourceType": "Questionnaire", "id": CONTAINED_ID,
            "meta": {"profile": [ADAPT_PROFILE]},
            "url": f"{QUESTIONNAIRE_URL}-adaptive", "version": model.version,
            "derivedFrom": [f"{QUESTIONNAIRE_URL}|{model.version}"],
            "status": "active", "subjectType": ["Patient"],
            "title": "Hip pain in a runner (hipdx, adaptive)", "item": []}


def next_question(qr: Mapping[str, Any], diagnosis: Mapping[str, Any], model: Any) -> dict[str, Any]:
    """The response with its next question added, or marked ``completed`` (see the module doc).

    ``diagnosis`` is ``Diagnosis.to_dict()`` of the answers read from ``qr``."""
    out = copy.deepcopy(dict(qr))
    contained = _contained_questionnaire(out, model)
    asked = _asked(out.get("item"), set()) | _asked(contained.get("item"), set())
    by_link = {**model.vocabulary.aliases, **{vid: vid for vid in model.variables}}
    known = [it for it in contained.get("item") or [] if isinstance(it, Mapping)]
    # Questions answered before the adaptive form started are part of the form too.
    for link in sorted(asked - {it.get("linkId") for it in known}):
        vid = by_link.get(link)
        if vid is not None:
            known.append(question_item(model.variables[vid]))
    should_stop = bool((diagnosis.get("reasoning") or {}).get("should_stop"))
    chosen = None
    if not should_stop:
        for q in diagnosis.get("next_questions") or []:
            candidate = question_item(model.variables[q["variable"]])
            if candidate["linkId"] not in asked:
                chosen = candidate
                break
    if chosen is not None:
        known.append(chosen)
        out.setdefault("item", [])
        out["item"] = list(out["item"]) + [{"linkId": chosen["linkId"], "text": chosen["text"]}]
        out["status"] = "in-progress"
    else:
        out["status"] = "completed"
    contained["item"] = known
    others = [r for r in out.get("contained") or [] if not (isinstance(r, Mapping) and r.get("id") == CONTAINED_ID)]
    out["contained"] = [contained, *others]
    out["questionnaire"] = f"#{CONTAINED_ID}"
    out["resourceType"] = "QuestionnaireResponse"
    return out
