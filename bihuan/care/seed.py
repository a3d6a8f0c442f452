"""Care demo data: 芦庙村's one-to-one help (温暖的守护, ``seed/FACTS.md`` §5), through the services.

A 78-year-old man living alone with a chronic illness, and 9 more elderly households living alone
or in hardship in 芦庙村 (李营街道, 任城区): each surveyed (摸排), each with a care plan of three
meals a day and a daily visit, paired one-to-one with a volunteer (a login with the volunteer
role; ``lumiao_volunteer`` for the first, demo password) and a backup (the next volunteer; the
grid worker for the old man). A month of check-ins: mostly done on time, some late, a few
"not home", and a few missed — each missed one opened a loop matter (missed care visit) when the
sweep ran; the older ones were handled and closed, the last missed lunch is still open. Two volunteer teams (平时服务、战时应急): the round's check-ins
count as service hours by themselves; the lead approved them up to a week ago, the last week's
are pending. Synthetic names only. Deterministic per ``seed``. At every scale the story is the same (the
bench builds its own city-sized volume).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from django.utils import timezone

DAYS = 30
RESIDENTS = [
    # (name, birth year, living, help items, support, risk, notes)
    ("芦长顺", 1948, "alone", ["help_bathing", "help_medicine"], "dibao", "high", "慢性支气管炎，需每日服药"),
    ("芦秀英", 1944, "alone", ["help_bathing", "help_moving", "help_medicine"], "tekun", "high", "行动不便"),
    ("王桂兰", 1950, "empty_nest", [], "none", "medium", ""),
    ("张福全", 1946, "childless", ["help_moving"], "tekun", "high", "腿脚不便"),
    ("刘玉珍", 1952, "alone", [], "dibao", "medium", ""),
    ("赵德厚", 1949, "left_behind", ["help_medicine"], "none", "medium", "高血压"),
    ("孙凤兰", 1945, "alone", ["help_bathing"], "dibao", "high", ""),
    ("李守田", 1951, "empty_nest", [], "none", "low", ""),
    ("周淑珍", 1947, "childless", ["help_bathing", "help_dressing"], "tekun", "high", "视力差"),
    ("吴长海", 1953, "alone", [], "dibao", "medium", ""),
]
VOLUNTEERS = ["陈志红", "杨建国", "黄丽娟", "徐振华", "马晓燕", "朱永强", "胡春梅", "郭立新", "何晓东", "高秀云"]
SERVICES = [
    ("meal", "早餐", "07:00", "08:30"),
    ("meal", "午餐", "11:00", "12:30"),
    ("meal", "晚餐", "17:00", "18:30"),
    ("visit", "探访", "15:00", "16:30"),
]
NOTES = ["饭菜送到，老人精神不错", "陪聊半小时", "打扫了院子", "修好了门锁", "提醒按时吃药", "送到了，聊了几句"]


def seed_care(scale: str = "demo", seed: int = 2022, *, now: datetime | None = None) -> dict:
    from bihuan.accounts import services as accounts
    from bihuan.accounts.models import Role, User
    from bihuan.accounts.seed import DEMO_PASSWORD
    from bihuan.loop import services as loop_services
    from bihuan.orgs import seed as org_seed
    from bihuan.orgs.models import OrgUnit
    from bihuan.people import services as people

    from . import services
    from .models import CarePlan, ServiceRecord, Visit

    now = now or timezone.now()
    if CarePlan.objects.exists():
        return {"care_plans": CarePlan.objects.count(), "skipped": True}
    village = OrgUnit.objects.filter(code=org_seed.CODE_LUMIAO, valid_to__isnull=True).first()
    grid = OrgUnit.objects.filter(code=org_seed.CODE_LUMIAO_GRID, valid_to__isnull=True).first() or village
    if village is None:
        return {"care_plans": 0}
    rng = random.Random(seed)
    today = timezone.localtime(now).date()
    start = today - timedelta(days=DAYS)
    setup = timezone.make_aware(datetime.combine(start - timedelta(days=3), datetime.min.time())) + timedelta(hours=9)
    role = Role.objects.get(code="volunteer")

    helpers = []
    for i, name in enumerate(VOLUNTEERS):
        p = people.create_person(None, unit=grid, name=name, phone=f"1580537{1000 + i:04d}",
                                 address=f"芦庙村{['东', '西', '南', '北'][i % 4]}街{20 + i}号", is_volunteer=True)
        login = None
        if i == 0 and not User.objects.filter(username="lumiao_volunteer").exists():
            login = accounts.create_user(None, username="lumiao_volunteer", password=DEMO_PASSWORD,
                                         display_name=f"{name}（演示志愿者）", unit=grid, role=role, scope="self",
                                         must_change_password=False)
        h, _u = services.register_helper(None, p, kind="volunteer", login=login, password=DEMO_PASSWORD, now=setup)
        if login is None:
            User.objects.filter(pk=h.user_id).update(must_change_password=False)
        helpers.append(h)
    grid_user = User.objects.filter(username="lumiao_grid").first()
    grid_helper = None
    if grid_user is not None:
        gp = people.create_person(None, unit=grid, name="芦庙网格员", phone="15805372000", address="芦庙村党群服务中心")
        grid_helper, _u = services.register_helper(None, gp, kind="grid_worker", login=grid_user, now=setup)

    residents = []
    for i, (name, born, living, help_items, support, risk, notes) in enumerate(RESIDENTS):
        r = people.create_person(None, unit=grid, name=name, phone=f"1390537{3000 + i:04d}",
                                 address=f"芦庙村{['东', '西', '南', '北'][i % 4]}街{1 + i}号",
                                 birth_date=date(born, 1 + i, 3 + i))
        people.set_vulnerability(None, r, flags={"living_alone": living == "alone", "elderly": True,
                                                 "hardship": support != "none", "chronic_illness": bool(notes)})
        services.record_survey(None, r, surveyed_on=start - timedelta(days=5), living=living, help=help_items,
                               income_support=support, needs=["need_meals", "need_visits", "need_cleaning"],
                               health_notes=notes, contact_name=f"{name[0]}家属", contact_relation="子女",
                               contact_phone=f"1370537{5000 + i:04d}", risk=risk, now=setup)
        backup = grid_helper if (i == 0 and grid_helper) else helpers[(i + 1) % len(helpers)]
        services.create_plan(None, r, starts_on=start, note="一对一帮扶：按时送餐，留下电话，顺带聊天、打扫、维修",
                             now=setup, services=[
                                 {"kind": k, "label": label, "rrule": "FREQ=DAILY", "window_start": ws,
                                  "window_end": we, "helper": helpers[i], "backup": backup}
                                 for k, label, ws, we in SERVICES])
        residents.append(r)
    # Two more vulnerable residents the grid worker has not surveyed yet this year.
    for name in ("芦有福", "王翠花"):
        p = people.create_person(None, unit=grid, name=name, address="芦庙村后街")
        people.set_vulnerability(None, p, flags={"elderly": True, "living_alone": True})

    # Two volunteer teams (平时服务、战时应急): the round's check-ins count for the first by themselves.
    lead = User.objects.filter(username="lumiao_secretary").first() or helpers[0].user
    team = services.create_team(None, unit=village, name="芦庙村关爱志愿服务队", lead=lead, now=setup)
    for h in helpers:
        services.add_member(None, team, h.person, now=setup)
    emergency = services.create_team(None, unit=village, name="芦庙村应急志愿突击队", lead=lead, now=setup)
    e_members = [services.add_member(None, emergency, h.person, now=setup) for h in helpers[:4]]

    checked = missed = 0
    last_missed_lunch = None
    tz = timezone.get_current_timezone()
    for d in range(DAYS + 1):
        day = start + timedelta(days=d)
        services.generate(day, now=timezone.make_aware(datetime.combine(day, datetime.min.time()), tz))
        for v in Visit.objects.filter(day=day).select_related("service").order_by("starts_at", "pk"):
            roll = rng.random()
            if day == today and v.starts_at > now - timedelta(minutes=30):
                continue  # still to come today
            if roll < 0.015 or (d == DAYS - 1 and v.service.label == "午餐" and last_missed_lunch is None):
                missed += 1
                if v.service.label == "午餐":
                    last_missed_lunch = v.pk
                continue
            at = v.starts_at + timedelta(minutes=rng.randint(5, 80))
            if roll > 0.97:
                at = v.ends_at + timedelta(minutes=rng.randint(70, 150))  # late, flagged
            if at > now:
                continue
            outcome = "not_home" if roll > 0.95 and roll <= 0.97 else "done"
            helper = v.helper if rng.random() < 0.9 or v.backup is None else v.backup
            services.check_in(helper, v, outcome=outcome, note=rng.choice(NOTES) if rng.random() < 0.3 else "",
                              now=at)
            checked += 1
        end_of_day = timezone.make_aware(datetime.combine(day, datetime.min.time()), tz) + timedelta(hours=23, minutes=30)
        services.sweep(min(end_of_day, now))
    # The older missed-visit matters were handled by the village and closed; the last missed lunch
    # is still open.
    closed = 0
    for v in Visit.objects.filter(matter_id__isnull=False).exclude(pk=last_missed_lunch).order_by("pk"):
        m = loop_services.get_matter(None, v.matter_id)
        at = v.escalated_at + timedelta(hours=1)
        m = loop_services.accept(None, m, version=m.version, now=at)
        m = loop_services.report_done(None, m, version=m.version, comment="已电话联系并补送，老人安好",
                                      now=at + timedelta(hours=1))
        loop_services.evaluate(None, m, version=m.version, passed=True, comment="属实", now=at + timedelta(hours=2))
        closed += 1
    # The lead approved the hours up to a week ago; the last week's wait. The emergency team's
    # drills and flood watch, entered with hours.
    week_ago = today - timedelta(days=7)
    approved = 0
    for r in ServiceRecord.objects.filter(team=team, day__lt=week_ago, status="pending").order_by("pk"):
        services.decide_record(None, r, approve=True, now=now)
        approved += 1
    for i, (what, hours, ago) in enumerate([("防汛巡查", "4", 25), ("应急演练", "3", 18), ("入户排查燃气安全", "2.5", 12),
                                           ("雨后巡查危房", "3", 3)]):
        r = services.record_service(None, emergency, member=e_members[i % len(e_members)],
                                    day=today - timedelta(days=ago), hours=hours, description=what, now=now)
        if ago > 7:
            services.decide_record(None, r, approve=True, now=now)
            approved += 1
    meals = _seed_canteen(village, rng, start, today, now, setup)
    return {**meals, "care_residents": len(residents), "care_helpers": len(helpers), "care_visits": Visit.objects.count(),
            "care_checked_in": checked, "care_missed": missed, "care_matters_closed": closed,
            "care_teams": 2, "care_hours_records": ServiceRecord.objects.count(), "care_hours_approved": approved}


def _seed_canteen(village, rng, start, today, now, setup) -> dict:
    """芦庙村幸福食堂: a month of the residents' meals ticked as served (lunch mostly eaten in by
    those who can walk, the rest delivered; a few not served) and 15–35 other diners a day."""
    from . import services
    from .models import MealServed, Visit

    lead = None  # the seed acts as the system, like the other care steps
    canteen = services.create_canteen(lead, unit=village, name="芦庙村幸福食堂", address="芦庙村党群服务中心西侧",
                                      seats=40, eat_in=True, delivery=True, now=setup)
    for d in range((today - start).days + 1):
        day = start + timedelta(days=d)
        for v in (Visit.objects.filter(day=day, kind="meal", unit__path__startswith=village.path)
                  .select_related("service").order_by("starts_at", "pk")):
            at = v.starts_at + timedelta(minutes=rng.randint(0, 40))
            if at > now or rng.random() < 0.03:
                continue
            mode = "eat_in" if v.service.label == "午餐" and v.person_id % 3 == 0 else "delivered"
            services.serve_meal(lead, canteen, v, mode=mode, now=at)
        evening = timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(hours=20)
        services.set_other_diners(lead, canteen, day, rng.randint(15, 35), now=min(evening, now))
    return {"care_canteens": 1, "care_meals_served": MealServed.objects.filter(canteen=canteen).count()}


def seed_step(scale: str, seed: int, *, progress: bool, reuse: bool) -> dict:
    """The care step of ``bihuan seed`` (skipped when a care plan exists)."""
    import logging

    notify_log = logging.getLogger("bihuan.notify")
    level = notify_log.level
    notify_log.setLevel(logging.WARNING)
    try:
        return seed_care(scale, seed)
    finally:
        notify_log.setLevel(level)
