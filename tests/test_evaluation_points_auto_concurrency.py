"""points2: concurrent runs of the automatic-award job award each service record once (PostgreSQL, real threads)."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import connections
from django.db.models import Sum

from bihuan.evaluation import services
from bihuan.evaluation.models import PointAutoAward, PointEntry
from bihuan.evaluation.services.points import balance_of

from .evaluation_helpers import points_setup
from .loop_helpers import at
from .test_evaluation_points_auto import _hours, _volunteer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="needs PostgreSQL (concurrent writers)"),
    pytest.mark.django_db(transaction=True),
]


def test_concurrent_job_runs_award_each_record_once_within_the_cap(tree, users):
    p = points_setup(tree, None)
    services.create_rule(None, unit=tree.liying, code="ZYZD", name="志愿服务（自动）", points=2, cap_per_year=16,
                         auto="care.hours")
    team, member = _volunteer(tree, users, p)
    for d in range(1, 11):  # ten records of 1 hour: 20 points, capped at 16
        _hours(users, team, member, f"2026-03-{d:02d}", "1")
    barrier = threading.Barrier(6)
    errors, lock = [], threading.Lock()

    def worker():
        try:
            barrier.wait()
            services.auto_award(at("2026-03-20 01:00"))
        except Exception as exc:  # noqa: BLE001 - reported in the assertion
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert PointAutoAward.objects.count() == 10
    assert PointEntry.objects.filter(household=p.h1).count() == 8
    assert balance_of(p.h1) == 16 == PointEntry.objects.filter(household=p.h1).aggregate(s=Sum("points"))["s"]
