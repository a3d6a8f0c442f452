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


# --- 梁山县: key projects, key enterprises and the 50-day sprint (seed/FACTS.md) ------------------

LIANGSHAN = "370832"
PROJECT_NAMES = [
    "梁山专用车及新能源汽车产业园", "水泊梁山文旅融合提升项目", "梁山经济开发区标准化厂房", "华宇挂车智能制造基地",
    "中集专用车轻量化生产线", "梁山港二期工程", "京杭运河梁山段航道提升", "梁山县城市更新片区改造",
    "黄河滩区居民迁建配套工程", "梁山县人民医院新院区", "梁山一中新校区", "县城污水处理厂提标改造",
    "农产品冷链物流中心", "梁山光伏发电储能项目", "风电场扩建工程", "高端装备铸造产业园",
    "梁山县智慧物流港", "运河湿地生态修复项目", "乡村振兴示范片区建设", "梁山县集中供热管网改造",
    "新型建材产业园", "汽车零部件配套产业园", "梁山县公共实训基地", "县域电商产业园",
    "梁山县水系连通工程", "高标准农田建设项目",
]
ENTERPRISE_GROUPS = [("十强产业", 142, ["专用车制造", "高端装备", "新能源", "新材料", "现代物流", "医养健康",
                                      "文化旅游", "现代农业", "精品钢铁", "汽车零部件"]),
                     ("四新经济", 74, ["电子商务", "智能制造", "数字经济", "新能源汽车", "生物技术"]),
                     ("规上服务业", 51, ["道路运输", "仓储", "信息服务", "商务服务", "科技服务"])]
NAME_HEADS = ["华宇", "通亚", "中集", "鲁岳", "水泊", "泰达", "运河", "金马", "正泰", "东岳", "鼎盛", "恒通", "宏达",
              "永兴", "顺达", "利民", "汇丰", "昌盛", "鑫源", "瑞丰", "广源", "德润", "盛华", "嘉禾", "同心", "新亚"]
NAME_TAILS = {"专用车制造": "专用汽车", "高端装备": "机械", "新能源": "新能源", "新材料": "新材料", "现代物流": "物流",
              "医养健康": "医疗科技", "文化旅游": "文旅发展", "现代农业": "农业发展", "精品钢铁": "钢铁", "汽车零部件": "车桥",
              "电子商务": "电子商务", "智能制造": "智能装备", "数字经济": "信息技术", "新能源汽车": "新能源汽车",
              "生物技术": "生物科技", "道路运输": "运输", "仓储": "仓储", "信息服务": "网络科技", "商务服务": "企业管理",
              "科技服务": "科技服务"}


def seed_liangshan(scale: str = "demo", seed: int = 2022, *, now: datetime | None = None) -> dict:
    """梁山县's registers (26 key projects, 267 key enterprises in 3 lists) and its 50-day sprint,
    through the services. The figures are the seed's own (FACTS.md) at every scale: they are small."""
    from .models import Campaign, KeyProject
    from .services import campaigns, registers

    now = now or timezone.now()
    county = OrgUnit.objects.filter(code=LIANGSHAN, valid_to__isnull=True).first()
    if county is None or KeyProject.objects.exists() or Campaign.objects.exists():
        return {}
    rng = random.Random(seed + 832)
    today = timezone.localtime(now).date()
    towns = list(OrgUnit.objects.filter(parent=county, valid_to__isnull=True).order_by("code"))
    # 26 key projects: a year's plan by month; actual reported for the months gone; some behind.
    behind = set(rng.sample(range(len(PROJECT_NAMES)), 5))
    for i, name in enumerate(PROJECT_NAMES):
        total = rng.choice([30000, 50000, 80000, 120000, 200000])
        monthly = round(total * rng.uniform(0.35, 0.6) / 12, 0)
        plan = {m: monthly for m in range(1, 13)}
        gone = [m for m in range(1, 13) if date(today.year, m, 1) < today.replace(day=1)]
        pace = rng.uniform(0.55, 0.85) if i in behind else rng.uniform(1.0, 1.2)
        actual = {m: round(monthly * pace * rng.uniform(0.9, 1.1), 0) for m in gone}
        start_planned = date(today.year, rng.randint(2, 5), 1)
        unit = county if i < 10 else towns[i % len(towns)] if towns else county
        registers.save_project(
            None, unit=unit, year=today.year, name=name, level="provincial" if i < 8 else "city",
            official=f"{rng.choice('王李张刘陈杨赵黄周吴')}某（县级领导）", total_investment=total,
            start_planned=start_planned, start_actual=None if i in behind else min(start_planned, today),
            production_planned=date(today.year, 11, 30), completion_planned=date(today.year + 1, 6, 30),
            plan=plan, actual=actual, now=now)
    # 267 key enterprises: 142 + 74 + 51, each linked to a township (包保) and an official.
    n = 0
    for group, count, industries in ENTERPRISE_GROUPS:
        for k in range(count):
            n += 1
            industry = industries[k % len(industries)]
            name = f"梁山{NAME_HEADS[n % len(NAME_HEADS)]}{NAME_TAILS[industry]}有限公司{'' if n <= 26 else n}"
            registers.save_enterprise(
                None, unit=towns[n % len(towns)] if towns else county, group=group, name=name,
                credit_code=f"91370832MA{n:07d}{'ABCDEFGHJK'[n % 10]}", industry=industry,
                officials=f"{rng.choice('王李张刘陈杨赵黄周吴')}某（包保干部）", now=now)
    # 大干五十天、冲刺四季度: day 20 of 50 today; each township reports daily (a few fall behind).
    start = today - timedelta(days=19)
    c = campaigns.create_campaign(
        None, unit=county, title="大干五十天、冲刺四季度", starts_on=start, ends_on=start + timedelta(days=49),
        target_unit="万元", cadence="daily", grace_days=1, description="新增投资、招商签约，全年目标冲刺。",
        targets=[(t, rng.choice([800, 1000, 1200, 1500, 2000])) for t in towns], now=now - timedelta(days=25))
    tz = timezone.get_default_timezone()
    made = 0
    for t in c.targets.select_related("unit").order_by("pk"):
        stop = rng.choice([19, 19, 19, 19, 12, 8])  # most report every day; some stop
        pace = rng.uniform(0.5, 1.4) / 50
        value = 0.0
        for day in range(min(stop, 19)):
            value += float(t.target) * pace * rng.uniform(0.6, 1.4)
            at = datetime.combine(start + timedelta(days=day), datetime.min.time(), tzinfo=tz) + timedelta(hours=17)
            campaigns.check_in(None, t, value=round(value, 0), note="当日新增投资和签约情况", now=at)
            made += 1
    opened = campaigns.open_overdue_matters(now)
    return {"key_projects": len(PROJECT_NAMES), "key_enterprises": n, "campaign_checkins": made,
            "campaign_matters": opened}


def seed_step(scale: str, seed: int, *, progress: bool, reuse: bool) -> dict:
    """The plans' step of ``bihuan seed`` (skipped when a plan exists)."""
    import logging

    notify_log = logging.getLogger("bihuan.notify")  # one line per opened matter is noise here
    level = notify_log.level
    notify_log.setLevel(logging.WARNING)
    try:
        return {**seed_plans(scale, seed, progress=progress), **seed_liangshan(scale, seed)}
    finally:
        notify_log.setLevel(level)
