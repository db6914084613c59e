"""The result of one diagnosis, and its JSON shape (the body of ``POST /v1/diagnosis``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .population import OutsidePopulation
from .priors import bundled_sources
from .reasoning.triage import Triage
from .vocabulary import EvidenceError

DISCLAIMER = (
    "hipdx is decision support built from five public web articles on runners' hip pain; it is not a "
    "validated clinical device and does not make a diagnosis. Probabilities are model estimates with "
    "wide uncertainty. Any red flag means seeing a clinician, whatever the probabilities say."
)

API_DECIMALS = 4  # probabilities, effects and gains in to_dict() (the API); exact in Python and in score()
SUMMARY_DECIMALS = 2  # the summary's rounded probabilities
SIGNIFICANT_KEYS = frozenset({"likelihood_ratio"})  # ratios: significant digits, not decimals (0.00004 is not 0)
SUMMARY_CONDITIONS = 3
SUMMARY_EXPLANATIONS = 3
TRIAGE_LABELS = {
    "emergency": "Emergency: get medical care now",
    "urgent": "Urgent: get a medical assessment today",
    "see_clinician": "See a clinician (doctor or physiotherapist)",
    "self_care": "Self-care for now: see a clinician if it persists or gets worse",
    None: "Not rated: no answers yet",
}


@dataclass(frozen=True)
class ConditionResult:
    id: str
    name: str
    probability: float
    prior: float
    interval: tuple[float, float] | None = None
    evidence: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "probability": self.probability, "prior": self.prior}
        if self.interval is not None:
            out["interval"] = [self.interval[0], self.interval[1]]
        if self.evidence is not None:
            out["evidence"] = self.evidence
        return out


@dataclass(frozen=True)
class Diagnosis:
    """Posterior of every condition (most probable first), triage, and the evidence as understood."""

    model_name: str
    model_version: str
    conditions: list[ConditionResult]
    triage: Triage
    evidence: dict[str, str]
    next_questions: list[dict[str, Any]] | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    outside_population: OutsidePopulation | None = None
    # the top joint states of the conditions (model.explanations), most probable first
    explanations: list[dict[str, Any]] | None = None

    def probability(self, condition: str) -> float:
        return next(c.probability for c in self.conditions if c.id == condition)

    def to_dict(self, decimals: int | None = API_DECIMALS) -> dict[str, Any]:
        """The JSON body of ``POST /v1/diagnosis``: ``model``, a short ``summary``, then the detail.

        ``decimals``: floats are rounded to this many decimals (likelihood ratios to as many
        significant digits) for readers; ``None`` keeps the exact values (as in the Python objects
        and ``score()``). Every citation whose ``source`` is in ``priors/sources.yaml`` gains the
        article's ``title``."""
        out: dict[str, Any] = {
            "model": {"name": self.model_name, "version": self.model_version},
            "conditions": [c.to_dict() for c in self.conditions],
            "triage": self.triage.to_dict(),
            "outside_population": None if self.outside_population is None else self.outside_population.to_dict(),
        }
        if self.explanations is not None:
            out["explanations"] = self.explanations
        if self.next_questions is not None:
            out["next_questions"] = self.next_questions
        out["evidence"] = dict(self.evidence)
        out.update(self.extras)
        out["disclaimer"] = DISCLAIMER
        out = _readable(out, decimals, None, bundled_sources())
        return {"model": out.pop("model"), "summary": summary(out), **out}


def _readable(node: Any, decimals: int | None, key: str | None, titles: dict[str, Any]) -> Any:
    """A copy of a JSON-like tree with floats rounded and a ``title`` after every known ``source``
    (a copy: the reasoning's cached citation lists are shared between diagnoses). Strings, ints,
    booleans and None are passed through without a call (a full body has ~2,000 leaves)."""
    kind = type(node)
    if kind is float:
        return _round(node, decimals, key)
    if kind is dict:
        out: dict[str, Any] = {}
        for k, v in node.items():
            vk = type(v)
            if vk is str:
                out[k] = v
                if k == "source" and v in titles and "title" not in node:
                    out["title"] = titles[v].title
            elif vk is float:
                out[k] = _round(v, decimals, k)
            elif vk is int or vk is bool or v is None:
                out[k] = v
            else:
                out[k] = _readable(v, decimals, k, titles)
        return out
    if kind is list or kind is tuple:
        return [_readable(v, decimals, key, titles) for v in node]
    if isinstance(node, float):  # numpy floats
        return _round(float(node), decimals, key)
    if isinstance(node, dict):
        return _readable(dict(node), decimals, key, titles)
    return node


def _round(x: float, decimals: int | None, key: str | None) -> float:
    if decimals is None or x != x or x in (float("inf"), float("-inf")):
        return x
    return float(f"{x:.{decimals}g}") if key in SIGNIFICANT_KEYS else round(x, decimals)


def summary(body: dict[str, Any]) -> dict[str, Any]:
    """The short reading of a diagnosis body: triage level, its label and reasons, red flags, top
    explanations (when the body has them), the top 3 conditions with probabilities rounded to 2
    decimals, and one sentence ``text`` saying all that."""
    triage = body.get("triage") or {}
    level = triage.get("level")
    flags = triage.get("red_flags") or []
    reasons = [r["reason"] for r in triage.get("reasons") or [] if isinstance(r, dict) and r.get("reason")]
    if not reasons:
        reasons = [f["reason"] for f in flags if f.get("reason")]
    out: dict[str, Any] = {"triage": level, "triage_label": TRIAGE_LABELS.get(level, str(level)), "reasons": reasons,
                           "red_flags": [f["id"] for f in flags]}
    if "provisional" in triage:
        out["provisional"] = triage["provisional"]
    outside = body.get("outside_population")
    if isinstance(outside, dict) and outside.get("reason"):
        out["outside_population"] = outside["reason"]
    if body.get("explanations"):
        out["explanations"] = [{"present": list(e.get("present") or []),
                                "probability": round(float(e["probability"]), SUMMARY_DECIMALS)}
                               for e in body["explanations"][:SUMMARY_EXPLANATIONS]]
    top = []
    for c in (body.get("conditions") or [])[:SUMMARY_CONDITIONS]:
        item = {"id": c["id"], "name": c["name"], "probability": round(c["probability"], SUMMARY_DECIMALS)}
        if c.get("interval"):
            item["interval"] = [round(x, SUMMARY_DECIMALS) for x in c["interval"]]
        top.append(item)
    out["top_conditions"] = top
    out["text"] = summary_text(out)
    return out


def summary_text(s: dict[str, Any]) -> str:
    """One or two sentences: triage label and reasons, then the most probable conditions."""
    parts = [s["triage_label"] + (" (provisional)" if s.get("provisional") else "")]
    if s["reasons"]:
        parts[0] += ": " + "; ".join(s["reasons"])
    if s.get("outside_population"):
        parts.append(f"Outside the model's population: {s['outside_population']}")
    if s.get("explanations"):
        parts.append("Most likely together: " + "; ".join(
            f"{' + '.join(e['present']) or 'none of the conditions'} {e['probability']:.2f}" for e in s["explanations"]))
    if s["top_conditions"]:
        parts.append("Most probable: " + ", ".join(
            f"{c['id']} {c['probability']:.2f}" + (f" ({c['interval'][0]:.2f}-{c['interval'][1]:.2f})" if c.get("interval") else "")
            for c in s["top_conditions"]))
    return ". ".join(parts) + "."


@dataclass(frozen=True)
class Screening:
    """What can be said of a case without scoring it (``HipModel.screen``): the answers that could
    be read, the errors of those that could not, the triage the red flags and the population check
    alone give, and whether the case is outside the model's population."""

    parsed: dict[str, str]
    errors: tuple[EvidenceError, ...]
    triage: Triage
    outside_population: OutsidePopulation | None

    @property
    def red_flags(self) -> list[dict[str, str]]:
        """The red flags among the readable answers (``red_flags_answered`` of a refused request)."""
        return [f.to_dict() for f in self.triage.red_flags]

    def to_dict(self) -> dict[str, Any]:
        return {"red_flags_answered": self.red_flags, "triage": self.triage.to_dict(),
                "outside_population": None if self.outside_population is None else self.outside_population.to_dict(),
                "errors": [e.to_dict() for e in self.errors], "evidence": dict(self.parsed)}
