"""Bayesian update of the cited priors from runners with confirmed diagnoses (MAP-EM), and the
measure of the model on published cases.

- :mod:`.space`: the learnable numbers and their Beta / Dirichlet / log-normal priors;
- :mod:`.counts`: E-step, expected family counts from the exact engine (answers and labels may
  be missing anywhere);
- :mod:`.em`: generalised EM (ECM) returning the learned numbers with effective cases;
- :mod:`.labels`: label columns as codes; :mod:`.evaluation`: log loss, Brier, reliability;
- :mod:`.writer`: the learned priors folder (``learned`` records; the source is never written);
- :mod:`.cases`: top-1, top-3, safe triage and confident misses on published cases (``hipdx evaluate``).

    >>> from model import load_model
    >>> from model.learning import Observed, learn
    >>> m = load_model()
    >>> result = learn(m.priors, Observed(rf_codes, finding_codes, labels))  # doctest: +SKIP
"""

from .counts import Counts, Observed, expected_counts
from .em import LearnedNumber, LearningResult, learn
from .evaluation import reliability, scores
from .labels import LabelError, encode_labels, label_columns
from .space import ParameterSpace
from .writer import write_learned_priors

__all__ = ["Counts", "LabelError", "LearnedNumber", "LearningResult", "Observed", "ParameterSpace", "encode_labels",
           "expected_counts", "label_columns", "learn", "reliability", "scores", "write_learned_priors"]
