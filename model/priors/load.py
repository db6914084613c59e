"""Load the priors folder: each YAML file read strictly (state names kept as strings, a key given
twice refused), parsed against :mod:`.schema`, checked by :mod:`.validate`, returned as
:class:`~.records.Priors`. Also where the bundled priors live and their version hash."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .problems import PriorsError, Problems
from .records import Priors
from .scale import PriorResolver, check_scale
from .schema import RawConditions, RawFindings, RawRedFlags, RawRiskFactors, RawScale, parse_file
from .validate import resolve_age_range, resolve_conditions, resolve_findings, resolve_red_flags, resolve_risk_factors

PRIOR_FILES = ("scale.yaml", "risk_factors.yaml", "conditions.yaml", "findings.yaml", "red_flags.yaml")


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


def load_priors(directory: str | Path | None = None) -> Priors:
    """Read and validate every priors file in ``directory`` (the bundled priors by default)."""
    directory = Path(directory) if directory is not None else bundled_priors_dir()
    if not directory.is_dir():
        raise PriorsError(f"priors directory not found: {directory}")
    problems = Problems()
    raw = {name: read_yaml(directory / name) for name in PRIOR_FILES}
    scale = parse_file(RawScale, raw["scale.yaml"], "scale.yaml", problems)
    rfs = parse_file(RawRiskFactors, raw["risk_factors.yaml"], "risk_factors.yaml", problems)
    conds = parse_file(RawConditions, raw["conditions.yaml"], "conditions.yaml", problems)
    finds = parse_file(RawFindings, raw["findings.yaml"], "findings.yaml", problems)
    flags = parse_file(RawRedFlags, raw["red_flags.yaml"], "red_flags.yaml", problems)
    problems.raise_if_any()

    check_scale(scale, problems)
    problems.raise_if_any()
    res = PriorResolver(scale, problems)

    risk_factors = resolve_risk_factors(rfs, res, problems)
    conditions, extra = resolve_conditions(conds, risk_factors, res, problems)
    findings = resolve_findings(finds, conditions, risk_factors, res, problems)
    finding_rules, posterior_rules, likely = resolve_red_flags(flags, findings, conditions, res, problems)
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
        population_age=resolve_age_range(conds.population.age_range, problems),
    )
