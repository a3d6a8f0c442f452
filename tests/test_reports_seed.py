"""The reports' demo seed: issued bulletins for 任城区 and 兖州区, one read by a township, a schedule."""

from __future__ import annotations

import pytest

from bihuan.accounts.seed import ensure_demo_users
from bihuan.core.context import acting_as
from bihuan.loop import seed as loop_seed
from bihuan.orgs import seed as org_seed
from bihuan.reports import seed as reports_seed
from bihuan.reports.models import Bulletin, BulletinRead, BulletinSchedule

from .loop_helpers import at


@pytest.mark.django_db
def test_demo_seed_issues_bulletins_with_figures(monkeypatch):
    monkeypatch.setattr(loop_seed, "DEMO_MATTERS", 120)
    now = at("2026-11-20 10:00")
    with acting_as(None, username="seed"):
        org_seed.seed_tree("demo", 2022, progress=False)
        ensure_demo_users()
        loop_seed.seed_loop("demo", 2022, progress=False, now=now)
        assert reports_seed.seed_reports(now=now) == {"bulletins": 3, "schedules": 1}
    got = {(b.unit.name, b.template): b for b in Bulletin.objects.select_related("unit")}
    assert set(got) == {("任城区", "weekly_loop"), ("任城区", "monthly_plans"), ("兖州区", "weekly_loop")}
    weekly = got[("任城区", "weekly_loop")]
    assert weekly.issued and weekly.number == 1 and weekly.period_key == "2026-W46"
    rows = weekly.snapshot["sections"][0]["rows"]
    assert len(rows) >= 3 and sum(r["values"]["volume"] or 0 for r in rows) > 0
    assert list(BulletinRead.objects.values_list("unit__name", flat=True)) == ["李营街道"]
    assert BulletinSchedule.objects.get().unit.parent_id is None
    assert reports_seed.seed_reports(now=now)["skipped"] is True
