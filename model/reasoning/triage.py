"""Triage: the level of care a runner needs, and the red flags behind it.

Red-flag answers are checked first and on their own: a runner who cannot bear weight is an
emergency whatever the probabilities say. Probabilities can only raise the level (a plausible
stress fracture), never lower it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..priors import TRIAGE_LEVELS, Priors

SEVERITY = {level: i for i, level in enumerate(TRIAGE_LEVELS)}  # 0 = most severe
NOT_AN_INJURY = "muscle_soreness"  # ordinary soreness: never counts as a likely injury


@dataclass(frozen=True)
class RedFlag:
    id: str
    level: str
    reason: str
    source: str
    quote: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "level": self.level, "reason": self.reason, "source": self.source, "quote": self.quote}


@dataclass(frozen=True)
class Triage:
    level: str
    red_flags: tuple[RedFlag, ...]

    def to_dict(self) -> dict:
        return {"level": self.level, "red_flags": [f.to_dict() for f in self.red_flags]}


class TriageRules:
    """The red-flag rules of ``priors/red_flags.yaml``, for one case or a whole batch."""

    def __init__(self, priors: Priors) -> None:
        self.finding_rules = priors.finding_rules
        self.posterior_rules = priors.posterior_rules
        self.likely_injury = priors.likely_injury_threshold.value
        self.injuries = [c for c in priors.conditions if c != NOT_AN_INJURY]

    def assess(self, evidence: Mapping[str, str], posterior: Mapping[str, float]) -> Triage:
        flags: list[RedFlag] = []
        for rule in self.finding_rules:
            if all(evidence.get(var) == state for var, state in rule.when.items()):
                flags.append(RedFlag(rule.id, rule.level, rule.reason, rule.source, rule.quote))
        for rule in self.posterior_rules:
            p = posterior.get(rule.condition)
            if p is not None and p >= rule.threshold.value:
                reason = f"{rule.reason} (probability {p:.2f} >= {rule.threshold.value:.2f})"
                flags.append(RedFlag(rule.id, rule.level, reason, rule.source, rule.quote))
        flags.sort(key=lambda f: SEVERITY[f.level])
        if flags:
            level = flags[0].level
        elif any(posterior.get(c, 0.0) >= self.likely_injury for c in self.injuries):
            level = "see_clinician"
        else:
            level = "self_care"
        return Triage(level, tuple(flags))

    def assess_batch(self, codes: np.ndarray, order: list[str], states: Mapping[str, tuple[str, ...]],
                     posterior: np.ndarray, conditions: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per row: the triage level and the ids of the red flags that fired ('; '-joined)."""
        n = codes.shape[0]
        severity = np.full(n, SEVERITY["self_care"], dtype=np.int64)
        flags = [[] for _ in range(n)]
        col = {v: j for j, v in enumerate(order)}

        def fire(mask: np.ndarray, rule_id: str, level: str) -> None:
            np.minimum(severity, np.where(mask, SEVERITY[level], SEVERITY["self_care"]), out=severity)
            for i in np.nonzero(mask)[0]:
                flags[i].append(rule_id)

        for rule in self.finding_rules:
            mask = np.ones(n, dtype=bool)
            for var, state in rule.when.items():
                mask &= codes[:, col[var]] == states[var].index(state)
            fire(mask, rule.id, rule.level)
        cpos = {c: j for j, c in enumerate(conditions)}
        with np.errstate(invalid="ignore"):
            for rule in self.posterior_rules:
                fire(posterior[:, cpos[rule.condition]] >= rule.threshold.value, rule.id, rule.level)
            likely = (posterior[:, [cpos[c] for c in self.injuries]] >= self.likely_injury).any(axis=1)
        none_fired = severity == SEVERITY["self_care"]
        severity[none_fired & likely] = SEVERITY["see_clinician"]
        levels = np.array(TRIAGE_LEVELS, dtype=object)[severity]
        joined = np.array(["; ".join(f) for f in flags], dtype=object)
        return levels, joined
