"""The loop's demo seed: every state, overdue, flagged and rated matters; deterministic; idempotent."""

from __future__ import annotations

import pytest
from django.db.models import Count

from bihuan.accounts.seed import ensure_demo_users
from bihuan.core.context import acting_as
from bihuan.loop import seed as loop_seed
from bihuan.loop import selectors
from bihuan.loop.models import Matter, MatterEvent, Rating
from bihuan.orgs import seed as org_seed
from bihuan.orgs.models import Level, OrgUnit

from .loop_helpers import at


@pytest.mark.django_db
def test_demo_seed_has_a_realistic_year(monkeypatch):
    monkeypatch.setattr(loop_seed, "DEMO_MATTERS", 150)
    now = at("2026-11-20 10:00")
    with acting_as(None, username="seed"):
        org_seed.seed_tree("demo", 2022, progress=False)
        ensure_demo_users()
    # 150 random matters + 5 showcase ones (loop.seed_showcase: progress notes, photos, public demands)
    assert loop_seed.seed_loop("demo", 2022, progress=False, now=now) == {"matters": 155, "skipped": False}
    states = dict(Matter.objects.values_list("state").annotate(n=Count("id")))
    assert {"new", "dispatched", "in_progress", "closed"} <= set(states)
    assert Matter.objects.filter(selectors.overdue_q(now)).exists()
    assert Matter.objects.filter(flagged=True).exists() and Rating.objects.exists()
    # Every county has matters (the first 40 villages by path were in four of the eleven).
    counties = OrgUnit.objects.filter(level=Level.COUNTY)
    assert counties.count() == 11
    for county in counties:
        assert Matter.objects.filter(location_unit__path__startswith=county.path).exists(), county.name
    for m in Matter.objects.all()[:50]:
        assert list(MatterEvent.objects.filter(matter=m).order_by("seq").values_list("seq", flat=True)) == \
            list(range(1, m.version + 1))
    assert loop_seed.seed_loop("demo", 2022, progress=False, now=now)["skipped"] is True


@pytest.mark.django_db
def test_bulk_seed_writes_consistent_timelines():
    with acting_as(None, username="seed"):
        org_seed.seed_tree("demo", 2022, progress=False)
        cats = loop_seed.ensure_categories()
        assert loop_seed.seed_bulk(cats, 300, 7, at("2026-11-20 10:00"), progress=False) == 300
    assert MatterEvent.objects.count() == sum(Matter.objects.values_list("version", flat=True))
