"""The compiled network under the name the per-draw algorithms know it by.

``DrawNetwork`` is :class:`model.inference.compiled.CompiledNetwork` (a draw axis D on every
table; build it with ``CompiledNetwork.from_parameters(priors, params)``); this module only keeps
the name that ``model.inference.grouped_draws`` reads. Nothing is compiled here.
"""

from __future__ import annotations

from .compiled import CompiledNetwork, ConditionGroup, caused_by_groups

DrawNetwork = CompiledNetwork

__all__ = ["CompiledNetwork", "ConditionGroup", "DrawNetwork", "caused_by_groups"]
