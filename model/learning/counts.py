"""E-step: expected counts of every probability table's family from partly observed rows.

For each row the exact engine's compiled tables give the posterior over the joint condition
configurations C (2**K of them) and, for unanswered risk factors R, over the risk-factor grid:

    P(R, C | row) = [R consistent with the row's answers] * J[R, C] * L_row(C) / Z_row

with ``J[R, C] = P(R) P(C | R)`` the engine's compiled prior, ``L_row(C)`` the likelihood of the
row's findings times the indicator of its known labels (a confirmed diagnosis is evidence on the
conditions), and ``Z_row`` the probability of everything observed in the row. Summed over rows,

    N[R, C] = J[R, C] * sum over rows of [R consistent] * L_row(C) / Z_row

is the expected count of every (R, C) cell, from which each condition's and risk factor's family
counts are marginals.

Findings are read through the engine's evidence factors (``model.inference.compiled``): a group of
findings linked by ``depends_on`` arcs is one factor over its answer patterns ``a`` (every member
first state / second state / unanswered), a lone finding a group of one. With ``A[a, U]`` the sum,
over the rows answering pattern ``a``, of their posterior over the factor's condition parents
``U``, the expected count of every full configuration ``m`` of the group's members is

    N[m, U] = sum over patterns a consistent with m of A[a, U] * P(m | U) / P(a | U)

(the joint of the members and U given the row: the unanswered members are inferred from the
answered ones, e.g. an unanswered ``pain_lateral_hip`` from an answered ``pain_lying_on_side``).
``P(m | U)`` and ``P(a | U)`` are both rows of the factor's own table (a full configuration is the
pattern with every member answered). Each member's family counts (its state, its depended-on
findings, causes and argued-against conditions) are marginals of ``N``. A group none of whose
members was answered is a set of leaves summed out of the row's likelihood, so it adds nothing
(EM on the observed-data likelihood, in which those tables do not appear). Missing answers and
labels are handled exactly, wherever they are (values missing at random; Dempster, Laird & Rubin
1977; Koller & Friedman 2009, section 19.2).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..inference.engine import Engine
from ..inference.engine_math import NEG


@dataclass(frozen=True)
class Observed:
    """Rows of partly observed runners, as integer codes (-1 = not known).

    - ``rf_codes``: (n, n_risk_factors) state index in each risk factor's state order;
    - ``finding_codes``: (n, n_findings) state index (0 = first state: present / sudden);
    - ``labels``: (n, K) confirmed diagnosis per condition: 0 = present, 1 = absent, -1 = not known.
    """

    rf_codes: np.ndarray
    finding_codes: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.rf_codes.shape[0])

    def take(self, rows: np.ndarray) -> Observed:
        """The subset of rows ``rows`` (indices or a boolean mask)."""
        return Observed(self.rf_codes[rows], self.finding_codes[rows], self.labels[rows])


@dataclass(frozen=True)
class Counts:
    """Expected family counts per table key (see :func:`model.learning.space.table_values`):
    ``("rf", r)``: (k,); ``("cond", c)``: (2, *parent cards), axis 0 = present/absent;
    ``("find", f)``: (n_states, *parent cards), parents in the order of
    ``Parameters.finding_parents[f]`` (depended-on findings, causes, argued-against conditions;
    every axis index 0 = present / first state). ``loglik``: log P(observed rows) (natural log)."""

    tables: dict[tuple[str, str], np.ndarray]
    loglik: float
    rows: int


def expected_counts(engine: Engine, params, data: Observed, chunk_rows: int = 2048, dtype=np.float32) -> Counts:
    """Expected counts under the network compiled in ``engine`` (built from ``params``).

    ``params`` (a :class:`model.parameters.Parameters`) only names each table's parents.
    Memory is bounded by ``chunk_rows`` x 2**K floats. ``dtype`` is the precision of the per-row
    likelihoods and posteriors (float32: about 1e-7 relative error in the counts, half the memory
    traffic; float64 agrees with pgmpy to 1e-9, see the tests). Raises ``ValueError`` if a row's answers
    and labels have probability zero under the network.
    """
    k = len(engine.condition_ids)
    n_cfg = 2**k
    joint = engine.joint_rc  # (G, C)
    grid = engine.grid
    rf = np.asarray(data.rf_codes, dtype=np.int64)
    radix = np.cumprod(np.concatenate([[1], engine.rf_cards[:-1] + 1])).astype(np.int64)
    keys = (rf + 1) @ radix
    order = np.argsort(keys, kind="stable")
    keys_sorted = keys[order]
    # One matrix product gives each row's log likelihood of its findings AND the log indicator of its
    # labels: label features are log 1[condition j present / absent in configuration C].
    bits = ((np.arange(n_cfg)[None, :] >> np.arange(k)[:, None]) & 1).astype(bool)  # (K, C)
    label_rows = np.empty((2 * k, n_cfg))
    label_rows[0::2] = np.where(bits, 0.0, NEG)  # label 0 = present
    label_rows[1::2] = np.where(bits, NEG, 0.0)  # label 1 = absent
    features = np.vstack([engine.log_lik, label_rows])  # (S + 2K, C)
    n_feat = engine.log_lik.shape[0]
    weight_rc = np.zeros(joint.shape)  # sum over rows of [R consistent] L/Z, by grid row
    feature_counts = np.zeros((n_feat, n_cfg))  # per evidence-factor answer pattern
    loglik = 0.0
    # dtype (float32 by default) for the (rows x 2**K) likelihoods and posteriors (half the memory
    # traffic); the log likelihoods and every sum over rows stay float64.
    for start in range(0, len(order), chunk_rows):
        rows = order[start:start + chunk_rows]
        chunk_keys = keys_sorted[start:start + chunk_rows]
        uniq, first, inverse = np.unique(chunk_keys, return_index=True, return_inverse=True)
        patterns = rf[rows[first]]  # (P, n_rf)
        consistent = np.ones((len(uniq), len(grid)), dtype=bool)
        for j in range(grid.shape[1]):
            obs = patterns[:, j][:, None]
            consistent &= (obs < 0) | (grid[None, :, j] == obs)
        mask = sp.csr_matrix(consistent.astype(float))
        prior = np.asarray(mask @ joint).astype(dtype)  # (P, C) P(answered risk factors, C)
        onehot = _onehot(engine, np.asarray(data.finding_codes[rows], dtype=np.int64),
                         np.asarray(data.labels[rows], dtype=np.int64))
        loglik_rows = onehot @ features  # (n, C) log P(findings | C) + log 1[C agrees with the labels]
        top = loglik_rows.max(axis=1)
        loglik_rows -= top[:, None]
        with np.errstate(over="ignore"):  # NEG (log 0) becomes -inf in float32: exp gives 0
            lik = np.exp(loglik_rows.astype(dtype))  # (n, C) L_row(C) / its maximum
        pattern_prior = prior[inverse]
        z = np.einsum("nc,nc->n", lik, pattern_prior, dtype=np.float64)
        if (z <= 0).any() or (top < NEG / 2).any():
            raise ValueError("some rows' answers and labels have probability zero under the network")
        loglik += float((top + np.log(z)).sum())
        lik /= z[:, None].astype(dtype)
        # Group the rows' L/Z by pattern and spread over the consistent grid rows.
        group = sp.csr_matrix((np.ones(len(rows), dtype=dtype), (inverse.reshape(-1), np.arange(len(rows)))),
                              shape=(len(uniq), len(rows)))
        weight_rc += mask.T @ (group @ lik).astype(np.float64)
        lik *= pattern_prior  # the posterior over C of each row
        feature_counts += onehot[:, :n_feat].T.astype(dtype) @ lik
    rc = joint * weight_rc  # (G, C) expected counts
    return Counts(_family_counts(engine, params, rc, feature_counts), loglik, len(data))


def _onehot(engine: Engine, finding_codes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n, S + 2K) indicator of each row's answer pattern per evidence factor (the engine's feature
    order, :meth:`Engine.feature_index`), then of its labels (condition j present: column S + 2j,
    absent: S + 2j + 1)."""
    n_feat = engine.log_lik.shape[0]
    out = np.zeros((finding_codes.shape[0], n_feat + 2 * labels.shape[1]))
    feats = engine.feature_index(finding_codes)
    rows, cols = np.nonzero(feats >= 0)
    out[rows, feats[rows, cols]] = 1.0
    rows, cols = np.nonzero(labels >= 0)
    out[rows, n_feat + 2 * cols + labels[rows, cols]] = 1.0
    return out


def _family_counts(engine: Engine, params, rc: np.ndarray, feature_counts: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    k = len(engine.condition_ids)
    n_rf = len(engine.risk_factor_ids)
    full = rc.reshape(*engine.rf_cards, *([2] * k))  # condition j on axis n_rf + (k - 1 - j); 1 = present
    rf_axis = {r: i for i, r in enumerate(engine.risk_factor_ids)}
    cond_axis = {c: n_rf + (k - 1 - j) for j, c in enumerate(engine.condition_ids)}
    out: dict[tuple[str, str], np.ndarray] = {}
    for rid, i in rf_axis.items():
        out[("rf", rid)] = full.sum(axis=tuple(a for a in range(full.ndim) if a != i))
    for cid in engine.condition_ids:
        rf_par, c_par = params.condition_parents[cid]
        keep = [cond_axis[cid]] + [rf_axis[r] for r in rf_par] + [cond_axis[c] for c in c_par]
        out[("cond", cid)] = _marginal(full, keep, flip=[0] + [1 + len(rf_par) + i for i in range(len(c_par))])
    cond_cfg = feature_counts.reshape(-1, *([2] * k))  # (S, 2, ..., 2), axes as in ``full`` minus n_rf
    for fi, factor in enumerate(engine.factors):
        off = int(engine.factor_offsets[fi])
        n_pat = factor.n_patterns
        keep = [0] + [1 + (k - 1 - engine.condition_ids.index(c)) for c in factor.parents]
        block = _marginal(cond_cfg[off:off + n_pat - 1], keep, flip=list(range(1, 1 + len(factor.parents))))
        posterior = np.concatenate([np.zeros((1, *block.shape[1:])), block])  # pattern 0: nothing answered
        for fid, counts in _group_counts(factor, posterior, params.finding_parents).items():
            out[("find", fid)] = counts
    return out


def _marginal(arr: np.ndarray, keep: list[int], flip: list[int]) -> np.ndarray:
    """Sum ``arr`` over every axis not in ``keep``, order the rest as ``keep``, and reverse the
    axes at positions ``flip`` (bit 1 = present -> index 0 = present)."""
    summed = arr.sum(axis=tuple(a for a in range(arr.ndim) if a not in keep))
    remaining = sorted(keep)
    out = np.transpose(summed, [remaining.index(a) for a in keep])
    for ax in flip:
        out = np.flip(out, axis=ax)
    return np.ascontiguousarray(out)


def _group_counts(factor, posterior: np.ndarray, finding_parents) -> dict[str, np.ndarray]:
    """Each member's family counts from the summed posteriors of one evidence factor.

    ``posterior``: (3**g, 2, ..., 2) ``A[a, U]`` summed posterior over the factor's condition
    parents U of the rows answering pattern ``a`` (index 0 = present). Returns, per member, its
    counts (2, *parent cards) in the order of ``finding_parents[member]``.
    """
    g = factor.size
    table = np.asarray(factor.table[0], dtype=float)  # (3**g, 2, ..., 2) P(pattern | U)
    members = list(factor.members)
    weights = factor.weights()
    full = np.zeros((2,) * g + table.shape[1:])  # N[m_0, ..., m_{g-1}, U]
    for m in itertools.product((0, 1), repeat=g):
        m_pattern = int(((np.array(m) + 1) * weights).sum())
        p_full = table[m_pattern]
        acc = np.zeros(table.shape[1:])
        # every pattern consistent with m: each member either answered as in m or unanswered
        for answered in itertools.product((False, True), repeat=g):
            if not any(answered):
                continue
            a = int(sum((m[i] + 1) * weights[i] for i in range(g) if answered[i]))
            p_a = table[a]
            with np.errstate(divide="ignore", invalid="ignore"):
                acc += np.where(p_a > 0, posterior[a] * p_full / np.where(p_a > 0, p_a, 1.0), 0.0)
        full[m] = acc
    out = {}
    for i, fid in enumerate(members):
        axes = [i] + [members.index(p) if p in members else g + factor.parents.index(p) for p in finding_parents[fid]]
        summed = full.sum(axis=tuple(a for a in range(full.ndim) if a not in axes))
        remaining = sorted(axes)
        out[fid] = np.ascontiguousarray(np.transpose(summed, [remaining.index(a) for a in axes]))
    return out
