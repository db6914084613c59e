"""``hipdx export``: the network in the file formats other Bayesian-network tools open.

Written by pgmpy's own writers from the reference network (``HipModel.network``):

- ``bif`` (BIF 0.15: pyAgrum, SamIam, bnlearn), ``xmlbif`` (XMLBIF 0.3: pyAgrum reads it as
  ``.bifxml``, Weka, JavaBayes), ``net`` (Hugin NET: Hugin, SamIam, pyAgrum), ``xdsl`` (GeNIe /
  SMILE, pyAgrum) and ``uai`` (the UAI inference competition format; pyAgrum's UAI reader refuses
  this network's tables, pgmpy reads it back).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

FORMATS = {"bif": "BIFWriter", "xmlbif": "XMLBIFWriter", "net": "NETWriter", "xdsl": "XDSLWriter", "uai": "UAIWriter"}
_EXPONENT = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?[eE][-+]?\d+)")
EXTENSIONS = {".bif": "bif", ".xmlbif": "xmlbif", ".bifxml": "xmlbif", ".xml": "xmlbif", ".net": "net",
              ".xdsl": "xdsl", ".uai": "uai"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=list(FORMATS), default=None,
                   help="file format (default: from the extension: .bif .xmlbif/.bifxml .net .xdsl .uai)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="file to write")
    p.add_argument("--priors", metavar="DIR", help="priors directory (default: the bundled priors; e.g. a learned folder)")


def export_format(output: str, fmt: str | None) -> str:
    """The format to write: ``fmt`` if given, else from ``output``'s extension; ValueError if neither."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"--format {fmt!r} is not supported (allowed: {', '.join(FORMATS)})")
        return fmt
    suffix = Path(output).suffix.lower()
    if suffix not in EXTENSIONS:
        raise ValueError(f"cannot tell the format of {output!r} from its extension {suffix or '(none)'!r}; "
                         f"give --format ({', '.join(FORMATS)})")
    return EXTENSIONS[suffix]


def export_network(model, fmt: str, output: str | os.PathLike) -> None:
    """Write ``model.network`` (a :class:`model.HipModel`'s pgmpy network) as ``fmt`` to ``output``.

    The file is written next to its destination and moved into place, so a failed export leaves
    no partial file. The network is named ``hipdx_<version>`` so the file says which priors it holds.
    """
    import pgmpy.readwrite as readwrite

    network = topological_copy(model.network)
    network.name = f"hipdx_{model.version}"
    writer = _FullPrecisionNETWriter(network) if fmt == "net" else getattr(readwrite, FORMATS[fmt])(network)
    output = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent if str(output.parent) else ".")
    os.close(fd)
    try:
        if fmt == "uai":
            # pgmpy's UAI reader (and the UAI grammar) take plain decimals: write tiny probabilities
            # such as 7.4e-05 as their exact positional decimal instead of scientific notation.
            text = _EXPONENT.sub(lambda mt: np.format_float_positional(float(mt.group(1)), trim="-"), str(writer))
            Path(tmp).write_text(text, encoding="utf-8")
        else:
            writer.write(tmp)
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _FullPrecisionNETWriter(network):
    """pgmpy's NETWriter with every probability written exactly (its own rounds to 8 decimals,
    ~1e-8 off): shortest exact positional decimals, never scientific notation."""
    from pgmpy.readwrite import NETWriter

    class Writer(NETWriter):
        def net_cpd(self, var_name):
            cpt = np.moveaxis(np.asarray(self.tables[var_name], dtype=float), 0, -1)
            text = np.array2string(cpt, threshold=np.inf, max_line_width=np.inf, separator=" ",
                                   formatter={"float_kind": lambda x: np.format_float_positional(x, trim="0")})
            return text.replace("[", "(").replace("]", ")")

    return Writer(network)


def topological_copy(network):
    """The network with its nodes in topological order (parents first): XDSL and NET readers such as
    GeNIe's and pyAgrum's expect a node's parents to be declared before it (``fai`` before
    ``labral_tear``)."""
    import networkx as nx
    from pgmpy.models import DiscreteBayesianNetwork

    order = list(nx.lexicographical_topological_sort(network))
    out = DiscreteBayesianNetwork()
    out.add_nodes_from(order)
    out.add_edges_from(sorted(network.edges(), key=lambda e: (order.index(e[1]), order.index(e[0]))))
    out.add_cpds(*[network.get_cpds(v).copy() for v in order])
    out.check_model()
    return out


def run(args: argparse.Namespace) -> int:
    from model import PriorsError, load_model

    try:
        fmt = export_format(args.output, args.format)
        if not Path(args.output).parent.exists() and str(Path(args.output).parent):
            raise ValueError(f"folder {str(Path(args.output).parent)!r} does not exist")
        model = load_model(args.priors)
    except (ValueError, PriorsError) as exc:
        print(f"hipdx export: {exc}", file=sys.stderr)
        return 2
    export_network(model, fmt, args.output)
    print(f"hipdx export: wrote the network (model version {model.version}, {len(model.network.nodes())} nodes) "
          f"as {fmt} to {args.output}", file=sys.stderr)
    return 0
