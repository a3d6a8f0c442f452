"""The definition built field by field on a page: add, edit, remove — each a new version through
the services, audited, refused when existing entries would not be valid; only the owner's
managers (others: 404)."""

from __future__ import annotations

import pytest

from bihuan.core.models import AuditEntry
from bihuan.ledgers import services
from bihuan.ledgers.models import Entry, Register, RegisterVersion
from tests.ledgers_helpers import coop, load

pytestmark = pytest.mark.django_db


@pytest.fixture
def reg(tree):
    return load()["cooperatives"]


def _add(client, r, **kw):
    r.refresh_from_db()
    body = {"version": r.version, "key": "contact", "label": "联系人", "type": "text", "unique": "", **kw}
    return client.post(f"/ledgers/r/{r.code}/fields/", body)


def test_add_a_field_and_see_it_in_the_entry_form(client, tree, users, reg):
    client.force_login(users.city_admin)
    page = client.get(f"/ledgers/r/{reg.code}/fields/")
    assert page.status_code == 200 and 'data-testid="builder-field"' in page.content.decode()
    v = reg.version
    r = _add(client, reg, key="grade", label="星级", type="choice", choices="一星\n二星\n三星", listed="on")
    assert r.status_code == 302, r.content.decode()[:2000]
    reg.refresh_from_db()
    assert reg.version == v + 1 and reg.field("grade")["choices"] == ["一星", "二星", "三星"]
    assert RegisterVersion.objects.filter(register=reg, version=v + 1).exists()
    assert AuditEntry.objects.filter(action="ledgers.register.change", object_id=str(reg.pk)).exists()
    form = client.get(f"/ledgers/r/{reg.code}/new/").content.decode()
    assert "星级" in form and "二星" in form
    # a number with its range, a pattern, city-wide uniqueness
    assert _add(client, reg, key="area", label="面积", type="number", min="0", max="1000", places="1",
                unit="亩").status_code == 302
    assert _add(client, reg, key="licence_no", label="证号", type="text", pattern=r"[0-9]{6}",
                unique="city").status_code == 302
    reg.refresh_from_db()
    assert reg.field("area")["max"] == 1000 and reg.field("area")["places"] == 1
    assert reg.field("licence_no")["unique"] == "city"


def test_refusals_land_on_the_form_and_nothing_changes(client, tree, users, reg):
    services.create_entry(None, reg, unit=tree.lumiao, values=coop(members=120))
    client.force_login(users.city_admin)
    v = reg.version
    r = _add(client, reg, key="name", label="重名")  # taken
    assert r.status_code == 400
    r = _add(client, reg, key="x1", label="必填", required="on")  # required, entries exist, no default
    assert r.status_code == 400 and "默认" in r.content.decode()
    r = _add(client, reg, key="x2", label="坏", pattern="(a+)+")
    assert r.status_code == 400 and "field-error-pattern" in r.content.decode()
    r = _add(client, reg, key="x3", label="区间", type="number", min="10", max="1")
    assert r.status_code == 400 and "field-error-max" in r.content.decode()
    r = _add(client, reg, key="x4", label="\x07铃")
    assert r.status_code == 400
    # narrower range than an existing entry holds
    r = client.post(f"/ledgers/r/{reg.code}/fields/members/", {
        "version": v, "label": "成员数", "min": "0", "max": "100", "listed": "on"})
    assert r.status_code == 400 and "1" in r.content.decode()
    reg.refresh_from_db()
    assert reg.version == v
    # a stale version is a 409
    assert _add(client, reg, key="x5", label="旧", version=v - 1).status_code == 409


def test_edit_and_remove_keep_history(client, tree, users, reg):
    e = services.create_entry(None, reg, unit=tree.lumiao, values=coop(members=120))
    client.force_login(users.city_admin)
    r = client.post(f"/ledgers/r/{reg.code}/fields/members/", {
        "version": reg.version, "label": "社员人数", "min": "0", "max": "5000", "listed": "on"})
    assert r.status_code == 302
    reg.refresh_from_db()
    assert reg.field("members")["label"] == "社员人数" and reg.field("members")["max"] == 5000
    assert reg.field("members")["type"] == "number"
    r = client.post(f"/ledgers/r/{reg.code}/fields/members/remove/", {"version": reg.version})
    assert r.status_code == 302
    reg.refresh_from_db()
    assert reg.field("members")["removed"] is True
    page = client.get(f"/ledgers/r/{reg.code}/fields/").content.decode()
    assert 'data-testid="builder-removed"' in page and "社员人数" in page
    assert Entry.objects.get(pk=e.pk).data["members"] == 120
    assert client.get(f"/ledgers/r/{reg.code}/fields/members/").status_code == 404
    assert client.post(f"/ledgers/r/{reg.code}/fields/nope/remove/", {"version": reg.version}).status_code == 404


def test_only_the_owners_managers(client, tree, users, reg):
    yz = services.create_register(None, code="yz_x", name="兖州区台账", level=4, unit=tree.yanzhou,
                                  fields=[{"key": "name", "label": "名称", "type": "text"}])
    client.force_login(users.rencheng_admin)
    assert client.get(f"/ledgers/r/{yz.code}/fields/").status_code == 404
    assert client.post(f"/ledgers/r/{yz.code}/fields/", {"version": 1, "key": "a", "label": "a",
                                                         "type": "text"}).status_code == 404
    assert client.post(f"/ledgers/r/{yz.code}/fields/name/remove/", {"version": 1}).status_code == 404
    client.force_login(users.lumiao_secretary)
    assert client.get(f"/ledgers/r/{reg.code}/fields/").status_code in (403, 404)
    assert Register.objects.get(pk=yz.pk).version == 1
