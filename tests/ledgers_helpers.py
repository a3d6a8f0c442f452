"""The built-in registers on the test tree (tests/conftest.py), loaded through the services."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bihuan.ledgers import builtin
from bihuan.ledgers.models import Register

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, h=10) -> datetime:
    return datetime(y, m, d, h, tzinfo=TZ)


def load() -> dict[str, Register]:
    builtin.load(None)
    return {r.code: r for r in Register.objects.all()}


def coop(name="芦庙果蔬合作社", members=120, revenue="356000.50", kind="种植", **kw) -> dict:
    return {"name": name, "kind": kind, "members": members, "revenue": revenue, "demo_level": "市级示范", **kw}
