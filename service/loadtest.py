"""``hipdx loadtest``: drive ``POST /v1/diagnosis`` on a loopback hipdx server with varied, realistic
cases for a bounded time, and report throughput, latency percentiles, errors and server memory.

Cases are built from the server's own ``GET /v1/model`` (variables, states, groups): a mix of
demographics (age in years or band), training, one to three pain sites, timing, aggravators and
signs, with a red flag in a few percent of cases. Each request is a fresh random case (seeded), so
the server's diagnosis cache rarely helps; the cache hit rate is reported.

``--slow-clients N`` holds N stalled connections open while it measures (a quarter each: headers
sent and 6 of 100 body bytes; a chunked body left unfinished; a header section never ended; a
connection with nothing sent). A connection the server closes (its timeout) is opened again, so N
stay held; the figures say how many were open at every sample and how many the server timed out.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import random
import selectors
import socket
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

MAX_DURATION = 3600.0
RED_FLAG_GROUP = "red_flags"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL, loopback only (default: %(default)s)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load (default: 60; at most 3600)")
    p.add_argument("--concurrency", type=int, default=4, help="concurrent keep-alive connections (default: 4)")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring (default: 3)")
    p.add_argument("--start-server", action="store_true", help="start `hipdx serve` on a free loopback port and stop it after")
    p.add_argument("--workers", type=int, default=None, help="workers of the started server (default: CPU count)")
    p.add_argument("--worker-class", choices=("gevent", "gthread"), default=None,
                   help="worker class of the started server (default: hipdx serve's, gevent)")
    p.add_argument("--slow-clients", type=int, default=0, metavar="N",
                   help="hold N stalled connections open while measuring (default: 0; at most 1000)")
    p.add_argument("--no-reasoning", action="store_true", help="call ?reasoning=false (posteriors and triage only)")
    p.add_argument("--api-key", default=os.environ.get("HIPDX_LOADTEST_API_KEY"),
                   help="X-API-Key to send, if the server needs one (default: $HIPDX_LOADTEST_API_KEY)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random cases (default: 0)")
    p.add_argument("--json", dest="json_out", metavar="FILE", help="also write the figures as JSON to FILE")


# ---------------------------------------------------------------------------- safety
def require_loopback(host: str) -> None:
    """Refuse anything but this machine: a load test must never hit someone else's server."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc}") from None
    for info in infos:
        if not ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback:
            raise ValueError(f"{host!r} is not a loopback address; hipdx loadtest only runs against this machine")


# ---------------------------------------------------------------------------- cases
class CaseMaker:
    """Random but plausible runners, from the variables the server describes."""

    def __init__(self, description: dict[str, Any], seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.by_group: dict[str, list[dict[str, Any]]] = {}
        for var in description["variables"]:
            self.by_group.setdefault(var["group"], []).append(var)
        self.variables = {v["id"]: v for v in description["variables"]}

    def _answer(self, var: dict[str, Any], p_positive: float = 0.5) -> str:
        states = var["states"]
        if states[:2] in (["present", "absent"], ["yes", "no"]):
            return states[0] if self.rng.random() < p_positive else states[1]
        return self.rng.choice(states)

    def case(self) -> dict[str, Any]:
        rng, ev = self.rng, {}
        for var in self.by_group.get("demographics", []):
            if rng.random() < 0.9:
                numeric = var.get("numeric")
                if numeric and rng.random() < 0.6:
                    ev[numeric["field"]] = rng.randint(max(int(numeric["min"]), 16), min(int(numeric["max"]), 75))
                else:
                    ev[var["id"]] = self._answer(var)
        for var in self.by_group.get("training", []):
            if rng.random() < 0.5:
                numeric = var.get("numeric")
                if numeric and rng.random() < 0.5:
                    lo, hi = numeric["min"], min(numeric["max"], 25)
                    if "hour" in numeric["unit"]:
                        ev[numeric["field"]] = round(rng.uniform(lo, hi), 1)
                    else:
                        ev[numeric["field"]] = rng.randint(int(lo), int(min(hi, 7)))
                else:
                    ev[var["id"]] = self._answer(var, 0.4)
        locations = self.by_group.get("location", [])
        for var in rng.sample(locations, k=min(len(locations), rng.randint(1, 3))):
            ev[var["id"]] = "present"
        for var in locations:
            if var["id"] not in ev and rng.random() < 0.3:
                ev[var["id"]] = "absent"
        for group, share, p_pos in (("timing", 0.4, 0.5), ("aggravators", 0.4, 0.4), ("signs", 0.35, 0.3)):
            for var in self.by_group.get(group, []):
                if rng.random() < share:
                    ev[var["id"]] = self._answer(var, p_pos)
        for var in self.by_group.get(RED_FLAG_GROUP, []):
            if rng.random() < 0.03:
                ev[var["id"]] = "present"
            elif rng.random() < 0.3:
                ev[var["id"]] = "absent"
        return ev


# ---------------------------------------------------------------------------- server
def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_server(host: str, port: int, workers: int | None, worker_class: str | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "service.serve", "--host", host, "--port", str(port), "--log-level", "warning"]
    if workers:
        cmd += ["--workers", str(workers)]
    if worker_class:
        cmd += ["--worker-class", worker_class]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_ready(host: str, port: int, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"the server exited with {proc.returncode}: {err[-2000:]}")
        try:
            conn = http.client.HTTPConnection(host, port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no healthy server on {host}:{port} after {timeout:.0f}s")


def stop_server(proc: subprocess.Popen) -> None:
    import signal

    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def server_pid(port: int) -> int | None:
    """The master process listening on ``port`` (best effort; None when it cannot be seen)."""
    import psutil

    try:
        pids = {c.pid for c in psutil.net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid}
    except (psutil.AccessDenied, OSError):
        return None
    for pid in pids:  # the master is the one whose parent is not also listening
        try:
            if psutil.Process(pid).ppid() not in pids:
                return pid
        except psutil.NoSuchProcess:
            continue
    return None


def tree_rss_mib(pid: int | None) -> float | None:
    """Resident memory of a process and all its children, in MiB."""
    if pid is None:
        return None
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20
    except psutil.Error:
        return None


# ---------------------------------------------------------------------------- slow clients
MAX_SLOW_CLIENTS = 1000
STALLS = (
    ("body", b"POST /v1/diagnosis HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
             b'{"evid'),
    ("chunked", b"POST /v1/diagnosis HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                b'Transfer-Encoding: chunked\r\n\r\n64\r\n{"evid'),
    ("headers", b"POST /v1/diagnosis HTTP/1.1\r\nHost: %s\r\nContent-Ty"),
    ("idle", b""),
)


class SlowClients:
    """Hold ``n`` stalled connections to ``host:port`` in one background thread until :meth:`stop`.

    Each connection sends the start of a request and then nothing (see :data:`STALLS`). When the
    server closes one (or answers it, e.g. 408), it is opened again at once, so ``n`` stay held;
    ``timed_out`` counts those closures, ``open_samples`` the number open at each :meth:`sample`.
    """

    def __init__(self, host: str, port: int, n: int) -> None:
        self.host, self.port, self.n = host, port, n
        self.sel = selectors.DefaultSelector()
        self.stop_event = threading.Event()
        self.opened = self.timed_out = self.answered = self.connect_errors = 0
        self.open_samples: list[int] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, slot: int) -> None:
        kind, data = STALLS[slot % len(STALLS)]
        try:
            sock = socket.create_connection((self.host, self.port), timeout=5)
            if data:
                sock.sendall(data.replace(b"%s", self.host.encode()))
            sock.setblocking(False)
        except OSError:
            self.connect_errors += 1
            return
        self.opened += 1
        self.sel.register(sock, selectors.EVENT_READ, slot)

    def _run(self) -> None:
        for slot in range(self.n):
            self._open(slot)
        while not self.stop_event.is_set():
            missing = self.n - len(self.sel.get_map())
            for slot in range(missing):  # connections that could not be opened: try again
                self._open(slot)
            if missing:
                time.sleep(0.2)  # bounded retry rate if the server refuses connections
            for key, _ in self.sel.select(timeout=0.5):
                sock = key.fileobj
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    self.answered += data.startswith(b"HTTP/")
                    continue
                self.sel.unregister(sock)
                sock.close()
                self.timed_out += 1
                self._open(key.data)

    def start(self) -> SlowClients:
        self.thread.start()
        return self

    def sample(self) -> None:
        self.open_samples.append(len(self.sel.get_map()))

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()

    def figures(self) -> dict[str, Any]:
        return {"held": self.n, "open_min": min(self.open_samples, default=0), "open_max": max(self.open_samples, default=0),
                "opened": self.opened, "closed_by_server": self.timed_out, "answered": self.answered,
                "connect_errors": self.connect_errors}


def tree_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds used so far by a process and all its children (None when not visible)."""
    if pid is None:
        return None
    import psutil

    try:
        root = psutil.Process(pid)
        return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return None


def process_cpu_s(pid: int | None) -> dict[int, float]:
    """User + system CPU seconds by process (the master and each worker) of a process tree."""
    if pid is None:
        return {}
    import psutil

    try:
        root = psutil.Process(pid)
        return {p.pid: sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)]}
    except psutil.Error:
        return {}


# ---------------------------------------------------------------------------- load
class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.hits = 0
        self.measuring = False

    def add(self, latency: float, status: str | None, hit: bool) -> None:
        if not self.measuring:
            return
        with self.lock:
            if status is None:
                self.latencies.append(latency)
                self.hits += hit
            else:
                self.errors[status] = self.errors.get(status, 0) + 1


def _worker(host: str, port: int, path: str, headers: dict[str, str], cases: list[bytes], offset: int, step: int,
            stop: threading.Event, rec: Recorder) -> None:
    conn: http.client.HTTPConnection | None = None
    i = offset
    while not stop.is_set():
        body = cases[i % len(cases)]
        i += step
        if conn is None:
            conn = http.client.HTTPConnection(host, port, timeout=30)
        t0 = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            dt = time.perf_counter() - t0
            rec.add(dt, None if resp.status == 200 else str(resp.status), resp.getheader("X-Hipdx-Cache") == "hit")
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            rec.add(time.perf_counter() - t0, type(exc).__name__, False)
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def run_load(host: str, port: int, duration: float, concurrency: int, warmup: float, reasoning: bool,
             api_key: str | None, seed: int, rss_pid: int | None, slow_clients: int = 0) -> dict[str, Any]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["X-API-Key"] = api_key
    conn.request("GET", "/v1/model", headers=headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"GET /v1/model answered {resp.status}")
    description = json.loads(resp.read())
    conn.close()
    maker = CaseMaker(description, seed)
    n_cases = max(20000, int(400 * (duration + warmup)))
    cases = [json.dumps({"evidence": maker.case()}).encode() for _ in range(n_cases)]
    path = "/v1/diagnosis" + ("" if reasoning else "?reasoning=false")
    rec, stop = Recorder(), threading.Event()
    slow = SlowClients(host, port, slow_clients).start() if slow_clients else None
    if slow is not None:
        time.sleep(1.0)  # the stalls are in place before the load starts
    threads = [threading.Thread(target=_worker, args=(host, port, path, headers, cases, k, concurrency, stop, rec), daemon=True)
               for k in range(concurrency)]
    for t in threads:
        t.start()
    time.sleep(warmup)
    rss_samples = [tree_rss_mib(rss_pid)]
    cpu_start, by_process_start = tree_cpu_s(rss_pid), process_cpu_s(rss_pid)
    rec.measuring = True
    started = time.perf_counter()
    if slow is not None:
        slow.sample()
    while (elapsed := time.perf_counter() - started) < duration:
        time.sleep(min(5.0, duration - elapsed))
        rss_samples.append(tree_rss_mib(rss_pid))
        if slow is not None:
            slow.sample()
    rec.measuring = False
    measured = time.perf_counter() - started
    cpu_end, by_process_end = tree_cpu_s(rss_pid), process_cpu_s(rss_pid)
    stop.set()
    for t in threads:
        t.join(timeout=35)
    if slow is not None:
        slow.stop()
    lat = sorted(rec.latencies)
    ms = [x * 1000 for x in lat]
    rss = [r for r in rss_samples if r is not None]
    return {
        "url": f"http://{host}:{port}{path}",
        "duration_s": round(measured, 1),
        "concurrency": concurrency,
        "reasoning": reasoning,
        "requests_ok": len(lat),
        "errors": sum(rec.errors.values()),
        "errors_by_kind": rec.errors,
        "requests_per_s": round(len(lat) / measured, 1) if measured else 0.0,
        "latency_ms": {"mean": round(sum(ms) / len(ms), 2) if ms else None, "p50": round(percentile(ms, 50), 2),
                       "p95": round(percentile(ms, 95), 2), "p99": round(percentile(ms, 99), 2),
                       "max": round(ms[-1], 2) if ms else None},
        "cache_hit_rate": round(rec.hits / len(lat), 4) if lat else 0.0,
        # CPU the server spent per answered request: a cost that a busy machine distorts far less than req/s.
        "server_cpu_ms_per_request": (round((cpu_end - cpu_start) * 1000 / len(lat), 2)
                                      if lat and cpu_start is not None and cpu_end is not None else None),
        # Per process (master first): shows how the keep-alive connections fell on the workers.
        "server_cpu_s_by_process": [round(by_process_end[p] - by_process_start[p], 2) for p in by_process_end
                                    if p in by_process_start],
        "server_rss_mib": {"start": round(rss[0], 1), "end": round(rss[-1], 1), "max": round(max(rss), 1),
                           "every_5s": [round(r, 1) for r in rss]} if rss else None,
        "distinct_cases": n_cases,
        "slow_clients": slow.figures() if slow is not None else None,
    }


def report(fig: dict[str, Any]) -> str:
    lat, rss = fig["latency_ms"], fig["server_rss_mib"]
    lines = [
        f"target      {fig['url']}  (concurrency {fig['concurrency']}, {fig['duration_s']} s measured)",
        f"requests    {fig['requests_ok']} ok, {fig['errors']} errors {fig['errors_by_kind'] or ''}".rstrip(),
        f"throughput  {fig['requests_per_s']} requests/s",
        f"latency ms  p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}  mean {lat['mean']}",
        f"cache hits  {100 * fig['cache_hit_rate']:.1f}% of responses",
    ]
    if fig.get("server_cpu_ms_per_request") is not None:
        lines.append(f"server CPU  {fig['server_cpu_ms_per_request']} ms per answered request (process tree, user + system); "
                     f"seconds by process (master first): {fig.get('server_cpu_s_by_process')}")
    slow = fig.get("slow_clients")
    if slow:
        lines.append(f"slow        {slow['held']} stalled connections held (open at samples: {slow['open_min']}-{slow['open_max']}); "
                     f"{slow['closed_by_server']} timed out by the server and reopened, {slow['answered']} answered (408)")
    if rss:
        lines.append(f"server RSS  start {rss['start']} MiB, end {rss['end']} MiB, max {rss['max']} MiB (process tree)")
    else:
        lines.append("server RSS  not visible (server process not found)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    url = urlsplit(args.url)
    if url.scheme != "http" or not url.hostname:
        print("hipdx loadtest: --url must be http://<loopback host>:<port>", file=sys.stderr)
        return 2
    host, port = url.hostname, url.port or 80
    try:
        require_loopback(host)
    except ValueError as exc:
        print(f"hipdx loadtest: {exc}", file=sys.stderr)
        return 2
    if not 0 < args.duration <= MAX_DURATION or args.concurrency < 1:
        print(f"hipdx loadtest: --duration must be in (0, {MAX_DURATION:.0f}] and --concurrency >= 1", file=sys.stderr)
        return 2
    if not 0 <= args.slow_clients <= MAX_SLOW_CLIENTS:
        print(f"hipdx loadtest: --slow-clients must be in [0, {MAX_SLOW_CLIENTS}]", file=sys.stderr)
        return 2
    proc = None
    try:
        if args.start_server:
            port = free_port(host)
            proc = start_server(host, port, args.workers, args.worker_class)
            wait_ready(host, port, proc=proc)
            rss_pid = proc.pid
        else:
            wait_ready(host, port, timeout=5)
            rss_pid = server_pid(port)
        figures = run_load(host, port, args.duration, args.concurrency, max(args.warmup, 0.0), not args.no_reasoning,
                           args.api_key, args.seed, rss_pid, args.slow_clients)
    except RuntimeError as exc:
        print(f"hipdx loadtest: {exc}", file=sys.stderr)
        return 1
    finally:
        if proc is not None:
            stop_server(proc)
    figures["server_started_by_loadtest"] = bool(args.start_server)
    figures["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(report(figures))
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2)
    return 0 if figures["errors"] == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hipdx loadtest")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
