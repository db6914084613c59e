"""The differential: the most probable joint states of the conditions given the evidence.

The posteriors of co-existing conditions do not say whether "GTPS alone" or "GTPS and ordinary
soreness" is the better reading of a case; the posterior joint over the ``2**K`` condition
configurations does. An explanation is one configuration (the set of present conditions, the
others absent) with its posterior probability; the first is the MAP (most probable explanation,
MPE over the conditions with the risk factors and unanswered findings summed out).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

TOP_EXPLANATIONS = 5


def top_explanations(joint: np.ndarray, configs: np.ndarray, conditions: Sequence[str],
                     top: int = TOP_EXPLANATIONS, present: Sequence[Sequence[str]] | None = None,
                     n_present: np.ndarray | None = None) -> list[dict]:
    """The ``top`` most probable condition configurations.

    ``joint``: (2**K,) posterior over configurations; ``configs``: (2**K, K) 0/1, 1 = present (the
    engine's ``configs``). Returns ``[{"present": [ids in condition order], "probability": p}, ...]``,
    most probable first; ties by fewer present conditions, then configuration index (a fixed order).
    Empty when the joint is not finite (impossible evidence). ``present`` (the ids present in each
    configuration) and ``n_present`` (2**K,) may be given precomputed (see :func:`present_sets`).
    """
    joint = np.asarray(joint, dtype=float).reshape(-1)
    if not np.isfinite(joint).all():
        return []
    # Only configurations at least as probable as the top-th can be in the answer (ties included):
    # sort those few, with the same keys as a full sort.
    if 0 < top < joint.shape[0]:
        threshold = np.partition(joint, joint.shape[0] - top)[joint.shape[0] - top]
        candidates = np.flatnonzero(joint >= threshold)
    else:
        candidates = np.arange(joint.shape[0])
    counts = n_present[candidates] if n_present is not None else configs[candidates].sum(axis=1)
    order = candidates[np.lexsort((candidates, counts, -joint[candidates]))[:top]].tolist()
    if present is None:
        present = [[c for c, bit in zip(conditions, configs[i], strict=True) if bit == 1] for i in order]
        return [{"present": ids, "probability": float(joint[i])} for ids, i in zip(present, order, strict=True)]
    return [{"present": list(present[i]), "probability": float(joint[i])} for i in order]


def present_sets(configs: np.ndarray, conditions: Sequence[str]) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Per configuration, the ids of its present conditions (in condition order), and how many:
    the lookups :func:`top_explanations` may be given."""
    present = [tuple(c for c, bit in zip(conditions, row, strict=True) if bit == 1) for row in configs.tolist()]
    return present, np.asarray(configs).sum(axis=1)
