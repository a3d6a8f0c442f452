"""Periodic background jobs, run by ``bihuan worker``.

Apps register jobs here (core must not import them). Each job takes ``now`` and only
*emits* — derived state never depends on a job having run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger("bihuan.jobs")


@dataclass
class Job:
    name: str
    every_seconds: float
    func: Callable[[datetime], object]


REGISTRY: dict[str, Job] = {}


def register(name: str, every_seconds: float):
    def deco(func):
        REGISTRY[name] = Job(name, every_seconds, func)
        return func

    return deco


@register("audit.seal", every_seconds=2)
def _seal_audit(now: datetime):
    from . import audit

    return audit.seal_all()
