"""Kept for imports written before the batch package: the mapping lives in :mod:`service.batch.mapping`."""

from __future__ import annotations

from .batch.mapping import ColumnRule, MappingError, SurveyMapping, load_mapping, parse_mapping

__all__ = ["ColumnRule", "MappingError", "SurveyMapping", "load_mapping", "parse_mapping"]
