"""Load and validate the cited priors (``priors/*.yaml``) into plain, checked Python objects.

Every number in the priors carries its provenance: a number the articles state, a qualitative
word turned into a number through the one verbal scale, or an assumption with its reason. This
package refuses anything it cannot vouch for, with a message naming the file, the key and what is
wrong, because a silently wrong prior would quietly bias every diagnosis.

One job per module:

- :mod:`.load`: :func:`load_priors`; each file read as strict YAML (state names kept as strings,
  a key given twice refused); where the bundled priors live; the priors' version hash.
- :mod:`.schema`: the structure of each file (unknown keys refused).
- :mod:`.scale`: one number and its provenance, through the verbal-probability scale.
- :mod:`.validate`: the meaning of each file (known ids and states, sums, no cycles).
- :mod:`.records`: the validated priors as frozen dataclasses (:class:`Priors`, :class:`Prior`, ...).
- :mod:`.problems`: :class:`PriorsError` and the collector that reports every problem at once.
- :mod:`.sources`: the source registry (``sources.yaml``): each cited article's title.

Every name below is importable from ``model.priors`` itself, the package's public interface.
"""

from .load import PRIOR_FILES, bundled_priors_dir, load_priors, priors_version, read_yaml
from .problems import PriorsError
from .records import (
    BINARY_STATES,
    CONDITION_STATES,
    MAX_DEPENDENT_GROUP,
    RISK_CAP,
    TRIAGE_LEVELS,
    AgeRange,
    Condition,
    Effect,
    Finding,
    FindingRule,
    Numeric,
    PosteriorRule,
    Prior,
    Priors,
    RiskFactor,
    dependent_groups,
)
from .scale import SOURCE_NAME
from .sources import SOURCES_FILE, Source, bundled_sources, load_sources, source_title

__all__ = [
    "BINARY_STATES", "CONDITION_STATES", "MAX_DEPENDENT_GROUP", "PRIOR_FILES", "RISK_CAP", "SOURCE_NAME", "TRIAGE_LEVELS",
    "AgeRange", "Condition", "Effect", "Finding", "FindingRule", "Numeric", "PosteriorRule", "Prior", "Priors",
    "PriorsError", "RiskFactor", "bundled_priors_dir", "dependent_groups", "load_priors", "priors_version", "read_yaml",
    "SOURCES_FILE", "Source", "bundled_sources", "load_sources", "source_title",
]
