"""The hipdx model: priors -> pgmpy network -> compiled engine, behind one small API.

``load_model()`` builds everything once (pgmpy is imported here, once per process); after that,
``diagnose`` answers one runner and ``score`` a whole table through the same compiled engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .diagnosis import API_DECIMALS, ConditionResult, Diagnosis, Screening
from .inference.case_variants import VariantResult
from .inference.compiled import CompiledNetwork
from .inference.engine import Engine, EngineResult
from .parameters import Parameters, build_parameters
from .population import Population
from .priors import Priors, load_priors
from .reasoning import Reasoner
from .reasoning.explanations import present_sets, top_explanations
from .reasoning.triage import TriageRules
from .vocabulary import EvidenceError, Variable, Vocabulary

MODEL_NAME = "hipdx"


class HipModel:
    """One loaded model. Build it with :func:`load_model`."""

    def __init__(self, priors: Priors) -> None:
        self.priors = priors
        self.parameters: Parameters = build_parameters(priors)
        self.compiled = CompiledNetwork.from_parameters(priors, self.parameters)  # the network's one compiled form
        self.engine = Engine(self.compiled)
        self.vocabulary = Vocabulary(priors)
        self.triage_rules = TriageRules(priors)
        self.population = Population(priors, next((f for f, v in self.vocabulary.aliases.items() if v == "age_band"), None))
        self.risk_factor_ids = list(priors.risk_factors)
        self.finding_ids = list(priors.findings)
        self.evidence_order = self.risk_factor_ids + self.finding_ids
        self.prior_probabilities = dict(zip(self.conditions, self.engine.posterior(
            np.full((1, len(self.risk_factor_ids)), -1), np.full((1, len(self.finding_ids)), -1)).marginals[0],
            strict=True))
        self._prior_floats = {c: float(p) for c, p in self.prior_probabilities.items()}
        self._state_codes = {vid: {st: i for i, st in enumerate(v.states)} for vid, v in self.variables.items()}
        self._names = {c: self.condition_name(c) for c in self.conditions}
        self._rank = {c: i for i, c in enumerate(self.conditions)}
        self.reasoner = Reasoner(self)

    @cached_property
    def network(self):
        """The reference pgmpy ``DiscreteBayesianNetwork``, built (and pgmpy imported, ~2 s) on
        first use: serving and scoring run on the compiled engine and never need it."""
        from .network import build_network

        return build_network(self.priors, self.parameters)

    # ------------------------------------------------------------------ description
    @property
    def version(self) -> str:
        """Hash of the priors' content: every result names the exact priors it came from."""
        return self.priors.version

    @property
    def name(self) -> str:
        return MODEL_NAME

    @cached_property
    def conditions(self) -> list[str]:
        return list(self.priors.conditions)

    def condition_name(self, cid: str) -> str:
        return self.priors.conditions[cid].name

    @property
    def variables(self) -> dict[str, Variable]:
        """Every evidence variable (risk factors, then findings) with states, question, group."""
        return self.vocabulary.variables

    def describe(self) -> dict[str, Any]:
        """What the model knows, as plain data (the body of ``GET /v1/model``); priors rounded to
        ``API_DECIMALS`` like every probability the API sends (exact: ``prior_probabilities``)."""
        return {
            "model": {"name": MODEL_NAME, "version": self.version},
            "population": self.priors.population,
            **({} if (age := self.priors.population_age) is None else {"population_age_range": {
                "min": age.min, "max": age.max, "unit": "years", "basis": age.basis, "reason": age.reason}}),
            "conditions": [
                {"id": c, "name": self.condition_name(c), "prior": round(float(self.prior_probabilities[c]), API_DECIMALS)}
                for c in self.conditions
            ],
            "variables": [v.to_dict() for v in self.variables.values()],
            "aliases": dict(self.vocabulary.aliases),
        }

    # ------------------------------------------------------------------ inference
    def parse_evidence(self, evidence: Mapping[str, Any]) -> dict[str, str]:
        """Evidence as understood (binned, spellings resolved); raises :class:`EvidenceError`."""
        return self.vocabulary.parse(evidence)

    def parse_evidence_partial(self, evidence: Mapping[str, Any]) -> tuple[dict[str, str], list[EvidenceError]]:
        """Whatever can be read of a case: (parsed evidence, one :class:`EvidenceError` per answer
        that cannot be read); see :meth:`Vocabulary.parse_partial`. Never raises for a bad answer."""
        return self.vocabulary.parse_partial(evidence)

    def screen(self, evidence: Mapping[str, Any]) -> Screening:
        """What can be said safely of a case whose answers cannot all be read (or that is refused):
        the red flags among the readable answers, the population check, and the triage those alone
        give (no posterior; level None when nothing fired). The same rules and levels as
        :meth:`score` gives an unreadable row, so every channel agrees on a refused case.

        Returns a :class:`Screening` (``parsed``, ``errors``, ``triage``, ``outside_population``);
        ``errors`` is empty when every answer could be read. Raises :class:`EvidenceError` only
        when ``evidence`` is not a mapping."""
        parsed, errors = self.parse_evidence_partial(evidence)
        outside = self.population.check(evidence)
        triage = self.triage_rules.assess(parsed, None, outside)
        return Screening(parsed, tuple(errors), triage, outside)

    def screen_pairs(self, pairs: list[tuple[str, Any]]) -> Screening:
        """:meth:`screen` for answers given as (field, value) pairs in which a field may repeat (a
        refused JSON object with a duplicate key): the case is screened as given (last value) and
        with each value of each pair in turn; the most severe screening is returned, carrying the
        red flags of every variant (so ``fever: present`` is surfaced whichever value came last)."""
        from dataclasses import replace

        from .reasoning.triage import SEVERITY

        base = dict(pairs)
        screens = [self.screen(base)] + [self.screen({**base, k: v}) for k, v in pairs]
        worst = min(screens, key=lambda sc: SEVERITY.get(sc.triage.level, len(SEVERITY)))  # type: ignore[arg-type]
        flags = {f.id: f for sc in screens for f in sc.triage.red_flags}
        ordered = tuple(sorted(flags.values(), key=lambda f: self.triage_rules.rule_rank[f.id]))
        return replace(worst, triage=replace(worst.triage, red_flags=ordered))

    def codes(self, evidence: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray]:
        """Engine codes (1, n_rf), (1, n_findings) for parsed evidence."""
        codes = self._state_codes
        rf = np.array([[-1 if (s := evidence.get(v)) is None else codes[v][s] for v in self.risk_factor_ids]])
        fd = np.array([[-1 if (s := evidence.get(v)) is None else codes[v][s] for v in self.finding_ids]])
        return rf, fd

    def infer(self, evidence_rows: list[Mapping[str, str]], joint: bool = False) -> EngineResult:
        """Exact posteriors for several parsed evidence dicts at once (one engine call)."""
        rf = np.full((len(evidence_rows), len(self.risk_factor_ids)), -1, dtype=np.int64)
        fd = np.full((len(evidence_rows), len(self.finding_ids)), -1, dtype=np.int64)
        for i, ev in enumerate(evidence_rows):
            rf[i], fd[i] = (a[0] for a in self.codes(ev))
        return self.engine.posterior(rf, fd, joint=joint)

    def posterior(self, evidence: Mapping[str, Any]) -> dict[str, float]:
        """P(condition present | evidence) for every condition (no triage, no reasoning)."""
        parsed = self.parse_evidence(evidence)
        result = self.infer([parsed])
        _raise_if_impossible(result)
        return dict(zip(self.conditions, map(float, result.marginals[0]), strict=True))

    def diagnose(self, evidence: Mapping[str, Any], reasoning: bool = True) -> Diagnosis:
        """Posterior of every condition, most probable first, with triage and red flags; and,
        unless ``reasoning=False``, why (effects), how sure (intervals) and what to ask next."""
        parsed = self.parse_evidence(evidence)
        outside = self.population.check(evidence)
        # The case's own tables serve the posterior, the explanations, the effects and the next
        # questions (the same numbers as the engine's row, to rounding: tested).
        variants = self.reasoner.variants(parsed)
        result = variants.base()
        _raise_if_impossible(result)
        point = result.marginals[0]
        posterior = dict(zip(self.conditions, point.tolist(), strict=True))
        explanations = self._explanations(result.joint[0])
        if not reasoning:
            return self._diagnosis(parsed, posterior, outside=outside, explanations=explanations)
        intervals, info = self.reasoner.intervals(parsed, point, variants=variants)
        questions, should_stop = self.reasoner.next_questions(parsed, point, variants=variants)
        info = {"should_stop": should_stop, **info}
        effects = self.reasoner.effects(parsed, point, variants=variants)
        return self._diagnosis(parsed, posterior, intervals=intervals, effects=effects,
                               next_questions=questions, extras={"reasoning": info},
                               outside=outside, explanations=explanations)

    def _explanations(self, joint: np.ndarray) -> list[dict[str, Any]]:
        """Top joint states of the conditions (the differential), from the posterior joint."""
        present, n_present = self._present_sets
        return top_explanations(joint, self.engine.configs, self.conditions, present=present, n_present=n_present)

    @cached_property
    def _present_sets(self) -> tuple[list[tuple[str, ...]], np.ndarray]:
        return present_sets(self.engine.configs, self.conditions)

    def explanations(self, evidence: Mapping[str, Any], top: int = 5) -> list[dict[str, Any]]:
        """The ``top`` most probable sets of present conditions given ``evidence``, each with its
        posterior probability (the first is the MAP state); raises :class:`EvidenceError`."""
        result = self.infer([self.parse_evidence(evidence)], joint=True)
        _raise_if_impossible(result)
        return top_explanations(result.joint[0], self.engine.configs, self.conditions, top)

    def sensitivity(self, evidence: Mapping[str, Any], condition: str) -> pd.DataFrame:
        """Which priors move ``condition``'s posterior most for this case (tornado-plot data)."""
        return self.reasoner.sensitivity(evidence, condition)

    def likelihood_ratios(self, evidence: Mapping[str, Any]) -> pd.DataFrame:
        """Each answer's effect and Bayes factor on each condition, as a long table."""
        return self.reasoner.likelihood_ratios(evidence)

    def _diagnosis(self, parsed: dict[str, str], posterior: dict[str, float], **reasoning: Any) -> Diagnosis:
        intervals = reasoning.get("intervals") or {}
        effects = reasoning.get("effects") or {}
        names, priors = self._names, self._prior_floats
        results = [ConditionResult(c, names[c], posterior[c], priors[c], intervals.get(c), effects.get(c))
                   for c in self.conditions]
        rank = self._rank
        results.sort(key=lambda r: (-r.probability, rank[r.id]))  # ties: the fixed condition order of the priors
        outside = reasoning.get("outside")
        return Diagnosis(MODEL_NAME, self.version, results, self.triage_rules.assess(parsed, posterior, outside), parsed,
                         reasoning.get("next_questions"), reasoning.get("extras") or {}, outside,
                         reasoning.get("explanations"))

    def score(self, df: pd.DataFrame) -> pd.DataFrame:
        """Score every row of a table of answers (columns named by variable id or alias).

        Returns a frame with the same index: ``p_<condition>`` for every condition, then
        ``triage`` (level; None when nothing was answered, or when the row could not be scored and
        no red flag fired), ``red_flags`` (ids, '; '-joined), ``error``, ``outside_population``
        (the reason, or None), ``provisional`` (bool), ``open_questions`` (variable ids,
        '; '-joined) and ``triage_reasons`` (rule ids, '; '-joined, the first set the level): the
        same rules as :meth:`diagnose`. Empty cells, None, NaN and ``pandas.NA`` are 'not
        answered'. A row whose answers cannot be read, or are impossible under the model, keeps
        empty posteriors and says why in ``error``; red flags in its readable answers and the
        population check still set its triage (as :meth:`screen` does for one case).
        """
        codes, errors = self.vocabulary.encode_frame(df, self.evidence_order)
        n_rf = len(self.risk_factor_ids)
        ok = np.array([e is None for e in errors], dtype=bool)
        marg = np.full((len(df), len(self.conditions)), np.nan)
        if ok.any():
            res = self.engine.posterior(codes[ok, :n_rf], codes[ok, n_rf:])
            marg[ok] = res.marginals
            impossible = np.nonzero(ok)[0][res.impossible]
            for i in impossible:
                errors[i] = "evidence has probability zero under the model (contradictory answers)"
                marg[i] = np.nan
        states = {v: self.variables[v].states for v in self.evidence_order}
        age_field = self.population.age_field
        ages = df[age_field] if age_field is not None and age_field in df.columns else None
        below, above = self.population.check_column(ages, len(df))
        t = self.triage_rules.assess_table(codes, self.evidence_order, states, marg, self.conditions, below, above)
        out = pd.DataFrame(marg, columns=[f"p_{c}" for c in self.conditions], index=df.index)
        out["triage"] = pd.Series(t.level, index=df.index, dtype="object")
        out["red_flags"] = pd.Series(t.red_flags, index=df.index, dtype="object")
        out["error"] = pd.Series(errors, index=df.index, dtype="object")
        outside = np.full(len(df), None, dtype=object)
        reasons = self.population.reasons()
        if reasons is not None:
            outside[below] = reasons[0].reason
            outside[above] = reasons[1].reason
        out["outside_population"] = pd.Series(outside, index=df.index, dtype="object")
        out["provisional"] = pd.Series(t.provisional, index=df.index, dtype=bool)
        out["open_questions"] = pd.Series(t.open_questions, index=df.index, dtype="object")
        out["triage_reasons"] = pd.Series(t.reasons, index=df.index, dtype="object")
        return out


def _raise_if_impossible(result: EngineResult | VariantResult) -> None:
    if result.impossible.any():
        raise EvidenceError("evidence", "these answers have probability zero under the model (contradictory)", code="impossible")


_CACHE: dict[str, HipModel] = {}


def load_model(path: str | Path | None = None) -> HipModel:
    """The model for the priors in ``path`` (the bundled priors by default).

    Loaded models are cached per priors version, so repeated calls in one process are free.
    """
    priors = load_priors(path)
    key = f"{priors.directory.resolve()}:{priors.version}"
    if key not in _CACHE:
        _CACHE[key] = HipModel(priors)
    return _CACHE[key]
