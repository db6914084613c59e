"""CDS Hooks 2.0: the ``patient-view`` service's discovery entry and its cards.

Cards for one read QuestionnaireResponse and its diagnosis (``Diagnosis.to_dict()``):

- the **triage card** (only when some answer was read and triage gave a level): its indicator
  follows the triage (``critical`` for emergency and urgent, ``warning`` for see a clinician,
  ``info`` for self-care); its summary leads with the triage and is built from whole sentences
  (a sentence that does not fit is left out, never cut); its detail has the conditions, the
  triage reasons, the open questions, the answers not used; it carries ``overrideReasons``, a
  ``suggestion`` that creates the RiskAssessment, and a link to the case page;
- one **red-flag card** per red flag (``critical``), whose summary is one complete sentence under
  140 characters, with ``overrideReasons``;
- an **unread-answers card** (``warning``) naming the answers to hipdx questions that could not be
  read, so the red flags among the readable ones still show;
- an **outside-population card** (``warning``) when the model says the case is outside its
  population;
- with no answer at all, one ``info`` card saying so and listing the questions to ask.

Triage keys are read with ``.get`` (``provisional``, ``open_questions``, ``reasons``, a ``null``
level, ``outside_population``): the cards work with and without them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .response import ReadResponse
from .terminology import OVERRIDE_REASONS, hipdx_coding

SERVICE_ID = "hipdx-runner-hip-pain"
PREFETCH_KEY = "questionnaireResponse"
HOOK = "patient-view"
SUMMARY_MAX = 139  # CDS Hooks: summary SHALL be under 140 characters
TOP_CONDITIONS = 5
LEVEL_TEXT = {"emergency": "emergency", "urgent": "urgent", "see_clinician": "see a clinician", "self_care": "self-care"}
INDICATOR = {"emergency": "critical", "urgent": "critical", "see_clinician": "warning", "self_care": "info"}


def prefetch_template(questionnaire_url: str) -> str:
    """The prefetch query: the patient's responses to the hipdx Questionnaire, newest first."""
    return f"QuestionnaireResponse?subject={{{{context.patientId}}}}&questionnaire={questionnaire_url}&_sort=-authored"


def discovery(questionnaire_url: str) -> dict[str, Any]:
    """The CDS Hooks discovery document (``GET /cds-services``)."""
    return {"services": [{
        "hook": HOOK,
        "id": SERVICE_ID,
        "title": "hipdx: hip pain in runners",
        "description": ("Probabilities of the common causes of hip pain in a runner, triage and red flags, from the "
                        "runner's answers to the hipdx Questionnaire (" + questionnaire_url + "). "
                        "Decision support, not a validated clinical device."),
        "prefetch": {PREFETCH_KEY: prefetch_template(questionnaire_url)},
        "usageRequirements": ("Prefetch the patient's QuestionnaireResponses to the hipdx Questionnaire "
                              "(GET /fhir/Questionnaire/hipdx); the most recently authored one is read."),
    }]}


@dataclass(frozen=True)
class IssuedCard:
    """What a card was about, kept by the feedback store (never the answers)."""

    uuid: str
    kind: str      # triage | red_flag | unread | outside_population | no_answers
    rule: str      # the triage level, the red flag id, or the kind again
    level: str | None


# ---------------------------------------------------------------------------- text helpers
def short_name(name: str) -> str:
    """A condition's name without its parenthesised synonyms."""
    return name.split(" (")[0]


def pct(p: float) -> str:
    """A probability as a whole percentage (``<1%``, ``>99%`` at the ends)."""
    if p >= 0.995:
        return ">99%"
    return f"{100 * p:.0f}%" if p >= 0.005 else "<1%"


def sentence(text: str) -> str:
    """One sentence: single spaces, a capital first letter, ending with a full stop."""
    text = " ".join(str(text).split()).rstrip(" .;:,")
    return (text[:1].upper() + text[1:] + ".") if text else ""


def join_sentences(sentences: list[str], limit: int = SUMMARY_MAX) -> str:
    """The first sentence, then each further one that still fits within ``limit`` (never cut)."""
    out = sentences[0]
    for s in sentences[1:]:
        if s and len(out) + 1 + len(s) <= limit:
            out = f"{out} {s}"
    return out


def red_flag_summary(flag: Mapping[str, Any], limit: int = SUMMARY_MAX) -> str:
    """One complete sentence within ``limit`` characters: the level and the reason's first clause
    that fits (the full reason is in the detail)."""
    level = LEVEL_TEXT.get(flag.get("level") or "", "urgent")
    head = f"Red flag ({level}): "
    reason = " ".join(str(flag.get("reason") or "").split())
    candidates = [reason]
    for sep in (": ", "; ", " (", ", ", " - "):
        candidates += [c.split(sep)[0] for c in list(candidates)]
    candidates.append(str(flag.get("id", "red flag")).replace("_", " "))
    for c in sorted(set(candidates), key=len, reverse=True):
        text = head + sentence(c)
        if c.strip() and len(text) <= limit:
            return text
    return sentence(f"Red flag ({level})")


def override_reasons() -> list[dict[str, str]]:
    """The override reasons offered on the triage and red-flag cards (hipdx CodeSystem)."""
    return [hipdx_coding(code, display) for code, display in OVERRIDE_REASONS.items()]


# ---------------------------------------------------------------------------- cards
def _card(summary: str, indicator: str, source: Mapping[str, Any], detail: str | None = None,
          **extra: Any) -> dict[str, Any]:
    card: dict[str, Any] = {"uuid": str(uuid.uuid4()), "summary": summary, "indicator": indicator, "source": dict(source)}
    if detail:
        card["detail"] = detail
    card.update({k: v for k, v in extra.items() if v})
    return card


def _notes(read: ReadResponse) -> list[str]:
    lines = []
    if read.partial:
        lines.append(f"**Partial answers:** the QuestionnaireResponse is `{read.status}`; unanswered questions were "
                     "treated as unknown.")
    if read.unread:
        lines.append("**Answers that could not be read (not used):** "
                     + "; ".join(f"`{n.link_id}`: {n.reason}" for n in read.unread))
    if read.unknown:
        lines.append("**Answered as unknown:** " + ", ".join(f"`{n.link_id}`" for n in read.unknown))
    if read.ignored:
        lines.append("**Not hipdx questions (ignored):** " + ", ".join(f"`{i}`" for i in read.ignored))
    return lines


def _triage_card(d: Mapping[str, Any], read: ReadResponse, source: Mapping[str, Any], links: list[dict[str, Any]],
                 suggestion: dict[str, Any] | None) -> dict[str, Any]:
    triage = d.get("triage") or {}
    level = triage["level"]
    provisional = bool(triage.get("provisional"))
    conditions = d.get("conditions") or []
    top = conditions[:TOP_CONDITIONS]
    head = f"Triage: {LEVEL_TEXT.get(level, level)}{' (provisional)' if provisional else ''}."
    likely = [f"{short_name(c['name'])} {pct(c['probability'])}" for c in top[:2]]
    sentences = [head]
    if d.get("outside_population"):
        sentences.append("Outside the model's population.")
    if read.partial:
        sentences.append("Partial answers.")
    if read.unread:
        sentences.append("Some answers unread.")
    summary = join_sentences(sentences + [f"Most likely: {', '.join(likely)}." if likely else ""])
    if likely and "Most likely" not in summary:
        summary = join_sentences(sentences + [f"Most likely: {likely[0]}."])

    lines = [f"**Triage:** {LEVEL_TEXT.get(level, level)}" + (" (provisional)" if provisional else "")]
    for reason in triage.get("reasons") or []:
        if isinstance(reason, Mapping):
            src = f" (source: {reason['source']})" if reason.get("source") else ""
            lines.append(f"- {reason.get('reason') or reason.get('rule')}{src}")
    open_questions = triage.get("open_questions") or []
    if open_questions:
        lines += ["", "**Provisional:** these unanswered questions could change the level: "
                  + ", ".join(f"`{q}`" for q in open_questions)]
    lines += ["", "| Condition | Probability | Interval | Prior |", "| --- | --- | --- | --- |"]
    for c in top:
        interval = c.get("interval")
        shown = f"{pct(interval[0])} to {pct(interval[1])}" if interval else "n/a"
        lines.append(f"| {c['name']} | {pct(c['probability'])} | {shown} | {pct(c['prior'])} |")
    reasoning = d.get("reasoning") or {}
    if reasoning.get("interval_level"):
        lines += ["", f"Intervals: {100 * reasoning['interval_level']:.0f}% ranges over the uncertainty of the priors."]
    if reasoning.get("top_two_may_swap"):
        lines += ["", "The two most likely conditions may swap order within that uncertainty."]
    effects = top[0].get("evidence") if top else None
    if effects:
        drivers = [f"{e['variable']} = {e['state']} ({e['effect']:+.2f})" for e in effects[:3]]
        lines += ["", f"**Main reasons for {short_name(top[0]['name'])}:** " + "; ".join(drivers)]
    questions = d.get("next_questions") or []
    if questions:
        q = questions[0]
        lines += ["", f"**Ask next:** {q['question']} (`{q['variable']}`)"]
    notes = _notes(read)
    if notes:
        lines += [""] + notes
    lines += ["", f"_{d.get('disclaimer', '')}_"]
    extra: dict[str, Any] = {"overrideReasons": override_reasons(), "links": links}
    if suggestion is not None:
        extra.update(suggestions=[suggestion], selectionBehavior="at-most-one")
    return _card(summary, INDICATOR.get(level, "warning"), source, "\n".join(lines), **extra)


def _red_flag_card(flag: Mapping[str, Any], disclaimer: str, source: Mapping[str, Any],
                   links: list[dict[str, Any]]) -> dict[str, Any]:
    level = flag.get("level") or "urgent"
    detail = [f"**Red flag ({LEVEL_TEXT.get(level, level)}):** {flag.get('reason', '')}"]
    if flag.get("source"):
        quote = f': "{flag["quote"]}"' if flag.get("quote") else ""
        detail.append(f"Source: {flag['source']}{quote}")
    detail.append(f"_{disclaimer}_")
    return _card(red_flag_summary(flag), "critical", source, "\n\n".join(detail),
                 overrideReasons=override_reasons(), links=links)


def _unread_card(read: ReadResponse, source: Mapping[str, Any]) -> dict[str, Any]:
    names = [n.link_id for n in read.unread]
    shown = names[:]
    while shown:
        listed = ", ".join(shown) + (f" and {len(names) - len(shown)} more" if len(shown) < len(names) else "")
        summary = f"Some answers could not be read and were not used: {listed}."
        if len(summary) <= SUMMARY_MAX:
            break
        shown.pop()
    else:
        summary = f"{len(names)} answers could not be read and were not used."
    detail = ["Red flags among the answers that could be read are shown in their own cards.", ""]
    detail += [f"- `{n.link_id}`: {n.reason}" for n in read.unread]
    return _card(summary, "warning", source, "\n".join(detail))


def _population_card(d: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    outside = d.get("outside_population") or {}
    reason = outside.get("reason") if isinstance(outside, Mapping) else str(outside)
    return _card("Outside the model's population: its probabilities may not apply; see the detail.", "warning", source,
                 f"**Outside the model's population:** {reason or 'see the model description'}\n\n"
                 "Triage is never self-care for such a case.")


def no_answers_card(questions: list[Mapping[str, Any]], read: ReadResponse, source: Mapping[str, Any],
                    links: list[dict[str, Any]]) -> dict[str, Any]:
    """The one card for a response without any answer to a hipdx question: no triage."""
    lines = ["Nothing to assess yet: no answer the model can use, so there is no triage.", ""]
    if questions:
        lines += ["**Ask first:**"] + [f"- {q['question']} (`{q['variable']}`)" for q in questions]
    notes = _notes(read)
    if notes:
        lines += [""] + notes
    return _card("hipdx: no answers to assess yet, so no triage; ask the questions in the detail.", "info", source,
                 "\n".join(lines), links=links)


def cards(d: Mapping[str, Any], read: ReadResponse, source: Mapping[str, Any], links: list[dict[str, Any]] | None = None,
          suggestion: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], list[IssuedCard]]:
    """The cards for a diagnosis of what could be read, and what each card was about.

    Red-flag cards come right after the triage card (or first, when there is no triage level)."""
    links = links or []
    out: list[dict[str, Any]] = []
    issued: list[IssuedCard] = []
    triage = d.get("triage") or {}
    level = triage.get("level")
    if level is not None:
        card = _triage_card(d, read, source, links, suggestion)
        out.append(card)
        issued.append(IssuedCard(card["uuid"], "triage", level, level))
    for flag in triage.get("red_flags") or []:
        card = _red_flag_card(flag, d.get("disclaimer", ""), source, links)
        out.append(card)
        issued.append(IssuedCard(card["uuid"], "red_flag", str(flag.get("id")), flag.get("level")))
    if read.unread:
        card = _unread_card(read, source)
        out.append(card)
        issued.append(IssuedCard(card["uuid"], "unread", "unread", None))
    if d.get("outside_population"):
        card = _population_card(d, source)
        out.append(card)
        issued.append(IssuedCard(card["uuid"], "outside_population", "outside_population", None))
    return out, issued


def cards_without_answers(questions: list[Mapping[str, Any]], read: ReadResponse, source: Mapping[str, Any],
                          links: list[dict[str, Any]] | None = None) -> tuple[list[dict[str, Any]], list[IssuedCard]]:
    """The cards when no answer could be read: never a triage card; the questions to ask, and the
    unreadable answers named when there were some."""
    out = [no_answers_card(questions, read, source, links or [])]
    issued = [IssuedCard(out[0]["uuid"], "no_answers", "no_answers", None)]
    if read.unread:
        card = _unread_card(read, source)
        out.append(card)
        issued.append(IssuedCard(card["uuid"], "unread", "unread", None))
    return out, issued
