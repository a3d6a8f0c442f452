"""Party organisations, members and applicants on the test tree (tests/conftest.py), through the
services: 李营街道党工委 (committee) → 芦庙村党支部 (branch) with three members, and 薛庙社区党支部
of 兖州区 with one."""

from __future__ import annotations

from types import SimpleNamespace

from bihuan.orgs import services as org_services
from bihuan.people import services as people_services


def member(unit, name, branch, status="formal"):
    return people_services.create_person(None, unit=unit, name=name, party_branch=branch, party_status=status)


def make_party(tree):
    x = SimpleNamespace()
    x.liying_committee = org_services.create_party_org(None, unit=tree.liying, kind="committee", name="李营街道党工委")
    x.lumiao_branch = org_services.create_party_org(None, unit=tree.lumiao, kind="branch", name="芦庙村党支部",
                                                    parent=x.liying_committee)
    x.xuemiao_branch = org_services.create_party_org(None, unit=tree.xuemiao, kind="branch", name="薛庙社区党支部")
    x.zhang = member(tree.lumiao_g1, "张党员", x.lumiao_branch)
    x.wang = member(tree.lumiao_g1, "王党员", x.lumiao_branch)
    x.chen = member(tree.lumiao_g2, "陈党员", x.lumiao_branch, "probationary")
    x.outsider = member(tree.xuemiao, "薛党员", x.xuemiao_branch)
    x.youth = people_services.create_person(None, unit=tree.lumiao_g1, name="刘青年")
    return x
