"""The organisation tree: codes, levels, validity, moves."""

from datetime import date

import pytest

from bihuan.core.errors import ServiceError
from bihuan.orgs import services
from bihuan.orgs.models import Level, OrgUnit


@pytest.mark.parametrize("code,level,parent_attr", [
    ("37081100800", Level.TOWNSHIP, "rencheng"),     # 11 digits
    ("3708110080001", Level.TOWNSHIP, "rencheng"),   # 13 digits
    ("37081A008000", Level.TOWNSHIP, "rencheng"),    # not digits
    ("370812008000", Level.TOWNSHIP, "rencheng"),    # wrong county prefix
    ("370811008123", Level.TOWNSHIP, "rencheng"),    # township must end 000
    ("370811008000", Level.VILLAGE, "liying"),       # village cannot end 000
    ("370811009201", Level.VILLAGE, "liying"),       # wrong township prefix
    ("370811008201000", Level.GRID, "lumiao"),       # grid 000
])
def test_malformed_codes_are_refused(tree, code, level, parent_attr):
    before = OrgUnit.objects.count()
    with pytest.raises(ServiceError) as exc:
        services.create_unit(None, parent=getattr(tree, parent_attr), level=level, code=code, name="测试")
    assert "code" in exc.value.field_errors
    assert OrgUnit.objects.count() == before


def test_duplicate_code_refused(tree):
    with pytest.raises(ServiceError) as exc:
        services.create_unit(None, parent=tree.liying, level=Level.VILLAGE, code="370811008201", name="重复村")
    assert exc.value.code == "duplicate"


def test_code_of_ended_unit_can_be_reused(tree):
    services.update_unit(None, tree.xianying_v, valid_to=date(2025, 12, 31))
    new = services.create_unit(None, parent=tree.xianying, level=Level.VILLAGE, code="370811003101", name="新仙营社区",
                               valid_from=date(2026, 1, 1))
    assert new.code == tree.xianying_v.code


def test_wrong_level_refused(tree):
    with pytest.raises(ServiceError):
        services.create_unit(None, parent=tree.rencheng, level=Level.VILLAGE, code="370811008299", name="跳级村")


def test_paths_are_materialized(tree):
    assert tree.lumiao_g1.path == f"/{tree.city.pk}/{tree.rencheng.pk}/{tree.liying.pk}/{tree.lumiao.pk}/{tree.lumiao_g1.pk}/"
    assert tree.lumiao_g1.depth == 4
    assert set(tree.liying.descendants().values_list("name", flat=True)) == {"芦庙村", "芦庙村第一网格", "芦庙村第二网格"}


def test_move_subtree_rewrites_paths_and_codes(tree):
    services.move_subtree(None, tree.lumiao, tree.xianying, new_code="370811003202")
    g1 = OrgUnit.objects.get(pk=tree.lumiao_g1.pk)
    lumiao = OrgUnit.objects.get(pk=tree.lumiao.pk)
    assert lumiao.parent_id == tree.xianying.pk
    assert lumiao.code == "370811003202"
    assert g1.path == f"{tree.xianying.path}{lumiao.pk}/{g1.pk}/"
    assert g1.code == "370811003202001"
    assert set(tree.liying.descendants()) == set()


def test_move_township_across_counties_rewrites_whole_subtree(tree):
    services.move_subtree(None, tree.liying, tree.yanzhou, new_code="370812009000")
    codes = set(OrgUnit.objects.get(pk=tree.liying.pk).descendants(include_self=True).values_list("code", flat=True))
    assert codes == {"370812009000", "370812009201", "370812009201001", "370812009201002"}
    g2 = OrgUnit.objects.get(pk=tree.lumiao_g2.pk)
    assert g2.depth == 4 and g2.path.startswith(OrgUnit.objects.get(pk=tree.yanzhou.pk).path)


def test_move_without_fitting_code_asks_for_one(tree):
    with pytest.raises(ServiceError) as exc:
        services.move_subtree(None, tree.lumiao, tree.xianying)
    assert "new_code" in exc.value.field_errors
    assert OrgUnit.objects.get(pk=tree.lumiao.pk).parent_id == tree.liying.pk


def test_move_into_own_subtree_is_a_cycle(tree):
    with pytest.raises(ServiceError) as exc:
        services.move_subtree(None, tree.liying, tree.lumiao)
    assert exc.value.code in {"cycle"}


def test_move_to_wrong_level_refused(tree):
    with pytest.raises(ServiceError):
        services.move_subtree(None, tree.lumiao, tree.rencheng, new_code="370811008299")


def test_party_orgs_attach_to_units(tree):
    po = services.create_party_org(None, unit=tree.lumiao, kind="branch", name="芦庙村党支部")
    assert list(tree.lumiao.party_orgs.all()) == [po]
    with pytest.raises(ServiceError):
        services.create_party_org(None, unit=tree.lumiao, kind="club", name="x")
