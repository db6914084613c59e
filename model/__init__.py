"""hipdx model: cited priors -> pgmpy Bayesian network -> compiled exact engine.

Decision support built from web articles, not a validated clinical device.

    >>> from model import load_model
    >>> m = load_model()
    >>> m.diagnose({"sex": "female", "age": 45, "pain_lying_on_side": "present"}).to_dict()
"""

from .diagnosis import DISCLAIMER, Diagnosis
from .hipmodel import HipModel, load_model
from .priors import PriorsError, load_priors
from .vocabulary import EvidenceError

__all__ = ["DISCLAIMER", "Diagnosis", "EvidenceError", "HipModel", "PriorsError", "load_model", "load_priors"]
