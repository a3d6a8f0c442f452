"""20 concurrent redemptions against a balance that covers 5 (PostgreSQL, real threads)."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import connections
from django.db.models import Sum

from bihuan.core.errors import ServiceError
from bihuan.evaluation import services
from bihuan.evaluation.models import PointEntry, Redemption, StoreItem
from bihuan.evaluation.services.points import balance_of

from .evaluation_helpers import points_setup

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="needs PostgreSQL (concurrent writers)"),
    pytest.mark.django_db(transaction=True),
]


def test_twenty_concurrent_redemptions_exactly_five_succeed(tree, users):
    p = points_setup(tree, None)
    services.award(None, household=p.h1, rule=p.volunteer, quantity=25)  # 50 points: five soaps at 10
    StoreItem.objects.filter(pk=p.soap.pk).update(stock=100)
    barrier = threading.Barrier(20)
    results, lock = [], threading.Lock()

    def worker():
        try:
            barrier.wait()
            services.redeem(users.lumiao_secretary, household=p.h1.pk, item=p.soap.pk)
            out = "ok"
        except ServiceError as exc:
            out = exc.code
        except Exception as exc:  # noqa: BLE001 - reported in the assertion
            out = f"error {type(exc).__name__}: {exc}"
        finally:
            connections.close_all()
        with lock:
            results.append(out)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["balance"] * 15 + ["ok"] * 5
    assert balance_of(p.h1) == 0
    assert PointEntry.objects.filter(household=p.h1).aggregate(s=Sum("points"))["s"] == 0
    assert Redemption.objects.count() == 5 and StoreItem.objects.get(pk=p.soap.pk).stock == 95
