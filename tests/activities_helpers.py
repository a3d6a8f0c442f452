"""Lecture teams, lecturers and sessions on the test tree (tests/conftest.py), through the services."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from bihuan.activities import services
from bihuan.people import services as people_services

TZ = ZoneInfo("Asia/Shanghai")


def at(y, m, d, h=10) -> datetime:
    return datetime(y, m, d, h, tzinfo=TZ)


def person(unit, name):
    return people_services.create_person(None, unit=unit, name=name)


def make_lectures(tree, users=None, *, lecturer_login=None):
    """任城区's 青年宣讲团 (topics 党的二十大精神、乡村振兴) with two lecturers, and 李营街道's
    巾帼宣讲团 with one; a session of the first lecturer at 芦庙村 on 2025-03-10."""
    x = SimpleNamespace()
    x.team = services.create_team(None, unit=tree.rencheng, name="任城区青年宣讲团", kind="youth",
                                  topics="党的二十大精神、乡村振兴", now=at(2025, 1, 5))
    x.town_team = services.create_team(None, unit=tree.liying, name="李营街道巾帼宣讲团", kind="women",
                                       topics="家风家教", now=at(2025, 1, 5))
    x.wang = services.add_lecturer(None, x.team, person=person(tree.lumiao, "王宣讲"), topics="乡村振兴",
                                   audiences=["villagers", "members"], login=lecturer_login, now=at(2025, 1, 6))
    x.li = services.add_lecturer(None, x.team, person=person(tree.xianying_v, "李宣讲"), topics="党的二十大精神",
                                 audiences=["youth"], now=at(2025, 1, 6))
    x.zhao = services.add_lecturer(None, x.town_team, person=person(tree.lumiao, "赵宣讲"), topics="家风家教",
                                   audiences=["elderly"], now=at(2025, 1, 6))
    x.session = services.record_session(None, lecturer=x.wang, place=tree.lumiao_g1, held_on=date(2025, 3, 10),
                                        audience="villagers", topic="乡村振兴", attendance=42, now=at(2025, 3, 10, 18))
    return x
