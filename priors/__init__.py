"""The bundled priors of hipdx: YAML data files, shipped as package data.

This package holds no code. It exists so that the YAML files travel with an installed wheel and
can be located with ``importlib.resources`` (see ``model.priors.bundled_priors_dir``).
"""
