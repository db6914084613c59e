"""Run the example nginx configuration (deploy/nginx/hipdx.conf) in front of a hipdx server, on loopback.

The file is used as shipped, with only its addresses and log paths replaced (each replacement must
match exactly once, so a changed example fails here rather than being tested half). nginx runs in
the foreground with its own prefix directory, and is stopped with SIGQUIT (graceful), then killed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from service import loadtest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "nginx" / "hipdx.conf"
HOST = "127.0.0.1"


def nginx_path() -> str:
    """nginx's executable; a clear failure (not a skip) when the set-up did not install it."""
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if not path:
        raise RuntimeError("nginx is not installed: run `make test` (it installs Debian's nginx) or `apt-get install nginx`")
    return path


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{EXAMPLE.name}: expected {old!r} exactly once"
    return text.replace(old, new)


@dataclass
class Nginx:
    port: int
    access_log: Path
    error_log: Path

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in (self.access_log, self.error_log) if p.exists())


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {proc.returncode}")
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx is not listening on {HOST}:{port} after {timeout:.0f}s")


@contextmanager
def nginx_in_front(upstream_port: int, workdir: Path) -> Iterator[Nginx]:
    port = loadtest.free_port(HOST)
    site = EXAMPLE.read_text()
    site = replace_once(site, "server 127.0.0.1:8000;", f"server {HOST}:{upstream_port};")
    site = replace_once(site, "listen 80;", f"listen {HOST}:{port};")
    access, error = workdir / "hipdx.access.log", workdir / "hipdx.error.log"
    site = replace_once(site, "/var/log/nginx/hipdx.access.log", str(access))
    site = replace_once(site, "/var/log/nginx/hipdx.error.log", str(error))
    (workdir / "hipdx.conf").write_text(site)
    temp = "\n".join(f"    {name}_temp_path {workdir / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # the workers must reach the temporary directories
    (workdir / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {workdir / 'nginx.pid'};\nerror_log {workdir / 'main-error.log'} crit;\n"
        f"events {{ worker_connections 512; }}\nhttp {{\n{temp}\n    include {workdir / 'hipdx.conf'};\n}}\n")
    cmd = [nginx_path(), "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", str(workdir / "main-error.log")]
    check = subprocess.run([*cmd, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc)
        yield Nginx(port, access, error)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
