"""Check the meaning of each priors file and resolve it into :mod:`.records`: ids and states that
exist, distributions that sum to 1, no cycle among conditions, small groups of dependent findings,
red-flag rules that name real findings. Every problem is collected with its file and key."""

from __future__ import annotations

import difflib

from .problems import Problems
from .records import (
    MAX_DEPENDENT_GROUP,
    TRIAGE_LEVELS,
    AgeRange,
    Condition,
    Effect,
    Finding,
    FindingRule,
    Numeric,
    PosteriorRule,
    Prior,
    RiskFactor,
    dependent_groups,
)
from .scale import SOURCE_NAME, PriorResolver
from .schema import RawAgeRange, RawConditions, RawEffect, RawFindings, RawRedFlags, RawRiskFactors


def _suggest(name: str, options: list[str] | tuple[str, ...]) -> str:
    """' (did you mean ...?)' naming the closest allowed option, or an empty string."""
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def resolve_age_range(raw: RawAgeRange | None, p: Problems) -> AgeRange | None:
    """``population.age_range`` of conditions.yaml (``None`` when absent); raises at once when invalid."""
    if raw is None:
        return None
    if not raw.min < raw.max:
        p.add("conditions.yaml", "population.age_range", f"min {raw.min:g} must be below max {raw.max:g}")
        p.raise_if_any()
    if raw.source is not None and not SOURCE_NAME.match(raw.source):
        p.add("conditions.yaml", "population.age_range.source", f"source {raw.source!r} is not a source file name")
        p.raise_if_any()
    return AgeRange(raw.min, raw.max, raw.basis, raw.reason.strip(), raw.source, raw.quote)


def resolve_risk_factors(raw: RawRiskFactors, res: PriorResolver, p: Problems) -> dict[str, RiskFactor]:
    """risk_factors.yaml by id: distinct states, a distribution over exactly them summing to 1, and
    numeric cut points (one fewer than the states, increasing, inside min and max)."""
    f = "risk_factors.yaml"
    out: dict[str, RiskFactor] = {}
    for rid, rf in raw.risk_factors.items():
        key = f"risk_factors.{rid}"
        if len(set(rf.states)) != len(rf.states) or len(rf.states) < 2:
            p.add(f, f"{key}.states", "needs at least two distinct states")
        dist: dict[str, Prior] = {}
        for state, entry in rf.distribution.items():
            if state not in rf.states:
                p.add(f, f"{key}.distribution.{state}", f"unknown state {state!r} (allowed: {', '.join(rf.states)}){_suggest(state, rf.states)}")
            dist[state] = res.prior(entry, f, f"{key}.distribution.{state}")
        missing = [s for s in rf.states if s not in rf.distribution]
        if missing:
            p.add(f, f"{key}.distribution", f"no probability for state(s) {', '.join(missing)}")
        total = sum(d.value for d in dist.values())
        if abs(total - 1.0) > 1e-6:
            p.add(f, f"{key}.distribution", f"probabilities sum to {total:.6g}, not 1")
        numeric = None
        if rf.numeric:
            n = rf.numeric
            if len(n.cut_points) != len(rf.states) - 1:
                p.add(f, f"{key}.numeric.cut_points", f"needs {len(rf.states) - 1} cut points for {len(rf.states)} states")
            if sorted(n.cut_points) != n.cut_points or not all(n.min < c < n.max for c in n.cut_points):
                p.add(f, f"{key}.numeric.cut_points", f"must be increasing and strictly between min {n.min} and max {n.max}")
            numeric = Numeric(n.field, n.unit, n.min, n.max, tuple(n.cut_points), n.closed)
        out[rid] = RiskFactor(rid, rf.group, rf.question, tuple(rf.states), dist, numeric)
    return out


def _resolve_effect(
    raw: RawEffect, factor: str, risk_factors: dict[str, RiskFactor], res: PriorResolver, p: Problems, file: str, key: str
) -> Effect | None:
    if factor not in risk_factors:
        p.add(file, key, f"unknown risk factor {factor!r} (allowed: {', '.join(risk_factors)}){_suggest(factor, list(risk_factors))}")
        return None
    states = risk_factors[factor].states
    if raw.reference not in states:
        p.add(file, f"{key}.reference", f"unknown state {raw.reference!r} of {factor} (allowed: {', '.join(states)}){_suggest(raw.reference, states)}")
    rr: dict[str, Prior] = {}
    for state, entry in raw.relative_risk.items():
        if state not in states:
            p.add(file, f"{key}.relative_risk.{state}", f"unknown state {state!r} of {factor} (allowed: {', '.join(states)}){_suggest(state, states)}")
        elif state == raw.reference:
            p.add(file, f"{key}.relative_risk.{state}", "the reference state has relative risk 1 by definition; remove it")
        rr[state] = res.prior(entry, file, f"{key}.relative_risk.{state}", probability=False)
    missing = [s for s in states if s != raw.reference and s not in raw.relative_risk]
    if missing:
        p.add(file, f"{key}.relative_risk", f"no relative risk for state(s) {', '.join(missing)} (give 1.0 for no effect)")
    return Effect(factor, raw.reference, rr)


def resolve_conditions(
    raw: RawConditions, risk_factors: dict[str, RiskFactor], res: PriorResolver, p: Problems
) -> tuple[dict[str, Condition], list[Prior]]:
    """conditions.yaml by id, and the population-level priors (``extra_priors``): known risk factors
    and states in every effect, shared overuse effects given once, ``caused_by`` naming known
    conditions without a cycle."""
    f = "conditions.yaml"
    extra: list[Prior] = []
    if raw.population.hip_share_of_runner_injuries is not None:
        extra.append(res.prior(raw.population.hip_share_of_runner_injuries, f, "population.hip_share_of_runner_injuries"))
    shared: dict[str, Effect] = {}  # resolved once: every overuse condition uses the same priors
    for factor, eff in raw.overuse_risk_factors.items():
        e = _resolve_effect(eff, factor, risk_factors, res, p, f, f"overuse_risk_factors.{factor}")
        if e:
            shared[factor] = e
    out: dict[str, Condition] = {}
    for cid, c in raw.conditions.items():
        key = f"conditions.{cid}"
        if cid in risk_factors:
            p.add(f, key, f"id {cid!r} is already a risk factor")
        effects: list[Effect] = []
        own = dict(c.risk_factors)
        if c.overuse:
            for factor, e in shared.items():
                if factor in own:
                    p.add(f, f"{key}.risk_factors.{factor}", "also given under overuse_risk_factors; give it once")
                effects.append(e)
        for factor, eff in own.items():
            e = _resolve_effect(eff, factor, risk_factors, res, p, f, f"{key}.risk_factors.{factor}")
            if e:
                effects.append(e)
        caused_by = {
            parent: res.prior(entry, f, f"{key}.caused_by.{parent}") for parent, entry in c.caused_by.items()
        }
        out[cid] = Condition(
            id=cid, name=c.name, base_rate=res.prior(c.base_rate, f, f"{key}.base_rate"), effects=tuple(effects),
            caused_by=caused_by, overuse=c.overuse.model_dump() if c.overuse else None,
        )
    for cid, c in out.items():
        for parent in c.caused_by:
            if parent not in out:
                p.add(f, f"conditions.{cid}.caused_by.{parent}", f"unknown condition {parent!r} (allowed: {', '.join(out)}){_suggest(parent, list(out))}")
    cycle = _find_cycle({cid: list(c.caused_by) for cid, c in out.items()})
    if cycle:
        p.add(f, f"conditions.{cycle[0]}.caused_by", f"cycle among conditions: {' -> '.join(cycle)}")
    return out, extra


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """Return one cycle (as a closed path) in a parent graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for n in graph:
        if state.get(n) is None:
            found = visit(n)
            if found:
                return found
    return None


def resolve_findings(
    raw: RawFindings, conditions: dict[str, Condition], risk_factors: dict[str, RiskFactor], res: PriorResolver, p: Problems
) -> dict[str, Finding]:
    """findings.yaml by id: two states, causes and ``argues_against`` naming known conditions (never
    both), ``depends_on`` naming earlier findings in groups of at most MAX_DEPENDENT_GROUP, and every
    condition caused by some finding."""
    f = "findings.yaml"
    out: dict[str, Finding] = {}
    for fid, fd in raw.findings.items():
        key = f"findings.{fid}"
        if fid in conditions or fid in risk_factors:
            p.add(f, key, f"id {fid!r} is already a condition or risk factor")
        if len(fd.states) != 2 or len(set(fd.states)) != 2:
            p.add(f, f"{key}.states", "a finding has exactly two distinct states: the first is the one its causes produce")
        causes: dict[str, Prior] = {}
        for cid, entry in fd.causes.items():
            if cid not in conditions:
                p.add(f, f"{key}.causes.{cid}", f"unknown condition {cid!r} (allowed: {', '.join(conditions)}){_suggest(cid, list(conditions))}")
            causes[cid] = res.prior(entry, f, f"{key}.causes.{cid}")
        depends: dict[str, Prior] = {}
        for other, entry in fd.depends_on.items():
            if other not in out:
                p.add(f, f"{key}.depends_on.{other}",
                      f"{other!r} must be a finding listed earlier in findings.yaml (allowed: {', '.join(out) or 'none'})")
            depends[other] = res.prior(entry, f, f"{key}.depends_on.{other}")
        against: dict[str, Prior] = {}
        for cid, entry in fd.argues_against.items():
            if cid not in conditions:
                p.add(f, f"{key}.argues_against.{cid}", f"unknown condition {cid!r} (allowed: {', '.join(conditions)}){_suggest(cid, list(conditions))}")
            elif cid in fd.causes:
                p.add(f, f"{key}.argues_against.{cid}", f"{cid!r} is also listed under causes: a condition either raises or lowers a finding")
            against[cid] = res.prior(entry, f, f"{key}.argues_against.{cid}")
        out[fid] = Finding(fid, fd.group, fd.question, tuple(fd.states), res.prior(fd.leak, f, f"{key}.leak"), causes,
                           depends, against)
    for group in dependent_groups(out):
        if len(group) > MAX_DEPENDENT_GROUP:
            p.add(f, f"findings.{group[-1]}.depends_on",
                  f"findings linked by depends_on form a group of {len(group)} ({', '.join(group)}); at most {MAX_DEPENDENT_GROUP} allowed")
    for cid in conditions:
        if not any(cid in fd.causes for fd in out.values()):
            p.add("conditions.yaml", f"conditions.{cid}", "condition has no findings: no finding in findings.yaml lists it under `causes`")
    return out


def resolve_red_flags(
    raw: RawRedFlags, findings: dict[str, Finding], conditions: dict[str, Condition], res: PriorResolver, p: Problems
) -> tuple[tuple[FindingRule, ...], tuple[PosteriorRule, ...], Prior]:
    """red_flags.yaml: the four triage levels in order, rules naming known findings, states and
    conditions, and the likely-injury threshold."""
    f = "red_flags.yaml"
    if list(raw.levels) != list(TRIAGE_LEVELS):
        p.add(f, "levels", f"must be exactly {list(TRIAGE_LEVELS)} (most to least severe)")
    rules: list[FindingRule] = []
    for i, r in enumerate(raw.finding_rules):
        key = f"finding_rules[{i}] ({r.id})"
        for var, state in r.when.items():
            if var not in findings:
                p.add(f, f"{key}.when.{var}", f"unknown finding {var!r}{_suggest(var, list(findings))}")
            elif state not in findings[var].states:
                p.add(f, f"{key}.when.{var}", f"unknown state {state!r} (allowed: {', '.join(findings[var].states)})")
        if not SOURCE_NAME.match(r.source):
            p.add(f, f"{key}.source", f"source {r.source!r} is not a source file name")
        rules.append(FindingRule(r.id, dict(r.when), r.level, r.reason, r.source, r.quote))
    post: list[PosteriorRule] = []
    for i, r in enumerate(raw.posterior_rules):
        key = f"posterior_rules[{i}] ({r.id})"
        if r.condition not in conditions:
            p.add(f, f"{key}.condition", f"unknown condition {r.condition!r}{_suggest(r.condition, list(conditions))}")
        post.append(PosteriorRule(r.id, r.condition, res.prior(r.threshold, f, f"posterior_rules.{r.id}.threshold"), r.level, r.reason, r.source, r.quote))
    likely = res.prior(raw.likely_injury_threshold, f, "likely_injury_threshold")
    return tuple(rules), tuple(post), likely
