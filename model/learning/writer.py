"""Write a learned priors folder: the source folder's files with learned numbers recorded.

Every learned number keeps its kind, source, quote or reason and range as cited, and gains a
``learned`` record (method, the prior's value and range, the posterior value and range, the prior's
strength and the effective number of cases, what data and how many rows); the loader uses the
record's value and range (``model.priors``). Comments, order and layout of the YAML files are kept
(ruamel.yaml round trip), so ``diff -r`` against the bundled folder shows exactly what changed.
The folder is written to a temporary sibling, loaded and checked, and only then moved into place:
a failure leaves nothing behind. The source folder is never written to.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ..priors import PRIOR_FILES, Priors, PriorsError, load_priors

METHOD = "MAP-EM"  # README "Learning from confirmed diagnoses": Beta/Dirichlet/log-normal prior from value and range


def _yaml():
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    return y


def _node(doc, path: str):
    """The mapping of one prior inside a priors file's document, by its dotted path."""
    node = doc
    for part in path.split("."):
        if part not in node:
            raise PriorsError(f"cannot find {path!r} in the priors files")
        node = node[part]
    return node


def _rounded(x: float, digits: int = 6) -> float:
    return float(f"{x:.{digits}g}")


def write_learned_priors(priors: Priors, numbers: Mapping[str, object], out_dir: str | Path, data: str,
                         rows: int, min_change: float = 0.0) -> Priors:
    """Write ``priors`` to ``out_dir`` with a ``learned`` record on every number in ``numbers``.

    ``numbers`` maps a prior's path to an object with ``prior_value``, ``prior_range``, ``value``,
    ``range``, ``prior_cases``, ``effective_cases`` (a :class:`model.learning.em.LearnedNumber`).
    ``data`` names the data (file name); ``rows`` how many rows were learned from. Numbers whose
    value moved by less than ``min_change`` (absolute) are left as cited. Returns the loaded new
    priors (a new version hash). Raises :class:`PriorsError` (and writes nothing) if ``out_dir``
    exists and is not empty, is the source folder, or the result does not load.
    """
    out_dir = Path(out_dir)
    src = Path(priors.directory)
    if out_dir.resolve() == src.resolve():
        raise PriorsError(f"{out_dir}: is the source priors folder; learned priors go to a new folder")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise PriorsError(f"{out_dir}: already exists and is not an empty folder; choose a new folder")
    by_file: dict[str, list[str]] = {}
    known = {p.path: p for p in priors.all_priors()}
    for path in numbers:
        if path not in known:
            raise PriorsError(f"{path!r} is not a prior of {src}")
        by_file.setdefault(known[path].file, []).append(path)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        y = _yaml()
        for name in PRIOR_FILES:
            if name not in by_file:
                shutil.copyfile(src / name, tmp / name)
                continue
            with open(src / name, encoding="utf-8") as fh:
                doc = y.load(fh)
            for path in by_file[name]:
                n = numbers[path]
                if abs(float(n.value) - float(n.prior_value)) < min_change:
                    continue
                node = _node(doc, path)
                record = {
                    "method": METHOD,
                    "prior_value": _rounded(n.prior_value),
                    "prior_range": [_rounded(n.prior_range[0]), _rounded(n.prior_range[1])],
                    "value": float(n.value),
                    "range": [_rounded(n.range[0]), _rounded(n.range[1])],
                    "prior_cases": _rounded(n.prior_cases, 4),
                    "effective_cases": _rounded(n.effective_cases, 4),
                    "data": str(data),
                    "rows": int(rows),
                }
                lo, hi = record["range"]
                record["range"] = [min(lo, record["value"]), max(hi, record["value"])]
                if "learned" in node:
                    del node["learned"]
                node["learned"] = _flow(record)
            with open(tmp / name, "w", encoding="utf-8") as fh:
                y.dump(doc, fh)
        for extra in sorted(src.iterdir()):
            if extra.is_file() and extra.name not in PRIOR_FILES and extra.suffix in (".yaml", ".md", ".txt"):
                shutil.copyfile(extra, tmp / extra.name)
        loaded = load_priors(tmp)  # refuse to leave anything that does not load
        if out_dir.exists():
            out_dir.rmdir()
        tmp.rename(out_dir)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(out_dir, 0o777 & ~umask)  # mkdtemp made it private; a priors folder is ordinary data
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    del loaded
    return load_priors(out_dir)


def _flow(record: dict):
    """A ruamel mapping written on one line (like the cited entries) with flow-style ranges."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    m = CommentedMap()
    for key, value in record.items():
        if isinstance(value, list):
            seq = CommentedSeq(value)
            seq.fa.set_flow_style()
            m[key] = seq
        else:
            m[key] = value
    m.fa.set_flow_style()
    return m


def write_changed_priors(priors: Priors, values: Mapping[str, float], out_dir: str | Path, reason: str) -> Priors:
    """Copy ``priors`` to a new folder with some cited numbers replaced (``values``: path -> value).

    For what-if networks, e.g. the "true" network of a recovery experiment. Each changed entry
    gets the new ``value`` and its ``reason`` is prefixed with ``reason``; its range is widened to
    contain the new value. Verbal priors take their value from the scale and cannot be changed
    here (:class:`PriorsError`). Returns the loaded new priors.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise PriorsError(f"{out_dir}: already exists and is not an empty folder")
    known = {p.path: p for p in priors.all_priors()}
    by_file: dict[str, list[str]] = {}
    for path in values:
        if path not in known:
            raise PriorsError(f"{path!r} is not a prior of {priors.directory}")
        if known[path].kind == "verbal":
            raise PriorsError(f"{path}: a verbal prior's value comes from its word; change a stated or assumed number")
        by_file.setdefault(known[path].file, []).append(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    y = _yaml()
    for name in PRIOR_FILES:
        src = Path(priors.directory) / name
        if name not in by_file:
            shutil.copyfile(src, out_dir / name)
            continue
        with open(src, encoding="utf-8") as fh:
            doc = y.load(fh)
        for path in by_file[name]:
            node = _node(doc, path)
            v = float(values[path])
            node["value"] = v
            lo, hi = node["range"]
            node["range"][0], node["range"][1] = min(lo, v), max(hi, v)
            node["reason"] = f"{reason}: {node.get('reason') or node.get('quote') or ''}"
            if node.get("kind") == "stated":
                node["kind"] = "assumption"  # no longer the number the source states
                node.pop("quote", None)
        with open(out_dir / name, "w", encoding="utf-8") as fh:
            y.dump(doc, fh)
    return load_priors(out_dir)
