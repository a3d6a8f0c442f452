"""20 concurrent conflicting transitions on one matter (PostgreSQL): exactly one wins."""

from __future__ import annotations

import os
import threading

import pytest
from django.db import connection, connections

from bihuan.core.errors import Conflict
from bihuan.loop import services
from bihuan.loop.models import Matter, MatterEvent

from .loop_helpers import at, make_categories, new_matter


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                    reason="needs PostgreSQL (row locks under READ COMMITTED)")
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_transitions_one_wins(tree, users):
    assert connection.vendor == "postgresql"
    road, _ = make_categories()
    now = at("2026-11-02 09:00")
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now)
    m = services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao, now=now)
    barrier = threading.Barrier(20)
    results: list[str] = []
    lock = threading.Lock()

    def worker(i: int):
        try:
            barrier.wait()
            if i % 2:
                services.accept(users.lumiao_secretary, m.pk, version=2)
            else:
                services.send_back(users.lumiao_secretary, m.pk, version=2, reason=f"退回 {i}")
            outcome = "won"
        except Conflict:
            outcome = "409"
        except Exception as exc:  # noqa: BLE001 - reported in the assertion
            outcome = f"error {type(exc).__name__}: {exc}"
        finally:
            connections.close_all()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["409"] * 19 + ["won"], results
    m = Matter.objects.get(pk=m.pk)
    assert m.version == 3
    seqs = list(MatterEvent.objects.filter(matter=m).order_by("seq").values_list("seq", flat=True))
    assert seqs == [1, 2, 3]
