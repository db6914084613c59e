"""Tables behind the notebooks: base rates by subgroup, training relative risks, how a diagnosis
moves as questions are answered, and calibration. Plain data (pandas), no plotting.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .hipmodel import HipModel

TRAINING_FACTORS = ("rest_days", "training_hours", "strength_training")


def network_layers(m: HipModel) -> dict[str, str]:
    """Each node of ``m.network`` and its layer: ``risk_factor``, ``condition`` or ``finding``."""
    layers = {v: "risk_factor" for v in m.priors.risk_factors}
    layers.update({c: "condition" for c in m.priors.conditions})
    layers.update({f: "finding" for f in m.priors.findings})
    return layers


def base_rates(m: HipModel, by: Sequence[str] = ("age_band", "sex")) -> pd.DataFrame:
    """P(condition present | each combination of the states of ``by``), computed by pgmpy's
    ``VariableElimination`` on the reference network. Long format: the ``by`` columns,
    ``condition``, ``probability``."""
    from pgmpy.inference import VariableElimination

    ve = VariableElimination(m.network)
    rows = []
    for combo in itertools.product(*(m.variables[v].states for v in by)):
        evidence = dict(zip(by, combo, strict=True))
        for c in m.conditions:
            factor = ve.query([c], evidence=evidence, show_progress=False)
            rows.append({**evidence, "condition": c, "probability": float(factor.get_value(**{c: "present"}))})
    return pd.DataFrame(rows)


def training_relative_risks(m: HipModel, factors: Sequence[str] = TRAINING_FACTORS) -> pd.DataFrame:
    """Every relative risk that a training factor has on a condition: the cited value and range,
    and the relative risk the network actually implies, P(c | state) / P(c | reference) with
    nothing else known (pgmpy). The two differ only where the probability cap bites."""
    from pgmpy.inference import VariableElimination

    ve = VariableElimination(m.network)

    def p(c: str, factor: str, state: str) -> float:
        return float(ve.query([c], evidence={factor: state}, show_progress=False).get_value(**{c: "present"}))

    rows = []
    for cid, cond in m.priors.conditions.items():
        for eff in cond.effects:
            if eff.factor not in factors:
                continue
            for state, prior in eff.relative_risk.items():
                rows.append({
                    "factor": eff.factor, "state": state, "reference": eff.reference, "condition": cid,
                    "relative_risk": prior.value, "low": prior.low, "high": prior.high, "kind": prior.kind,
                    "source": prior.source or "", "quote": prior.quote or prior.reason or "",
                    "model_relative_risk": p(cid, eff.factor, state) / p(cid, eff.factor, eff.reference),
                })
    return pd.DataFrame(rows)


def predictive(m: HipModel, evidence: Mapping[str, Any], variable: str) -> dict[str, float]:
    """P(variable = each state | evidence): how the model expects an unanswered question to go."""
    parsed = m.parse_evidence(evidence)
    states = m.variables[variable].states
    res = m.infer([parsed] + [{**parsed, variable: s} for s in states])
    p = np.exp(res.log_evidence[1:] - res.log_evidence[0])
    return dict(zip(states, map(float, p / p.sum()), strict=True))


def answer_trajectory(m: HipModel, evidence: Mapping[str, Any], answers: Mapping[str, str],
                      max_steps: int = 8) -> pd.DataFrame:
    """Ask the model's top next question, answer it, and repeat.

    Answers come from ``answers`` (the runner's script); a question the script does not cover is
    answered with the model's own most probable answer (``scripted`` is False on that step).
    Stops after ``max_steps`` answers or when the model says nothing is worth asking. One row per
    step (step 0 is the starting evidence): ``asked``, ``answer``, ``scripted``,
    ``expected_information_gain``, ``triage``, ``should_stop``, then one column per condition.
    """
    ev = dict(m.parse_evidence(evidence))
    rows = []
    asked: str | None = None
    answer: str | None = None
    scripted: bool | None = None
    gain = np.nan
    for step in range(max_steps + 1):
        d = m.diagnose(ev).to_dict(decimals=None)  # exact values for analysis
        stop = bool(d["reasoning"]["should_stop"]) or not d["next_questions"]
        rows.append({
            "step": step, "asked": asked, "answer": answer, "scripted": scripted, "expected_information_gain": gain,
            "triage": d["triage"]["level"], "should_stop": stop,
            **{c["id"]: c["probability"] for c in d["conditions"]},
        })
        if stop or step == max_steps:
            break
        q = d["next_questions"][0]
        asked, gain = q["variable"], q["expected_information_gain"]
        scripted = asked in answers
        answer = answers[asked] if scripted else max(predictive(m, ev, asked).items(), key=lambda kv: kv[1])[0]
        ev[asked] = answer
    frame = pd.DataFrame(rows)
    return frame[["step", "asked", "answer", "scripted", "expected_information_gain", "triage", "should_stop",
                  *m.conditions]]


def reliability(predicted: Sequence[float], observed: Sequence[float], bins: int = 10,
                strategy: str = "quantile") -> pd.DataFrame:
    """Reliability-diagram table: mean predicted probability against observed frequency per bin.

    ``strategy="quantile"`` makes bins of equal size (deciles of the predictions; ties can merge
    bins), ``"uniform"`` equal-width bins on [0, 1]. Rows with a missing prediction or outcome are
    left out. Columns: ``bin``, ``n``, ``mean_predicted``, ``observed``, ``stderr`` (binomial
    standard error of the observed frequency).
    """
    frame = pd.DataFrame({"p": np.asarray(predicted, dtype=float), "y": np.asarray(observed, dtype=float)}).dropna()
    if frame.empty:
        return pd.DataFrame(columns=["bin", "n", "mean_predicted", "observed", "stderr"])
    if strategy == "quantile":
        ranks = frame["p"].rank(method="first")
        codes = pd.qcut(ranks, q=min(bins, len(frame)), labels=False)
    elif strategy == "uniform":
        codes = np.minimum((frame["p"] * bins).astype(int), bins - 1)
    else:
        raise ValueError(f"unknown strategy {strategy!r}; allowed: quantile, uniform")
    g = frame.groupby(codes)
    out = pd.DataFrame({"n": g.size(), "mean_predicted": g["p"].mean(), "observed": g["y"].mean()})
    out["stderr"] = np.sqrt(out["observed"] * (1 - out["observed"]) / out["n"])
    return out.rename_axis("bin").reset_index()


def calibration_summary(predicted: pd.DataFrame, truth: pd.DataFrame, conditions: Sequence[str]) -> pd.DataFrame:
    """Per condition: mean predicted, observed prevalence, Brier score and that of always
    predicting the prevalence. ``predicted`` has ``p_<condition>`` columns, ``truth`` has
    ``true_<condition>`` 0/1 columns (same index)."""
    rows = []
    for c in conditions:
        pair = pd.DataFrame({"p": predicted[f"p_{c}"], "y": truth[f"true_{c}"]}).dropna()
        prevalence = float(pair["y"].mean())
        rows.append({
            "condition": c, "n": len(pair), "mean_predicted": float(pair["p"].mean()), "observed": prevalence,
            "brier": float(((pair["p"] - pair["y"]) ** 2).mean()),
            "brier_prevalence_only": float(((prevalence - pair["y"]) ** 2).mean()),
        })
    return pd.DataFrame(rows)
