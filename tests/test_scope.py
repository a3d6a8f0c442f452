"""Data scope: one queryset mechanism, unions of bindings, default deny."""

import pytest

from bihuan.accounts import services
from bihuan.accounts.models import Role, ScopeMode
from bihuan.core.errors import NotFound, PermissionDenied, ServiceError
from bihuan.orgs import services as org_services
from bihuan.orgs.models import Level, OrgUnit

from .conftest import make_user


def names(qs):
    return set(qs.values_list("name", flat=True))


def test_user_without_binding_sees_nothing(users):
    assert OrgUnit.objects.restrict(users.nobody, "view").count() == 0


def test_anonymous_and_missing_permission_see_nothing(users, tree):
    from django.contrib.auth.models import AnonymousUser

    assert OrgUnit.objects.restrict(AnonymousUser(), "view").count() == 0
    # A village secretary may view but not move.
    assert OrgUnit.objects.restrict(users.lumiao_secretary, "move").count() == 0


def test_subtree_scope_is_exactly_the_subtree(users, tree):
    seen = names(OrgUnit.objects.restrict(users.liying_staff, "view"))
    assert seen == {"李营街道", "芦庙村", "芦庙村第一网格", "芦庙村第二网格"}


def test_city_scope_all(users, tree):
    assert OrgUnit.objects.restrict(users.city_admin, "view").count() == OrgUnit.objects.count()


def test_unit_only_scope(tree):
    u = make_user("only_lumiao", tree.lumiao, "village_secretary", scope=ScopeMode.UNIT)
    assert names(OrgUnit.objects.restrict(u, "view")) == {"芦庙村"}


def test_self_scope_sees_own_unit_only(tree):
    u = make_user("vol", tree.lumiao_g1, "volunteer")
    assert names(OrgUnit.objects.restrict(u, "view")) == {"芦庙村第一网格"}


def test_custom_set_scope(tree):
    role = Role.objects.get(code="township_staff")
    u = make_user("area_manager")
    services.bind(None, u, tree.liying, role, scope=ScopeMode.CUSTOM, custom_units=[tree.lumiao, tree.xuemiao])
    seen = names(OrgUnit.objects.restrict(u, "view"))
    assert seen == {"芦庙村", "芦庙村第一网格", "芦庙村第二网格", "薛庙社区"}


def test_bindings_are_unioned(tree):
    u = make_user("two_hats", tree.lumiao, "village_secretary")
    before = names(OrgUnit.objects.restrict(u, "view"))
    services.bind(None, u, tree.xuemiao, Role.objects.get(code="village_secretary"))
    u.forget_bindings()
    after = names(OrgUnit.objects.restrict(u, "view"))
    assert "薛庙社区" not in before
    assert after == before | {"薛庙社区"}


def test_permission_from_one_binding_does_not_leak_scope_of_another(tree):
    """export granted at 李营 only; viewing at 兖州 must not make 兖州 exportable."""
    u = make_user("mixed", tree.liying, "township_staff")  # view + export
    services.bind(None, u, tree.yanzhou, Role.objects.get(code="grid_worker"))  # view only
    exportable = names(OrgUnit.objects.restrict(u, "export"))
    assert "兖州区" not in exportable and "李营街道" in exportable
    assert "兖州区" in names(OrgUnit.objects.restrict(u, "view"))


def test_get_scoped_or_404_hides_existence(users, tree):
    from django.http import Http404

    with pytest.raises(Http404):
        OrgUnit.objects.get_scoped_or_404(users.rencheng_admin, "view", pk=tree.xuemiao.pk)
    with pytest.raises(Http404):
        OrgUnit.objects.get_scoped_or_404(users.rencheng_admin, "view", pk=999999)


def test_inactive_user_sees_nothing(users):
    users.liying_staff.is_active = False
    assert OrgUnit.objects.restrict(users.liying_staff, "view").count() == 0


# --- scope on writes -----------------------------------------------------------------------

def test_create_child_outside_scope_is_refused_and_nothing_written(users, tree):
    count = OrgUnit.objects.count()
    with pytest.raises(NotFound):
        org_services.create_unit(users.rencheng_admin, parent=tree.longqiao, level=Level.VILLAGE,
                                 code="370812002009", name="越权村")
    assert OrgUnit.objects.count() == count


def test_move_into_unit_out_of_scope_is_refused(users, tree):
    with pytest.raises(NotFound):
        org_services.move_subtree(users.rencheng_admin, tree.lumiao, tree.longqiao, new_code="370812002010")
    tree.lumiao.refresh_from_db()
    assert tree.lumiao.parent_id == tree.liying.pk


def test_view_only_user_cannot_change(users, tree):
    with pytest.raises(PermissionDenied):
        org_services.update_unit(users.lumiao_secretary, tree.lumiao, name="改名")


def test_county_admin_cannot_grant_city_wide_scope(users, tree):
    target = make_user("target")
    with pytest.raises(PermissionDenied):
        services.bind(users.rencheng_admin, target, tree.liying, Role.objects.get(code="township_staff"),
                      scope=ScopeMode.ALL)


def test_county_admin_cannot_grant_permissions_they_lack(users, tree):
    target = make_user("target2")
    with pytest.raises(PermissionDenied):
        services.bind(users.rencheng_admin, target, tree.liying, Role.objects.get(code="city_admin"))


def test_county_admin_cannot_bind_in_other_county(users, tree):
    target = make_user("target3")
    with pytest.raises(NotFound):
        services.bind(users.rencheng_admin, target, tree.longqiao, Role.objects.get(code="township_staff"))


def test_custom_scope_needs_units(users, tree):
    target = make_user("target4")
    with pytest.raises(ServiceError):
        services.bind(None, target, tree.liying, Role.objects.get(code="township_staff"), scope=ScopeMode.CUSTOM)


def test_every_builtin_role_permission_is_in_the_catalogue():
    from bihuan.accounts.permissions import PERMISSIONS
    from bihuan.accounts.roles import BUILTIN_ROLES

    for role in BUILTIN_ROLES:
        assert set(role["permissions"]) <= set(PERMISSIONS), role["code"]
        assert len(set(role["permissions"])) == len(role["permissions"]), role["code"]


def test_export_of_one_unit_follows_the_kinds_scope_not_the_trees(login, users, tree):
    """A village secretary exports their village's people without the tree's export permission."""
    c = login(users.lumiao_secretary)
    ok = c.get(f"/people/io/people/export/?unit={tree.lumiao.pk}&format=csv")
    assert ok.status_code == 200
    assert c.get(f"/people/io/people/export/?unit={tree.xuemiao.pk}&format=csv").status_code == 404
    assert c.get(f"/orgs/export/?unit={tree.lumiao.pk}").status_code in (403, 404)
