"""Web pages: tree browser, user administration, audit log, passwords — through the Django test client."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from bihuan.accounts.models import Binding, Role, User
from bihuan.core.models import AuditEntry
from bihuan.orgs import services as org_services
from bihuan.orgs.models import OrgUnit, PartyOrg

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def unit_url(unit, name="web:unit_detail"):
    return reverse(name, args=[unit.pk])


def rows_by_name(response):
    return {u.name: u for u in response.context["page"].object_list}


# --- tree browser ---------------------------------------------------------------------------------
def test_tree_starts_at_the_users_scope_units(login, users, tree):
    r = login(users.liying_staff).get(reverse("web:tree"))
    assert r.status_code == 200
    assert list(rows_by_name(r)) == ["李营街道"]
    body = r.content.decode()
    assert "兖州区" not in body and "仙营街道" not in body

    r = login(users.city_admin).get(reverse("web:tree"))
    assert list(rows_by_name(r)) == ["济宁市"]


def test_unit_children_have_counts_computed_in_sql(login, users, tree):
    r = login(users.city_admin).get(unit_url(tree.city))
    rows = rows_by_name(r)
    assert list(rows) == ["任城区", "兖州区"]
    rc, yz = rows["任城区"], rows["兖州区"]
    assert (rc.n_children, rc.n_descendants, rc.n_grids) == (2, 6, 2)
    assert (yz.n_children, yz.n_descendants, yz.n_grids) == (1, 2, 0)
    totals = r.context["totals"]
    assert (totals.n_children, totals.n_descendants, totals.n_grids) == (2, 10, 2)


def test_counts_never_include_units_outside_scope(login, users, tree):
    # A "unit only" binding sees its unit but nothing below it, and the counts say so.
    from tests.conftest import make_user

    only = make_user("only_liying", tree.liying, "township_staff", scope="unit")
    r = login(only).get(unit_url(tree.liying))
    assert r.status_code == 200
    assert list(rows_by_name(r)) == []
    assert r.context["totals"].n_descendants == 0
    assert login(only).get(unit_url(tree.lumiao)).status_code == 404


def test_breadcrumb_links_only_ancestors_in_scope(login, users, tree):
    r = login(users.lumiao_secretary).get(unit_url(tree.lumiao))
    assert r.status_code == 200
    crumbs = r.context["ancestors"]
    assert [(a.name, linked) for a, linked in crumbs] == [("济宁市", False), ("任城区", False), ("李营街道", False)]
    body = r.content.decode()
    assert f'href="{unit_url(tree.liying)}"' not in body
    assert "芦庙村第一网格" in body and "芦庙村第二网格" in body

    r = login(users.rencheng_admin).get(unit_url(tree.lumiao))
    assert [linked for _, linked in r.context["ancestors"]] == [False, True, True]


def test_party_organisations_are_listed(login, users, tree):
    org_services.create_party_org(None, unit=tree.lumiao, kind="branch", name="芦庙村党支部")
    r = login(users.lumiao_secretary).get(unit_url(tree.lumiao))
    assert "芦庙村党支部" in r.content.decode()


def test_search_stays_within_scope(login, users, tree):
    c = login(users.rencheng_admin)
    r = c.get(reverse("web:tree"), {"q": "芦庙"})
    assert set(rows_by_name(r)) == {"芦庙村", "芦庙村第一网格", "芦庙村第二网格"}
    r = c.get(reverse("web:tree"), {"q": "薛庙"})
    assert list(rows_by_name(r)) == []
    r = c.get(reverse("web:tree"), {"q": "370812"})
    assert list(rows_by_name(r)) == []
    r = c.get(unit_url(tree.liying), {"q": "370811008201001"})
    assert list(rows_by_name(r)) == ["芦庙村第一网格"]


@pytest.mark.parametrize("name", ["web:unit_detail", "web:unit_edit", "web:unit_move", "web:unit_create_child",
                                  "web:partyorg_create"])
def test_out_of_scope_unit_pages_are_404(login, users, tree, name):
    r = login(users.rencheng_admin).get(unit_url(tree.xuemiao, name))
    assert r.status_code == 404
    assert "薛庙社区" not in r.content.decode()
    assert 'data-testid="not-found"' in r.content.decode()


def test_actions_shown_only_with_permission(login, users, tree):
    body = login(users.rencheng_admin).get(unit_url(tree.liying)).content.decode()
    for testid in ("action-create-child", "action-edit", "action-move", "action-partyorg"):
        assert testid in body
    body = login(users.liying_staff).get(unit_url(tree.liying)).content.decode()
    for testid in ("action-create-child", "action-edit", "action-move", "action-partyorg"):
        assert testid not in body
    # Township staff may view but not change: the action pages answer 403.
    assert login(users.liying_staff).get(unit_url(tree.liying, "web:unit_create_child")).status_code == 403


def test_create_child_through_the_ui(login, users, tree):
    c = login(users.rencheng_admin)
    r = c.post(unit_url(tree.lumiao, "web:unit_create_child"), {"code": "370811008201003", "name": "芦庙村第三网格"})
    assert r.status_code == 302
    child = OrgUnit.objects.get(code="370811008201003")
    assert child.parent_id == tree.lumiao.pk and child.level == 5
    assert AuditEntry.objects.filter(action="orgs.unit.create", object_id=str(child.pk)).exists()


def test_create_child_refused_changes_nothing(login, users, tree):
    c = login(users.rencheng_admin)
    before = OrgUnit.objects.count()
    r = c.post(unit_url(tree.lumiao, "web:unit_create_child"), {"code": "370811008201001", "name": "重复"})
    assert r.status_code == 200
    assert r.context["form"].errors["code"]
    r = c.post(unit_url(tree.lumiao, "web:unit_create_child"), {"code": "370812002003001", "name": "错前缀"})
    assert r.status_code == 200 and r.context["form"].errors["code"]
    assert OrgUnit.objects.count() == before


def test_edit_unit_and_add_party_org(login, users, tree):
    c = login(users.rencheng_admin)
    r = c.post(unit_url(tree.lumiao, "web:unit_edit"), {"name": "芦庙村（新）", "code": tree.lumiao.code, "sort": 3})
    assert r.status_code == 302
    assert OrgUnit.objects.get(pk=tree.lumiao.pk).name == "芦庙村（新）"
    r = c.post(unit_url(tree.lumiao, "web:partyorg_create"), {"kind": "branch", "name": "芦庙村党支部"})
    assert r.status_code == 302
    assert PartyOrg.objects.filter(unit=tree.lumiao, kind="branch").count() == 1


def _snapshot():
    return list(OrgUnit.objects.order_by("pk").values_list("pk", "parent_id", "path", "code"))


def test_move_subtree_through_the_ui(login, users, tree):
    c = login(users.rencheng_admin)
    form = c.get(unit_url(tree.lumiao, "web:unit_move")).context["form"]
    assert set(form.fields["new_parent"].queryset) == {tree.xianying}  # siblings of the parent, in scope
    r = c.post(unit_url(tree.lumiao, "web:unit_move"), {"new_parent": tree.xianying.pk, "new_code": "370811003201"})
    assert r.status_code == 302, r.context["form"].errors
    lumiao = OrgUnit.objects.get(pk=tree.lumiao.pk)
    assert lumiao.parent_id == tree.xianying.pk and lumiao.code == "370811003201"
    g1 = OrgUnit.objects.get(pk=tree.lumiao_g1.pk)
    assert g1.path.startswith(tree.xianying.path) and g1.code == "370811003201001"


def test_move_into_own_subtree_is_refused(login, users, tree):
    c = login(users.rencheng_admin)
    before = _snapshot()
    r = c.post(unit_url(tree.liying, "web:unit_move"), {"new_parent_code": tree.lumiao.code})
    assert r.status_code == 200
    errors = r.context["form"].errors
    assert "new_parent_code" in errors or "__all__" in errors
    assert 'data-testid="field-error-new_parent_code"' in r.content.decode()
    assert _snapshot() == before


def test_move_out_of_scope_is_refused(login, users, tree):
    c = login(users.rencheng_admin)
    before = _snapshot()
    r = c.post(unit_url(tree.lumiao, "web:unit_move"), {"new_parent_code": tree.longqiao.code,
                                                        "new_code": "370812002201"})
    assert r.status_code == 200 and r.context["form"].errors["new_parent_code"]
    r = c.post(unit_url(tree.lumiao, "web:unit_move"), {"new_parent": tree.longqiao.pk})
    assert r.status_code == 200 and r.context["form"].errors["new_parent"]
    assert _snapshot() == before


def test_move_with_code_that_does_not_fit_asks_for_new_code(login, users, tree):
    c = login(users.rencheng_admin)
    before = _snapshot()
    r = c.post(unit_url(tree.lumiao, "web:unit_move"), {"new_parent": tree.xianying.pk})
    assert r.status_code == 200 and r.context["form"].errors["new_code"]
    assert _snapshot() == before


# --- users ----------------------------------------------------------------------------------------
def test_user_list_is_scope_filtered(login, users, tree):
    r = login(users.rencheng_admin).get(reverse("web:users"))
    names = {u.username for u in r.context["page"].object_list}
    assert {"rencheng_admin", "liying_staff", "lumiao_secretary", "lumiao_grid"} <= names
    assert not names & {"yanzhou_admin", "city_admin", "nobody"}
    r = login(users.rencheng_admin).get(reverse("web:users"), {"unit": tree.lumiao.code})
    assert {u.username for u in r.context["page"].object_list} == {"lumiao_secretary", "lumiao_grid"}
    role = Role.objects.get(code="grid_worker")
    r = login(users.city_admin).get(reverse("web:users"), {"role": role.pk, "username": "lumiao"})
    assert [u.username for u in r.context["page"].object_list] == ["lumiao_grid"]


def test_user_pages_out_of_scope_are_404(login, users, tree):
    c = login(users.rencheng_admin)
    assert c.get(reverse("web:user_detail", args=[users.yanzhou_admin.pk])).status_code == 404
    r = c.post(reverse("web:user_set_active", args=[users.yanzhou_admin.pk]), {"active": "0"})
    assert r.status_code == 404
    assert User.objects.get(pk=users.yanzhou_admin.pk).is_active
    # Without the permission at all the pages are forbidden.
    assert login(users.lumiao_secretary).get(reverse("web:users")).status_code == 403


def test_create_bind_unbind_user_through_the_ui(login, users, tree):
    c = login(users.rencheng_admin)
    role = Role.objects.get(code="village_secretary")
    r = c.post(reverse("web:user_create"), {
        "username": "new_secretary", "display_name": "新书记", "password": "Xianying-2026!x",
        "unit_code": tree.xianying_v.code, "role": role.pk, "scope": ""})
    assert r.status_code == 302, r.context["form"].errors
    new = User.objects.get(username="new_secretary")
    assert new.must_change_password
    assert [(b.unit_id, b.role.code, b.scope) for b in new.bindings.all()] == [
        (tree.xianying_v.pk, "village_secretary", "subtree")]

    grid = Role.objects.get(code="grid_worker")
    r = c.post(reverse("web:user_bind", args=[new.pk]), {
        "unit_code": tree.lumiao.code, "role": grid.pk, "scope": "custom",
        "custom_codes": f"{tree.lumiao_g1.code}, {tree.lumiao_g2.code}"})
    assert r.status_code == 302
    b = new.bindings.get(role=grid)
    assert set(b.custom_units.all()) == {tree.lumiao_g1, tree.lumiao_g2}

    r = c.post(reverse("web:user_unbind", args=[new.pk, b.pk]))
    assert r.status_code == 302
    assert not Binding.objects.filter(pk=b.pk).exists()
    actions = set(AuditEntry.objects.filter(object_type__startswith="accounts.").values_list("action", flat=True))
    assert {"accounts.user.create", "accounts.binding.create", "accounts.binding.delete"} <= actions

    r = c.post(reverse("web:user_set_active", args=[new.pk]), {"active": "0"})
    assert r.status_code == 302 and not User.objects.get(pk=new.pk).is_active


def test_user_create_refusals_change_nothing(login, users, tree):
    c = login(users.rencheng_admin)
    role = Role.objects.get(code="village_secretary")
    count = User.objects.count()
    # A unit of another county is not in scope.
    r = c.post(reverse("web:user_create"), {"username": "x1", "password": "Xianying-2026!x",
                                            "unit_code": tree.xuemiao.code, "role": role.pk})
    assert r.status_code == 200 and r.context["form"].errors["unit_code"]
    # A weak password is refused by the service's policy.
    r = c.post(reverse("web:user_create"), {"username": "x2", "password": "short",
                                            "unit_code": tree.lumiao.code, "role": role.pk})
    assert r.status_code == 200 and r.context["form"].errors
    # A county admin cannot hand out the city administrator role.
    city = Role.objects.get(code="city_admin")
    r = c.post(reverse("web:user_create"), {"username": "x3", "password": "Xianying-2026!x",
                                            "unit_code": tree.lumiao.code, "role": city.pk})
    assert r.status_code == 200 and r.context["form"].errors["role"]
    assert User.objects.count() == count


def test_bind_refused_for_custom_units_out_of_scope(login, users, tree):
    c = login(users.rencheng_admin)
    grid = Role.objects.get(code="grid_worker")
    r = c.post(reverse("web:user_bind", args=[users.lumiao_grid.pk]), {
        "unit_code": tree.lumiao.code, "role": grid.pk, "scope": "custom", "custom_codes": tree.xuemiao.code})
    assert r.status_code == 400 and r.context["bind_form"].errors["custom_codes"]
    assert users.lumiao_grid.bindings.count() == 1


def test_admin_resets_password(login, users, tree):
    c = login(users.rencheng_admin)
    r = c.post(reverse("web:user_password", args=[users.lumiao_grid.pk]), {"password": "Another-Pass-2026"})
    assert r.status_code == 302
    u = User.objects.get(pk=users.lumiao_grid.pk)
    assert u.must_change_password and u.check_password("Another-Pass-2026")


# --- audit ----------------------------------------------------------------------------------------
def test_audit_page_filters_and_scope(login, users, tree):
    c = login(users.city_admin)
    r = c.get(reverse("web:audit"), {"action": "orgs.unit.create"})
    assert r.status_code == 200
    entries = r.context["entries"]
    assert entries and all(e.action == "orgs.unit.create" for e in entries)
    assert len(entries) == OrgUnit.objects.count()
    r = c.get(reverse("web:audit"), {"object_type": "orgs.orgunit", "object_id": str(tree.xuemiao.pk)})
    assert [e.object_id for e in r.context["entries"]] == [str(tree.xuemiao.pk)]
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert c.get(reverse("web:audit"), {"since": tomorrow}).context["entries"] == []
    today = timezone.localdate().isoformat()
    assert c.get(reverse("web:audit"), {"since": today, "until": today}).context["entries"]

    # A county admin sees only entries about units of their county.
    r = login(users.rencheng_admin).get(reverse("web:audit"), {"action": "orgs.unit.create"})
    ids = {e.object_id for e in r.context["entries"]}
    assert str(tree.lumiao.pk) in ids and str(tree.xuemiao.pk) not in ids
    assert str(tree.city.pk) not in ids


def test_audit_entry_out_of_scope_is_404(login, users, tree):
    entry = AuditEntry.objects.get(action="orgs.unit.create", object_id=str(tree.xuemiao.pk))
    assert login(users.rencheng_admin).get(reverse("web:audit_entry", args=[entry.pk])).status_code == 404
    r = login(users.yanzhou_admin).get(reverse("web:audit_entry", args=[entry.pk]))
    assert r.status_code == 200 and "orgs.unit.create" in r.content.decode()
    assert login(users.lumiao_secretary).get(reverse("web:audit")).status_code == 403


def test_audit_page_pages_by_cursor(login, users, tree):
    c = login(users.city_admin)
    for i in range(60):
        org_services.create_unit(None, parent=tree.lumiao_g1.parent, level=5,
                                 code=f"370811008201{100 + i}", name=f"网格{i}")
    r = c.get(reverse("web:audit"))
    first = r.context["entries"]
    assert len(first) == 50 and r.context["next_cursor"]
    r2 = c.get(reverse("web:audit"), {"cursor": r.context["next_cursor"]})
    assert r2.context["entries"] and r2.context["entries"][0].pk < first[-1].pk
    assert c.get(reverse("web:audit"), {"cursor": "garbage!"}).status_code == 200


def test_audit_log_offers_no_way_to_change_entries(login, users, tree):
    entry = AuditEntry.objects.first()
    c = login(users.city_admin)
    assert c.post(reverse("web:audit_entry", args=[entry.pk])).status_code in (403, 405) or \
        AuditEntry.objects.filter(pk=entry.pk).exists()
    body = c.get(reverse("web:audit")).content.decode()
    assert "<form method=\"post\"" not in body.split('data-testid="audit-table"')[1]


# --- passwords and login --------------------------------------------------------------------------
def test_password_change_clears_flag_and_is_audited(client, users):
    u = users.lumiao_grid
    User.objects.filter(pk=u.pk).update(must_change_password=True)
    client.force_login(User.objects.get(pk=u.pk))
    assert client.get(reverse("web:tree")).url == reverse("web:password_change")
    r = client.post(reverse("web:password_change"), {"old_password": "wrong", "new_password1": "x",
                                                     "new_password2": "x"})
    assert r.status_code == 200 and r.context["form"].errors["old_password"]
    r = client.post(reverse("web:password_change"), {"old_password": PASSWORD, "new_password1": "Grid-Worker-2027",
                                                     "new_password2": "Grid-Worker-2027"})
    assert r.status_code == 302
    u.refresh_from_db()
    assert not u.must_change_password and u.check_password("Grid-Worker-2027")
    assert AuditEntry.objects.filter(action="accounts.user.password", object_id=str(u.pk)).exists()
    assert client.get(reverse("web:tree")).status_code == 200  # still logged in


def test_locked_out_user_is_told_no_more_than_anyone(client, users):
    # The lock is real, but the page says what it says to a wrong password (tests/test_login_security.py).
    for _ in range(settings.LOCKOUT_THRESHOLD):
        client.post(reverse("web:login"), {"username": "lumiao_grid", "password": "wrong"})
    client.cookies["django_language"] = "en"  # pages follow the language switch, not the browser
    r = client.post(reverse("web:login"), {"username": "lumiao_grid", "password": PASSWORD})
    assert r.status_code == 200 and "_auth_user_id" not in client.session
    assert [e.code for e in r.context["form"].non_field_errors().as_data()] == ["invalid_login"]
    assert "logins are paused for a while" in r.content.decode()


def test_home_links_scope_units_and_nav_follows_permissions(login, users, tree):
    body = login(users.lumiao_secretary).get(reverse("web:home")).content.decode()
    assert f'href="{unit_url(tree.lumiao)}"' in body
    assert 'data-testid="nav-tree"' in body and 'data-testid="nav-users"' not in body
    body = login(users.city_admin).get(reverse("web:home")).content.decode()
    assert 'data-testid="nav-users"' in body and 'data-testid="nav-audit"' in body


def test_pages_render_in_chinese_by_default(login, users, tree):
    body = login(users.city_admin).get(reverse("web:tree")).content.decode()
    assert "组织体系" in body or "组织架构" in body
