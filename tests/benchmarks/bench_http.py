"""``make bench-http``: gunicorn on 127.0.0.1 driven by wrk, with and without jwt_wsgi.

Starts gunicorn (one gthread worker) serving the seed example, drives
``GET /protected`` with the admin's token using wrk for a bounded time, and
prints requests/s for the app behind jwt_wsgi and for the same app without it;
then the same with revocation through a real Redis (``redis-server`` on a
free loopback port), checked from the mirror and, for comparison, by a round
trip per request. Runs alternate (A B C D A B C D ...) so drift on a shared
machine hits all alike. wrk comes from the Debian package; it is installed
when missing and we are root.

Environment: ``BENCH_SECONDS`` per run (10), ``BENCH_RUNS`` per variant (3),
``BENCH_CONNECTIONS`` (8).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is missing: install the Debian package 'wrk' (apt-get install wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk could not be installed")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, timeout: float = 20, what: str = "gunicorn") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not start on port {port}")


def redis_server(port: int) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if not binary:
        sys.exit("redis-server is missing: install the Debian package 'redis-server'")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    wait_for(port, what="redis-server")
    return process


def gunicorn(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--worker-class", "gthread", "--threads", "4",
        "--log-level", "warning",
        "--chdir", str(HERE),
        f"http_apps:{app}",
    ]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, **env})
    wait_for(port)
    return process


def wrk(binary: str, port: int, token: str, seconds: int, connections: int) -> float:
    result = subprocess.run(
        [
            binary,
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "-H",
            f"Authorization: Bearer {token}",
            f"http://127.0.0.1:{port}/protected",
        ],  # fmt: skip
        check=True,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    )
    if "Non-2xx" in result.stdout:
        raise SystemExit(f"wrk saw errors:\n{result.stdout}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not match:
        raise SystemExit(f"could not read wrk's output:\n{result.stdout}")
    return float(match.group(1))


def main() -> None:
    seconds = int(os.environ.get("BENCH_SECONDS", "10"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "8"))
    binary = ensure_wrk()
    sys.path.insert(0, str(HERE))
    import http_apps

    token = http_apps.admin_token()
    apps = {
        "unprotected": "unprotected",
        "protected": "protected",
        "revocation-mirror": "with_revocation(mirror=True)",
        "revocation-rtt": "with_revocation(mirror=False)",
    }
    results: dict[str, list[float]] = {name: [] for name in apps}
    redis_port = free_port()
    redis = redis_server(redis_port)
    env = {"REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    servers = {name: (port := free_port(), gunicorn(app, port, env)) for name, app in apps.items()}
    try:
        for port, _ in servers.values():  # warm up both
            wrk(binary, port, token, 1, connections)
        for _ in range(runs):
            for name, (port, _) in servers.items():
                results[name].append(wrk(binary, port, token, seconds, connections))
    finally:
        for process in [process for _, process in servers.values()] + [redis]:
            process.terminate()
            process.wait(timeout=10)
    bare = statistics.median(results["unprotected"])
    print(
        f"gunicorn (1 gthread worker, 4 threads) + wrk (-t1 -c{connections}), "
        f"{runs} x {seconds}s each, GET /protected as admin, repeated token"
    )
    for name, values in results.items():
        listed = ", ".join(f"{v:,.0f}" for v in values)
        print(f"  {name:18s} median {statistics.median(values):10,.0f} req/s   ({listed})")
    targets = {"protected": 0.97, "revocation-mirror": 0.95, "revocation-rtt": None}
    for name, target in targets.items():
        ratio = statistics.median(results[name]) / bare
        verdict = "for comparison" if target is None else (
            f"target >= {target:.2f}: {'met' if ratio >= target else 'MISSED'}"
        )  # fmt: skip
        print(f"  {name} / unprotected = {ratio:.3f}  ({verdict})")


if __name__ == "__main__":
    main()
