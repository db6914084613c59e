"""Reasoning around a posterior: triage, effects, intervals, next questions, explanations."""

from .reasoner import Reasoner, ReasoningSettings

__all__ = ["Reasoner", "ReasoningSettings"]
