"""Load and validate the cited priors (``priors/*.yaml``) into plain, checked Python objects.

Every number in the priors carries its provenance: a number the articles state, a qualitative
word turned into a number through the one verbal scale, or an assumption with its reason. This
module refuses anything it cannot vouch for, with a message naming the file, the key and what is
wrong, because a silently wrong prior would quietly bias every diagnosis.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

PRIOR_FILES = ("scale.yaml", "risk_factors.yaml", "conditions.yaml", "findings.yaml", "red_flags.yaml")
BINARY_STATES = ("present", "absent")
CONDITION_STATES = ("present", "absent")
TRIAGE_LEVELS = ("emergency", "urgent", "see_clinician", "self_care")
SOURCE_NAME = re.compile(r"^\d{3}_[0-9a-f]{16}\.txt$")
RISK_CAP = 0.98  # ceiling on a risk-factor-scaled probability (see model.parameters)


class PriorsError(ValueError):
    """The priors files are missing, malformed or inconsistent; the message says where."""


# --------------------------------------------------------------------------------------------
# YAML: YAML 1.1 reads `yes`/`no` as booleans and `30_39` as the integer 3039, which would turn
# state names into something else without a word. This loader keeps them as strings.
class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        """Refuse a key given twice in one mapping: otherwise the last one silently wins."""
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_StrictLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int")]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))


def read_yaml(path: Path) -> Any:
    """Parse one YAML file with state names kept as strings."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError:
        raise PriorsError(f"{path.name}: file not found in {path.parent}") from None
    except yaml.YAMLError as exc:
        raise PriorsError(f"{path.name}: not valid YAML: {exc}") from None


# --------------------------------------------------------------------------------------------
# Raw schema (structure only; meaning is checked afterwards, where the scale and ids are known).
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=False)


class RawLearned(_Strict):
    """What ``hipdx learn`` did to a number (see ``model.learning``): the prior's value and range
    before, the posterior value and range after, and how many cases of evidence each stands for."""

    method: str
    prior_value: float
    prior_range: tuple[float, float]
    value: float
    range: tuple[float, float]
    prior_cases: float
    effective_cases: float
    data: str
    rows: int


class RawPrior(_Strict):
    kind: Literal["stated", "verbal", "assumption"]
    value: float | None = None
    word: str | None = None
    source: str | None = None
    quote: str | None = None
    reason: str | None = None
    derivation: str | None = None
    range: tuple[float, float] | None = None
    learned: RawLearned | None = None


class RawAnchor(_Strict):
    value: float
    range: tuple[float, float]


class RawScale(_Strict):
    name: str
    anchors: dict[str, RawAnchor]
    words: dict[str, str]


class RawNumeric(_Strict):
    field: str
    unit: str
    min: float
    max: float
    cut_points: list[float]
    closed: Literal["left", "right"]


class RawRiskFactor(_Strict):
    group: str
    question: str
    states: list[str]
    numeric: RawNumeric | None = None
    distribution: dict[str, RawPrior]


class RawRiskFactors(_Strict):
    risk_factors: dict[str, RawRiskFactor]


class RawEffect(_Strict):
    reference: str
    relative_risk: dict[str, RawPrior]


class RawCitation(_Strict):
    source: str
    quote: str


class RawCondition(_Strict):
    name: str
    base_rate: RawPrior
    overuse: RawCitation | None = None
    risk_factors: dict[str, RawEffect] = {}
    caused_by: dict[str, RawPrior] = {}


class RawAgeRange(_Strict):
    """The ages (years) the model speaks for: a case outside is flagged, never triaged self care."""

    min: float
    max: float
    basis: Literal["stated", "assumption"]
    reason: str
    source: str | None = None
    quote: str | None = None


class RawPopulation(_Strict):
    description: str
    age_range: RawAgeRange | None = None
    hip_share_of_runner_injuries: RawPrior | None = None


class RawConditions(_Strict):
    population: RawPopulation
    overuse_risk_factors: dict[str, RawEffect] = {}
    conditions: dict[str, RawCondition]


class RawFinding(_Strict):
    group: str
    question: str
    states: list[str] = list(BINARY_STATES)
    leak: RawPrior
    causes: dict[str, RawPrior] = {}
    depends_on: dict[str, RawPrior] = {}
    argues_against: dict[str, RawPrior] = {}


class RawFindings(_Strict):
    findings: dict[str, RawFinding]


class RawFindingRule(_Strict):
    id: str
    when: dict[str, str]
    level: Literal["emergency", "urgent", "see_clinician"]
    reason: str
    source: str
    quote: str


class RawPosteriorRule(_Strict):
    id: str
    condition: str
    threshold: RawPrior
    level: Literal["emergency", "urgent", "see_clinician"]
    reason: str
    source: str
    quote: str


class RawRedFlags(_Strict):
    levels: list[str]
    finding_rules: list[RawFindingRule]
    posterior_rules: list[RawPosteriorRule] = []
    likely_injury_threshold: RawPrior


# --------------------------------------------------------------------------------------------
# Resolved objects: what the rest of the model uses.
@dataclass(frozen=True)
class Prior:
    """One number with its provenance, resolved through the verbal scale."""

    path: str  # e.g. "findings.pain_lateral_hip.causes.gtps"
    file: str
    kind: str
    value: float
    low: float
    high: float
    is_probability: bool
    source: str | None = None
    quote: str | None = None
    word: str | None = None
    anchor: str | None = None
    reason: str | None = None
    derivation: str | None = None
    learned: dict[str, Any] | None = None  # the ``learned`` record when the value was learned from data


@dataclass(frozen=True)
class Numeric:
    """How a number (age in years, days, hours) is binned into a risk factor's states."""

    field: str
    unit: str
    min: float
    max: float
    cut_points: tuple[float, ...]
    closed: str  # "left": [a, b) bins; "right": (a, b] bins


@dataclass(frozen=True)
class RiskFactor:
    id: str
    group: str
    question: str
    states: tuple[str, ...]
    distribution: dict[str, Prior]
    numeric: Numeric | None = None


@dataclass(frozen=True)
class Effect:
    """Relative risks of a risk factor's states against its reference state, on one condition."""

    factor: str
    reference: str
    relative_risk: dict[str, Prior]


@dataclass(frozen=True)
class Condition:
    id: str
    name: str
    base_rate: Prior
    effects: tuple[Effect, ...]
    caused_by: dict[str, Prior]
    overuse: dict[str, str] | None


@dataclass(frozen=True)
class Finding:
    id: str
    group: str
    question: str
    states: tuple[str, ...]
    leak: Prior
    causes: dict[str, Prior]
    # Finding-to-finding arcs: an earlier finding in its first state acts as one more noisy-OR
    # cause of this one, with this link (P(this | only that finding, from whatever cause)).
    depends_on: dict[str, Prior] = field(default_factory=dict)
    # Inhibiting links: a present condition multiplies P(first state) by (1 - value).
    argues_against: dict[str, Prior] = field(default_factory=dict)


MAX_DEPENDENT_GROUP = 4  # findings linked by depends_on are compiled into one table over 3**size answer patterns


@dataclass(frozen=True)
class FindingRule:
    id: str
    when: dict[str, str]
    level: str
    reason: str
    source: str
    quote: str


@dataclass(frozen=True)
class PosteriorRule:
    id: str
    condition: str
    threshold: Prior
    level: str
    reason: str
    source: str
    quote: str


@dataclass(frozen=True)
class AgeRange:
    """The model's stated population ages, inclusive, in years (``population.age_range``)."""

    min: float
    max: float
    basis: str
    reason: str
    source: str | None = None
    quote: str | None = None


@dataclass(frozen=True)
class Priors:
    """Everything in ``priors/``, validated, with every number as a :class:`Prior`."""

    directory: Path
    version: str
    population: str
    scale_name: str
    scale: dict[str, tuple[float, float, float]]  # anchor -> (value, low, high)
    scale_words: dict[str, str]
    risk_factors: dict[str, RiskFactor]
    conditions: dict[str, Condition]
    findings: dict[str, Finding]
    finding_rules: tuple[FindingRule, ...]
    posterior_rules: tuple[PosteriorRule, ...]
    likely_injury_threshold: Prior
    extra_priors: tuple[Prior, ...] = field(default_factory=tuple)
    population_age: AgeRange | None = None  # None: the priors state no age range

    def all_priors(self) -> list[Prior]:
        """Every number in the priors, in file order: the table `hipdx priors` prints."""
        out: list[Prior] = []
        for rf in self.risk_factors.values():
            out.extend(rf.distribution.values())
        out.extend(self.extra_priors)
        for cond in self.conditions.values():
            out.append(cond.base_rate)
            for eff in cond.effects:
                out.extend(eff.relative_risk.values())
            out.extend(cond.caused_by.values())
        for f in self.findings.values():
            out.append(f.leak)
            out.extend(f.causes.values())
            out.extend(f.depends_on.values())
            out.extend(f.argues_against.values())
        out.extend(r.threshold for r in self.posterior_rules)
        out.append(self.likely_injury_threshold)
        return list({p.path: p for p in out}.values())  # shared priors (overuse relative risks) once


def bundled_priors_dir() -> Path:
    """The priors shipped with hipdx, wherever it is installed (editable checkout or wheel)."""
    return Path(str(resources.files("priors")))


def priors_version(directory: Path) -> str:
    """A short hash of the priors' content: every score can be traced to the exact priors."""
    digest = hashlib.sha256()
    for name in PRIOR_FILES:
        digest.update(name.encode())
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()[:12]


# --------------------------------------------------------------------------------------------
class _Problems:
    """Collects every problem found, so one load reports all of them at once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, file: str, key: str, message: str) -> None:
        self.items.append(f"{file}: {key}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            shown = "\n  ".join(self.items[:40])
            more = f"\n  ... and {len(self.items) - 40} more" if len(self.items) > 40 else ""
            raise PriorsError(f"invalid priors ({len(self.items)} problem(s)):\n  {shown}{more}")


def _parse(model: type[BaseModel], data: Any, file: str, problems: _Problems) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.add(file, key, err["msg"])
        return None


class _Resolver:
    """Turns raw prior entries into resolved :class:`Prior` objects, checking their meaning."""

    def __init__(self, scale: RawScale, problems: _Problems) -> None:
        self.scale = scale
        self.problems = problems

    def prior(self, raw: RawPrior, file: str, path: str, probability: bool = True) -> Prior:
        p = self.problems
        value, low, high, anchor = raw.value, None, None, None
        if raw.kind in ("stated", "verbal"):
            if not raw.source:
                p.add(file, path, f"a {raw.kind} prior needs `source` (the article's file name)")
            if not raw.quote:
                p.add(file, path, f"a {raw.kind} prior needs `quote` (verbatim text from its source)")
            if raw.reason and raw.kind == "stated":
                pass
        if raw.kind == "assumption":
            if not raw.reason:
                p.add(file, path, "an assumption needs `reason` (one line saying why this value)")
            if raw.quote:
                p.add(file, path, "an assumption carries `reason`, not `quote`; use kind stated or verbal for a quote")
        if raw.source and not SOURCE_NAME.match(raw.source):
            p.add(file, path, f"source {raw.source!r} is not a source file name like 001_836542559a107186.txt")
        if raw.kind == "verbal":
            if not raw.word:
                p.add(file, path, "a verbal prior needs `word`: the verbal expression, listed in scale.yaml `words`")
            elif raw.word not in self.scale.words:
                p.add(file, path, f"word {raw.word!r} is not in scale.yaml `words` (allowed: {', '.join(self.scale.words)})")
            else:
                anchor = self.scale.words[raw.word]
                a = self.scale.anchors[anchor]
                if value is not None and abs(value - a.value) > 1e-12:
                    p.add(file, path, f"value {value} differs from the scale: word {raw.word!r} -> {anchor} = {a.value}")
                value = a.value
                low, high = a.range
                if raw.quote and raw.word.lower() not in raw.quote.lower():
                    p.add(file, path, f"word {raw.word!r} does not occur in its quote")
        elif raw.word:
            p.add(file, path, f"`word` belongs to verbal priors only (this one is {raw.kind})")
        word_failed = raw.kind == "verbal" and anchor is None
        if value is None:
            if not word_failed:
                p.add(file, path, "missing `value`")
            value = 0.0
        if raw.range is not None:
            low, high = raw.range
        elif low is None:
            if not word_failed:
                p.add(file, path, f"a {raw.kind} prior needs `range: [low, high]` (its uncertainty)")
            low = high = value
        if raw.learned is not None:  # learned from data: the posterior replaces the cited value and range
            value = raw.learned.value
            low, high = raw.learned.range
        if probability and not 0.0 <= value <= 1.0:
            p.add(file, path, f"probability {value} is outside [0, 1]")
        if not probability and value <= 0:
            p.add(file, path, f"relative risk {value} must be greater than 0")
        if low > high:
            p.add(file, path, f"range [{low}, {high}] is reversed")
        elif not low - 1e-12 <= value <= high + 1e-12:
            p.add(file, path, f"range [{low}, {high}] does not contain the value {value}")
        if probability and not (0.0 <= low and high <= 1.0):
            p.add(file, path, f"range [{low}, {high}] goes outside [0, 1]")
        return Prior(
            path=path, file=file, kind=raw.kind, value=float(value), low=float(low), high=float(high),
            is_probability=probability, source=raw.source, quote=raw.quote, word=raw.word, anchor=anchor,
            reason=raw.reason, derivation=raw.derivation,
            learned=raw.learned.model_dump() if raw.learned is not None else None,
        )


def _suggest(name: str, options: list[str] | tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_priors(directory: str | Path | None = None) -> Priors:
    """Read and validate every priors file in ``directory`` (the bundled priors by default)."""
    directory = Path(directory) if directory is not None else bundled_priors_dir()
    if not directory.is_dir():
        raise PriorsError(f"priors directory not found: {directory}")
    problems = _Problems()
    raw = {name: read_yaml(directory / name) for name in PRIOR_FILES}
    scale = _parse(RawScale, raw["scale.yaml"], "scale.yaml", problems)
    rfs = _parse(RawRiskFactors, raw["risk_factors.yaml"], "risk_factors.yaml", problems)
    conds = _parse(RawConditions, raw["conditions.yaml"], "conditions.yaml", problems)
    finds = _parse(RawFindings, raw["findings.yaml"], "findings.yaml", problems)
    flags = _parse(RawRedFlags, raw["red_flags.yaml"], "red_flags.yaml", problems)
    problems.raise_if_any()

    _check_scale(scale, problems)
    problems.raise_if_any()
    res = _Resolver(scale, problems)

    risk_factors = _resolve_risk_factors(rfs, res, problems)
    conditions, extra = _resolve_conditions(conds, risk_factors, res, problems)
    findings = _resolve_findings(finds, conditions, risk_factors, res, problems)
    finding_rules, posterior_rules, likely = _resolve_red_flags(flags, findings, conditions, res, problems)
    problems.raise_if_any()

    return Priors(
        directory=directory,
        version=priors_version(directory),
        population=conds.population.description.strip(),
        scale_name=scale.name,
        scale={k: (a.value, a.range[0], a.range[1]) for k, a in scale.anchors.items()},
        scale_words=dict(scale.words),
        risk_factors=risk_factors,
        conditions=conditions,
        findings=findings,
        finding_rules=finding_rules,
        posterior_rules=posterior_rules,
        likely_injury_threshold=likely,
        extra_priors=tuple(extra),
        population_age=_age_range(conds.population.age_range, problems),
    )


def _age_range(raw: RawAgeRange | None, p: _Problems) -> AgeRange | None:
    if raw is None:
        return None
    if not raw.min < raw.max:
        p.add("conditions.yaml", "population.age_range", f"min {raw.min:g} must be below max {raw.max:g}")
        p.raise_if_any()
    if raw.source is not None and not SOURCE_NAME.match(raw.source):
        p.add("conditions.yaml", "population.age_range.source", f"source {raw.source!r} is not a source file name")
        p.raise_if_any()
    return AgeRange(raw.min, raw.max, raw.basis, raw.reason.strip(), raw.source, raw.quote)


def _check_scale(scale: RawScale, p: _Problems) -> None:
    for name, a in scale.anchors.items():
        if not 0 <= a.value <= 1:
            p.add("scale.yaml", f"anchors.{name}.value", f"probability {a.value} is outside [0, 1]")
        if not a.range[0] <= a.value <= a.range[1]:
            p.add("scale.yaml", f"anchors.{name}.range", f"range {list(a.range)} does not contain the value {a.value}")
    for word, anchor in scale.words.items():
        if anchor not in scale.anchors:
            p.add("scale.yaml", f"words.{word}", f"unknown anchor {anchor!r} (allowed: {', '.join(scale.anchors)})")


def _resolve_risk_factors(raw: RawRiskFactors, res: _Resolver, p: _Problems) -> dict[str, RiskFactor]:
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
    raw: RawEffect, factor: str, risk_factors: dict[str, RiskFactor], res: _Resolver, p: _Problems, file: str, key: str
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


def _resolve_conditions(
    raw: RawConditions, risk_factors: dict[str, RiskFactor], res: _Resolver, p: _Problems
) -> tuple[dict[str, Condition], list[Prior]]:
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


def _resolve_findings(
    raw: RawFindings, conditions: dict[str, Condition], risk_factors: dict[str, RiskFactor], res: _Resolver, p: _Problems
) -> dict[str, Finding]:
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


def dependent_groups(findings: dict[str, Finding]) -> list[list[str]]:
    """Findings linked by ``depends_on`` arcs (connected components), each in file order
    (parents before children); a finding with no arcs is a group of one."""
    root = {f: f for f in findings}

    def find(f: str) -> str:
        while root[f] != f:
            f = root[f]
        return f

    for fid, fd in findings.items():
        for other in fd.depends_on:
            if other in root:
                root[find(fid)] = find(other)
    groups: dict[str, list[str]] = {}
    for fid in findings:
        groups.setdefault(find(fid), []).append(fid)
    return list(groups.values())


def _resolve_red_flags(
    raw: RawRedFlags, findings: dict[str, Finding], conditions: dict[str, Condition], res: _Resolver, p: _Problems
) -> tuple[tuple[FindingRule, ...], tuple[PosteriorRule, ...], Prior]:
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
