"""A closed-loop HTTP load generator on asyncio + aiohttp: ``clients`` coroutines, each sending
its next operation as soon as the previous one answered, until ``total`` operations are done.

An operation is one coroutine (one request, or a lifecycle of several); its wall time is
recorded, and so is every request inside it (``Recorder.request``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Recorder:
    requests: list[float] = field(default_factory=list)  # seconds, successful requests
    errors: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)

    async def request(self, session, method: str, url: str, *, expect=(200, 201), **kw):
        t = time.perf_counter()
        async with session.request(method, url, **kw) as resp:
            body = await resp.read()
            dt = time.perf_counter() - t
            if resp.status not in expect:
                key = f"{method} {resp.status}"
                self.errors[key] = self.errors.get(key, 0) + 1
                if len(self.samples) < 5:
                    self.samples.append(f"{method} {url} → {resp.status}: {body[:300]!r}")
                raise OpError(key)
            self.requests.append(dt)
            return body


class OpError(Exception):
    pass


@dataclass
class Result:
    ops: int
    failed: int
    wall_s: float
    op_latencies: list[float]
    rec: Recorder

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.wall_s if self.wall_s else 0.0

    @property
    def requests_per_s(self) -> float:
        return len(self.rec.requests) / self.wall_s if self.wall_s else 0.0


async def _run(base_url: str, clients: int, total: int, op, headers: dict | None) -> Result:
    import aiohttp

    rec = Recorder()
    lat: list[float] = []
    failed = 0
    counter = iter(range(total))
    conn = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(base_url, connector=conn, timeout=timeout, headers=headers or {}) as session:
        async def client():
            nonlocal failed
            for i in counter:
                t = time.perf_counter()
                try:
                    await op(session, rec, i)
                    lat.append(time.perf_counter() - t)
                except (TimeoutError, OpError, aiohttp.ClientError) as exc:
                    failed += 1
                    if not isinstance(exc, OpError):
                        rec.errors[type(exc).__name__] = rec.errors.get(type(exc).__name__, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - t0
    return Result(len(lat), failed, wall, lat, rec)


def run(base_url: str, clients: int, total: int, op, headers: dict | None = None) -> Result:
    return asyncio.run(_run(base_url, clients, total, op, headers))
