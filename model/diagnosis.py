"""The result of one diagnosis, and its JSON shape (the body of ``POST /v1/diagnosis``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .reasoning.triage import Triage

DISCLAIMER = (
    "hipdx is decision support built from five public web articles on runners' hip pain; it is not a "
    "validated clinical device and does not make a diagnosis. Probabilities are model estimates with "
    "wide uncertainty. Any red flag means seeing a clinician, whatever the probabilities say."
)


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
    # the top joint states of the conditions (model.explanations), most probable first
    explanations: list[dict[str, Any]] | None = None

    def probability(self, condition: str) -> float:
        return next(c.probability for c in self.conditions if c.id == condition)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": {"name": self.model_name, "version": self.model_version},
            "conditions": [c.to_dict() for c in self.conditions],
            "triage": self.triage.to_dict(),
        }
        if self.explanations is not None:
            out["explanations"] = self.explanations
        if self.next_questions is not None:
            out["next_questions"] = self.next_questions
        out["evidence"] = dict(self.evidence)
        out.update(self.extras)
        out["disclaimer"] = DISCLAIMER
        return out
