"""Plans demo data: the city's "3515" plan (任务推进图) and a season of check-ins, through the services.

5 systems (``seed/FACTS.md``) × 3 key actions × 2–3 tasks = 40 tasks, assigned to the demo
units: every township of the city, every village of 任城区, or named units. The plan started four
months before ``now``; each assignment then reports month by month (or by quarter or fortnight):
most on time, some late (after the grace period), a few stop reporting — and the supervision job
opens one loop matter for each of those. Deterministic per ``seed``.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from django.utils import timezone

from bihuan.orgs.models import Level, OrgUnit

from . import services
from . import status as st
from .models import Assignment, Plan

SYSTEMS = [
    ("组织体系", ["基层党组织规范化建设行动", "村党组织书记队伍提升行动", "网格党组织全覆盖行动"]),
    ("工作运行体系", ["问题交办闭环行动", "三会一课规范落实行动", "党员发展质量提升行动"]),
    ("引领服务体系", ["幸福食堂提升行动", "志愿服务进网格行动", "村级集体经济增收行动"]),
    ("工作保障体系", ["阵地建设提升行动", "经费保障落实行动", "后备力量储备行动"]),
    ("责任落实体系", ["书记抓基层党建突破行动", "述职评议考核行动", "挂图作战调度行动"]),
]
# (title, target, unit, direction, cadence, who): who = "village" (every village of 任城区),
# "township" (every township of the city), "named" (a few named units).
TASKS = [
    ("完成村党组织换届", 100, "%", "higher", "quarterly", "township"),
    ("规范化建设达标村", 6, "个", "higher", "monthly", "village"),
    ("书记专题培训", 4, "期", "higher", "monthly", "township"),
    ("书记述职评议全覆盖", 100, "%", "higher", "quarterly", "township"),
    ("网格党支部建立", 3, "个", "higher", "monthly", "village"),
    ("党员中心户设立", 10, "户", "higher", "monthly", "village"),
    ("交办问题按期办结率", 95, "%", "higher", "monthly", "township"),
    ("积案清仓见底", 0, "件", "lower", "fortnightly", "named"),
    ("三会一课按时召开", 12, "次", "higher", "monthly", "village"),
    ("主题党日活动", 12, "次", "higher", "monthly", "village"),
    ("发展党员计划完成", 100, "%", "higher", "quarterly", "township"),
    ("入党积极分子培养", 5, "名", "higher", "monthly", "village"),
    ("建成幸福食堂", 12, "个", "higher", "monthly", "township"),
    ("幸福食堂助餐人次", 3000, "人次", "higher", "monthly", "named"),
    ("志愿服务队组建", 2, "支", "higher", "monthly", "village"),
    ("志愿服务时长", 500, "小时", "higher", "monthly", "village"),
    ("集体经济收入10万元以上村", 8, "个", "higher", "quarterly", "township"),
    ("消除集体经济薄弱村", 0, "个", "lower", "monthly", "township"),
    ("党群服务中心提升", 1, "处", "higher", "monthly", "village"),
    ("红色阵地示范点", 2, "处", "higher", "quarterly", "township"),
    ("村级办公经费足额拨付", 100, "%", "higher", "quarterly", "township"),
    ("服务群众专项经费使用", 100, "%", "higher", "quarterly", "township"),
    ("后备人才库入库", 4, "名", "higher", "monthly", "village"),
    ("后备人才跟踪培养", 100, "%", "higher", "quarterly", "township"),
    ("书记突破项目立项", 1, "项", "higher", "monthly", "township"),
    ("突破项目阶段成效", 100, "%", "higher", "quarterly", "named"),
    ("乡镇书记述职", 100, "%", "higher", "quarterly", "township"),
    ("村书记星级评定", 100, "%", "higher", "quarterly", "township"),
    ("任务推进图上墙", 1, "幅", "higher", "monthly", "village"),
    ("调度通报按期报送", 12, "期", "higher", "monthly", "township"),
    ("软弱涣散村整顿", 0, "个", "lower", "monthly", "named"),
    ("党建引领网格化治理", 100, "%", "higher", "quarterly", "township"),
    ("党员积分管理", 100, "%", "higher", "monthly", "village"),
    ("信用积分超市运行", 1, "处", "higher", "monthly", "village"),
    ("和为贵调解室建设", 1, "处", "higher", "monthly", "village"),
    ("民情恳谈会", 4, "次", "higher", "quarterly", "village"),
    ("为民办实事清单", 10, "件", "higher", "monthly", "township"),
    ("一对一帮扶走访", 100, "%", "higher", "fortnightly", "named"),
    ("村务公开规范化", 100, "%", "higher", "quarterly", "village"),
    ("观摩评比准备", 1, "次", "higher", "quarterly", "named"),
]
TASKS_PER_ACTION = [3, 3, 2, 3, 3, 2, 3, 3, 2, 3, 3, 2, 3, 3, 2]  # = 40


def _months_before(d: date, n: int) -> date:
    m = d.month - 1 - n
    return date(d.year + m // 12, m % 12 + 1, 1)


def seed_plans(scale: str = "demo", seed: int = 2022, *, progress: bool = False, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    if Plan.objects.exists():
        return {"plans": Plan.objects.count(), "skipped": True}
    city = OrgUnit.objects.filter(level=Level.CITY, valid_to__isnull=True).order_by("pk").first()
    if city is None:
        return {"plans": 0}
    rng = random.Random(seed)
    today = timezone.localtime(now).date()
    start = _months_before(today, 4)
    end = date(start.year + 1, start.month, 1) - timedelta(days=1)
    county = (OrgUnit.objects.filter(level=Level.COUNTY, code="370811").first()
              or OrgUnit.objects.filter(level=Level.COUNTY).order_by("code").first())
    towns = list(OrgUnit.objects.filter(level=Level.TOWNSHIP, parent=county, valid_to__isnull=True).order_by("code"))
    plan = services.create_plan(None, unit=city, title=f"{start.year}年度“3515”任务推进图", starts_on=start, ends_on=end,
                                description="5大体系、15项重点行动，挂图作战、定期调度通报。",
                                now=now - timedelta(days=130))
    it = iter(TASKS)
    n_action = 0
    for sname, actions in SYSTEMS:
        system = services.add_system(None, plan, name=sname)
        for aname in actions:
            action = services.add_action(None, plan, system=system, name=aname)
            for _i in range(TASKS_PER_ACTION[n_action]):
                title, target, unit, direction, cadence, who = next(it)
                kw = {}
                if who == "village":
                    kw = {"lead_level": Level.VILLAGE, "lead_within": county}
                elif who == "township":
                    kw = {"lead_level": Level.TOWNSHIP, "lead_within": county}
                else:
                    kw = {"lead_units": towns[: 2 + rng.randrange(2)], "assist_units": [county]}
                mid = start + (end - start) / 2
                services.add_task(
                    None, plan, action=action, title=title, target_value=target, target_unit=unit,
                    baseline_value=5 if direction == "lower" else 0,
                    direction=direction, cadence=cadence, responsible_role="党组织书记",
                    evidence="工作台账照片或会议纪要", milestones=[("过半", mid, target / 2 if target else None)]
                    if direction == "higher" else [], **kw)
            n_action += 1
    tz = timezone.get_default_timezone()
    services.publish(None, plan, version=plan.version, now=datetime.combine(start, datetime.min.time(), tzinfo=tz))
    if scale != "demo":  # larger scales: the plan only (benchmarks build their own check-ins)
        return {"plans": 1, "tasks": plan.tasks.count(), "assignments": plan.assignments.count()}
    checkins = _season(plan, rng, now)
    opened = services.open_overdue_matters(now, plan=plan)
    return {"plans": 1, "tasks": plan.tasks.count(), "assignments": plan.assignments.count(), "checkins": checkins,
            "matters_opened": opened["checkin"] + opened["milestone"]}


def _season(plan: Plan, rng: random.Random, now: datetime) -> int:
    """Each assignment reports for every due period up to now: on time, late, or (a few) not at all."""
    made = 0
    for a in Assignment.objects.filter(plan=plan).select_related("task", "unit").order_by("pk"):
        task = a.task
        profile = rng.choices(["steady", "tardy", "laggard"], weights=[82, 13, 5])[0]
        pace = rng.uniform(0.6, 1.3)
        p = a.first_period_start
        k = 0
        while p <= task.due_on:
            due = st.period_due(task, p)
            last_day = min(st.next_period(task, p) - timedelta(days=1), task.due_on)
            on = datetime.combine(last_day, datetime.min.time(), tzinfo=timezone.get_default_timezone()) + timedelta(
                hours=15)
            at = due + timedelta(days=rng.randint(1, 6)) if profile == "tardy" and rng.random() < 0.6 else on
            if at >= now or (profile == "laggard" and k >= 1):
                break
            k += 1
            frac = min(1.0, pace * (k / 12 if task.cadence == "monthly" else k / 4
                                    if task.cadence == "quarterly" else k / 26))
            if task.direction == "higher":
                value = round(float(task.target_value) * frac, 0)
            else:
                value = round(float(task.baseline_value) * (1 - frac), 0)
            services.check_in(None, a, value=value, note=rng.choice(
                ["按计划推进", "已召开专题会议部署", "完成阶段任务，台账已更新", "进度略有滞后，正在追赶"]), now=at)
            made += 1
            a.refresh_from_db()
            p = st.next_period(task, p)
    return made


def seed_step(scale: str, seed: int, *, progress: bool, reuse: bool) -> dict:
    """The plans' step of ``bihuan seed`` (skipped when a plan exists)."""
    import logging

    notify_log = logging.getLogger("bihuan.notify")  # one line per opened matter is noise here
    level = notify_log.level
    notify_log.setLevel(logging.WARNING)
    try:
        return seed_plans(scale, seed, progress=progress)
    finally:
        notify_log.setLevel(level)
