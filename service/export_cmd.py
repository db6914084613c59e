"""``hipdx export``: the network in the file formats other Bayesian-network tools open.

Written from the reference network (``HipModel.network``, nodes in topological order):

- ``bif`` (BIF 0.15: pyAgrum, SamIam, bnlearn), ``xmlbif`` (XMLBIF 0.3: pyAgrum reads it as
  ``.bifxml``, Weka, JavaBayes) and ``xdsl`` (GeNIe / SMILE) by pgmpy's writers;
- ``net`` (Hugin NET: Hugin, SamIam, pyAgrum) by pgmpy's writer with exact numbers (its own rounds
  to 8 decimals);
- ``uai`` (UAI inference format) by :func:`uai_text`, because pgmpy 1.1's UAIWriter writes a
  multi-parent table in another order than its scope (pyAgrum's reader refuses that file).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

FORMATS = {"bif": "BIFWriter", "xmlbif": "XMLBIFWriter", "net": "NETWriter", "xdsl": "XDSLWriter", "uai": "UAIWriter"}
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
    writer = None
    if fmt == "net":
        writer = _FullPrecisionNETWriter(network)
    elif fmt != "uai":
        writer = getattr(readwrite, FORMATS[fmt])(network)
    output = Path(output)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent if str(output.parent) else ".")
    os.close(fd)
    try:
        if fmt == "uai":
            Path(tmp).write_text(uai_text(network), encoding="utf-8")
        else:
            writer.write(tmp)
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def uai_text(network) -> str:
    """The network in the UAI format as its specification reads (Bayesian network preamble; each
    function's scope lists the parents, then the child; its table enumerates the scope with the LAST
    variable changing fastest). Probabilities are exact positional decimals (the UAI grammar and
    pgmpy's reader take no scientific notation). pgmpy 1.1's UAIWriter lists a multi-parent scope
    in one order and its table in another, which readers then misread, hence this writer; variable
    ``i`` is the i-th node in topological order, states in each variable's own order."""
    order = list(network.nodes())
    index = {v: i for i, v in enumerate(order)}
    cpds = {v: network.get_cpds(v) for v in order}
    lines = ["BAYES", str(len(order)), " ".join(str(cpds[v].variable_card) for v in order), str(len(order))]
    tables = []
    for v in order:
        cpd = cpds[v]
        parents = list(cpd.variables[1:])
        lines.append(" ".join(str(x) for x in [len(parents) + 1, *(index[p] for p in parents), index[v]]))
        values = cpd.get_values().reshape([cpd.variable_card, *(cpds[p].variable_card for p in parents)])
        flat = np.moveaxis(values, 0, -1).reshape(-1)  # parents in scope order, the child fastest
        tables.append(f"{flat.size}\n" + " ".join(np.format_float_positional(x, trim="0") for x in flat))
    return "\n".join(lines) + "\n\n" + "\n\n".join(tables) + "\n"


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
