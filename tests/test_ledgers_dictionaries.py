"""Shared dictionaries (字典): choices defined once by the city, referenced by fields by code; the
validator, the JSON Schema and the import read them; a change is a new version of every register
using it, refused while an entry holds a choice taken away; pages for the city admin only."""

from __future__ import annotations

import pytest

from bihuan.core.audit import AuditEntry
from bihuan.core.errors import ServiceError
from bihuan.ledgers import fields as fl
from bihuan.ledgers import services
from bihuan.ledgers.models import Dictionary

pytestmark = pytest.mark.django_db

EDU = ["初中及以下", "高中", "本科"]


@pytest.fixture
def edu(tree, users):
    return services.create_dictionary(users.city_admin, code="education", name="学历", choices=EDU)


def _register(users, code="talents2"):
    return services.create_register(users.city_admin, code=code, name="人才", level=4, fields=[
        {"key": "name", "label": "姓名", "type": "text", "required": True, "listed": True},
        {"key": "edu", "label": "学历", "type": "choice", "dictionary": "education", "listed": True}])


def test_a_field_takes_its_choices_from_the_dictionary_and_a_change_reaches_every_register(tree, users, edu):
    a, b = _register(users, "talents_a"), _register(users, "talents_b")
    assert a.field("edu")["choices"] == EDU and a.field("edu")["dictionary"] == "education"
    assert fl.json_schema(a)["properties"]["edu"]["enum"] == EDU
    services.create_entry(None, a, unit=tree.lumiao, values={"name": "张三", "edu": "本科"})
    with pytest.raises(ServiceError):
        services.create_entry(None, a, unit=tree.lumiao, values={"name": "李四", "edu": "博士"})
    d = services.change_dictionary(users.city_admin, edu, version=1, choices="初中及以下\n高中\n本科\n研究生")
    assert d.version == 2 and d.versions.count() == 2
    a.refresh_from_db(), b.refresh_from_db()
    assert a.field("edu")["choices"][-1] == "研究生" and a.version == 2 and b.version == 2
    services.create_entry(None, a, unit=tree.lumiao, values={"name": "李四", "edu": "研究生"})
    # taking away a choice an entry holds is refused, nothing saved (also not the dictionary)
    with pytest.raises(ServiceError) as exc:
        services.change_dictionary(users.city_admin, d, version=2, choices=["初中及以下", "高中", "研究生"])
    assert "人才" in str(exc.value.message)
    d.refresh_from_db(), a.refresh_from_db()
    assert d.version == 2 and "本科" in a.field("edu")["choices"] and a.version == 2
    assert AuditEntry.objects.filter(action__startswith="ledgers.dictionary.").count() == 2


def test_dictionary_rules(tree, users, edu):
    with pytest.raises(ServiceError):
        services.create_register(users.city_admin, code="bad", name="x", level=4,
                                 fields=[{"key": "e", "label": "e", "type": "choice", "dictionary": "nope"}])
    for bad in ([], ["a", "a"], ["x" * 41], ["a\x00"], "", ["a"] * 501, {"a": 1}):
        with pytest.raises(ServiceError):
            services.create_dictionary(users.city_admin, code="d2", name="d", choices=bad)
    with pytest.raises(ServiceError):  # a county may not define the city's dictionaries
        services.create_dictionary(users.rencheng_admin, code="d3", name="d", choices=["a"])
    with pytest.raises(ServiceError):  # stale
        services.change_dictionary(users.city_admin, edu, version=7, name="x")
    assert Dictionary.objects.count() == 1


def test_city_admin_defines_and_changes_a_dictionary_on_its_pages(client, tree, users, edu):
    client.force_login(users.city_admin)
    assert 'data-testid="dictionaries"' in client.get("/ledgers/").content.decode()
    resp = client.post("/ledgers/dictionaries/", {"code": "reception", "name": "接待日", "choices": "周一\n周三\n周五"})
    assert resp.status_code == 302
    assert Dictionary.objects.get(code="reception").choices == ["周一", "周三", "周五"]
    resp = client.post("/ledgers/dictionaries/", {"code": "dup", "name": "重复", "choices": "甲\n甲"})
    assert resp.status_code == 400 and "选项重复" in resp.content.decode()
    _register(users, "talents_c")
    body = client.get("/ledgers/dictionaries/education/").content.decode()
    assert "人才" in body and 'data-testid="dictionary-versions"' in body
    resp = client.post("/ledgers/dictionaries/education/", {"name": "学历", "choices": "初中及以下\n高中\n本科\n硕士",
                                                            "version": 1})
    assert resp.status_code == 302
    resp = client.post("/ledgers/dictionaries/education/", {"name": "学历", "choices": "x", "version": 1})
    assert resp.status_code == 409  # stale
    for u in (users.rencheng_admin, users.liying_staff, users.nobody):
        client.force_login(u)
        assert client.get("/ledgers/dictionaries/").status_code in (403, 404)
        assert client.get("/ledgers/dictionaries/education/").status_code in (403, 404)


def test_the_field_builder_links_a_field_to_a_dictionary(client, tree, users, edu):
    r = services.create_register(users.city_admin, code="people2", name="人员", level=4,
                                 fields=[{"key": "name", "label": "姓名", "type": "text"}])
    client.force_login(users.city_admin)
    assert "学历（education）" in client.get("/ledgers/r/people2/fields/").content.decode()
    resp = client.post("/ledgers/r/people2/fields/", {"key": "edu", "label": "学历", "type": "choice",
                                                      "dictionary": "education", "version": 1})
    assert resp.status_code == 302
    r.refresh_from_db()
    assert r.field("edu")["dictionary"] == "education" and r.field("edu")["choices"] == EDU
    body = client.get("/ledgers/r/people2/new/").content.decode()
    assert "初中及以下" in body  # the entry form offers the dictionary's choices
    resp = client.post("/ledgers/r/people2/fields/", {"key": "edu2", "label": "学历2", "type": "choice",
                                                      "dictionary": "nope", "version": 2})
    assert resp.status_code == 400
