"""The source registry (``priors/sources.yaml``): each cited article's file name -> its title and a
one-line description, so a citation reads as the article's title wherever it is shown.

    >>> from model.priors import source_title
    >>> source_title("000_2b4fa253abe00f01.txt")
    'Why Is My Hip Hurting From Running'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .load import bundled_priors_dir, read_yaml
from .problems import PriorsError

SOURCES_FILE = "sources.yaml"


@dataclass(frozen=True)
class Source:
    """One cited article: ``file`` (the name priors cite under ``source``), ``title``, ``description``."""

    file: str
    title: str
    description: str


def load_sources(directory: str | Path | None = None) -> dict[str, Source]:
    """The registry in ``directory/sources.yaml`` (default: the bundled priors), by file name.

    Raises ``PriorsError`` naming the entry when the file is malformed (an entry without a
    non-empty ``title`` or ``description``)."""
    path = Path(directory or bundled_priors_dir()) / SOURCES_FILE
    raw = read_yaml(path)
    entries = raw.get("sources") if isinstance(raw, Mapping) else None
    if not isinstance(entries, Mapping):
        raise PriorsError(f"{SOURCES_FILE}: expected a mapping under 'sources' (file name -> title, description)")
    out: dict[str, Source] = {}
    for file, entry in entries.items():
        if not isinstance(entry, Mapping):
            raise PriorsError(f"{SOURCES_FILE}: sources.{file}: expected a mapping with title and description")
        for key in ("title", "description"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise PriorsError(f"{SOURCES_FILE}: sources.{file}.{key}: a non-empty text is required")
        out[str(file)] = Source(str(file), entry["title"].strip(), entry["description"].strip())
    return out


@lru_cache(maxsize=1)
def bundled_sources() -> dict[str, Source]:
    """The bundled registry, read once per process (treat it as read-only)."""
    return load_sources()


def source_title(file: str | None) -> str | None:
    """The title of a cited file; the file name itself when the registry does not list it (e.g.
    priors from another directory citing other articles); ``None`` for ``None``."""
    if file is None:
        return None
    found = bundled_sources().get(file)
    return found.title if found else file
