"""Matters in 任城区's two townships for the reports tests: 李营街道 closes one on time, 仙营街道
leaves one open past its limit, in the week of 2026-11-02 (2026-W45)."""

from __future__ import annotations

from bihuan.loop import services as loop
from tests.loop_helpers import at, closed_matter, make_categories, new_matter

WEEK = "2026-W45"
NOW = at("2026-11-12 09:00")


def make_week(tree, users):
    road, _ = make_categories()
    closed_matter(tree, users, road, at("2026-11-02 09:00"))
    m = new_matter(users.rencheng_admin, road, tree.xianying_v, at("2026-11-02 10:00"), title="路灯不亮")
    loop.dispatch(users.rencheng_admin, m.pk, version=m.version, handling_unit=tree.xianying_v,
                  now=at("2026-11-02 11:00"))
    return road
