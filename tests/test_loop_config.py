"""The city's configuration pages: categories, routing rules and working-day calendar overrides.

Through the Django test client as the users who would use them; each change is checked in what
the loop then does (deadlines of new matters, the suggested handling unit, the calendar warning).
"""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from bihuan.accounts import services as account_services
from bihuan.accounts.models import Role
from bihuan.core import calendar
from bihuan.core.errors import PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry, CalendarOverride
from bihuan.loop import config, services
from bihuan.loop.models import Category, RoutingRule

from .conftest import make_user
from .loop_helpers import at, make_categories, new_matter

pytestmark = pytest.mark.django_db

CATEGORY = {"code": "streetlight", "name": "路灯不亮", "kind": "problem", "accept_hours": "2", "handle_days": "2",
            "warn_percent": "50", "max_extensions": "1", "max_extension_days": "5", "open311_code": "",
            "description": "路灯、景观灯"}


@pytest.fixture
def cats(db):
    return make_categories()


def _body(r) -> str:
    return r.content.decode()


def _dispatched(user_reg, dispatcher, cat, unit, now, handling_unit):
    m = new_matter(user_reg, cat, unit, now)
    return services.dispatch(dispatcher, m.pk, version=m.version, handling_unit=handling_unit, now=now)


# --- who may ------------------------------------------------------------------------------------

def test_township_and_county_users_cannot_reach_configuration(login, users, tree, cats):
    road, _ = cats
    rule = config.create_rule(None, category=road, location=tree.lumiao, handling_unit=tree.lumiao)
    ov = calendar.set_override(None, date(2027, 1, 1), False, "元旦")
    for user in (users.liying_staff, users.rencheng_admin):
        c = login(user)
        home = _body(c.get(reverse("web:home")))
        assert 'data-testid="nav-config"' not in home
        for name in ("loop:config_categories", "loop:config_category_create", "loop:config_routing_any",
                     "loop:config_calendar"):
            assert c.get(reverse(name)).status_code == 403, name
        # Pages about one object answer 404, as for an object outside one's scope.
        assert c.get(reverse("loop:config_category", args=[road.pk])).status_code == 404
        assert c.get(reverse("loop:config_routing", args=[road.pk])).status_code == 404
        r = c.post(reverse("loop:config_category", args=[road.pk]), {**CATEGORY, "handle_days": "30"})
        assert r.status_code == 404
        assert c.post(reverse("loop:config_routing_delete", args=[rule.pk])).status_code == 404
        assert c.post(reverse("loop:config_calendar_delete", args=[ov.pk])).status_code == 404
        assert c.post(reverse("loop:config_category_create"), CATEGORY).status_code == 403
        assert c.post(reverse("loop:config_calendar"), {"date": "2027-02-01", "is_workday": "0"}).status_code == 403
    road.refresh_from_db()
    assert road.handle_days == 3
    assert RoutingRule.objects.filter(pk=rule.pk).exists() and CalendarOverride.objects.count() == 1
    assert not Category.objects.filter(code="streetlight").exists()
    # The services refuse the same, whatever calls them.
    with pytest.raises(PermissionDenied):
        config.update_category(users.liying_staff, road.pk, handle_days=9)
    with pytest.raises(PermissionDenied):
        calendar.set_override(users.rencheng_admin, date(2027, 2, 1), False)


def test_city_admin_sees_configuration_in_the_navigation(login, users):
    body = _body(login(users.city_admin).get(reverse("web:home")))
    assert 'data-testid="nav-config"' in body and "配置" in body


# --- categories ---------------------------------------------------------------------------------

def test_city_admin_creates_and_edits_a_category_and_new_matters_use_its_limits(login, users, tree):
    c = login(users.city_admin)
    r = c.post(reverse("loop:config_category_create"), CATEGORY)
    assert r.status_code == 302
    cat = Category.objects.get(code="streetlight")
    assert (cat.name, cat.handle_days, cat.warn_percent, float(cat.accept_hours), cat.active) == \
        ("路灯不亮", 2, 50, 2.0, True)
    assert AuditEntry.objects.filter(action="loop.category.create", object_id=str(cat.pk)).exists()
    listing = _body(c.get(reverse("loop:config_categories")))
    assert "路灯不亮" in listing and "2 个工作日" in listing

    # Dispatched Monday 09:00 with 2 working days: due Wednesday 17:30; accept within 2 working hours.
    now = at("2026-11-02 09:00")
    m = _dispatched(users.lumiao_grid, users.liying_staff, cat, tree.lumiao_g1, now, tree.lumiao)
    assert m.due_at == at("2026-11-04 17:30") and m.accept_due_at == at("2026-11-02 11:00")

    data = {**CATEGORY, "handle_days": "5", "accept_hours": "4.5", "name": "路灯照明"}
    data.pop("code")
    r = c.post(reverse("loop:config_category", args=[cat.pk]), data)
    assert r.status_code == 302
    cat.refresh_from_db()
    assert cat.handle_days == 5 and cat.name == "路灯照明" and cat.code == "streetlight"
    entry = AuditEntry.objects.get(action="loop.category.update", object_id=str(cat.pk))
    assert entry.before["handle_days"] == 2 and entry.after["handle_days"] == 5
    m2 = _dispatched(users.lumiao_grid, users.liying_staff, cat, tree.lumiao_g1, now, tree.lumiao)
    assert m2.due_at == at("2026-11-09 17:30")  # five working days after Monday
    assert m2.accept_due_at == at("2026-11-02 15:00")  # 3 h in the morning + 1.5 h after lunch
    m.refresh_from_db()
    assert m.due_at == at("2026-11-04 17:30")  # a running deadline keeps its date


@pytest.mark.parametrize("field, value, message", [
    ("handle_days", "0", "介于 1 和 365 之间"),
    ("warn_percent", "150", "介于 1 和 99 之间"),
    ("accept_hours", "1.25", "最多一位小数"),
    ("code", "路灯", "只能使用小写字母"),
    ("kind", "weather", "选择一个有效的选项"),
    ("name", "", "此项为必填项"),
])
def test_bad_category_input_is_refused_with_a_message_and_nothing_saved(login, users, field, value, message):
    c = login(users.city_admin)
    before = AuditEntry.objects.count()
    r = c.post(reverse("loop:config_category_create"), {**CATEGORY, field: value})
    assert r.status_code == 400
    assert message in _body(r)
    assert Category.objects.count() == 0 and AuditEntry.objects.count() == before


def test_bad_edit_leaves_the_category_as_it_was(login, users, cats):
    road, _ = cats
    c = login(users.city_admin)
    data = {**CATEGORY, "handle_days": "400"}
    data.pop("code")
    r = c.post(reverse("loop:config_category", args=[road.pk]), data)
    assert r.status_code == 400 and "介于 1 和 365 之间" in _body(r)
    road.refresh_from_db()
    assert (road.name, road.handle_days) == ("道路破损", 3)


def test_duplicate_codes_are_refused(login, users, cats):
    road, water = cats
    water.open311_code = "water"
    water.save()
    c = login(users.city_admin)
    r = c.post(reverse("loop:config_category_create"), {**CATEGORY, "code": "road"})
    assert r.status_code == 400 and "已有类别使用代码 road" in _body(r)
    assert Category.objects.filter(code="road").count() == 1
    # Residents pick categories by their Open311 code: two categories cannot share one.
    r = c.post(reverse("loop:config_category_create"), {**CATEGORY, "open311_code": "water"})
    assert r.status_code == 400 and "Open311 代码 water" in _body(r)
    assert not Category.objects.filter(code="streetlight").exists()


def test_a_used_category_is_deactivated_not_deleted(login, users, tree, cats):
    road, water = cats
    new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-02 09:00"))
    c = login(users.city_admin)
    page = reverse("loop:config_category", args=[road.pk])  # the form on that page says where to go back
    r = c.post(reverse("loop:config_category_delete", args=[road.pk]), {"next": page}, follow=True)
    assert r.redirect_chain[-1][0] == page
    assert "不能删除" in _body(r) and Category.objects.filter(pk=road.pk).exists()
    c.post(reverse("loop:config_category_active", args=[road.pk]), {"active": "0"})
    road.refresh_from_db()
    assert road.active is False
    # No longer offered to reporters, and refused by the service.
    grid = login(users.lumiao_grid)
    offered = grid.get(reverse("loop:report")).context["form"].fields["category"].queryset
    assert road not in offered and water in offered
    with pytest.raises(ServiceError):
        new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-02 10:00"))
    # An unused category can be deleted.
    c = login(users.city_admin)
    assert c.post(reverse("loop:config_category_delete", args=[water.pk])).status_code == 302
    assert not Category.objects.filter(pk=water.pk).exists()


# --- routing ------------------------------------------------------------------------------------

def test_a_routing_rule_changes_the_suggested_unit(login, users, tree, cats):
    road, water = cats
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-02 09:00"))
    staff = login(users.liying_staff)
    assert staff.get(reverse("loop:detail", args=[m.pk])).context["suggestion"] == tree.liying  # the township
    c = login(users.city_admin)
    page = _body(c.get(reverse("loop:config_routing", args=[road.pk])))
    assert "乡镇" in page and 'data-testid="routing-explanation"' in page  # the township fallback, explained
    r = c.post(reverse("loop:config_routing", args=[road.pk]),
               {"location": tree.lumiao.code, "handling_unit": tree.lumiao.code, "note": "村里自办"})
    assert r.status_code == 302
    rule = RoutingRule.objects.get()
    assert (rule.category, rule.location, rule.handling_unit) == (road, tree.lumiao, tree.lumiao)
    assert services.suggest_handling_unit(road, tree.lumiao_g1) == tree.lumiao
    assert services.suggest_handling_unit(water, tree.lumiao_g1) == tree.liying  # other category: fallback
    probe = _body(c.get(reverse("loop:config_routing", args=[road.pk]), {"probe": tree.lumiao_g2.code}))
    assert "<strong>芦庙村</strong>" in probe
    staff = login(users.liying_staff)
    detail = staff.get(reverse("loop:detail", args=[m.pk]))
    assert detail.context["suggestion"] == tree.lumiao

    # A rule for all categories, deeper, wins over the category's own rule higher up.
    c = login(users.city_admin)
    c.post(reverse("loop:config_routing_any"), {"location": tree.lumiao_g1.code, "handling_unit": tree.lumiao_g1.code})
    assert services.suggest_handling_unit(road, tree.lumiao_g1) == tree.lumiao_g1
    assert services.suggest_handling_unit(water, tree.lumiao_g2) == tree.liying

    # Deleting the rule goes back to the township.
    c.post(reverse("loop:config_routing_delete", args=[rule.pk]))
    assert services.suggest_handling_unit(road, tree.lumiao_g2) == tree.liying
    assert AuditEntry.objects.filter(action="loop.routing.delete").count() == 1


def test_bad_routing_input_is_refused(login, users, tree, cats):
    road, _ = cats
    config.create_rule(None, category=road, location=tree.lumiao, handling_unit=tree.lumiao)
    c = login(users.city_admin)
    url = reverse("loop:config_routing", args=[road.pk])
    r = c.post(url, {"location": "999999", "handling_unit": tree.lumiao.code})
    assert r.status_code == 400 and "没有此代码的现有单位" in _body(r)
    r = c.post(url, {"location": tree.lumiao.code, "handling_unit": tree.liying.code})
    assert r.status_code == 400 and "已有针对芦庙村的规则" in _body(r)
    assert RoutingRule.objects.count() == 1
    # Two catch-all rules at one place are refused too (the database would allow them: NULL category).
    config.create_rule(None, category=None, location=tree.liying, handling_unit=tree.liying)
    with pytest.raises(ServiceError):
        config.create_rule(None, category=None, location=tree.liying, handling_unit=tree.lumiao)
    assert RoutingRule.objects.count() == 2


def test_routing_is_bounded_by_the_admins_scope(login, users, tree, cats):
    """A custom role with loop.category.manage over 任城区 routes within 任城区 only, and cannot
    change the city's categories."""
    road, _ = cats
    role = Role.objects.create(code="rencheng_router", name="任城区路由管理员", permissions=["loop.category.manage"],
                               default_scope="subtree")
    router = make_user("router", tree.rencheng)
    account_services.bind(None, router, tree.rencheng, role)
    config.create_rule(None, category=road, location=tree.xuemiao, handling_unit=tree.longqiao)
    c = login(router)
    page = _body(c.get(reverse("loop:config_routing", args=[road.pk])))
    assert "薛庙社区" not in page and "龙桥街道" not in page
    r = c.post(reverse("loop:config_routing", args=[road.pk]),
               {"location": tree.lumiao.code, "handling_unit": tree.longqiao.code})
    assert r.status_code == 400 and "没有此代码的现有单位" in _body(r)
    with pytest.raises(ServiceError, match="不在您的辖区"):
        config.create_rule(router, category=road, location=tree.lumiao, handling_unit=tree.longqiao)
    assert c.post(reverse("loop:config_routing", args=[road.pk]),
                  {"location": tree.lumiao.code, "handling_unit": tree.lumiao.code}).status_code == 302
    foreign = RoutingRule.objects.get(location=tree.xuemiao)
    assert c.post(reverse("loop:config_routing_delete", args=[foreign.pk])).status_code == 404
    assert RoutingRule.objects.count() == 2
    r = c.post(reverse("loop:config_category", args=[road.pk]), {**CATEGORY, "handle_days": "9"})
    assert r.status_code == 403 and "只有全市范围的管理员" in _body(r)
    road.refresh_from_db()
    assert road.handle_days == 3


# --- the working-day calendar ---------------------------------------------------------------------

def test_a_2027_override_changes_the_deadline_and_removes_the_warning(login, users, tree, cats):
    road, _ = cats  # 3 working days
    now = at("2026-12-30 09:00")  # Wednesday; 31 Dec is a working day, 2027 is not in the package
    assert 2027 not in calendar.package_years()
    m1 = _dispatched(users.lumiao_grid, users.liying_staff, road, tree.lumiao_g1, now, tree.lumiao)
    assert m1.due_at == at("2027-01-04 17:30")  # Thu 31, Fri 1 Jan (guessed a workday), Mon 4
    assert "2027" in m1.calendar_warning

    c = login(users.city_admin)
    page = c.get(reverse("loop:config_calendar"), {"year": 2027})
    body = _body(page)
    assert 'data-year="2027" data-source="unknown"' in body and 'data-testid="year-unknown"' in body
    assert 'data-year="2026" data-source="package"' in body
    r = c.post(reverse("loop:config_calendar"), {"date": "2027-01-01", "is_workday": "0", "note": "元旦"})
    assert r.status_code == 302 and r["Location"].endswith("?year=2027")
    ov = CalendarOverride.objects.get()
    assert (ov.date, ov.is_workday, ov.note) == (date(2027, 1, 1), False, "元旦")
    assert AuditEntry.objects.filter(action="core.calendar.override").count() == 1
    body = _body(c.get(reverse("loop:config_calendar"), {"year": 2027}))
    assert 'data-year="2027" data-source="overrides"' in body and 'data-date="2027-01-01"' in body

    m2 = _dispatched(users.lumiao_grid, users.liying_staff, road, tree.lumiao_g1, now, tree.lumiao)
    assert m2.due_at == at("2027-01-05 17:30")  # 1 January is a day off now
    assert m2.calendar_warning == ""

    # Entering the same date again changes it; removing it brings the warning back.
    c.post(reverse("loop:config_calendar"), {"date": "2027-01-01", "is_workday": "1", "note": "改为工作日"})
    assert CalendarOverride.objects.get().is_workday is True
    c.post(reverse("loop:config_calendar_delete", args=[ov.pk]))
    assert not CalendarOverride.objects.exists()
    m3 = _dispatched(users.lumiao_grid, users.liying_staff, road, tree.lumiao_g1, now, tree.lumiao)
    assert "2027" in m3.calendar_warning


@pytest.mark.parametrize("data, message", [
    ({"date": "1999-05-01", "is_workday": "0"}, "日期必须在 2000 到 2100 之间"),
    ({"date": "2027-02-30", "is_workday": "0"}, "请输入有效的日期"),
    ({"date": "2027-02-01"}, "此项为必填项"),
    ({"date": "2027-02-01", "is_workday": "0", "note": "节" * 101}, "100"),
])
def test_bad_calendar_input_is_refused_and_nothing_written(login, users, data, message):
    c = login(users.city_admin)
    before = AuditEntry.objects.count()
    r = c.post(reverse("loop:config_calendar"), data)
    assert r.status_code == 400 and message in _body(r)
    assert not CalendarOverride.objects.exists() and AuditEntry.objects.count() == before


def test_year_statuses():
    calendar.set_override(None, date(2028, 5, 1), False)
    got = {y.year: (y.source, y.overrides) for y in calendar.year_statuses([2026, 2027, 2028])}
    assert got == {2026: ("package", 0), 2027: ("unknown", 0), 2028: ("overrides", 1)}
    assert 2028 in calendar.years_of_interest(date(2026, 11, 29))
    assert {2026, 2027}.issubset(calendar.years_of_interest(date(2026, 11, 29)))


def test_running_deadlines_are_recalculated_once_the_year_is_entered(login, users, tree, cats):
    """A matter dispatched while 2027 had no data got a Monday–Friday guess and a warning. Once the
    city has entered 2027 and says so, the worker counts its deadline again on the real days."""
    from bihuan.core.models import AuditEntry as Audit
    from bihuan.loop.models import Matter, MatterEvent, Notification

    road, _ = cats  # 3 working days
    now = at("2026-12-30 09:00")
    m = _dispatched(users.lumiao_grid, users.liying_staff, road, tree.lumiao_g1, now, tree.lumiao)
    assert m.due_at == at("2027-01-04 17:30") and "2027" in m.calendar_warning
    version = Matter.objects.get(pk=m.pk).version
    c = login(users.city_admin)
    # Nothing to do while 2027 is unknown: the guess and its warning stay.
    assert c.post(reverse("loop:config_calendar_recalculate")).status_code == 302
    assert Matter.objects.get(pk=m.pk).version == version
    c.post(reverse("loop:config_calendar"), {"date": "2027-01-01", "is_workday": "0", "note": "元旦"})
    assert Matter.objects.get(pk=m.pk).due_at == at("2027-01-04 17:30")  # saving a date recalculates nothing
    r = c.post(reverse("loop:config_calendar_recalculate"))  # the worker's task runs (sync in tests)
    assert r.status_code == 302 and "重新计算已交给后台任务" in _body(c.get(r["Location"]))
    m.refresh_from_db()
    assert m.due_at == at("2027-01-05 17:30") and m.calendar_warning == ""  # 1 January is a day off
    assert m.version == version + 1
    ev = MatterEvent.objects.get(matter=m, seq=m.version)
    assert ev.action == "recalculate" and ev.data["due_at_before"].startswith("2027-01-04")
    assert Audit.objects.filter(action="loop.matter.recalculate", object_id=str(m.pk)).get().actor_name == "city_admin"
    assert Notification.objects.filter(matter=m, kind="deadline_recalculated").count() == 1
    assert "期限重新计算" in _body(login(users.liying_staff).get(reverse("loop:detail", args=[m.pk])))
    # Nothing is left to recalculate, and only the city's calendar administrators may ask.
    assert services.recalculate_deadlines(None)["checked"] == 0
    assert login(users.liying_staff).post(reverse("loop:config_calendar_recalculate")).status_code in (403, 404)


def test_only_calendar_admins_may_recalculate(users, db):
    with pytest.raises(PermissionDenied):
        services.recalculate_deadlines(users.liying_staff)
    assert services.recalculate_deadlines(users.city_admin)["checked"] == 0
