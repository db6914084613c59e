"""Measure the model on published cases (the format of ``vignettes/dev.yaml``).

A case is a mapping with ``id``, ``evidence`` (as :meth:`HipModel.diagnose` takes it), ``expect``
(condition ids that count as right; empty when the final diagnosis is outside the model) and,
optionally, ``top1``, ``hard``, ``triage_at_least``, ``triage_at_most``, ``outside_model``,
``final_diagnosis``, ``nearest_in_model``, ``source``. Reading the file is the caller's job
(``model`` knows no file formats); this module scores cases that are already plain data.

Figures (per case and overall):

- top-1 / top-3: an expected condition ranks first / among the first three by posterior
  (cases with a non-empty ``expect`` only);
- safe triage: the triage level is at least ``triage_at_least`` (more cautious is fine) and at
  most ``triage_at_most`` (cases with either bound only); levels are ordered
  emergency > urgent > see_clinician > self_care;
- log probability of the expected condition: ``ln max_{c in expect} P(c | evidence)``, averaged
  over the cases with a non-empty ``expect``;
- confident miss: the top condition is not expected (or the diagnosis is outside the model) and
  its posterior is 0.9 or more.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..priors import TRIAGE_LEVELS

CONFIDENT = 0.9  # a wrong top condition at this posterior or above is a confident miss
_SEVERITY = {level: len(TRIAGE_LEVELS) - 1 - i for i, level in enumerate(TRIAGE_LEVELS)}  # self_care = 0
_KEYS = {"id", "source", "evidence", "expect", "top1", "hard", "triage_at_least", "triage_at_most",
         "outside_model", "final_diagnosis", "nearest_in_model"}


class CaseError(ValueError):
    """A case that cannot be read; the message names the case and the field."""


@dataclass(frozen=True)
class CaseResult:
    """One case's figures. ``rank`` is 1-based (None when nothing is expected)."""

    id: str
    expect: list[str]
    top: list[tuple[str, float]]
    rank: int | None
    p_expected: float | None
    top1: bool | None
    top3: bool | None
    triage: str | None
    triage_bounds: tuple[str | None, str | None]
    safe_triage: bool | None
    confident_miss: bool
    textbook: bool = False
    hard: bool = False
    explanations: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def log_p_expected(self) -> float | None:
        return None if self.p_expected is None else math.log(max(self.p_expected, 1e-300))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["top"] = [{"id": c, "probability": p} for c, p in self.top]
        out["triage_bounds"] = {"at_least": self.triage_bounds[0], "at_most": self.triage_bounds[1]}
        out["log_p_expected"] = self.log_p_expected
        return out


@dataclass(frozen=True)
class Summary:
    """Overall figures: counts with their denominators."""

    cases: int
    top1: int
    top3: int
    with_expect: int
    textbook_top1: int
    textbook: int
    safe_triage: int
    with_triage: int
    mean_log_p_expected: float | None
    confident_misses: list[str]
    errors: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_cases(cases: Any, conditions: Iterable[str]) -> list[dict[str, Any]]:
    """Check the structure of a list of cases; raises :class:`CaseError` naming case and field."""
    known = set(conditions)
    if not isinstance(cases, list):
        raise CaseError("the file must hold a list of cases (a YAML sequence)")
    seen: set[str] = set()
    for i, case in enumerate(cases):
        where = f"case {i + 1}"
        if not isinstance(case, Mapping):
            raise CaseError(f"{where}: must be a mapping with at least id, evidence and expect")
        cid = case.get("id")
        if not isinstance(cid, str) or not cid:
            raise CaseError(f"{where}: field 'id' must be a non-empty string")
        where = f"case {cid}"
        if cid in seen:
            raise CaseError(f"{where}: duplicate id")
        seen.add(cid)
        unknown = set(case) - _KEYS
        if unknown:
            raise CaseError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
        if not isinstance(case.get("evidence"), Mapping):
            raise CaseError(f"{where}: field 'evidence' must be a mapping of answers")
        expect = case.get("expect")
        if not isinstance(expect, list) or any(e not in known for e in expect):
            raise CaseError(f"{where}: field 'expect' must be a list of condition ids from {sorted(known)} (may be empty)")
        for key in ("triage_at_least", "triage_at_most"):
            if case.get(key) is not None and case[key] not in TRIAGE_LEVELS:
                raise CaseError(f"{where}: field '{key}' must be one of {list(TRIAGE_LEVELS)}")
    return list(cases)


def evaluate_case(model, case: Mapping[str, Any]) -> CaseResult:
    """Diagnose one case and score it. An evidence error is recorded, not raised."""
    expect = list(case.get("expect") or [])
    bounds = (case.get("triage_at_least"), case.get("triage_at_most"))
    try:
        diagnosis = model.diagnose(case["evidence"])
    except ValueError as exc:  # EvidenceError
        return CaseResult(case["id"], expect, [], None, None, None, None, None, bounds, None, False,
                          bool(case.get("top1")), bool(case.get("hard")), error=str(exc))
    ranked = [(c.id, float(c.probability)) for c in diagnosis.conditions]
    order = [c for c, _ in ranked]
    rank = min((order.index(e) + 1 for e in expect), default=None)
    p_expected = max((p for c, p in ranked if c in expect), default=None)
    level = diagnosis.triage.level
    safe = None
    if bounds != (None, None):
        safe = level is not None
        if safe and bounds[0] is not None:
            safe = _SEVERITY[level] >= _SEVERITY[bounds[0]]
        if safe and bounds[1] is not None:
            safe = _SEVERITY[level] <= _SEVERITY[bounds[1]]
    top_id, top_p = ranked[0]
    miss = top_id not in expect and top_p >= CONFIDENT
    explanations = list(getattr(diagnosis, "explanations", None) or [])[:3]
    return CaseResult(
        case["id"], expect, ranked[:3], rank, p_expected,
        None if rank is None else rank == 1, None if rank is None else rank <= 3,
        level, bounds, safe, miss, bool(case.get("top1")), bool(case.get("hard")), explanations,
    )


def summarise(results: list[CaseResult]) -> Summary:
    """Overall counts from per-case results."""
    scored = [r for r in results if r.rank is not None or (r.expect and r.error is None)]
    logs = [r.log_p_expected for r in scored if r.log_p_expected is not None]
    with_triage = [r for r in results if r.safe_triage is not None]
    textbook = [r for r in scored if r.textbook]
    return Summary(
        cases=len(results),
        top1=sum(bool(r.top1) for r in scored),
        top3=sum(bool(r.top3) for r in scored),
        with_expect=sum(bool(r.expect) for r in results),
        textbook_top1=sum(bool(r.top1) for r in textbook),
        textbook=sum(r.textbook for r in results),
        safe_triage=sum(bool(r.safe_triage) for r in with_triage),
        with_triage=sum(r.triage_bounds != (None, None) for r in results),
        mean_log_p_expected=(sum(logs) / len(logs)) if logs else None,
        confident_misses=[r.id for r in results if r.confident_miss],
        errors=[r.id for r in results if r.error],
    )


def evaluate(model, cases: list[Mapping[str, Any]]) -> tuple[list[CaseResult], Summary]:
    """Score every case (validated first); returns per-case results and the overall summary."""
    cases = validate_cases(cases, model.conditions)
    results = [evaluate_case(model, c) for c in cases]
    return results, summarise(results)
