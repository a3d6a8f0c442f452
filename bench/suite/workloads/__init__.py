"""Workloads that apps add to ``bihuan bench`` without touching the runner.

An app adds ``bench/suite/workloads/<name>.py`` with:

* ``NAME`` — the workload's name (``bihuan bench --only NAME``);
* ``run(ctx) -> dict`` — measure at ``ctx.cfg``'s scale in the suite's PostgreSQL database
  (``ctx.url``, ``ctx.raw`` a raw psycopg connection, ``ctx.now``, ``ctx.scale``, ``ctx.say``),
  and return its figures **with a baseline measured in the same run** (raw SQL, COPY, a peer)
  and the ratio between them;
* ``rows(result) -> list[tuple]`` — its rows of the results table:
  ``(workload, bihuan, baseline, ratio, target, status)``.

The runner discovers the modules here, adds their names to ``--only``, runs each under the
same failure guard as the built-in workloads, and renders their rows in ``results.md``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType


@dataclass
class Context:
    url: str
    raw: object
    now: object
    scale: str
    cfg: dict
    say: object


def discover() -> dict[str, ModuleType]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            found[mod.NAME] = mod
    return found
