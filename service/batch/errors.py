"""The batch package's one exception."""

from __future__ import annotations


class BatchError(Exception):
    """A problem with the whole job (unreadable file, bad mapping, clashing columns): exit 2."""
