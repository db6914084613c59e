"""Write small priors directories in the real priors format, for tests on toy networks.

A spec is plain data::

    {"risk_factors": {"r0": {"states": ["a", "b"], "probs": [0.3, 0.7]}},
     "conditions": {"c0": {"base_rate": 0.2, "effects": {"r0": {"reference": "a", "rr": {"b": 2.0}}},
                           "caused_by": {}}},
     "findings": {"f0": {"leak": 0.05, "causes": {"c0": 0.8}},
                  "f1": {"leak": 0.1, "causes": {}, "depends_on": {"f0": 0.6}, "argues_against": {"c0": 0.5}}},
     "posterior_rules": []}

Every number is written as an assumption (with a reason and a range), so the files pass the
same validation as the bundled priors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SCALE = {
    "name": "test scale",
    "anchors": {"probable": {"value": 0.85, "range": [0.7, 0.95]}, "uncertain": {"value": 0.25, "range": [0.1, 0.45]}},
    "words": {"usually": "probable", "can": "uncertain"},
}


def _assume(value: float, probability: bool = True, spread: float = 0.5) -> dict[str, Any]:
    if probability:
        low, high = max(0.0, value * (1 - spread)), min(1.0, value + (1 - value) * spread)
    else:
        low, high = value * (1 - spread), value * (1 + spread)
    return {"value": float(value), "kind": "assumption", "reason": "toy network for tests", "range": [low, high]}


def write_priors(directory: Path, spec: dict[str, Any], spread: float = 0.5) -> Path:
    """Write the five priors files for ``spec`` into ``directory``; returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rfs = {
        rid: {
            "group": "demographics", "question": f"{rid}?", "states": list(r["states"]),
            "distribution": {s: _assume(p, spread=spread) for s, p in zip(r["states"], r["probs"], strict=True)},
        }
        for rid, r in spec["risk_factors"].items()
    }
    conds = {}
    for cid, c in spec["conditions"].items():
        entry: dict[str, Any] = {"name": cid.upper(), "base_rate": _assume(c["base_rate"], spread=spread)}
        if c.get("effects"):
            entry["risk_factors"] = {
                f: {"reference": e["reference"], "relative_risk": {s: _assume(v, False, spread) for s, v in e["rr"].items()}}
                for f, e in c["effects"].items()
            }
        if c.get("caused_by"):
            entry["caused_by"] = {p: _assume(v, spread=spread) for p, v in c["caused_by"].items()}
        conds[cid] = entry
    finds = {
        fid: {
            "group": "signs", "question": f"{fid}?", "leak": _assume(f["leak"], spread=spread),
            "causes": {c: _assume(v, spread=spread) for c, v in f["causes"].items()},
            **({"states": f["states"]} if "states" in f else {}),
            **({"depends_on": {o: _assume(v, spread=spread) for o, v in f["depends_on"].items()}} if f.get("depends_on") else {}),
            **({"argues_against": {c: _assume(v, spread=spread) for c, v in f["argues_against"].items()}}
               if f.get("argues_against") else {}),
        }
        for fid, f in spec["findings"].items()
    }
    rules = [
        {"id": f"rule_{r['condition']}", "condition": r["condition"], "threshold": _assume(r["threshold"], spread=spread),
         "level": "urgent", "reason": "toy", "source": "001_836542559a107186.txt", "quote": "toy"}
        for r in spec.get("posterior_rules", [])
    ]
    files = {
        "scale.yaml": SCALE,
        "risk_factors.yaml": {"risk_factors": rfs},
        "conditions.yaml": {"population": {"description": "toy population"}, "conditions": conds},
        "findings.yaml": {"findings": finds},
        "red_flags.yaml": {
            "levels": ["emergency", "urgent", "see_clinician", "self_care"],
            "finding_rules": spec.get("finding_rules", []),
            "posterior_rules": rules,
            "likely_injury_threshold": _assume(0.5, spread=spread),
        },
    }
    for name, data in files.items():
        (directory / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return directory
