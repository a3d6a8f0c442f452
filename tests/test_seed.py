"""``bihuan seed``: real places, valid codes, consistent paths, determinism, demo users, --if-empty."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bihuan.accounts.models import Binding, User
from bihuan.accounts.seed import DEMO_PASSWORD, DEMO_USERS, ensure_demo_users
from bihuan.core.context import acting_as
from bihuan.core.models import AuditEntry
from bihuan.orgs import seed as org_seed
from bihuan.orgs.models import Level, OrgUnit, PartyOrg, PartyOrgKind
from bihuan.orgs.services import validate_code

REAL_COUNTIES = {
    "370811": "任城区", "370812": "兖州区", "370826": "微山县", "370827": "鱼台县", "370828": "金乡县",
    "370829": "嘉祥县", "370830": "汶上县", "370831": "泗水县", "370832": "梁山县", "370881": "曲阜市",
    "370883": "邹城市",
}


def run_seed(*args, **kw) -> str:
    out = StringIO()
    call_command("seed", *args, stdout=out, stderr=StringIO(), **kw)
    return out.getvalue()


def tree_digest() -> str:
    """(code, name, level, parent code) of every unit, and the party organisations, in code order."""
    rows = OrgUnit.objects.order_by("code").values_list("code", "name", "level", "parent__code", "sort")
    party = PartyOrg.objects.order_by("unit__code").values_list("unit__code", "kind", "name", "parent__unit__code")
    h = hashlib.sha256()
    for row in [*rows, *party]:
        h.update(repr(tuple(row)).encode())
    return h.hexdigest()


def wipe_seeded_data() -> None:
    Binding.objects.all().delete()
    User.objects.all().delete()
    for level in (Level.VILLAGE, Level.TOWNSHIP, Level.COUNTY, Level.CITY):
        PartyOrg.objects.filter(unit__level=level).delete()
    for level in (Level.GRID, Level.VILLAGE, Level.TOWNSHIP, Level.COUNTY, Level.CITY):
        OrgUnit.objects.filter(level=level).delete()


@pytest.fixture
def seeded(db):
    """The demo tree and demo users, without the later apps' seeds (the command test runs those)."""
    with acting_as(None, username="seed"):
        org_seed.seed_tree("demo", progress=False)
        ensure_demo_users()


def test_demo_has_the_real_city_and_counties(seeded):
    city = OrgUnit.objects.get(parent__isnull=True)
    assert (city.code, city.name, city.level) == ("370800", "济宁市", Level.CITY)
    counties = dict(OrgUnit.objects.filter(level=Level.COUNTY).values_list("code", "name"))
    assert counties == REAL_COUNTIES
    assert set(OrgUnit.objects.filter(level=Level.COUNTY).values_list("parent_id", flat=True)) == {city.pk}


@pytest.mark.parametrize("county, township, village", [
    ("任城区", "李营街道", "芦庙村"),
    ("任城区", "仙营街道", None),
    ("兖州区", "酒仙桥街道", "邓家窑社区"),
    ("兖州区", "龙桥街道", "薛庙社区"),
])
def test_demo_has_the_places_named_in_the_source(seeded, county, township, village):
    town = OrgUnit.objects.get(name=township)
    assert town.level == Level.TOWNSHIP and town.parent.name == county
    assert town.children.count() >= 3
    if village:
        v = OrgUnit.objects.get(name=village)
        assert v.parent_id == town.pk and v.level == Level.VILLAGE
        assert v.children.filter(level=Level.GRID).count() >= 2


def test_demo_sizes_codes_and_paths(seeded):
    units = {u.pk: u for u in OrgUnit.objects.all()}
    by_level = {lvl: [u for u in units.values() if u.level == lvl] for lvl in Level.values}
    assert len(by_level[Level.CITY]) == 1
    assert 11 * 2 <= len(by_level[Level.TOWNSHIP]) <= 11 * 4
    assert len(by_level[Level.TOWNSHIP]) * 3 <= len(by_level[Level.VILLAGE]) <= len(by_level[Level.TOWNSHIP]) * 6
    assert len(by_level[Level.VILLAGE]) * 2 <= len(by_level[Level.GRID]) <= len(by_level[Level.VILLAGE]) * 4
    codes = [u.code for u in units.values()]
    assert len(codes) == len(set(codes)), "codes are unique"
    for u in units.values():
        parent = units.get(u.parent_id)
        assert validate_code(u.code, u.level, parent) == {}, (u.code, u.name)
        assert u.name and u.valid_to is None
        if parent is None:
            assert (u.path, u.depth) == (f"/{u.pk}/", 0)
        else:
            assert u.level == parent.level + 1
            assert u.path == f"{parent.path}{u.pk}/", (u.code, u.path, parent.path)
            assert u.depth == parent.depth + 1 == u.level - 1
    # The materialized path answers subtree queries: 任城区's subtree is its children, recursively.
    rencheng = OrgUnit.objects.get(code="370811")
    expected = {u.pk for u in units.values() if rencheng.pk in u.ancestor_ids() and u.pk != rencheng.pk}
    assert set(rencheng.descendants().values_list("pk", flat=True)) == expected


def test_demo_party_organisations(seeded):
    by_unit = {p.unit_id: p for p in PartyOrg.objects.select_related("unit", "parent")}
    for unit in OrgUnit.objects.exclude(level=Level.GRID):
        po = by_unit[unit.pk]
        if unit.level <= Level.TOWNSHIP:
            assert po.kind == PartyOrgKind.COMMITTEE
        else:
            assert po.kind in (PartyOrgKind.GENERAL_BRANCH, PartyOrgKind.BRANCH)
        if unit.parent_id:
            assert po.parent == by_unit[unit.parent_id]
        assert unit.name in po.name
    assert not PartyOrg.objects.filter(unit__level=Level.GRID).exists()
    assert by_unit[OrgUnit.objects.get(name="李营街道").pk].name == "中共李营街道工作委员会"


def test_one_audit_entry_for_the_tree(seeded):
    entries = AuditEntry.objects.filter(action="seed")
    assert entries.count() == 1
    after = entries.get().after
    assert after["scale"] == "demo" and after["seed"] == org_seed.DEFAULT_SEED
    assert after["counts"]["village"] == OrgUnit.objects.filter(level=Level.VILLAGE).count()
    # No per-row entries for the bulk-created units.
    assert not AuditEntry.objects.filter(action="orgs.unit.create").exists()


def test_same_seed_same_tree_and_other_seed_other_names(db):
    def seed(n):
        with acting_as(None, username="seed"):
            org_seed.seed_tree("demo", n, progress=False)

    seed(7)
    first = tree_digest()
    names_7 = set(OrgUnit.objects.values_list("name", flat=True))
    wipe_seeded_data()
    seed(7)
    assert tree_digest() == first
    wipe_seeded_data()
    seed(8)
    assert tree_digest() != first
    names_8 = set(OrgUnit.objects.values_list("name", flat=True))
    assert {"济宁市", "任城区", "李营街道", "芦庙村", "薛庙社区"} <= names_7 & names_8
    assert len(names_7 ^ names_8) > len(names_7) // 2, "synthetic names change with the seed"


def test_plan_is_deterministic_and_valid_at_every_scale():
    for scale in org_seed.SCALES:
        a, b = org_seed.build_plan(scale, 99), org_seed.build_plan(scale, 99)
        flat = [(s.code, s.name, s.level, s.parent_code) for lvl in a.by_level().values() for s in lvl]
        assert flat == [(s.code, s.name, s.level, s.parent_code) for lvl in b.by_level().values() for s in lvl]
        org_seed.validate_plan(a)


def test_county_and_city_plans_are_full_size():
    county = org_seed.build_plan("county").by_level()
    rencheng_towns = [s for s in county[Level.TOWNSHIP] if s.parent_code == "370811"]
    assert len(rencheng_towns) == 15
    rencheng_villages = [s for s in county[Level.VILLAGE] if s.parent_code[:6] == "370811"]
    assert 450 <= len(rencheng_villages) <= 750
    city = org_seed.build_plan("city").by_level()
    assert 140 <= len(city[Level.TOWNSHIP]) <= 160
    assert 5_000 <= len(city[Level.VILLAGE]) <= 7_000
    assert 25_000 <= len(city[Level.GRID]) <= 35_000


def test_demo_users_bindings_and_login(seeded, client):
    assert "Bihuan-Demo-2026" == DEMO_PASSWORD
    assert [u.username for u in DEMO_USERS] == ["city_admin", "rencheng_admin", "yanzhou_admin", "liying_staff",
                                                "lumiao_secretary", "lumiao_grid"]
    expected_units = {"city_admin": "济宁市", "rencheng_admin": "任城区", "yanzhou_admin": "兖州区",
                      "liying_staff": "李营街道", "lumiao_secretary": "芦庙村"}
    for spec in DEMO_USERS:
        user = User.objects.get(username=spec.username)
        assert not user.must_change_password
        [binding] = user.bindings.select_related("unit", "role")
        assert binding.role.code == spec.role
        if spec.username == "lumiao_grid":
            assert binding.unit.level == Level.GRID and binding.unit.parent.name == "芦庙村"
        else:
            assert binding.unit.name == expected_units[spec.username]
    assert client.login(username="lumiao_secretary", password=DEMO_PASSWORD)
    assert not client.login(username="lumiao_secretary", password="wrong-Password-1")
    # Each user sees their own part of the tree.
    lumiao = User.objects.get(username="lumiao_secretary")
    assert set(OrgUnit.objects.restrict(lumiao).values_list("name", flat=True)) == set(
        OrgUnit.objects.get(name="芦庙村").descendants(include_self=True).values_list("name", flat=True))
    yanzhou = User.objects.get(username="yanzhou_admin")
    assert not OrgUnit.objects.restrict(yanzhou).filter(name="芦庙村").exists()
    assert OrgUnit.objects.restrict(User.objects.get(username="city_admin")).count() == OrgUnit.objects.count()


def test_command_seeds_prints_and_reuses_with_if_empty(db):
    """The command end to end (with whatever later apps seed too), then --if-empty reuse."""
    out = run_seed("--scale", "demo")
    assert "Seeded scale=demo seed=2022" in out
    assert "网格" in out and "lumiao_grid" in out and DEMO_PASSWORD in out
    tree_entries = AuditEntry.objects.filter(action="seed", object_type="orgs.orgunit")
    assert tree_entries.count() == 1
    assert set(User.objects.filter(username__in=[u.username for u in DEMO_USERS])
               .values_list("username", flat=True)) == {u.username for u in DEMO_USERS}

    before = tree_digest(), OrgUnit.objects.count(), User.objects.count()
    out = run_seed("--scale", "demo", "--if-empty")
    assert "already seeded" in out
    assert (tree_digest(), OrgUnit.objects.count(), User.objects.count()) == before
    assert tree_entries.count() == 1
    # `make demo` seeds with --no-report: `bihuan demo` prints the logins, once.
    out = run_seed("--scale", "demo", "--if-empty", "--no-report")
    assert "already seeded" in out and DEMO_PASSWORD not in out
    with pytest.raises(CommandError):
        run_seed("--scale", "demo")
    # A missing demo user is added back on reuse. (Users with work on record cannot be deleted, as
    # care helpers are PROTECTed: renaming one away is what "missing" means here.)
    User.objects.filter(username="lumiao_grid").update(username="lumiao_grid_renamed")
    run_seed("--scale", "demo", "--if-empty")
    assert User.objects.filter(username="lumiao_grid").exists()


def test_grid_names_use_chinese_numerals():
    assert [org_seed.cn_number(n) for n in (1, 9, 10, 11, 20, 35)] == ["一", "九", "十", "十一", "二十", "三十五"]
