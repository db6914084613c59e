"""How the priors report what is wrong: :class:`PriorsError`, and a collector of every problem
found, so one load names all of them at once (file, key, what is wrong)."""

from __future__ import annotations


class PriorsError(ValueError):
    """The priors files are missing, malformed or inconsistent; the message says where."""


class Problems:
    """Collects every problem found, so one load reports all of them at once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, file: str, key: str, message: str) -> None:
        """Record one problem: the file, the dotted key in it, and what is wrong."""
        self.items.append(f"{file}: {key}: {message}")

    def raise_if_any(self) -> None:
        """Raise :class:`PriorsError` listing the problems so far (the first 40), if there are any."""
        if self.items:
            shown = "\n  ".join(self.items[:40])
            more = f"\n  ... and {len(self.items) - 40} more" if len(self.items) > 40 else ""
            raise PriorsError(f"invalid priors ({len(self.items)} problem(s)):\n  {shown}{more}")
