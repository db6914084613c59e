"""Triage: the level of care a runner needs, the rules behind it, and what it does not know yet.

The rules (``priors/red_flags.yaml`` and the population of ``priors/conditions.yaml``):

- A red-flag answer fires on its own, whatever the probabilities say (a runner who cannot bear
  weight is an emergency), so a red flag can never be out-voted.
- A must-not-miss condition that cannot be excluded raises the level: a posterior rule fires when
  the exact posterior reaches its threshold. The lowest such threshold is an expected-harm
  threshold (refer when p * harm of a miss >= (1 - p) * cost of a visit; see red_flags.yaml).
- A case outside the model's population is at least ``see_clinician`` (``urgent`` below the adult age range).
- With none of these, ``see_clinician`` when an injury (anything but ordinary soreness) is more
  likely than not, else ``self_care``.
- A case with no answers gets no level (``None``), only the questions to ask.
- Triage is *provisional* when an unanswered red-flag (screening) question could still raise the
  level; ``open_questions`` lists those questions, most severe rule first.

Every triage lists its reasons (rule, reason, source), the first being the rule that set the level.
:meth:`TriageRules.assess` (one case) and :meth:`TriageRules.assess_batch` (a table) apply the same
rules in the same order, so every channel gives the same level, flags, reasons and questions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..population import LEVEL_ABOVE, LEVEL_CHILD, RULE_CHILD, OutsidePopulation
from ..priors import TRIAGE_LEVELS, Priors

SEVERITY = {level: i for i, level in enumerate(TRIAGE_LEVELS)}  # 0 = most severe
NOT_AN_INJURY = "muscle_soreness"  # ordinary soreness: never counts as a likely injury
RULES_FILE = "priors/red_flags.yaml"
LIKELY_INJURY = "likely_injury"
NO_RULE = "no_rule_fired"
NO_ANSWERS = "no_answers"
NOT_SCORED = "not_scored"
NOT_SCORED_REASON = ("Some answers could not be read, so the case was not scored; no red flag among the answers that "
                     "could be read. Correct the answers to get a triage level")
OUTSIDE = "outside_population"


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
class Reason:
    """One rule that fired (or the rule that applies when none did): what it says and its source."""

    rule: str
    level: str | None
    reason: str
    source: str

    def to_dict(self) -> dict[str, str]:
        out = {"rule": self.rule, "level": self.level, "reason": self.reason, "source": self.source}
        if self.level is None:  # no_answers / not_scored: these rules set no level
            del out["level"]
        return out


@dataclass(frozen=True)
class Triage:
    """``level`` (None when nothing was answered), the red flags that fired, every reason (the
    first set the level), and whether unanswered screening questions could still raise it."""

    level: str | None
    red_flags: tuple[RedFlag, ...]
    reasons: tuple[Reason, ...] = ()
    provisional: bool = False
    open_questions: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"level": self.level, "reasons": [r.to_dict() for r in self.reasons],
                "red_flags": [f.to_dict() for f in self.red_flags],
                "provisional": self.provisional, "open_questions": list(self.open_questions)}


@dataclass(frozen=True)
class BatchTriage:
    """Per-row triage of a table (object arrays of length n): level (None = not triaged), red-flag
    ids and reason rule ids ('; '-joined, in the single-case order), provisional, open questions."""

    level: np.ndarray
    red_flags: np.ndarray
    reasons: np.ndarray
    provisional: np.ndarray
    open_questions: np.ndarray


class TriageRules:
    """The triage rules of ``priors/red_flags.yaml``, for one case or a whole batch."""

    def __init__(self, priors: Priors) -> None:
        self.finding_rules = priors.finding_rules
        self.posterior_rules = priors.posterior_rules
        self.likely = priors.likely_injury_threshold
        self.likely_injury = self.likely.value
        self.injuries = [c for c in priors.conditions if c != NOT_AN_INJURY]
        self.condition_names = {c: priors.conditions[c].name for c in priors.conditions}
        # Every rule in one canonical order: most severe first, file order within a level.
        rules: list[tuple[str, str, str]] = [(r.id, r.level, "finding") for r in self.finding_rules]
        rules += [(r.id, r.level, "posterior") for r in self.posterior_rules]
        rules += [(RULE_CHILD, LEVEL_CHILD, "population"), (OUTSIDE, LEVEL_ABOVE, "population"),
                  (LIKELY_INJURY, "see_clinician", "likely")]
        self.rule_order = sorted(rules, key=lambda r: SEVERITY[r[1]])  # stable
        self.rule_rank = {r[0]: i for i, r in enumerate(self.rule_order)}
        self._by_severity = sorted(self.finding_rules, key=lambda r: SEVERITY[r.level])  # stable: file order within a level
        # Screening questions: the variables of the red-flag rules, most severe rule first.
        seen: dict[str, None] = {}
        for rule in sorted(self.finding_rules, key=lambda r: SEVERITY[r.level]):
            for var in rule.when:
                seen.setdefault(var, None)
        self.screening_questions = tuple(seen)

    # ------------------------------------------------------------------ one case
    def assess(self, evidence: Mapping[str, str], posterior: Mapping[str, float] | None,
               outside: OutsidePopulation | None = None) -> Triage:
        """Triage of one case.

        ``evidence``: parsed answers (variable id -> state); ``posterior``: P(condition | evidence)
        for every condition, or None when the case could not be scored (then only red-flag answers
        and the population count); ``outside``: the population check's result."""
        if not evidence and outside is None:
            return Triage(None, (), (Reason(NO_ANSWERS, None, "Nothing answered: there is nothing to triage yet; ask the "
                                            "screening questions first", RULES_FILE),),
                          True, self.screening_questions)
        scored = posterior is not None
        posterior = posterior or {}
        flags: list[RedFlag] = []
        fired: list[tuple[str, Reason]] = []
        for rule in self.finding_rules:
            if all(evidence.get(var) == state for var, state in rule.when.items()):
                flags.append(RedFlag(rule.id, rule.level, rule.reason, rule.source, rule.quote))
        for rule in self.posterior_rules:
            p = posterior.get(rule.condition)
            if p is not None and p >= rule.threshold.value:
                reason = f"{rule.reason} (probability {p:.2f} >= {rule.threshold.value:.2f})"
                flags.append(RedFlag(rule.id, rule.level, reason, rule.source, rule.quote))
        fired += [(f.id, Reason(f.id, f.level, f.reason, f.source)) for f in flags]
        if outside is not None:
            fired.append((outside.rule, Reason(outside.rule, outside.level, outside.reason, outside.source)))
        likely = [c for c in self.injuries if posterior.get(c, 0.0) >= self.likely_injury]
        if likely:
            top = max(likely, key=lambda c: posterior[c])
            fired.append((LIKELY_INJURY, Reason(
                LIKELY_INJURY, "see_clinician",
                f"An injury is more likely than not: {self.condition_names[top]} (probability {posterior[top]:.2f} >= "
                f"{self.likely_injury:.2f}); advise a clinician visit", f"{RULES_FILE}: likely_injury_threshold")))
        fired.sort(key=lambda kv: self.rule_rank[kv[0]])
        flags.sort(key=lambda f: self.rule_rank[f.id])
        reasons = [r for _, r in fired]
        if reasons:
            level = reasons[0].level
        elif not scored:
            return Triage(None, (), (Reason(NOT_SCORED, None, NOT_SCORED_REASON, RULES_FILE),), True,
                          self._open_questions(evidence, SEVERITY["self_care"]))
        else:
            level = "self_care"
            reasons = [Reason(NO_RULE, "self_care", "No red flag among the answers, no must-not-miss condition at or above "
                              "its threshold, and no injury more likely than not: self care, and see a clinician if it "
                              "persists or gets worse", RULES_FILE)]
        assert level is not None
        open_q = self._open_questions(evidence, SEVERITY[level])
        return Triage(level, tuple(flags), tuple(reasons), bool(open_q) or not scored, open_q)

    def _open_questions(self, evidence: Mapping[str, str], severity: int) -> tuple[str, ...]:
        """Unanswered variables of red-flag rules that could still fire and raise the level."""
        out: dict[str, None] = {}
        for rule in self._by_severity:
            if SEVERITY[rule.level] >= severity:
                continue
            if any(evidence.get(v) not in (None, s) for v, s in rule.when.items()):
                continue  # ruled out by an answer
            for var in rule.when:
                if evidence.get(var) is None:
                    out.setdefault(var, None)
        return tuple(out)

    # ------------------------------------------------------------------ a table
    def assess_batch(self, codes: np.ndarray, order: list[str], states: Mapping[str, tuple[str, ...]],
                     posterior: np.ndarray, conditions: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per row: the triage level and the ids of the red flags that fired ('; '-joined); see
        :meth:`assess_table` for the reasons, the population and the open questions too."""
        t = self.assess_table(codes, order, states, posterior, conditions)
        return t.level, t.red_flags

    def assess_table(self, codes: np.ndarray, order: list[str], states: Mapping[str, tuple[str, ...]],
                     posterior: np.ndarray, conditions: list[str], outside_below: np.ndarray | None = None,
                     outside_above: np.ndarray | None = None) -> BatchTriage:
        """The same triage as :meth:`assess`, vectorised over rows.

        ``codes`` (n, len(order)): state index per variable, -1 = unanswered; ``posterior``
        (n, len(conditions)): NaN rows = not scored (only red-flag answers and the population
        count); ``outside_below`` / ``outside_above``: rows outside the population's age range."""
        n = codes.shape[0]
        col = {v: j for j, v in enumerate(order)}
        cpos = {c: j for j, c in enumerate(conditions)}
        bits = np.zeros(n, dtype=np.int64)  # bit i = rule_order[i] fired
        masks: dict[str, np.ndarray] = {}
        for rule in self.finding_rules:
            mask = np.ones(n, dtype=bool)
            for var, state in rule.when.items():
                mask &= codes[:, col[var]] == states[var].index(state)
            masks[rule.id] = mask
        with np.errstate(invalid="ignore"):
            for rule in self.posterior_rules:
                masks[rule.id] = posterior[:, cpos[rule.condition]] >= rule.threshold.value
            masks[LIKELY_INJURY] = (posterior[:, [cpos[c] for c in self.injuries]] >= self.likely_injury).any(axis=1)
        none = np.zeros(n, dtype=bool)
        masks[RULE_CHILD] = none if outside_below is None else outside_below
        masks[OUTSIDE] = none if outside_above is None else outside_above
        outside = masks[RULE_CHILD] | masks[OUTSIDE]
        severity = np.full(n, SEVERITY["self_care"], dtype=np.int64)
        for i, (rid, level, _) in enumerate(self.rule_order):
            mask = masks[rid]
            bits[mask] |= np.int64(1) << i
            severity[mask] = np.minimum(severity[mask], SEVERITY[level])
        answered = (codes >= 0).any(axis=1) | outside
        scored = ~np.isnan(posterior).any(axis=1)
        levels = np.array(TRIAGE_LEVELS, dtype=object)[severity]
        levels[~answered | (~scored & (bits == 0))] = None
        flag_ids = {r.id for r in self.finding_rules} | {r.id for r in self.posterior_rules}
        flag_text = _bits_to_text(bits, [r[0] if r[0] in flag_ids else None for r in self.rule_order])
        reason_text = _bits_to_text(bits, [r[0] for r in self.rule_order])
        reason_text[(bits == 0) & answered] = NO_RULE
        reason_text[(bits == 0) & answered & ~scored] = NOT_SCORED
        reason_text[~answered] = NO_ANSWERS
        # open questions: per rule more severe than the row's level, not ruled out by an answer
        q_index = {v: k for k, v in enumerate(self.screening_questions)}
        qbits = np.zeros(n, dtype=np.int64)
        for rule in self.finding_rules:
            possible = SEVERITY[rule.level] < severity
            for var, state in rule.when.items():
                c = codes[:, col[var]]
                possible &= (c < 0) | (c == states[var].index(state))
            for var in rule.when:
                qbits[possible & (codes[:, col[var]] < 0)] |= np.int64(1) << q_index[var]
        qbits[~answered] = (np.int64(1) << len(self.screening_questions)) - 1
        questions = _bits_to_text(qbits, list(self.screening_questions))
        provisional = (qbits != 0) | ~scored
        return BatchTriage(levels, flag_text, reason_text, provisional, questions)


def _bits_to_text(bits: np.ndarray, names: list[str | None]) -> np.ndarray:
    """'; '-joined names of the set bits of each row (bit i = names[i]; None names are skipped).
    Rows share few distinct patterns, so each pattern is joined once."""
    uniq, inverse = np.unique(bits, return_inverse=True)
    texts = np.array(["; ".join(name for i, name in enumerate(names) if name is not None and (int(u) >> i) & 1)
                      for u in uniq], dtype=object)
    return texts[inverse.reshape(-1)]
