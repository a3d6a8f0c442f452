"""Shared pieces: percentiles, timing, the gunicorn servers (ours and the peer's), worker RSS."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
WORKERS = int(os.environ.get("BENCH_WORKERS", "3"))  # `bihuan serve`'s default (WEB_CONCURRENCY=3)


def pct(values, p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    s = sorted(values)
    k = max(1, min(len(s), -(-len(s) * p // 100)))
    return s[int(k) - 1]


def ms(seconds) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def ratio(a, b, nd: int = 2) -> float | None:
    if a is None or not b:
        return None
    return round(a / b, nd)


def summary(seconds: list[float]) -> dict:
    return {"n": len(seconds), "p50_ms": ms(pct(seconds, 50)), "p95_ms": ms(pct(seconds, 95)),
            "p99_ms": ms(pct(seconds, 99)), "mean_ms": ms(statistics.fmean(seconds)) if seconds else None}


def timed(fn, n: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def interleaved(fns: dict, n: int, warmup: int = 3) -> dict[str, list[float]]:
    """Run each function once per round, ``n`` rounds: load on the machine hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(n):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            out[k].append(time.perf_counter() - t)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn master started in its own process group; ``worker_pids`` for RSS sampling."""

    def __init__(self, argv: list[str], env: dict, cwd: Path, health: str, log: Path):
        self.argv, self.env, self.cwd, self.health, self.log = argv, env, cwd, health, log
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=fh, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}); see {self.log}")
            try:
                with urllib.request.urlopen(self.health, timeout=2) as r:
                    if r.status < 500 and len(self.worker_pids()) >= WORKERS:
                        return self
            except Exception:  # noqa: BLE001 - not up yet
                pass
            time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError(f"server did not come up: {self.health}; see {self.log}")

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def worker_pids(self) -> list[int]:
        if not self.proc:
            return []
        try:
            out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        except FileNotFoundError:
            return []
        return [int(x) for x in out.split()]

    def worker_memory(self) -> list[dict]:
        """Per worker: current RSS and peak RSS (VmHWM) in MB."""
        out = []
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text().splitlines()
            except OSError:
                continue
            vals = {line.split(":")[0]: int(line.split()[1]) for line in status if line.startswith(("VmRSS", "VmHWM"))}
            # What the worker costs beyond what it shares with the master and its siblings (a preloaded
            # application's pages): Pss shares them out, Private_* is the worker's own.
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
            except OSError:
                rollup = []
            sm = {line.split(":")[0]: int(line.split()[1]) for line in rollup[1:] if line.split()[1:2] and
                  line.split()[1].isdigit()}
            out.append({"pid": pid, "rss_mb": round(vals.get("VmRSS", 0) / 1024, 1),
                        "peak_rss_mb": round(vals.get("VmHWM", 0) / 1024, 1),
                        "pss_mb": round(sm.get("Pss", 0) / 1024, 1),
                        "private_mb": round((sm.get("Private_Clean", 0) + sm.get("Private_Dirty", 0)) / 1024, 1)})
        return out


def bihuan_server(port: int, env: dict, log: Path) -> Server:
    from bihuan.core.management.commands.serve import gunicorn_argv

    argv = gunicorn_argv("127.0.0.1", port, WORKERS)
    # The same flags as `bihuan serve`, without the access log (the peer gets none either).
    i = argv.index("--access-logfile")
    del argv[i:i + 2]
    argv[0] = sys.executable
    env = {**env, "DJANGO_SETTINGS_MODULE": "bench.suite.settings", "PYTHONPATH": str(ROOT),
           "BIHUAN_LOG_LEVEL": "WARNING"}
    return Server(argv, env, ROOT, f"http://127.0.0.1:{port}/healthz", log)
