"""Registers (台账): definitions, the one validator, entries with history, rounds (services)."""

from __future__ import annotations

from datetime import date

import pytest

from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry
from bihuan.ledgers import fields as fl
from bihuan.ledgers import selectors, services
from bihuan.ledgers.models import Entry, EntryChange, RegisterVersion, RoundEscalation
from tests.ledgers_helpers import at, coop, load
from tests.series_helpers import one_by_one

pytestmark = pytest.mark.django_db


def test_builtin_definitions_load_once(tree):
    regs = load()
    assert set(regs) == {"cooperatives", "rep_offices", "rep_village_links", "reserve_talents",
                         "service_capacity", "village_class", "village_enterprise"}
    from bihuan.ledgers import builtin

    assert builtin.load(None) == {"created": 0, "changed": 0, "unchanged": 7}


def test_an_entry_is_validated_by_its_definition_and_nothing_is_half_written(tree, users):
    r = load()["cooperatives"]
    e = services.create_entry(users.liying_staff, r, unit=tree.lumiao, values=coop())
    assert e.data["members"] == 120 and e.data["revenue"] == 356000.5
    bad = [({**coop(name="甲"), "members": -1}, "members"),
           ({**coop(name="乙"), "kind": "挖矿"}, "kind"),
           ({k: v for k, v in coop(name="丙").items() if k != "members"}, "members"),
           ({**coop(name="丁"), "revenue": "1.234"}, "revenue"),
           ({**coop(name="戊"), "nonsense": 1}, "data"),
           ({**coop(name="己\x07")}, "name")]
    for values, field in bad:
        with pytest.raises(ServiceError) as exc:
            services.create_entry(users.liying_staff, r, unit=tree.lumiao, values=values)
        assert field in exc.value.field_errors, (values, exc.value.field_errors)
    with pytest.raises(Conflict):  # unique in the city
        services.create_entry(users.rencheng_admin, r, unit=tree.xianying_v, values=coop())
    assert Entry.objects.count() == 1
    with pytest.raises(ServiceError):  # a cooperative is filled by a village, not a township
        services.create_entry(users.liying_staff, r, unit=tree.liying, values=coop(name="另一个"))


def test_scope_out_of_subtree_is_404_and_no_permission_is_403(tree, users):
    r = load()["cooperatives"]
    e = services.create_entry(None, r, unit=tree.xuemiao, values=coop())
    with pytest.raises(NotFound):
        services.create_entry(users.liying_staff, r, unit=tree.xuemiao, values=coop(name="x"))
    with pytest.raises(NotFound):
        services.update_entry(users.rencheng_admin, e, version=1, values=coop(members=3))
    with pytest.raises(PermissionDenied):
        services.create_entry(users.lumiao_grid, r, unit=tree.lumiao, values=coop(name="y"))
    assert not selectors.entries(users.rencheng_admin, r).exists()
    assert selectors.entries(users.yanzhou_admin, r).count() == 1


def test_edit_is_versioned_with_history_and_a_stale_version_is_409(tree, users):
    r = load()["cooperatives"]
    e = services.create_entry(users.liying_staff, r, unit=tree.lumiao, values=coop(), now=at(2026, 3, 1))
    services.update_entry(users.lumiao_secretary, e, version=1, values=coop(members=150), now=at(2026, 3, 2))
    with pytest.raises(Conflict):
        services.update_entry(users.liying_staff, e, version=1, values=coop(members=99))
    e.refresh_from_db()
    assert e.data["members"] == 150 and e.version == 2
    h = list(selectors.history(users.liying_staff, e))
    assert [c.verb for c in h] == ["update", "create"]
    assert h[0].changes == {"members": [120, 150]} and h[0].by_name == "lumiao_secretary"
    assert AuditEntry.objects.filter(action="ledgers.entry.update").count() == 1
    services.delete_entry(users.liying_staff, e, version=2)
    assert not Entry.objects.exists()
    assert EntryChange.objects.filter(entry_id_ref=e.pk, verb="delete").exists()


def test_personal_fields_are_encrypted_masked_unique_and_revealed_with_audit(tree, users):
    r = load()["reserve_talents"]
    values = {"name": "张三", "id_number": "370811199001011234", "age": 30, "education": "本科"}
    e = services.create_entry(users.liying_staff, r, unit=tree.lumiao, values=values)
    assert e.data["id_number"] == "370811********1234"
    assert "199001011234" not in str(e.protected) and e.protected["id_number"].count(":") == 2
    assert "370811199001011234" not in e.search
    with pytest.raises(Conflict):  # unique in the city, by blind index
        services.create_entry(users.rencheng_admin, r, unit=tree.xianying_v, values={**values, "name": "李四"})
    # editing without re-sending the number (or sending back the masked one) keeps it
    services.update_entry(users.liying_staff, e, version=1, values={**values, "id_number": e.data["id_number"],
                                                                     "age": 31})
    with pytest.raises(PermissionDenied):
        services.reveal(users.liying_staff, e, "id_number", "核查")
    assert services.reveal(users.rencheng_admin, e, "id_number", "核查") == "370811199001011234"
    assert AuditEntry.objects.filter(action="ledgers.entry.reveal").count() == 1


def test_definition_changes_keep_old_entries_valid_or_are_refused(tree, users):
    r = load()["cooperatives"]
    services.create_entry(None, r, unit=tree.lumiao, values=coop(members=500))
    fields = [dict(f) for f in r.live_fields()]
    # adding an optional field: fine; old entries stay valid
    r = services.change_register(users.city_admin, r, version=r.version,
                                 fields=fields + [{"key": "website", "label": "网址", "type": "text"}])
    assert r.version == 2 and RegisterVersion.objects.filter(register=r).count() == 2
    # a required field without a default, a narrower range, a choice taken away: refused
    for change in ([*fields, {"key": "x", "label": "新", "type": "text", "required": True}],
                   [{**f, "max": 100} if f["key"] == "members" else f for f in fields],
                   [{**f, "choices": ["养殖"]} if f["key"] == "kind" else f for f in fields]):
        with pytest.raises(ServiceError) as exc:
            services.change_register(users.city_admin, r, version=r.version, fields=change)
        assert "invalid" in str(exc.value.message) or "不" in str(exc.value.message)
    r.refresh_from_db()
    assert r.version == 2
    # removing a field keeps it (removed) and its values in old entries
    r = services.change_register(users.city_admin, r, version=r.version,
                                 fields=[f for f in fields if f["key"] != "revenue"])
    assert r.field("revenue")["removed"] and "revenue" not in {f["key"] for f in r.live_fields()}
    e = Entry.objects.get()
    assert e.data["revenue"] == 356000.5
    services.update_entry(None, e, version=e.version, values=coop(members=501, revenue=None))
    e.refresh_from_db()
    assert e.data["revenue"] == 356000.5 and e.data["members"] == 501
    with pytest.raises(ServiceError):  # a type cannot change
        services.change_register(users.city_admin, r, version=r.version,
                                 fields=[{**f, "type": "text"} if f["key"] == "members" else f for f in fields])
    with pytest.raises(PermissionDenied):
        services.change_register(users.rencheng_admin, r, version=r.version, fields=fields)


def test_unsafe_patterns_are_refused():
    for p in (r"(a+)+$", r"(a|aa)*b*c(\1)", r"(?=a)b", "x" * 101):
        with pytest.raises(ValueError):
            fl.check_pattern(p)
    assert fl.check_pattern(r"[0-9]{17}[0-9Xx]")


def test_summary_groups_by_level_in_sql(tree, users):
    r = load()["cooperatives"]
    services.create_entry(None, r, unit=tree.lumiao, values=coop(name="a", members=10, revenue=100))
    services.create_entry(None, r, unit=tree.lumiao, values=coop(name="b", members=5, revenue="0.5"))
    services.create_entry(None, r, unit=tree.xianying_v, values=coop(name="c", members=7, kind="养殖"))
    services.create_entry(None, r, unit=tree.xuemiao, values=coop(name="d", members=1000))
    rows = selectors.summary(users.city_admin, r, level=2, field="members")
    assert [(x["unit_name"], x["count"], x["total"]) for x in rows] == [("任城区", 3, 22), ("兖州区", 1, 1000)]
    rows = selectors.summary(users.rencheng_admin, r, level=3, field="revenue")
    assert [(x["unit_name"], x["count"], x["total"]) for x in rows] == [
        ("仙营街道", 1, 356000.5), ("李营街道", 2, 100.5)]
    assert selectors.entries(users.city_admin, r, filters={"kind": "养殖"}).count() == 1
    assert selectors.entries(users.city_admin, r, filters={"members__min": "6", "members__max": "999"}).count() == 2
    assert selectors.entries(users.city_admin, r, q="B").count() == 1  # search ignores case
    assert selectors.entries(users.city_admin, r, filters={"name": "b"}).count() == 1
    assert selectors.entries(users.city_admin, r, filters={"members__min": "x'; drop"}).count() == 0


def test_a_round_lists_late_units_and_opens_one_matter_each_once(tree, users):
    from bihuan.loop.models import Matter

    r = load()["cooperatives"]
    rd = services.open_round(users.city_admin, r, within=tree.rencheng, title="合作社年报", due_on=date(2026, 12, 15),
                             now=at(2026, 12, 1))
    services.create_entry(None, r, unit=tree.lumiao, values=coop())
    s = services.submit(users.lumiao_secretary, rd, unit=tree.lumiao, now=at(2026, 12, 10))
    assert s.on_time and s.entries == 1
    with pytest.raises(NotFound):
        services.submit(users.lumiao_secretary, rd, unit=tree.xianying_v)
    with pytest.raises(PermissionDenied):  # the round is the county's: the township sees it, may not return
        services.return_submission(users.liying_staff, s, reason="x")
    services.return_submission(users.rencheng_admin, s, reason="成员数有误", now=at(2026, 12, 11))
    assert {u.name for u in services.late_units(rd, at(2026, 12, 16))} == {"芦庙村", "仙营社区"}
    assert services.open_late_matters(at(2026, 12, 14)) == 0  # not yet due
    assert services.open_late_matters(at(2026, 12, 16)) == 2
    assert services.open_late_matters(at(2026, 12, 17)) == 0
    assert RoundEscalation.objects.count() == 2 and Matter.objects.count() == 2
    s = services.submit(users.lumiao_secretary, rd, unit=tree.lumiao, now=at(2026, 12, 18))
    assert not s.on_time
    status = {x["unit"].name: x for x in selectors.round_status(users.rencheng_admin, rd, at(2026, 12, 18))}
    assert status["芦庙村"]["submission"].state == "submitted" and status["仙营社区"]["late"]


def test_a_county_register_is_invisible_to_another_county(tree, users):
    load()
    yz = services.create_register(users.yanzhou_admin, code="yz_canteens", name="兖州幸福食堂", level=4,
                                  unit=tree.yanzhou, fields=[{"key": "name", "label": "名称", "type": "text"}])
    assert not selectors.registers(users.rencheng_admin).filter(pk=yz.pk).exists()
    assert selectors.registers(users.rencheng_admin).filter(code="cooperatives").exists()
    assert selectors.registers(users.lumiao_secretary).count() == 7
    assert not selectors.registers(users.lumiao_grid).exists()  # no ledgers permission
    with pytest.raises(NotFound):
        services.get_register(users.rencheng_admin, "yz_canteens")
    with pytest.raises(NotFound):
        services.change_register(users.rencheng_admin, yz, version=1, name="x")
    with pytest.raises(ServiceError):  # 芦庙村 is not under 兖州区
        services.create_entry(None, yz, unit=tree.lumiao, values={"name": "x"})


def test_sources_and_report_section(tree, users):
    from bihuan.core import registry

    r = load()["cooperatives"]
    services.create_entry(None, r, unit=tree.lumiao, values=coop())
    rd = services.open_round(None, r, within=tree.rencheng, title="年报", due_on=date(2026, 12, 15),
                             now=at(2026, 12, 1))
    services.submit(None, rd, unit=tree.lumiao, now=at(2026, 12, 10))
    services.submit(None, rd, unit=tree.xianying_v, now=at(2026, 12, 20))
    start, end = date(2026, 12, 1), date(2027, 1, 1)
    rates = registry.compute("ledgers.on_time_rate", [tree.liying, tree.xianying, tree.rencheng, tree.yanzhou],
                             start=start, end=end, now=at(2026, 12, 31))
    assert rates == {tree.liying.pk: 100.0, tree.xianying.pk: 0.0, tree.rencheng.pk: 50.0, tree.yanzhou.pk: None}
    rows = registry.SECTIONS["ledgers.registers"].figures(tree.city, start=start, end=end, now=at(2026, 12, 31))
    by = {x["unit_name"]: x for x in rows}
    assert by["任城区"]["entries"] == 1 and by["任城区"]["due"] == 2 and by["兖州区"]["on_time_rate"] is None


def test_the_on_time_rate_of_all_weeks_at_once_equals_week_by_week(tree, users):
    """The dashboard's trend asks for all weeks in one query; each week's value is its own."""
    from bihuan.core import registry

    r = load()["cooperatives"]
    first = services.open_round(None, r, within=tree.rencheng, title="一", due_on=date(2026, 12, 8), now=at(2026, 12, 1))
    second = services.open_round(None, r, within=tree.rencheng, title="二", due_on=date(2026, 12, 15),
                                 now=at(2026, 12, 1))
    services.submit(None, first, unit=tree.lumiao, now=at(2026, 12, 5))
    services.submit(None, first, unit=tree.xianying_v, now=at(2026, 12, 10))
    services.submit(None, second, unit=tree.lumiao, now=at(2026, 12, 20))
    starts = [date(2026, 11, 30), date(2026, 12, 7), date(2026, 12, 14)]
    end, now = date(2026, 12, 21), at(2026, 12, 31)
    units = [tree.city, tree.rencheng, tree.liying, tree.xianying, tree.yanzhou]
    got = registry.compute_series("ledgers.on_time_rate", units, starts=starts, end=end, now=now)
    assert got == one_by_one("ledgers.on_time_rate", units, starts=starts, end=end, now=now)
    assert got[tree.rencheng.pk] == [None, 50.0, 0.0] and got[tree.yanzhou.pk] == [None, None, None]
