"""Reports probe: the bulletin figures and the city dashboard, timed and with their queries counted,
in-process on an existing bench database (read only; the cache is the settings' own). Compare two
versions of the code by running it once with each on ``PYTHONPATH`` (docs/performance.md, "Dashboard
and figures, cost around the SQL (issue 18)"):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bihuan_bench_smoke DJANGO_SETTINGS_MODULE=bench.suite.settings \
    BIHUAN_VAR_DIR=/tmp/probe-var PYTHONPATH=$PWD .venv/bin/python -m bench.reports_probe
"""

from __future__ import annotations

import statistics
import time

import django


def main() -> None:
    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bihuan.core import registry
    from bihuan.loop.models import Matter
    from bihuan.orgs.models import OrgUnit
    from bihuan.reports import figures, kinds, selectors

    now = Matter.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    city = OrgUnit.objects.get(parent__isnull=True)
    county = OrgUnit.objects.get(code="370811")
    key = kinds.last_complete("month", now)
    start, end, label = kinds.period_bounds("month", key)
    every = kinds.Template("bench_all", "bench", "month", tuple(sorted(registry.SECTIONS)))

    def measure(fn, n=3):
        fn()
        times = []
        for _ in range(n):
            with CaptureQueriesContext(connection) as q:
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
        return f"{statistics.median(times) * 1000:.0f} ms, {len(q.captured_queries)} queries"

    def cold():
        cache.clear()
        selectors.dashboard(city, now)

    def expired():
        selectors.forget_dashboard(city, now)
        selectors.dashboard(city, now)

    print("figures city  ", measure(lambda: figures.snapshot(every, city, key=key, start=start, end=end,
                                                            label=label, now=now)))
    print("figures county", measure(lambda: figures.snapshot(every, county, key=key, start=start, end=end,
                                                            label=label, now=now)))
    print("dashboard cold   ", measure(cold))
    print("dashboard expired", measure(expired))


if __name__ == "__main__":
    main()
