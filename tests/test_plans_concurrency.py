"""Overlapping runs of the supervision job and concurrent target edits (PostgreSQL, real threads)."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import connections

from bihuan.core.errors import Conflict
from bihuan.loop.models import Matter
from bihuan.plans import services
from bihuan.plans.models import Escalation, Task

from .plans_helpers import at, make_plan

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="needs PostgreSQL (concurrent writers)"),
    pytest.mark.django_db(transaction=True),
]


def _race(n, fn):
    barrier = threading.Barrier(n)
    results, lock = [], threading.Lock()

    def worker(i):
        try:
            barrier.wait()
            out = fn(i)
        except Conflict:
            out = "409"
        except Exception as exc:  # noqa: BLE001 - reported in the assertion
            out = f"error {type(exc).__name__}: {exc}"
        finally:
            connections.close_all()
        with lock:
            results.append(out)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_four_overlapping_job_runs_open_each_matter_once(tree, users):
    make_plan(tree, users.city_admin)
    results = _race(4, lambda i: services.open_overdue_matters(at(2025, 2, 20)))
    assert not [r for r in results if isinstance(r, str)], results
    assert sum(r["checkin"] for r in results) == 3
    assert Matter.objects.filter(kind="task").count() == 3 == Escalation.objects.count()


def test_two_edits_of_one_target_one_success_one_409(tree, users):
    p = make_plan(tree, users.city_admin)
    v = p.canteen.version
    results = _race(2, lambda i: services.update_task(users.city_admin, p.canteen.pk, version=v,
                                                      target_value=15 + i) and "ok")
    assert sorted(results) == ["409", "ok"], results
    assert Task.objects.get(pk=p.canteen.pk).version == v + 1
