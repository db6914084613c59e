"""Build the reference pgmpy ``DiscreteBayesianNetwork`` from the priors' numbers.

The network is the readable, checkable statement of the model: risk factors -> conditions
(-> conditions they can cause, e.g. fai -> labral_tear) -> findings (-> findings that depend on
them, e.g. pain_lateral_hip -> pain_lying_on_side). A finding's CPD is a ``TabularCPD`` over its
causes, the findings it depends on and the conditions it argues against (``model.parameters``). pgmpy's own inference on it
is the yardstick the fast engine is tested against.
"""

from __future__ import annotations

import numpy as np

from .parameters import Parameters
from .priors import CONDITION_STATES, Priors


def build_network(priors: Priors, params: Parameters):
    """The pgmpy network (draw 0 of ``params``), with section-4 ids and state names; checked."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    net = DiscreteBayesianNetwork()
    net.add_nodes_from(list(priors.risk_factors) + list(priors.conditions) + list(priors.findings))
    cpds = []
    for rid, rf in priors.risk_factors.items():
        probs = params.risk_factor_probs[rid][0]
        cpds.append(TabularCPD(rid, len(rf.states), probs.reshape(-1, 1), state_names={rid: list(rf.states)}))
    for cid in priors.conditions:
        rf_par, c_par = params.condition_parents[cid]
        table = params.condition_tables[cid][0]
        parents = list(rf_par) + list(c_par)
        net.add_edges_from((p, cid) for p in parents)
        cpds.append(_binary_cpd(TabularCPD, cid, list(CONDITION_STATES), table, parents, priors))
    for fid, fd in priors.findings.items():
        parents = list(params.finding_parents[fid])
        net.add_edges_from((p, fid) for p in parents)
        cpds.append(_binary_cpd(TabularCPD, fid, list(fd.states), params.finding_tables[fid][0], parents, priors))
    net.add_cpds(*cpds)
    net.check_model()
    return net


def _binary_cpd(TabularCPD, var: str, states: list[str], on_table: np.ndarray, parents: list[str], priors: Priors):
    """A two-state CPD whose first state has probability ``on_table`` (parents in C order)."""
    on = np.asarray(on_table, dtype=float).reshape(-1)
    state_names = {var: states}
    cards = []
    for p in parents:
        if p in priors.risk_factors:
            names = list(priors.risk_factors[p].states)
        elif p in priors.findings:  # a finding-to-finding arc (depends_on): axis 0 = its first state
            names = list(priors.findings[p].states)
        else:
            names = list(CONDITION_STATES)
        state_names[p] = names
        cards.append(len(names))
    return TabularCPD(
        var, 2, np.vstack([on, 1.0 - on]), evidence=parents or None, evidence_card=cards or None,
        state_names=state_names,
    )
