"""Reading FHIR R4 QuestionnaireResponses as EHRs send them.

- :func:`pick_response`: the hipdx response in a prefetch value: the resource itself, or from a
  search Bundle the responses to the hipdx Questionnaire (by ``questionnaire`` canonical, any
  version; responses naming no questionnaire are read only when none names hipdx's), the most
  recently ``authored`` first. Responses to other questionnaires and ``entered-in-error`` ones
  are never read. An OperationOutcome (the EHR could not fetch) is a 412, like a missing prefetch.
- :func:`read_response`: every answer read on its own, so one unreadable answer never discards the
  others. The result separates the evidence for the model, the answers to hipdx questions that
  could not be read (``unread``: named in a card), the items that are not hipdx questions
  (``ignored``), and answers that are invalid FHIR (``invalid``: the caller refuses the request).

Rules (documented in the README):

- several answers on one item: equal answers are read once; answers that disagree are invalid
  (none of hipdx's items repeats);
- one answer carrying two ``value[x]`` is invalid FHIR, never silently one of them;
- ``valueBoolean``/``valueInteger``/``valueDecimal`` of the wrong JSON type, or a number beyond
  the floating-point range, is invalid FHIR; a number outside the model's range is ``unread``;
- ``valueQuantity`` is converted by its unit (:mod:`service.fhir.units`);
- ``valueCoding`` is read by system and code (:mod:`service.fhir.terminology`);
- any other ``value[x]`` type (``valueDate``...) is ``unread``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from ..problems import Problem
from .questionnaire import link_ids
from .terminology import QUESTIONNAIRE_URL, CodingError, read_coding
from .units import UnitError, quantity_value

PARTIAL_STATUSES = ("in-progress", "stopped")
FHIR_INT_MAX = 2**31 - 1


@dataclass
class Note:
    """One answer hipdx did not use, and why."""

    link_id: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"linkId": self.link_id, "reason": self.reason}


@dataclass
class ReadResponse:
    """What could be read of one QuestionnaireResponse."""

    evidence: dict[str, Any] = field(default_factory=dict)  # model field -> raw answer (state or number)
    unread: list[Note] = field(default_factory=list)        # hipdx questions whose answer could not be read
    unknown: list[Note] = field(default_factory=list)       # answers that say "unknown" (e.g. sex other)
    ignored: list[str] = field(default_factory=list)        # linkIds that are not hipdx questions
    invalid: list[Note] = field(default_factory=list)       # invalid FHIR: the request is refused
    status: str | None = None
    resource_id: str | None = None
    authored: str | None = None
    subject: str | None = None

    @property
    def partial(self) -> bool:
        """The response was still being filled in (``in-progress``) or abandoned (``stopped``)."""
        return self.status in PARTIAL_STATUSES

    @property
    def answered(self) -> bool:
        """Any answer at all was given to a hipdx question (read, unknown or unreadable)."""
        return bool(self.evidence or self.unread or self.unknown)


class InvalidResponse(Problem):
    """400: the QuestionnaireResponse is not valid FHIR (or not one hipdx can take)."""

    def __init__(self, detail: str, link_id: str | None = None, **members: Any) -> None:
        super().__init__(400, detail, slug="invalid-questionnaire-response", title="Invalid QuestionnaireResponse",
                         linkId=link_id, **members)


# ---------------------------------------------------------------------------- choosing the response
def is_hipdx(qr: Mapping[str, Any]) -> bool | None:
    """True when ``questionnaire`` names hipdx's (any version, any server's copy), False when it
    names another questionnaire, None when it names none."""
    canonical = qr.get("questionnaire")
    if not isinstance(canonical, str) or not canonical:
        return None
    base = canonical.split("|", 1)[0].rstrip("/")
    if base == "#hipdx-adaptive":  # an SDC adaptive response from $next-question
        return True
    return base == QUESTIONNAIRE_URL or base.endswith("/Questionnaire/hipdx") or base == "Questionnaire/hipdx"


def _operation_outcome(resource: Mapping[str, Any]) -> Problem:
    issues = resource.get("issue") if isinstance(resource.get("issue"), list) else []
    codes = [i.get("code") for i in issues if isinstance(i, Mapping) and isinstance(i.get("code"), str)]
    return Problem(412, "the EHR could not prefetch the QuestionnaireResponse (it sent an OperationOutcome"
                   + (f": {', '.join(codes)}" if codes else "") + "); send the prefetch or retry",
                   slug="prefetch-missing", title="Prefetch missing")


def pick_response(prefetched: Any) -> dict[str, Any] | None:
    """The hipdx QuestionnaireResponse in a prefetch value; None when there is none.

    Raises a 412 :class:`Problem` for an OperationOutcome and a 400 for another resource type."""
    if prefetched is None:
        return None
    if not isinstance(prefetched, Mapping):
        raise InvalidResponse("prefetch.questionnaireResponse must be a FHIR resource")
    kind = prefetched.get("resourceType")
    if kind == "OperationOutcome":
        raise _operation_outcome(prefetched)
    if kind == "QuestionnaireResponse":
        candidates = [prefetched]
    elif kind == "Bundle":
        entries = prefetched.get("entry") or []
        if not isinstance(entries, list):
            raise InvalidResponse("Bundle.entry must be a list")
        resources = [e.get("resource") for e in entries if isinstance(e, Mapping)]
        candidates = [r for r in resources if isinstance(r, Mapping) and r.get("resourceType") == "QuestionnaireResponse"]
        if not candidates and any(isinstance(r, Mapping) and r.get("resourceType") == "OperationOutcome" for r in resources):
            raise _operation_outcome(next(r for r in resources if isinstance(r, Mapping)
                                          and r.get("resourceType") == "OperationOutcome"))
    else:
        raise InvalidResponse(f"prefetch.questionnaireResponse has resourceType {kind!r}; expected "
                              "QuestionnaireResponse, Bundle or OperationOutcome")
    live = [r for r in candidates if r.get("status") != "entered-in-error"]
    named = [r for r in live if is_hipdx(r) is True]
    chosen = named or [r for r in live if is_hipdx(r) is None]
    if not chosen:
        return None
    # Most recently authored first; Python's sort is stable, so equal or missing dates keep Bundle order.
    chosen = sorted(chosen, key=lambda r: _authored_key(r.get("authored")), reverse=True)
    return dict(chosen[0])


def _authored_key(value: Any) -> str:
    """A sortable form of a FHIR dateTime (lexical order holds within one time zone; offsets are
    normalised to UTC when present)."""
    if not isinstance(value, str):
        return ""
    from datetime import datetime

    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.isoformat()


# ---------------------------------------------------------------------------- reading the answers
def _number(key: str, value: Any, link_id: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidResponse(f"{key} must be a number", link_id)
    if key == "valueInteger" and (not isinstance(value, int) or abs(value) > FHIR_INT_MAX):
        raise InvalidResponse("valueInteger must be a whole number within the FHIR integer range", link_id)
    try:
        number = float(value)
    except OverflowError:
        raise InvalidResponse(f"{key} is beyond any floating-point range", link_id) from None
    if not math.isfinite(number):
        raise InvalidResponse(f"{key} must be a finite number", link_id)
    return value


def _raw_answer(model: Any, vid: str, key: str, value: Any, link_id: str) -> Any:
    """One ``value[x]`` -> what the model reads (a state, a boolean, a number or a string).

    Raises :class:`InvalidResponse` for invalid FHIR and ``ValueError`` for an answer that is
    valid FHIR but cannot be read as this question's answer."""
    variable = model.variables[vid]
    if key == "valueBoolean":
        if not isinstance(value, bool):
            raise InvalidResponse("valueBoolean must be true or false", link_id)
        return value
    if key == "valueString":
        if not isinstance(value, str):
            raise InvalidResponse("valueString must be a string", link_id)
        return value
    if key in ("valueInteger", "valueDecimal"):
        return _number(key, value, link_id)
    if key == "valueCoding":
        return read_coding(value, variable.states, link_id)
    if key == "valueQuantity":
        if variable.numeric is None:
            raise ValueError(f"{link_id} is not answered with a quantity; allowed: {', '.join(variable.states)}")
        if isinstance(value, Mapping) and "value" in value:
            _number("valueQuantity.value", value["value"], link_id)
        return quantity_value(value, variable.numeric.unit)
    raise ValueError(f"answer type {key} is not one hipdx reads for this question")


def read_response(qr: Mapping[str, Any], model: Any) -> ReadResponse:
    """Read every answer of a QuestionnaireResponse on its own (see the module docstring)."""
    from model import EvidenceError

    names = link_ids(model)
    aliases = model.vocabulary.aliases
    out = ReadResponse(status=qr.get("status") if isinstance(qr.get("status"), str) else None,
                       resource_id=qr.get("id") if isinstance(qr.get("id"), str) else None,
                       authored=qr.get("authored") if isinstance(qr.get("authored"), str) else None)
    subject = qr.get("subject")
    if isinstance(subject, Mapping) and isinstance(subject.get("reference"), str):
        out.subject = subject["reference"]
    states: dict[str, tuple[str | None, str]] = {}  # vid -> (state, linkId that gave it)

    def read_item(item: Mapping[str, Any], link_id: str) -> None:
        answers = item.get("answer")
        if answers is None:
            return
        if not isinstance(answers, list):
            out.invalid.append(Note(link_id, "answer must be a list"))
            return
        field_name = names.get(link_id)
        values = []
        for answer in answers:
            if not isinstance(answer, Mapping):
                out.invalid.append(Note(link_id, "each answer must be an object"))
                return
            keys = [k for k in answer if k.startswith("value")]
            if len(keys) > 1:
                out.invalid.append(Note(link_id, f"one answer carries {len(keys)} values ({', '.join(sorted(keys))}); "
                                                 "FHIR allows one value[x] per answer"))
                return
            if keys:
                values.append((keys[0], answer[keys[0]]))
        if not values:
            return
        if field_name is None:
            out.ignored.append(link_id)
            return
        vid = aliases.get(field_name, field_name)
        read: list[tuple[Any, str | None]] = []
        for key, value in values:
            try:
                raw = _raw_answer(model, vid, key, value, link_id)
                state = None if raw is None else model.vocabulary.read_value(vid, raw, field_name)
            except InvalidResponse as exc:
                out.invalid.append(Note(link_id, exc.detail))
                return
            except (EvidenceError, CodingError, UnitError, ValueError) as exc:
                out.unread.append(Note(link_id, _reason(exc, link_id)))
                return
            read.append((raw, state))
        distinct = {state for _, state in read}
        if len(distinct) > 1:
            out.invalid.append(Note(link_id, f"{len(read)} answers that disagree ({', '.join(sorted(map(str, distinct)))}); "
                                             "this question takes one answer"))
            return
        raw, state = read[0]
        if state is None:
            out.unknown.append(Note(link_id, "answered as unknown"))
            return
        if vid in states and states[vid][0] != state:
            out.invalid.append(Note(link_id, f"gives {vid} = {state!r} but {states[vid][1]} gives {states[vid][0]!r}"))
            return
        states[vid] = (state, link_id)
        out.evidence[field_name] = raw

    def walk(items: Any, where: str) -> None:
        if items is None:
            return
        if not isinstance(items, list):
            out.invalid.append(Note(where, "item must be a list"))
            return
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                out.invalid.append(Note(f"{where}[{i}]", "each item must be an object"))
                continue
            link_id = item.get("linkId")
            if not isinstance(link_id, str) or not link_id:
                out.invalid.append(Note(f"{where}[{i}]", "every item needs a linkId"))
                continue
            read_item(item, link_id)
            answers = item.get("answer")
            for answer in answers if isinstance(answers, list) else []:
                if isinstance(answer, Mapping):
                    walk(answer.get("item"), f"{link_id}.answer.item")
            walk(item.get("item"), f"{link_id}.item")

    walk(qr.get("item"), "item")
    return out


def _reason(exc: Exception, link_id: str) -> str:
    text = str(exc)
    prefix = f"{link_id}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def patient_id(reference: str) -> tuple[str | None, str | None]:
    """(resource type, id) of a FHIR reference, however written: ``Patient/123``, an absolute URL
    ``https://ehr/fhir/Patient/123``, with ``/_history/2``; (None, None) when it is not a
    type/id reference (e.g. ``urn:uuid:...`` or ``#contained``)."""
    ref = reference.strip().split("?", 1)[0].rstrip("/")
    parts = ref.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) < 2 or not parts[-1] or not parts[-2][:1].isupper():
        return None, None
    return parts[-2], parts[-1]


def check_subject(read: ReadResponse, patient: str) -> None:
    """Refuse answers about another patient than the one in context (400 ``wrong-patient``).

    A response with no subject reference (the prefetch query already selected it by subject) or
    a reference that is not type/id is accepted."""
    if read.subject is None:
        return
    kind, ident = patient_id(read.subject)
    if kind is None:
        return
    if kind != "Patient" or ident != patient:
        raise Problem(400, "the QuestionnaireResponse's subject is not the patient in context.patientId",
                      slug="wrong-patient", title="Answers about another patient", field="subject")
