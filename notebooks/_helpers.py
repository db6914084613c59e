"""Plotting and table helpers shared by the hipdx notebooks (matplotlib; data comes from ``model``).

Import from a notebook in this folder with ``import _helpers as h``. The numbers behind the
plots come from ``model`` and ``model.explore``; this module only draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter

SHORT_NAMES = {
    "gtps": "GTPS",
    "itb_syndrome": "ITB syndrome",
    "muscle_strain": "Muscle strain",
    "tendinopathy": "Tendinopathy",
    "labral_tear": "Labral tear",
    "fai": "FAI",
    "stress_fracture": "Stress fracture",
    "osteoarthritis": "Osteoarthritis",
    "lumbar_referred_pain": "Lumbar referred",
    "piriformis_syndrome": "Piriformis",
    "muscle_soreness": "Soreness",
}
LAYER_COLOURS = {"risk_factor": "#8da0cb", "condition": "#fc8d62", "finding": "#66c2a5"}
LAYER_LABELS = {"risk_factor": "risk factors", "condition": "conditions", "finding": "findings"}
TRIAGE_COLOURS = {"emergency": "#b2182b", "urgent": "#ef8a62", "see_clinician": "#fddbc7", "self_care": "#67a9cf"}
AGE_ORDER = ["under_30", "30_39", "40_49", "50_plus"]


def setup() -> None:
    """Readable defaults for inline figures and wide tables."""
    plt.rcParams.update({"figure.dpi": 90, "savefig.dpi": 90, "figure.figsize": (9, 4.5), "axes.grid": True,
                         "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False})
    pd.set_option("display.max_colwidth", 90)
    pd.set_option("display.width", 200)


def repo_root() -> Path:
    """The checkout's root (the folder with ``pyproject.toml``), from the notebooks folder or the
    installed ``model`` package."""
    for start in (Path.cwd(), *Path.cwd().parents):
        if (start / "pyproject.toml").is_file() and (start / "model").is_dir():
            return start
    import model

    return Path(model.__file__).resolve().parents[1]


def short(condition: str) -> str:
    """A short label for a condition id."""
    return SHORT_NAMES.get(condition, condition.replace("_", " "))


def condition_colours(conditions: Sequence[str]) -> dict[str, Any]:
    """One fixed colour per condition (by sorted id), the same in every plot and notebook."""
    known = sorted(set(SHORT_NAMES) | set(conditions))
    cmap = plt.get_cmap("tab20")
    return {c: cmap(known.index(c) % 20) for c in conditions}


# ---------------------------------------------------------------------------------------------- network
def plot_network(network: Any, layers: Mapping[str, str], ax: plt.Axes | None = None) -> plt.Axes:
    """The Bayesian network in three columns (risk factors -> conditions -> findings), coloured by
    layer; edges between conditions (e.g. fai -> labral_tear) are drawn curved and darker."""
    import networkx as nx

    g = nx.DiGraph(network.edges())
    g.add_nodes_from(network.nodes())
    order = ["risk_factor", "condition", "finding"]
    pos: dict[str, tuple[float, float]] = {}
    for x, layer in enumerate(order):
        nodes = [n for n in network.nodes() if layers[n] == layer]
        ys = np.linspace(1, 0, len(nodes)) if len(nodes) > 1 else [0.5]
        pos.update({n: (x * 1.0, float(y)) for n, y in zip(nodes, ys, strict=True)})
    ax = ax or plt.subplots(figsize=(13, 15))[1]
    plain = [(u, v) for u, v in g.edges() if layers[u] != layers[v]]
    within = [(u, v) for u, v in g.edges() if layers[u] == layers[v]]
    nx.draw_networkx_edges(g, pos, edgelist=plain, ax=ax, alpha=0.18, arrows=True, arrowsize=6, width=0.7,
                           node_size=120)
    nx.draw_networkx_edges(g, pos, edgelist=within, ax=ax, alpha=0.9, arrows=True, arrowsize=12, width=1.6,
                           edge_color="#d95f02", connectionstyle="arc3,rad=-0.6", node_size=120)
    nx.draw_networkx_nodes(g, pos, ax=ax, node_size=120, node_color=[LAYER_COLOURS[layers[n]] for n in g.nodes()],
                           edgecolors="#444444", linewidths=0.5)
    for n, (x, y) in pos.items():
        layer = layers[n]
        label = short(n) if layer == "condition" else n
        ha = "right" if layer == "risk_factor" else "left"
        dx = -0.04 if layer == "risk_factor" else 0.04
        ax.text(x + dx, y, label, ha=ha, va="center", fontsize=9,
                fontweight="bold" if layer == "condition" else "normal")
    for x, layer in enumerate(order):
        ax.text(x, 1.04, LAYER_LABELS[layer], ha="center", fontsize=12, fontweight="bold", color=LAYER_COLOURS[layer])
    ax.set_xlim(-0.75, 2.75)
    ax.set_ylim(-0.03, 1.08)
    ax.axis("off")
    return ax


# ---------------------------------------------------------------------------------------------- priors
def plot_base_rates(rates: pd.DataFrame, conditions: Sequence[str], axes: Sequence[plt.Axes] | None = None) -> Any:
    """Base rate of each condition by age band, one panel per sex (rates from ``explore.base_rates``)."""
    sexes = ["female", "male"]
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), sharey=True)
    colours = condition_colours(list(rates["condition"].unique()))
    x = np.arange(len(AGE_ORDER))
    for ax, sex in zip(axes, sexes, strict=True):
        sub = rates[rates["sex"] == sex]
        for c in conditions:
            s = sub[sub["condition"] == c].set_index("age_band").reindex(AGE_ORDER)["probability"]
            ax.plot(x, s.to_numpy(), marker="o", color=colours[c], label=short(c), lw=2)
        ax.set_xticks(x, [a.replace("_", "-").replace("-plus", "+").replace("under-30", "<30") for a in AGE_ORDER])
        ax.set_title(f"{sex}")
        ax.set_xlabel("age band")
    axes[0].set_ylabel("P(condition present) before any symptom")
    axes[-1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    return axes


def plot_relative_risks(rr: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Cited relative risk (with its range) of each training factor on each condition, and the
    relative risk the network implies (diamond)."""
    ax = ax or plt.subplots(figsize=(10, 5))[1]
    labels = [f"{r.factor} = {r.state}" for r in rr.itertuples()]
    groups = list(dict.fromkeys(labels))
    conditions = list(dict.fromkeys(rr["condition"]))
    colours = condition_colours(conditions)
    width = 0.8 / len(conditions)
    for j, c in enumerate(conditions):
        sub = rr[rr["condition"] == c]
        offset = (j - (len(conditions) - 1) / 2) * width
        xs = np.array([groups.index(f"{r.factor} = {r.state}") for r in sub.itertuples()]) + offset
        ax.bar(xs, sub["relative_risk"] - 1, bottom=1, width=width * 0.9, color=colours[c], label=short(c))
        ax.errorbar(xs, sub["relative_risk"], yerr=[sub["relative_risk"] - sub["low"], sub["high"] - sub["relative_risk"]],
                    fmt="none", ecolor="#333333", capsize=2, lw=1)
        ax.scatter(xs, sub["model_relative_risk"], marker="D", s=14, color="black", zorder=3)
    ax.axhline(1, color="black", lw=1)
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks([0.35, 0.5, 0.7, 1, 1.5, 2, 3], ["0.35", "0.5", "0.7", "1", "1.5", "2", "3"])
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel("relative risk (log scale)")
    handles, names = ax.get_legend_handles_labels()
    handles += [Line2D([], [], marker="D", ls="", color="black", markersize=4),
                Line2D([], [], color="#333333", lw=1)]
    names += ["implied by the network", "cited range"]
    ax.legend(handles, names, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    return ax


def plot_tornado(sens: pd.DataFrame, n: int = 12, ax: plt.Axes | None = None, title: str | None = None) -> plt.Axes:
    """Tornado plot from ``m.sensitivity``: the posterior with each prior at the low and the high
    end of its range, the largest swings on top."""
    top = sens.head(n).iloc[::-1]
    ax = ax or plt.subplots(figsize=(10, 0.38 * n + 1.2))[1]
    base = float(sens["posterior"].iloc[0])
    y = np.arange(len(top))
    lo, hi = top["posterior_at_low"].to_numpy(), top["posterior_at_high"].to_numpy()
    ax.barh(y, lo - base, left=base, color="#67a9cf", height=0.7)
    ax.barh(y, hi - base, left=base, color="#ef8a62", height=0.7)
    ax.axvline(base, color="black", lw=1)
    ax.set_yticks(y, [f"{p}  [{a:g}, {b:g}]" for p, a, b in zip(top["prior"], top["low"], top["high"], strict=True)],
                  fontsize=8)
    ax.set_xlabel("posterior probability")
    ax.legend([Patch(color="#67a9cf"), Patch(color="#ef8a62"), Line2D([], [], color="black")],
              ["prior at the low end of its range", "prior at the high end", f"as modelled ({base:.2f})"],
              loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------- cases
def plot_posteriors(diagnosis: Mapping[str, Any], ax: plt.Axes | None = None, title: str | None = None) -> plt.Axes:
    """Posterior of every condition as a bar with its interval, and the prior as a tick
    (``diagnosis`` is ``m.diagnose(...).to_dict()``)."""
    conds = list(diagnosis["conditions"])[::-1]
    ax = ax or plt.subplots(figsize=(8, 4.5))[1]
    colours = condition_colours([c["id"] for c in diagnosis["conditions"]])
    y = np.arange(len(conds))
    p = np.array([c["probability"] for c in conds])
    ax.barh(y, p, color=[colours[c["id"]] for c in conds], height=0.7)
    if all(c.get("interval") for c in conds):
        lo = np.array([c["interval"][0] for c in conds])
        hi = np.array([c["interval"][1] for c in conds])
        ax.errorbar(p, y, xerr=[p - lo, hi - p], fmt="none", ecolor="black", capsize=3, lw=1)
    ax.scatter([c["prior"] for c in conds], y, marker="|", s=250, color="black", zorder=3, label="prior (base rate)")
    ax.set_yticks(y, [short(c["id"]) for c in conds])
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability present (bar), 90% interval (whiskers)")
    ax.legend(loc="lower right", fontsize=8)
    triage = diagnosis["triage"]["level"]
    ax.set_title(f"{title + ' - ' if title else ''}triage: {triage}", fontsize=11)
    return ax


def plot_effects(diagnosis: Mapping[str, Any], condition: str | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """Why: the effect of each answer on one condition (the top one by default), in percentage
    points, labelled with its likelihood ratio."""
    conds = {c["id"]: c for c in diagnosis["conditions"]}
    cid = condition or diagnosis["conditions"][0]["id"]
    items = conds[cid].get("evidence") or []
    ax = ax or plt.subplots(figsize=(8, 0.35 * max(len(items), 3) + 1))[1]
    items = items[::-1]
    y = np.arange(len(items))
    eff = np.array([e["effect"] * 100 for e in items])
    ax.barh(y, eff, color=["#ef8a62" if v > 0 else "#67a9cf" for v in eff], height=0.7)
    for yi, e, v in zip(y, items, eff, strict=True):
        lr = e.get("likelihood_ratio")
        txt = f" LR {lr:.2g}" if lr is not None else ""
        txt += "" if e.get("link") == "direct" else " (indirect)"
        ax.text(v, yi, txt, va="center", ha="left" if v >= 0 else "right", fontsize=8)
    ax.set_yticks(y, [f"{e['variable']} = {e['state']}" for e in items], fontsize=9)
    ax.axvline(0, color="black", lw=1)
    ax.set_xlabel("effect on the posterior (percentage points; answer present vs left out)")
    ax.set_title(f"Why {short(cid)}: {conds[cid]['probability']:.0%}", fontsize=11)
    lim = max(np.abs(eff).max() if len(eff) else 1, 1) * 1.45
    ax.set_xlim(-lim, lim)
    return ax


def next_questions_table(diagnosis: Mapping[str, Any]) -> pd.DataFrame:
    """The model's suggested next questions as a small table."""
    rows = [{"variable": q["variable"], "question": q["question"], "expected_information_gain (bits)":
             round(q["expected_information_gain"], 3), "why ask": q.get("reason", "")}
            for q in diagnosis.get("next_questions") or []]
    return pd.DataFrame(rows)


def plot_trajectory(traj: pd.DataFrame, conditions: Sequence[str], ax: plt.Axes | None = None, top: int = 5,
                    title: str | None = None) -> plt.Axes:
    """How the posteriors move as the top next question is answered step by step (from
    ``explore.answer_trajectory``); shows the ``top`` conditions that reach the highest value."""
    ax = ax or plt.subplots(figsize=(11, 4.5))[1]
    colours = condition_colours(conditions)
    shown = traj[list(conditions)].max().sort_values(ascending=False).index[:top]
    for c in shown:
        ax.plot(traj["step"], traj[c], marker="o", lw=2, color=colours[c], label=short(c))
    labels = ["start"] + [f"{a}\n= {v}{'' if s else ' *'}" for a, v, s in
                          zip(traj["asked"][1:], traj["answer"][1:], traj["scripted"][1:], strict=True)]
    ax.set_xticks(traj["step"], labels, fontsize=8, rotation=35, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability present")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    if title:
        ax.set_title(title, fontsize=11)
    return ax


# ---------------------------------------------------------------------------------------------- survey
def plot_reliability(tables: Mapping[str, pd.DataFrame], ncols: int = 4, title: str | None = None) -> Any:
    """Reliability diagrams, one panel per condition (tables from ``explore.reliability``)."""
    n = len(tables)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 3.1 * nrows), sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    for ax, (c, t) in zip(axes, tables.items(), strict=False):
        hi = max(0.05, float(max(t["mean_predicted"].max(), t["observed"].max())) * 1.1)
        ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1)
        ax.errorbar(t["mean_predicted"], t["observed"], yerr=1.96 * t["stderr"], fmt="o-", ms=3, lw=1, capsize=2)
        ax.set_title(short(c), fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        inset = ax.inset_axes([0.55, 0.08, 0.42, 0.42])
        inset.plot([0, hi], [0, hi], color="grey", ls="--", lw=0.8)
        inset.plot(t["mean_predicted"], t["observed"], "o-", ms=2, lw=0.8)
        inset.set_xlim(0, hi)
        inset.set_ylim(0, hi)
        inset.tick_params(labelsize=6)
        inset.grid(alpha=0.3)
    for ax in axes[n:]:
        ax.axis("off")
    for ax in axes[::ncols]:
        ax.set_ylabel("observed frequency")
    for ax in axes[-ncols:]:
        ax.set_xlabel("mean predicted")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------- survey files
def _number_in_state(numeric: Any, state_index: int, rng: np.random.Generator, step: float,
                     clip: tuple[float, float] | None = None) -> float | int:
    """A random number (on a grid of ``step``) that the model bins into state ``state_index``."""
    edges = [numeric.min, *numeric.cut_points, numeric.max]
    lo, hi = edges[state_index], edges[state_index + 1]
    if clip:
        lo, hi = max(lo, clip[0]), min(hi, clip[1])
    grid = np.arange(np.ceil(lo / step) * step, hi + step / 2, step)
    last = state_index == len(edges) - 2
    if numeric.closed == "left":
        grid = grid[(grid >= lo) & ((grid < hi) | (last & (grid <= hi)))]
    else:
        grid = grid[((grid > lo) | ((state_index == 0) & (grid >= lo))) & (grid <= hi)]
    value = float(rng.choice(grid))
    return int(value) if float(step).is_integer() else value


NUMBER_STEPS = {"age": (1.0, (18, 75)), "rest_days_per_week": (1.0, None), "weekly_training_hours": (0.5, None)}


def survey_from_simulation(sim: pd.DataFrame, mapping: Any, model: Any, skip: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """The survey a mapping describes, filled in by simulated runners (``model.simulate.simulate``
    with no blanks): the mapping read backwards, so scoring the result with that mapping goes
    through exactly the path a real survey file takes.

    Each mapped column gets the survey's own answer labels (the first label listed for a state;
    a state with no label leaves the cell empty), multi-select columns the selected options joined
    by their separator (or the option that sets nothing when none applies), number columns a
    number inside the simulated band. Each respondent skips each question (empty cell)
    independently with probability ``skip``. Variables the survey does not ask stay unknown.
    """
    rng = np.random.default_rng(seed)
    vocab = model.vocabulary
    n = len(sim)
    out: dict[str, list[Any]] = {}
    for rule in mapping.rules:
        if rule.options is not None:
            label_for = {}
            none_label = None
            for label in rule.labels:
                target = rule.options[" ".join(label.split()).casefold()]
                if target is None:
                    none_label = none_label or label
                else:
                    label_for.setdefault(target, label)
            cells = []
            for i in range(n):
                chosen = [lab for vid, lab in label_for.items() if sim[vid].iat[i] == vocab.variables[vid].states[0]]
                cells.append(rule.separator.join(chosen) if chosen else none_label)
        elif rule.variable in vocab.aliases:
            vid = vocab.aliases[rule.variable]
            numeric = model.priors.risk_factors[vid].numeric
            step, clip = NUMBER_STEPS.get(rule.variable, (1.0, None))
            states = list(vocab.variables[vid].states)
            cells = [_number_in_state(numeric, states.index(s), rng, step, clip) for s in sim[vid]]
        elif rule.values is None:
            cells = list(sim[rule.variable])
        else:
            label_for = {}
            for label in rule.labels:
                state = rule.values[" ".join(label.split()).casefold()]
                if state is not None:
                    label_for.setdefault(state, label)
            cells = [label_for.get(s) for s in sim[rule.variable]]
        skipped = rng.random(n) < skip
        out[rule.column] = [None if k else c for c, k in zip(cells, skipped, strict=True)]
    return pd.DataFrame(out, index=sim.index)
