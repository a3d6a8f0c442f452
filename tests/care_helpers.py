"""芦庙村's care on the test tree (tests/conftest.py), built through the services."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from bihuan.care import services
from bihuan.people import services as people

TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = "Bihuan-Test-2026"


def at(y, m, d, h=10, mi=0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=TZ)


def make_care(tree, users, *, start=date(2026, 3, 1), unit=None, now=None):
    """A 78-year-old man living alone in 芦庙村 with lunch (11:00–12:30) and a daily visit
    (15:00–16:00) brought by volunteer 赵志愿 (new login), backed up by the grid worker."""
    c = SimpleNamespace()
    unit = unit or tree.lumiao_g1
    now = now or at(start.year, start.month, start.day, 8) - timedelta(days=1)
    c.resident = people.create_person(None, unit=unit, name="李大爷", phone="13805370001",
                                      address="芦庙村东街8号", birth_date=date(1948, 5, 2))
    people.set_vulnerability(None, c.resident, flags={"living_alone": True, "elderly": True,
                                                      "chronic_illness": True})
    c.vol_person = people.create_person(None, unit=unit, name="赵志愿", phone="13805370002")
    c.grid_person = people.create_person(None, unit=unit, name="钱网格", phone="13805370003")
    c.helper, c.vol_username = services.register_helper(None, c.vol_person, kind="volunteer", password=PASSWORD,
                                                        now=now)
    c.volunteer = c.helper.user
    type(c.volunteer).objects.filter(pk=c.volunteer.pk).update(must_change_password=False)
    c.volunteer.refresh_from_db()
    c.backup, _ = services.register_helper(None, c.grid_person, kind="grid_worker", login=users.lumiao_grid, now=now)
    c.plan = services.create_plan(None, c.resident, starts_on=start, now=now, services=[
        {"kind": "meal", "label": "午餐", "rrule": "FREQ=DAILY", "window_start": "11:00", "window_end": "12:30",
         "helper": c.helper, "backup": c.backup},
        {"kind": "visit", "label": "探访", "rrule": "FREQ=DAILY", "window_start": "15:00", "window_end": "16:00",
         "helper": c.helper, "backup": c.backup},
    ])
    c.lunch, c.visit = list(c.plan.services.order_by("window_start"))
    return c


def make_care_today(tree, users):
    """The story moved to today: the plan starts yesterday, today's visits are generated, and —
    whatever the clock says — lunch is on now and the visit in half an hour (pages use real now)."""
    from django.utils import timezone

    from bihuan.care.models import Visit

    today = timezone.localdate()
    c = make_care(tree, users, start=today - timedelta(days=1))
    now = timezone.now()
    services.generate(today, now=now)
    c.today = today
    Visit.objects.filter(day=today, kind="meal").update(starts_at=now - timedelta(minutes=10),
                                                        ends_at=now + timedelta(minutes=20))
    Visit.objects.filter(day=today, kind="visit").update(starts_at=now + timedelta(minutes=30),
                                                         ends_at=now + timedelta(minutes=90))
    return c
