"""`hipdx loadtest --slow-clients N`: N stalled connections held while it measures (real server)."""

from __future__ import annotations

import argparse

from service import loadtest

HOST = "127.0.0.1"


def test_loadtest_holds_slow_clients_while_measuring(prod_server):
    figures = loadtest.run_load(HOST, prod_server.port, duration=2.0, concurrency=2, warmup=0.0, reasoning=True,
                                api_key=None, seed=3, rss_pid=prod_server.proc.pid, slow_clients=12)
    assert figures["errors"] == 0 and figures["requests_ok"] > 0
    slow = figures["slow_clients"]
    assert slow["held"] == 12 and slow["open_min"] == 12 and slow["opened"] >= 12 and slow["connect_errors"] == 0
    assert figures["server_cpu_ms_per_request"] > 0
    assert "12 stalled connections held" in loadtest.report(figures)


def test_slow_clients_bounded():
    parser = argparse.ArgumentParser()
    loadtest.add_arguments(parser)
    assert loadtest.run(parser.parse_args(["--slow-clients", str(loadtest.MAX_SLOW_CLIENTS + 1)])) == 2
    assert parser.parse_args(["--slow-clients", "50"]).slow_clients == 50
