"""Registers demo data: the seven built-in registers (``ledgers.builtin``) filled in by the units.

The story (FACTS.md): villages keep their party-led cooperatives (3,475 at ``--scale city``), their
reserve talents (more than 20,000 in the pool), the 百名代表委员联百村 links, the yearly
classification (强基 / 创优 / 示范, with last year's class so the movement shows) and their
village–enterprise alliances; townships keep the 149 party-representative offices and the
public-service capacity (岗位、学位、床位、托位) with the free places. The city opened a collection
round for the cooperatives due two weeks ago: most villages submitted, some late, some not — the
sweep opens a loop matter for each of those. Everything goes through the services (validation,
history, audit). Synthetic names; deterministic per ``seed``.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from django.utils import timezone

from bihuan.orgs.models import Level, OrgUnit

from . import builtin, services
from .models import Entry, Register

COOP_KINDS = ["种植", "养殖", "农机服务", "乡村旅游", "劳务", "土地股份", "其他"]
CROPS = ["果蔬", "小麦", "大蒜", "食用菌", "莲藕", "中药材", "黄牛", "生猪", "渔业", "农机", "民宿", "劳务"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "建国华明丽军芳伟强静磊洋艳勇娟涛杰敏超霞刚平辉鹏红玲斌波亮宁"
ENTERPRISES = ["鲁能", "如意", "太白湖", "圣地", "运河", "孔府", "微山湖", "金乡蒜业", "邹城农发", "曲阜文旅"]
POSTS = ["村委委员", "网格员", "致富带头人", "退役军人", "返乡大学生", "村文书"]
SCALE = {"demo": {"coops": 2, "talents": 3}, "county": {"coops": 3, "talents": 8},
         "city": {"coops": 3475, "talents": 20_150, "offices": 149}}


def _name(rng) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _id_number(rng, seq: int) -> str:
    body = f"3708{rng.randint(11, 83):02d}{rng.randint(1966, 2006)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body += f"{seq % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def _spread(units: list, total: int | None, per_unit: int) -> list:
    """``total`` entries over ``units`` round-robin (city scale), else ``per_unit`` each."""
    if total is None:
        return [u for u in units for _ in range(per_unit)]
    return [units[i % len(units)] for i in range(total)] if units else []


def seed_step(scale: str, seed: int, *, progress: bool, reuse: bool) -> dict:
    """The registers' step of ``bihuan seed`` (reused when entries exist)."""
    if Entry.objects.exists():
        return {"reused": f"{Entry.objects.count()} register entries"}
    import logging

    notify_log = logging.getLogger("bihuan.notify")
    level = notify_log.level
    notify_log.setLevel(logging.WARNING)
    try:
        return seed_ledgers(scale, seed, progress=progress)
    finally:
        notify_log.setLevel(level)


def seed_ledgers(scale: str, seed: int, *, progress: bool = False) -> dict:
    rng = random.Random(seed * 7919 + 16)
    now = timezone.now()
    builtin.load(None, now=now)
    regs = {r.code: r for r in Register.objects.all()}
    units = OrgUnit.objects.filter(valid_to__isnull=True).order_by("path")
    if scale == "demo":  # the demo county only, so the pages are small but real
        county = OrgUnit.objects.filter(level=Level.COUNTY, name="任城区").first()
        if county is not None:
            units = units.filter(path__startswith=county.path)
    villages = list(units.filter(level=Level.VILLAGE))
    towns = list(units.filter(level=Level.TOWNSHIP))
    cfg = SCALE.get(scale, SCALE["county"])
    city = scale == "city"
    counts = {}

    # 合作社 cooperatives
    n = 0
    names: set[str] = set()
    for i, v in enumerate(_spread(villages, cfg["coops"] if city else None, cfg["coops"])):
        crop = CROPS[(i + rng.randrange(3)) % len(CROPS)]
        kind = COOP_KINDS[min(CROPS.index(crop) // 2, len(COOP_KINDS) - 1)]
        name, k = f"{v.name}{crop}专业合作社", 1
        while name in names:  # the register's name is unique in the city
            k += 1
            name = f"{v.name}{crop}专业合作社（{k}）"
        names.add(name)
        services.create_entry(None, regs["cooperatives"], unit=v, now=now, values={
            "name": name,
            "kind": kind, "members": rng.randint(15, 480), "revenue": round(rng.uniform(5, 900) * 1000, 2),
            "party_org": f"{v.name}党支部", "demo_level": rng.choices(["无", "县级示范", "市级示范", "省级示范"],
                                                                   weights=[60, 25, 12, 3])[0],
            "in_project_library": rng.random() < 0.15,
            "founded_on": (date(2015, 1, 1) + timedelta(days=rng.randint(0, 3600))).isoformat()})
        n += 1
    counts["cooperatives"] = n

    # 后备人才 reserve talents
    n = 0
    for i, v in enumerate(_spread(villages, cfg["talents"] if city else None, cfg["talents"])):
        services.create_entry(None, regs["reserve_talents"], unit=v, now=now, values={
            "name": _name(rng), "id_number": _id_number(rng, i), "age": rng.randint(22, 45),
            "education": rng.choices(builtin.LEVELS_EDU, weights=[10, 25, 30, 30, 5])[0],
            "current_post": rng.choice(POSTS), "training": rng.choice(["", "2025年村级后备干部示范培训班", "乡村振兴专题培训"]),
            "assessment": rng.choices(["优秀", "称职", "基本称职", "待考察"], weights=[25, 55, 10, 10])[0]})
        n += 1
    counts["reserve_talents"] = n

    # 党代表工作室 party-representative offices
    offices = _spread(towns, cfg.get("offices"), 1) if city else towns
    for i, t in enumerate(offices):
        services.create_entry(None, regs["rep_offices"], unit=t, now=now, values={
            "name": f"{t.name}党代表工作室" + (f"（{i // len(towns) + 1}）" if i >= len(towns) else ""),
            "location": f"{t.name}党群服务中心", "representatives": rng.randint(3, 15),
            "reception_days": sorted(rng.sample(["周一", "周二", "周三", "周四", "周五"], 2),
                                     key=["周一", "周二", "周三", "周四", "周五"].index),
            "contact_phone": f"0537-{rng.randint(2000000, 8999999)}"})
    counts["rep_offices"] = len(offices)
    proposals = 0
    for office in Entry.objects.filter(register=regs["rep_offices"]).order_by("id")[:6]:
        for title in rng.sample(["增设老年助餐点", "修缮村内生产路", "加密农村公交班次", "建设村级快递服务站",
                                 "开展农技培训进村", "整治河道沿岸环境"], 2):
            services.receive_proposal(None, office, representative=_name(rng), title=title, now=now,
                                      description=f"群众反映：{title}，建议相关部门研究解决。")
            proposals += 1
    counts["proposals"] = proposals

    # 百名代表委员联百村, 村级分类, 村企联建
    linked = villages[:100]
    for v in linked:
        services.create_entry(None, regs["rep_village_links"], unit=v, now=now, values={
            "representative": _name(rng), "role": rng.choice(["党代表", "人大代表", "政协委员"]),
            "visits": rng.randint(0, 12), "last_visit_on": (now.date() - timedelta(days=rng.randint(3, 120))).isoformat()})
    counts["rep_village_links"] = len(linked)
    classes = ["强基", "创优", "示范"]
    for v in villages:
        prev = rng.choices(classes, weights=[50, 35, 15])[0]
        moved = classes[min(2, classes.index(prev) + 1)] if rng.random() < 0.25 else prev
        services.create_entry(None, regs["village_class"], unit=v, now=now, values={
            "year": now.year, "klass": moved, "previous": prev,
            "collective_income": round(rng.uniform(3, 120) * 10000, 2)})
    counts["village_class"] = len(villages)
    allied = [v for v in villages if rng.random() < 0.2] or villages[:1]
    for v in allied:
        services.create_entry(None, regs["village_enterprise"], unit=v, now=now, values={
            "enterprise": rng.choice(ENTERPRISES) + rng.choice(["集团", "有限公司", "农业科技公司"]),
            "field": rng.sample(["产业发展", "就业帮扶", "基础设施", "人才培养", "公益服务"], 2),
            "investment": round(rng.uniform(5, 300) * 10000, 2),
            "signed_on": (now.date() - timedelta(days=rng.randint(30, 900))).isoformat()})
    counts["village_enterprise"] = len(allied)

    # 岗位学位床位托位 public-service capacity
    n = 0
    for t in towns:
        for kind, provider in (("岗位", "就业服务站"), ("学位", "中心小学"), ("床位", "敬老院"), ("托位", "托育园")):
            cap = rng.randint(20, 400)
            occ = rng.randint(cap // 2, cap)
            services.create_entry(None, regs["service_capacity"], unit=t, now=now, values={
                "kind": kind, "provider": f"{t.name}{provider}", "capacity": cap, "occupied": occ, "free": cap - occ,
                "key_project": rng.random() < 0.2})
            n += 1
    counts["service_capacity"] = n

    # a collection round due two weeks ago: most submitted, some late, some not (→ loop matters)
    county = villages[0].parent.parent if villages and villages[0].parent_id else None
    if county is not None:
        rd = services.open_round(None, regs["cooperatives"], within=county, title=f"{now.year}年合作社台账年报",
                                 due_on=timezone.localdate(now) - timedelta(days=14), now=now - timedelta(days=30))
        in_county = OrgUnit.objects.filter(level=Level.VILLAGE, valid_to__isnull=True, path__startswith=county.path)
        for v in in_county.order_by("path"):
            roll = rng.random()
            if roll < 0.7:
                services.submit(None, rd, unit=v, now=now - timedelta(days=16))
            elif roll < 0.85:
                services.submit(None, rd, unit=v, now=now - timedelta(days=rng.randint(1, 10)))
        counts["matters_opened"] = services.open_late_matters(now)
    return counts
