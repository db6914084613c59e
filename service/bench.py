"""``hipdx bench``: the compiled engine against pgmpy (and pyAgrum if installed), on the same rows.

Prints, side by side for two case mixes (simulated runners with 30% of answers blank; random
evidence with 6 to 16 answers): rows/s of the engine (batch) and of pgmpy's VariableElimination
(and pyAgrum's LazyPropagation) row by row, the speed-up, single-case latencies (posterior only
and the full diagnosis), the largest difference from pgmpy (exactness), and the end-to-end time
and peak memory of ``hipdx score`` on a large CSV with the same share of blanks, in a subprocess.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=100_000, metavar="N",
                   help="rows for the engine's batch throughput (default 100000)")
    p.add_argument("--pgmpy-rows", type=int, default=300, metavar="M",
                   help="rows answered one by one by pgmpy (and pyAgrum); also the latency cases (default 300)")
    p.add_argument("--score-rows", type=int, default=1_000_000, metavar="N",
                   help="rows of the CSV scored end to end (default 1000000)")
    p.add_argument("--skip-score", action="store_true", help="skip the end-to-end `hipdx score` run")
    p.add_argument("--missing", type=float, default=0.3, metavar="RATE",
                   help="share of answers left blank in the simulated rows and the scored CSV (default 0.3: surveys are never complete)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed for the simulated rows (default 0)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="--jobs passed to `hipdx score` (default: its own default)")
    p.add_argument("--survey-rows", type=int, default=100_000, metavar="N",
                   help="rows of the .xlsx and .sav files scored end to end (default 100000; 0 skips them)")
    p.add_argument("--intervals", action="store_true",
                   help="also measure the interval ends' Monte Carlo error per draw design against 20,000 draws "
                        "(120 cases of their own: 60 simulated, 60 random, from --seed and --missing; 12 seeds; a few minutes)")


@contextlib.contextmanager
def _frozen_heap() -> Iterator[None]:
    """Time as `hipdx serve` runs after loading the model (service/serve.py): what is alive on
    entry is frozen out of the garbage collector, so a full collection does not walk it in the
    middle of a diagnosis; unfrozen on exit."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), q))


def _row(label: str, *cells: str, width: int = 16) -> str:
    return f"  {label:<44}" + "".join(f"{c:>{width}}" for c in cells)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    try:
        import psutil

        ram = f"{psutil.virtual_memory().total / 2**30:.1f} GiB RAM"
    except ImportError:
        ram = "RAM unknown"
    return f"{os.cpu_count()} CPUs ({cpu}), {ram}, Python {platform.python_version()}, {platform.system()} {platform.machine()}"


def build_pyagrum(network):
    """A pyAgrum BayesNet with the pgmpy network's variables, states and CPDs; None if not installed."""
    try:
        import pyagrum as gum
    except ImportError:
        try:
            import pyAgrum as gum  # noqa: N813 - pyAgrum < 2 spelled its module this way
        except ImportError:
            return None, None
    import itertools

    bn = gum.BayesNet("hipdx")
    cpds = {cpd.variable: cpd for cpd in network.get_cpds()}
    for var in network.nodes():
        bn.add(gum.LabelizedVariable(var, var, list(cpds[var].state_names[var])))
    for parent, child in network.edges():
        bn.addArc(parent, child)
    for var, cpd in cpds.items():
        parents = list(cpd.variables[1:])
        values = cpd.get_values()  # (card, prod parent cards), parents in cpd order, last fastest
        names = [list(cpd.state_names[p]) for p in parents]
        for j, config in enumerate(itertools.product(*names)):
            bn.cpt(var)[dict(zip(parents, config, strict=True))] = values[:, j].tolist()
    return gum, bn


def _evidence_dicts(frame, order) -> list[dict[str, str]]:
    rows = []
    for rec in frame[order].to_dict("records"):
        rows.append({k: v for k, v in rec.items() if isinstance(v, str) and v})
    return rows


def random_evidence(m, n: int, seed: int, low: int = 6, high: int = 16) -> list[dict[str, str]]:
    """n random cases: 6 to 16 answers on variables drawn at random (so risk factors are partly
    missing), each answer's state drawn uniformly (DESIGN.md section 6, the second case mix)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = list(m.evidence_order)
    out = []
    for _ in range(n):
        chosen = rng.choice(len(names), size=int(rng.integers(low, high + 1)), replace=False)
        out.append({names[i]: str(rng.choice(m.variables[names[i]].states)) for i in sorted(chosen)})
    return out


def _measure(m, frame, k: int) -> dict:
    """One case mix: batch rates, pgmpy row by row on the first k rows, exactness, latencies."""
    import numpy as np
    from pgmpy.inference import VariableElimination

    n = len(frame)
    codes, _ = m.vocabulary.encode_frame(frame, m.evidence_order)
    n_rf = len(m.risk_factor_ids)
    rf, fd = codes[:, :n_rf], codes[:, n_rf:]
    m.engine.posterior(rf[:100], fd[:100])  # warm caches
    t = time.perf_counter()
    m.engine.posterior(rf, fd, threads=1)
    engine1_s = time.perf_counter() - t
    t = time.perf_counter()
    res = m.engine.posterior(rf, fd)  # default: split over the CPUs (m.engine.threads)
    engine_s = time.perf_counter() - t
    t = time.perf_counter()
    m.score(frame)
    score_s = time.perf_counter() - t
    ve = VariableElimination(m.network)
    cases = _evidence_dicts(frame.iloc[:k], m.evidence_order)
    ve_times, ve_marg = [], np.empty((k, len(m.conditions)))
    for i, ev in enumerate(cases):
        t = time.perf_counter()
        q = ve.query(list(m.conditions), evidence=ev, joint=False, show_progress=False)
        ve_times.append(time.perf_counter() - t)
        ve_marg[i] = [q[c].get_value(**{c: "present"}) for c in m.conditions]
    diag_full, diag_plain, post_only = [], [], []
    for ev in cases[:20]:  # warm the small caches, as a server would be
        m.diagnose(ev)
    with _frozen_heap():
        for i, ev in enumerate(cases):
            t = time.perf_counter()
            m.diagnose(ev, reasoning=False)
            diag_plain.append(time.perf_counter() - t)
            t = time.perf_counter()
            m.engine.posterior(rf[i:i + 1], fd[i:i + 1])
            post_only.append(time.perf_counter() - t)
            t = time.perf_counter()
            m.diagnose(ev)
            diag_full.append(time.perf_counter() - t)
    return {"n": n, "engine": n / engine_s, "engine1": n / engine1_s, "score": n / score_s, "pgmpy": k / sum(ve_times),
            "diff": float(np.max(np.abs(ve_marg - res.marginals[:k]))), "cases": cases, "ve_times": ve_times,
            "post_only": post_only, "diag_plain": diag_plain, "diag_full": diag_full}


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from model import load_model
    from model.simulate import simulate

    t0 = time.perf_counter()
    m = load_model()
    load_s = time.perf_counter() - t0
    n, k = max(args.rows, args.pgmpy_rows), args.pgmpy_rows
    simulated = simulate(m, n, seed=args.seed, missing=args.missing)[m.evidence_order]
    rand = pd.DataFrame(random_evidence(m, n, args.seed), columns=m.evidence_order)
    print(f"hipdx bench: {machine()}")
    print(f"model {m.version}; {len(m.conditions)} conditions, {len(m.variables)} evidence variables; load {load_s:.1f} s")
    print(f"two case mixes of {n:,} rows each (seed {args.seed}); the first {k} of each are also answered row by row:")
    print(f"  simulated: runners forward-sampled from the network, {args.missing:.0%} of answers blank (hipdx simulate --missing)")
    print("  random:    6 to 16 answers on random variables (risk factors partly missing), states uniform\n")
    mixes = {"simulated": _measure(m, simulated, k), "random": _measure(m, rand, k)}

    ms = 1e3
    print("Throughput (rows/s, same rows; x = speed-up over pgmpy row by row)")
    print(_row("", "simulated", "x", "random", "x"))
    for label, key in (("hipdx engine, batch, one thread", "engine1"),
                       (f"hipdx engine, batch ({m.engine.threads} threads, default)", "engine"),
                       ("hipdx m.score (parse answers + engine + triage)", "score"),
                       ("pgmpy VariableElimination, row by row", "pgmpy")):
        cells = []
        for mix in mixes.values():
            cells += [f"{mix[key]:,.0f}" if key != "pgmpy" else f"{mix[key]:,.1f}", f"{mix[key] / mix['pgmpy']:,.0f}x"]
        print(_row(label, *cells))
    print(_row("max |p - pgmpy| (engine, same rows)", f"{mixes['simulated']['diff']:.1e}", "", f"{mixes['random']['diff']:.1e}", ""))

    gum, bn = build_pyagrum(m.network)
    if bn is not None:
        import numpy as np

        present = {c: list(m.network.get_cpds(c).state_names[c]).index("present") for c in m.conditions}
        for name, mix in mixes.items():
            times = []
            for ev in mix["cases"]:
                t = time.perf_counter()
                ie = gum.LazyPropagation(bn)
                ie.setEvidence(ev)
                ie.makeInference()
                np.array([ie.posterior(c).toarray()[present[c]] for c in m.conditions])
                times.append(time.perf_counter() - t)
            mix["pyagrum"] = times
            print(_row(f"pyAgrum {gum.__version__} LazyPropagation ({name})", f"{len(times) / sum(times):,.1f}",
                       f"{len(times) / sum(times) / mix['pgmpy']:,.1f}x"))
    else:
        print(_row("pyAgrum LazyPropagation", "not installed", "", "(pip install 'hipdx[bench]')"))

    print("\nSingle-case latency (ms; the objects alive before the timed loop frozen out of the garbage collector, as in hipdx serve)")
    print(_row("", "sim p50", "sim p95", "rand p50", "rand p95"))
    for label, key, digits in (("hipdx engine posterior only (one row)", "post_only", 3),
                               ("hipdx m.diagnose(reasoning=False)", "diag_plain", 3),
                               ("hipdx m.diagnose (intervals, effects, next q.)", "diag_full", 2),
                               ("pgmpy VariableElimination query (posterior only)", "ve_times", 2)):
        cells = []
        for mix in mixes.values():
            cells += [f"{_pct(mix[key], 50) * ms:.{digits}f}", f"{_pct(mix[key], 95) * ms:.{digits}f}"]
        print(_row(label, *cells))
    with _frozen_heap():
        _reasoning_breakdown(m, mixes["simulated"]["cases"][:100], seed=args.seed)
    sys.stdout.flush()
    if args.intervals:
        from .bench_intervals import report

        # cases of their own (not the first rows of the mixes, which depend on --rows): comparable across runs
        few = simulate(m, 60, seed=args.seed, missing=args.missing)[m.evidence_order]
        report(m, _evidence_dicts(few, m.evidence_order) + random_evidence(m, 60, args.seed))
        sys.stdout.flush()

    if not args.skip_score:
        _bench_score(m, args)
        if args.survey_rows > 0:
            _bench_survey_formats(m, args)
    return 0


def _reasoning_breakdown(m, cases: list[dict[str, str]], seed: int) -> None:
    """Time of each part of a full diagnosis on three case mixes: the bench cases as simulated
    (every answer given), the same with 60% of answers blanked (a clinician rarely has every
    answer), and the load test's mix (``hipdx loadtest``: demographics, some training, one to
    three pain sites, some timing, aggravators and signs)."""
    import numpy as np

    from .loadtest import CaseMaker

    rng = np.random.default_rng(seed)
    partial = [{k: v for k, v in ev.items() if rng.random() < 0.4} for ev in cases]
    maker = CaseMaker(m.describe(), seed)
    load_mix = [maker.case() for _ in range(3 * len(cases))]
    for ev in load_mix[:20]:  # warm the small caches, as a server would be
        m.diagnose(ev)
    print("\nFull diagnosis, by part (ms; parts are medians, given the case's shared tables)")
    print(_row("", "tables", "intervals", "effects", "next q.", "full p50", "full mean", "full p95", width=11))
    for label, group in (("cases as simulated", cases), ("same cases, 60% of answers blank", partial),
                         ("the load test's case mix", load_mix)):
        parts: dict[str, list[float]] = {"tables": [], "intervals": [], "effects": [], "next": [], "full": []}
        for ev in group:
            parsed = m.parse_evidence(ev)
            t = time.perf_counter()
            variants = m.reasoner.variants(parsed)
            point = variants.base().marginals[0]
            parts["tables"].append(time.perf_counter() - t)
            for name, call, extra in (("intervals", m.reasoner.intervals, {}),
                                      ("effects", m.reasoner.effects, {"variants": variants}),
                                      ("next", m.reasoner.next_questions, {"variants": variants})):
                t = time.perf_counter()
                call(parsed, point, **extra)
                parts[name].append(time.perf_counter() - t)
            t = time.perf_counter()
            m.diagnose(ev).to_dict()
            parts["full"].append(time.perf_counter() - t)
        full = parts.pop("full")
        print(_row(label, *(f"{_pct(v, 50) * 1e3:.2f}" for v in parts.values()),
                   f"{_pct(full, 50) * 1e3:.2f}", f"{np.mean(full) * 1e3:.2f}", f"{_pct(full, 95) * 1e3:.2f}", width=11))


def _bench_score(m, args: argparse.Namespace) -> None:

    from .simulate_cmd import write_simulated

    with tempfile.TemporaryDirectory(prefix="hipdx-bench-") as tmp:
        src, out = os.path.join(tmp, "runners.csv"), os.path.join(tmp, "scored.csv")
        t = time.perf_counter()
        write_simulated(m, args.score_rows, src, seed=args.seed + 1, missing=args.missing)
        sim_s = time.perf_counter() - t
        size = os.path.getsize(src)
        cmd = [sys.executable, "-m", "service.score_cmd", src, "-o", out]
        if args.jobs is not None:
            cmd += ["--jobs", str(args.jobs)]
        print(f"\nEnd to end: `hipdx score` on {args.score_rows:,} simulated rows ({size / 2**20:,.0f} MiB CSV, "
              f"written in {sim_s:.1f} s), in a subprocess")
        load = _load()
        rc, wall, peak_pss, peak_rss, err = _measure_cmd(cmd)
        if rc != 0:
            print(f"  hipdx score failed ({rc}):\n{err}")
            return
        print(f"  command: {' '.join(cmd[2:])}")
        print(f"  load average (1 min) before / after: {load} / {_load()} (the machine's other work slows the run)")
        print(f"  wall time {wall:.1f} s ({args.score_rows / wall:,.0f} rows/s); output {os.path.getsize(out) / 2**20:,.0f} MiB")
        # (not ru_maxrss of the children: it counts this process's memory, copied at fork before exec)
        print(f"  peak memory, the command and its workers together (polled every 0.1 s): {peak_pss / 2**20:,.0f} MiB PSS "
              f"({peak_rss / 2**20:,.0f} MiB RSS, shared pages counted once per process)")
        print("  " + err.strip().replace("\n", "\n  "))


def _load() -> str:
    """The 1-minute load average (how busy the machine was), or "?" where the OS has none."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def _measure_cmd(cmd: list[str]) -> tuple[int, float, int, int, str]:
    """Run ``cmd``; (exit code, wall seconds, peak PSS and peak RSS of it and its children in bytes, stderr)."""
    import psutil

    peak_rss = peak_pss = 0
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        rss = pss = 0
        try:
            for p in [ps, *ps.children(recursive=True)]:
                try:
                    info = p.memory_full_info()
                    rss += info.rss
                    pss += getattr(info, "pss", info.rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
        except psutil.NoSuchProcess:
            pass
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.1)
    return proc.returncode, time.perf_counter() - t, peak_pss, peak_rss, proc.stderr.read()


def _bench_survey_formats(m, args: argparse.Namespace) -> None:
    """`hipdx score` on an .xlsx and an SPSS .sav of simulated runners (answers as labelled
    codes, the way statistics packages store them), with the mapping that reads them."""
    import pandas as pd

    from model.simulate import simulate

    n = args.survey_rows
    frame = simulate(m, n, seed=args.seed + 2, missing=args.missing)[m.evidence_order]
    codes = {v: {s: i + 1 for i, s in enumerate(m.variables[v].states)} for v in m.evidence_order}
    coded = pd.DataFrame({v: frame[v].map(codes[v]).astype(float) for v in m.evidence_order})
    lines = ["columns:"] + [f"  {v}: {{variable: {v}, values: {{{', '.join(f'{i}: {s}' for s, i in codes[v].items())}}}}}"
                            for v in m.evidence_order]
    print(f"\nSurvey formats: `hipdx score` on {n:,} simulated rows as .xlsx and SPSS .sav (coded answers + mapping), "
          "in a subprocess")
    with tempfile.TemporaryDirectory(prefix="hipdx-bench-") as tmp:
        mapping = os.path.join(tmp, "map.yaml")
        with open(mapping, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        files = {}
        t = time.perf_counter()
        files[".xlsx"] = os.path.join(tmp, "runners.xlsx")
        coded.to_excel(files[".xlsx"], index=False)
        xlsx_s = time.perf_counter() - t
        try:
            import pyreadstat

            files[".sav"] = os.path.join(tmp, "runners.sav")
            labels = {v: {float(i): s for s, i in codes[v].items()} for v in m.evidence_order}
            pyreadstat.write_sav(coded, files[".sav"], variable_value_labels=labels)
        except ImportError:
            print("  (pyreadstat not installed: .sav skipped)")
        print(f"  (.xlsx written in {xlsx_s:.1f} s)")
        for kind, src in files.items():
            cmd = [sys.executable, "-m", "service.score_cmd", src, "-o", os.path.join(tmp, "scored.parquet"), "--mapping", mapping]
            if args.jobs is not None:
                cmd += ["--jobs", str(args.jobs)]
            load = _load()
            rc, wall, pss, rss, err = _measure_cmd(cmd)
            if rc != 0:
                print(f"  {kind}: hipdx score failed ({rc}):\n{err}")
                continue
            print(f"  {kind} ({os.path.getsize(src) / 2**20:,.1f} MiB): wall time {wall:.1f} s ({n / wall:,.0f} rows/s); "
                  f"peak memory {pss / 2**20:,.0f} MiB PSS ({rss / 2**20:,.0f} MiB RSS summed); load average {load} / {_load()}")
