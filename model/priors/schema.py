"""The structure of each priors file (pydantic models; an unknown key is refused), and parsing raw
YAML data against it with every problem collected. Meaning (known ids and states, the verbal
scale, sums) is checked afterwards, in :mod:`.scale` and :mod:`.validate`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from .problems import Problems
from .records import BINARY_STATES


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


def parse_file(model: type[BaseModel], data: Any, file: str, problems: Problems) -> Any:
    """``data`` (one file's YAML) as an instance of ``model``; ``None`` when it does not fit, with
    every mismatch added to ``problems`` under its dotted key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            problems.add(file, key, err["msg"])
        return None
