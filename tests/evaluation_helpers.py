"""An indicator set for the villages of the test tree (tests/conftest.py), built through the services."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from bihuan.evaluation import services
from bihuan.loop import services as loop_services

from .loop_helpers import at, make_categories, new_matter

H1 = "2026H1"


def village_set(tree, user=None, *, star_mode="thresholds", quota=10, name="2026年村（社区）半年考核"):
    """The city's half-year set for villages and communities: 响应率 (60, loop) + 党建工作 (40, manual,
    assessed by the village's township)."""
    return services.create_set(user, unit=tree.city, name=name, period_kind="half", target_kind="village",
                               star_mode=star_mode, star_thresholds=[90, 80, 70, 60], five_star_quota=quota,
                               indicators=[
                                   {"name": "响应率", "kind": "auto", "source": "loop.response_rate", "weight": 60,
                                    "floor": 50, "target": 100},
                                   {"name": "党建工作", "kind": "manual", "weight": 40},
                               ], now=at("2026-01-05 09:00"))


def some_matters(tree, users):
    """Four matters for 芦庙村 in March 2026, three accepted in time: a response rate of 75 %."""
    road, demand = make_categories()
    base = at("2026-03-02 09:00")
    for i in range(4):
        t = base + timedelta(days=i)
        m = new_matter(users.lumiao_grid, road if i % 2 else demand, tree.lumiao_g1, t)
        loop_services.dispatch(users.liying_staff, m.pk, version=1, handling_unit=tree.lumiao, now=t)
        if i < 3:
            loop_services.accept(users.lumiao_secretary, m.pk, version=2, now=t + timedelta(hours=1))


def score_all(s, tree, users, value=90, period=H1):
    """Manual scores for every village target, entered by their township staff / county admin and approved."""
    manual = s.indicators.get(kind="manual")
    out = SimpleNamespace(scores=[])
    for unit, enterer, approver in ((tree.lumiao, users.liying_staff, users.rencheng_admin),
                                    (tree.xianying_v, users.rencheng_admin, users.city_admin),
                                    (tree.xuemiao, users.yanzhou_admin, users.city_admin)):
        sc = services.enter_score(enterer, indicator=manual, unit=unit, period=period, value=value,
                                  comment="材料齐全", now=at("2026-07-02 10:00"))
        services.approve_score(approver, sc, now=at("2026-07-02 11:00"))
        out.scores.append(sc)
    return out


def points_setup(tree, user=None):
    """Rules of 李营街道, two households in 芦庙村 (one in 薛庙社区) and a stocked store in 芦庙村."""
    from bihuan.people import services as people_services

    p = SimpleNamespace()
    p.sort = services.create_rule(user, unit=tree.liying, code="LJFL", name="垃圾分类", points=5, cap_per_year=60)
    p.volunteer = services.create_rule(user, unit=tree.liying, code="ZYFW", name="志愿服务（每小时）", points=2,
                                       cap_per_year=200)
    p.hero = services.create_rule(user, unit=tree.liying, code="JYYW", name="见义勇为", points=10, approval_above=5)
    p.build = services.create_rule(user, unit=tree.liying, code="WGDJ", name="违规搭建", points=-10)
    p.h1 = people_services.create_household(None, unit=tree.lumiao_g1, address="芦庙村1号", code="H-LM-001")
    p.h2 = people_services.create_household(None, unit=tree.lumiao_g2, address="芦庙村2号", code="H-LM-002")
    p.far = people_services.create_household(None, unit=tree.xuemiao, address="薛庙社区9号", code="H-XM-009")
    p.soap = services.create_item(user, unit=tree.lumiao, name="洗衣液", price=10, stock=3)
    p.rice = services.create_item(user, unit=tree.lumiao, name="大米5斤", price=30, stock=100)
    return p
