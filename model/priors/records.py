"""The validated priors as frozen dataclasses: what the rest of the model reads.

Every number is a :class:`Prior` (value, range and provenance); :class:`Priors` holds them all.
Also the state names, triage levels and limits the network is built on, and the groups of
findings linked by ``depends_on``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BINARY_STATES = ("present", "absent")
CONDITION_STATES = ("present", "absent")
TRIAGE_LEVELS = ("emergency", "urgent", "see_clinician", "self_care")
RISK_CAP = 0.98  # ceiling on a risk-factor-scaled probability (see model.parameters)


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


def connected_components(nodes: Sequence[str], links: Mapping[str, Iterable[str]],
                         order: Sequence[str] | None = None) -> list[list[str]]:
    """Connected components of ``nodes`` joined by ``links`` (node -> the nodes it is linked to;
    links to anything outside ``nodes`` are ignored), each listed in ``order`` (default: the order
    of ``nodes``), the components in the order of their first member. Read by the priors'
    dependent findings and by the compiled network's finding and condition groups."""
    root = {n: n for n in nodes}

    def find(n: str) -> str:
        while root[n] != n:
            n = root[n]
        return n

    for n in nodes:
        for other in links.get(n, ()):
            if other in root:
                root[find(n)] = find(other)
    groups: dict[str, list[str]] = {}
    for n in nodes if order is None else order:
        groups.setdefault(find(n), []).append(n)
    return list(groups.values())


def dependent_groups(findings: dict[str, Finding]) -> list[list[str]]:
    """Findings linked by ``depends_on`` arcs (connected components), each in file order
    (parents before children); a finding with no arcs is a group of one."""
    return connected_components(list(findings), {fid: fd.depends_on for fid, fd in findings.items()})
