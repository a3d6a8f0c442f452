"""A matter's reporter phone: masked everywhere, revealed only with ``loop.matter.reveal`` in scope
of the matter, a stated reason and one audit entry (as for persons) — on the page and in the API."""

from __future__ import annotations

import json

import pytest

from bihuan.accounts.models import Role
from bihuan.core.models import AuditEntry

from .conftest import make_user
from .loop_helpers import at, make_categories, new_matter

pytestmark = pytest.mark.django_db

PHONE = "13812345678"  # loop_helpers.new_matter's reporter


@pytest.fixture
def matters(tree, users):
    road, _ = make_categories()
    now = at("2026-11-02 09:00")
    return {"rencheng": new_matter(users.lumiao_grid, road, tree.lumiao_g1, now),
            "yanzhou": new_matter(None, road, tree.xuemiao, now)}


@pytest.fixture
def caller(tree):
    """任城区's return-visit clerk: may view matters and reveal reporters' phones, in 任城区 only."""
    Role.objects.create(code="caller", name="回访员", permissions=["loop.matter.view", "loop.matter.reveal"],
                        default_scope="subtree")
    return make_user("caller", tree.rencheng, "caller")


def _reveal_entries():
    return list(AuditEntry.objects.filter(action="loop.matter.reveal"))


def test_the_page_reveals_the_phone_once_with_a_reason_and_audits_it(client, users, matters, caller):
    m = matters["rencheng"]
    client.force_login(caller)
    page = client.get(f"/loop/{m.pk}/").content.decode()
    assert "138****5678" in page and PHONE not in page and 'data-testid="reveal-form"' in page

    r = client.post(f"/loop/{m.pk}/reveal/", {"reason": ""})
    assert r.status_code == 400 and PHONE not in r.content.decode() and not _reveal_entries()

    r = client.post(f"/loop/{m.pk}/reveal/", {"reason": "回访核实办理结果"})
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    assert f'data-testid="revealed">{PHONE}<' in r.content.decode()
    [entry] = _reveal_entries()
    assert entry.actor_name == "caller" and entry.object_id == str(m.pk)
    assert entry.extra["reason"] == "回访核实办理结果" and PHONE not in json.dumps(entry.extra)
    # Shown once: the next visit is masked again.
    assert PHONE not in client.get(f"/loop/{m.pk}/").content.decode()


def test_without_the_permission_there_is_no_button_and_the_reveal_is_refused(client, users, matters):
    m = matters["rencheng"]
    client.force_login(users.liying_staff)  # sees and handles the matter, may not reveal
    assert 'data-testid="reveal-form"' not in client.get(f"/loop/{m.pk}/").content.decode()
    r = client.post(f"/loop/{m.pk}/reveal/", {"reason": "回访核实办理结果"})
    assert r.status_code == 403 and PHONE not in r.content.decode()
    assert not _reveal_entries()


def test_out_of_scope_is_a_404_even_with_the_permission(client, matters, caller, token_for):
    m = matters["yanzhou"]
    client.force_login(caller)
    assert client.post(f"/loop/{m.pk}/reveal/", {"reason": "回访核实办理结果"}).status_code == 404
    r = client.post(f"/api/v1/matters/{m.pk}/reveal", data=json.dumps({"reason": "回访核实办理结果"}),
                    content_type="application/json", **token_for(caller))
    assert r.status_code == 404 and PHONE not in r.content.decode()
    assert not _reveal_entries()


def test_the_api_reveals_with_a_reason_and_refuses_without_permission(client, users, matters, caller, token_for):
    m = matters["rencheng"]
    url = f"/api/v1/matters/{m.pk}/reveal"

    def post(user, body):
        return client.post(url, data=json.dumps(body), content_type="application/json", **token_for(user))

    assert post(users.lumiao_secretary, {"reason": "回访核实办理结果"}).status_code == 403
    r = post(caller, {"reason": "x"})
    assert r.status_code == 400 and "reason" in r.json()["errors"]
    r = post(caller, {"reason": "回访核实办理结果"})
    assert r.status_code == 200 and r.json() == {"field": "reporter_phone", "value": PHONE}
    r = post(users.city_admin, {"reason": "督办回访"})
    assert r.status_code == 200
    assert sorted(e.actor_name for e in _reveal_entries()) == ["caller", "city_admin"]
