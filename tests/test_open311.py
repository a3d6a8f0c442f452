"""Open311 GeoReport v2: every endpoint in .json and .xml, the spec's error cases, API keys."""

from __future__ import annotations

import json
from io import StringIO
from xml.etree import ElementTree as ET

import pytest
from django.core.management import call_command
from django.urls import reverse

from bihuan.core.models import AuditEntry
from bihuan.loop import public, services
from bihuan.loop.models import Category, Kind, Matter, Open311Key, Source, State

pytestmark = pytest.mark.django_db

BASE = "/open311/v2"
PHONE = "13900002222"


@pytest.fixture
def cats(db):
    water = Category.objects.create(code="water", name="供水供暖", kind="demand", accept_hours=2, handle_days=3,
                                    open311_code="water", description="停水、水压低、暖气不热")
    light = Category.objects.create(code="streetlight", name="路灯照明", kind="demand", open311_code="streetlight")
    internal = Category.objects.create(code="building", name="违章建筑", kind="problem")  # not published
    return water, light, internal


@pytest.fixture
def api_key(db):
    _, key = public.create_key("济宁随手拍")
    return key


def get(client, path, fmt="json", **params):
    return client.get(f"{BASE}/{path}.{fmt}", params)


def post(client, fmt="json", **data):
    return client.post(f"{BASE}/requests.{fmt}", data)


def parse(r):
    if r["Content-Type"].startswith("text/xml"):
        assert r.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        return ET.fromstring(r.content)
    assert r["Content-Type"].startswith("application/json")
    return json.loads(r.content)


def error_of(r):
    """(code, description) from either error format."""
    body = parse(r)
    if isinstance(body, list):
        assert len(body) == 1 and set(body[0]) == {"code", "description"}
        return body[0]["code"], body[0]["description"]
    assert body.tag == "errors"
    (err,) = body.findall("error")
    return int(err.findtext("code")), err.findtext("description")


def _demand(tree, cat, **kw):
    return services.create_matter(None, category=cat, location_unit=tree.lumiao, title="停水",
                                  description=f"停水三天了，请联系{PHONE}", kind=Kind.DEMAND, source=Source.OPEN311,
                                  reporter_name="李四", reporter_phone=PHONE, address="芦庙村3组12号",
                                  lat=35.41523, lon=116.58721, **kw)


# --- services ---------------------------------------------------------------------------------

def test_services_in_json_and_xml(client, cats):
    r = get(client, "services")
    assert r.status_code == 200
    body = parse(r)
    assert [s["service_code"] for s in body] == ["streetlight", "water"]
    water = body[1]
    assert water == {"service_code": "water", "service_name": "供水供暖", "description": "停水、水压低、暖气不热",
                     "metadata": False, "type": "realtime", "keywords": "", "group": water["group"]}
    root = parse(get(client, "services", "xml"))
    assert root.tag == "services"
    assert [s.findtext("service_code") for s in root.findall("service")] == ["streetlight", "water"]
    assert root.find("service").findtext("metadata") == "false"


def test_service_definition_and_unknown_code(client, cats):
    body = parse(get(client, "services/water"))
    assert body == {"service_code": "water", "attributes": []}
    root = parse(get(client, "services/water", "xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "water"
    for fmt in ("json", "xml"):
        r = get(client, "services/building", fmt)  # exists, but not published
        assert r.status_code == 404 and error_of(r)[0] == 404
        r = get(client, "services/nope", fmt)
        assert r.status_code == 404 and "nope" in error_of(r)[1]


def test_wrong_jurisdiction_id_is_404_everywhere(client, cats, api_key, settings):
    settings.BIHUAN_OPEN311_JURISDICTION = "370800"
    assert get(client, "services", jurisdiction_id="370800").status_code == 200
    for fmt in ("json", "xml"):
        for path in ("services", "services/water", "requests", "requests/1", "tokens/abc"):
            r = get(client, path, fmt, jurisdiction_id="sf.gov")
            assert r.status_code == 404 and error_of(r)[0] == 404, path
        r = post(client, fmt, jurisdiction_id="sf.gov", api_key=api_key, service_code="water",
                 address_id="370811008201", description="停水")
        assert r.status_code == 404
    assert not Matter.objects.exists()


# --- POST requests ------------------------------------------------------------------------------

def test_post_creates_a_demand_seen_in_the_township_inbox(client, login, users, tree, cats, api_key):
    r = post(client, api_key=api_key, service_code="water", address_id=tree.lumiao.code, lat="35.4152",
             long="116.5872", description="自来水停了三天", first_name="四", last_name="李", phone=PHONE,
             email="li@example.com")
    assert r.status_code == 201, r.content
    (row,) = parse(r)
    m = Matter.objects.get()
    assert row["service_request_id"] == m.pk and row["token"] == m.public_token and row["service_notice"]
    assert (m.kind, m.source, m.state, m.location_unit, m.dispatch_unit) == (
        Kind.DEMAND, Source.OPEN311, State.NEW, tree.lumiao, tree.liying)
    assert m.reporter_name == "李 四" and m.reporter_phone_masked == "139****2222"
    assert AuditEntry.objects.filter(action="loop.matter.create", object_id=str(m.pk),
                                     actor_name="open311:济宁随手拍").exists()
    assert Open311Key.objects.get().uses == 1
    r = login(users.liying_staff).get(reverse("loop:inbox"))
    assert [x.pk for x in r.context["page"].object_list] == [m.pk]


def test_post_in_xml_and_by_address_string(client, tree, cats, api_key):
    r = post(client, "xml", api_key=api_key, service_code="streetlight", address_string="芦庙村村口",
             description="路灯不亮")
    assert r.status_code == 201
    root = parse(r)
    assert root.tag == "service_requests"
    m = Matter.objects.get()
    assert root.find("request").findtext("service_request_id") == str(m.pk)
    assert root.find("request").findtext("token") == m.public_token
    assert m.location_unit == tree.lumiao


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_errors_follow_the_spec(client, tree, cats, api_key, fmt):
    ok = {"service_code": "water", "address_id": tree.lumiao.code, "description": "停水"}
    cases = [
        ({**ok}, 400, "api_key"),                                             # missing api_key
        ({**ok, "api_key": "o311_not-a-key"}, 403, "api_key"),                # invalid api_key
        ({**ok, "api_key": api_key, "service_code": ""}, 400, "service_code"),
        ({**ok, "api_key": api_key, "service_code": "nope"}, 404, "service_code"),
        ({**ok, "api_key": api_key, "address_id": ""}, 400, "address"),       # no location
        ({**ok, "api_key": api_key, "address_id": "999"}, 400, "address_id"),
        ({**ok, "api_key": api_key, "lat": "north"}, 400, "lat"),
        ({**ok, "api_key": api_key, "description": ""}, 400, "description"),
        ({**ok, "api_key": api_key, "description": "长" * 6000}, 400, ""),
        ({**ok, "api_key": api_key, "phone": "call me"}, 400, ""),
    ]
    for data, status, word in cases:
        r = post(client, fmt, **data)
        code, desc = error_of(r)
        assert (r.status_code, code) == (status, status), (data, r.content)
        assert word in desc
    assert not Matter.objects.exists()


def test_revoked_key_is_refused_and_posts_are_throttled(client, tree, cats, api_key, settings):
    data = {"api_key": api_key, "service_code": "water", "address_id": tree.lumiao.code, "description": "停水"}
    settings.BIHUAN_OPEN311_POSTS_PER_HOUR = 1
    assert post(client, **data).status_code == 201
    r = post(client, **data)
    assert r.status_code == 429 and error_of(r)[0] == 429
    public.revoke_key(Open311Key.objects.get())
    r = post(client, **data)
    assert r.status_code == 403
    assert Matter.objects.count() == 1


# --- GET requests -------------------------------------------------------------------------------

def test_requests_show_state_agency_deadline_and_no_personal_data(client, users, tree, cats):
    water, light, _ = cats
    m = _demand(tree, water)
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao)
    staff = services.create_matter(users.lumiao_grid, category=light, location_unit=tree.lumiao_g1,
                                   title="内部事项", description="网格员登记")
    for fmt in ("json", "xml"):
        r = get(client, "requests", fmt)
        assert r.status_code == 200
        text = r.content.decode()
        assert PHONE not in text and "李四" not in text and "芦庙村3组12号" not in text and "内部事项" not in text
        assert "139****2222" in text
    (row,) = parse(get(client, "requests"))
    assert row["service_request_id"] == m.pk and row["status"] == "open"
    assert row["status_notes"] == str(State(m.state).label)
    assert row["agency_responsible"] == "芦庙村" and row["address"] == "芦庙村" and row["address_id"] == tree.lumiao.code
    assert row["expected_datetime"].startswith(m.due_at.astimezone().strftime("%Y-")) and "+08:00" in row[
        "expected_datetime"]
    assert row["lat"] == 35.415 and row["long"] == 116.587 and row["service_code"] == "water"
    root = parse(get(client, "requests", "xml"))
    req = root.find("request")
    assert root.tag == "service_requests" and req.findtext("status") == "open"
    assert req.findtext("agency_responsible") == "芦庙村" and req.findtext("zipcode") == ""
    # One request, by id, in both forms; staff-registered matters are not public.
    assert parse(get(client, f"requests/{m.pk}"))[0]["service_request_id"] == m.pk
    assert parse(get(client, f"requests/{m.pk}", "xml")).find("request").findtext("service_request_id") == str(m.pk)
    for fmt in ("json", "xml"):
        for rid in (staff.pk, 999999, "abc"):
            r = get(client, f"requests/{rid}", fmt)
            assert r.status_code == 404 and error_of(r)[0] == 404


def test_request_filters(client, users, tree, cats):
    water, light, _ = cats
    a = _demand(tree, water)
    b = _demand(tree, light)
    b = services.dispatch(users.liying_staff, b.pk, version=b.version, handling_unit=tree.lumiao)
    b = services.accept(users.lumiao_secretary, b.pk, version=b.version)
    b = services.report_done(users.lumiao_secretary, b.pk, version=b.version, comment="修好了")
    b = services.evaluate(users.liying_staff, b.pk, version=b.version, passed=True)

    def ids(**params):
        r = get(client, "requests", **params)
        assert r.status_code == 200, r.content
        return sorted(x["service_request_id"] for x in parse(r))

    assert ids() == sorted([a.pk, b.pk])
    assert ids(status="open") == [a.pk] and ids(status="closed") == [b.pk]
    assert ids(service_code="streetlight") == [b.pk]
    assert ids(service_request_id=f"{a.pk},{b.pk}", status="open") == sorted([a.pk, b.pk])  # ids win
    assert ids(start_date="2000-01-01", end_date="2000-02-01") == []
    assert ids(start_date="2000-01-01T00:00:00Z") == sorted([a.pk, b.pk])
    closed = [x for x in parse(get(client, "requests")) if x["service_request_id"] == b.pk][0]
    assert closed["status"] == "closed" and closed["updated_datetime"] >= closed["requested_datetime"]
    for bad in ({"status": "pending"}, {"start_date": "yesterday"},
                {"start_date": "2026-02-01", "end_date": "2026-01-01"}):
        for fmt in ("json", "xml"):
            r = get(client, "requests", fmt, **bad)
            assert r.status_code == 400 and error_of(r)[0] == 400


def test_tokens_endpoint(client, users, tree, cats):
    water, light, _ = cats
    m = _demand(tree, water)
    body = parse(get(client, f"tokens/{m.public_token}"))
    assert body == [{"service_request_id": m.pk, "token": m.public_token}]
    root = parse(get(client, f"tokens/{m.public_token}", "xml"))
    assert root.find("request").findtext("service_request_id") == str(m.pk)
    staff = services.create_matter(users.lumiao_grid, category=light, location_unit=tree.lumiao_g1,
                                   title="内部", description="内部")
    for fmt in ("json", "xml"):
        for token in ("nope", staff.public_token):
            r = get(client, f"tokens/{token}", fmt)
            assert r.status_code == 404 and error_of(r)[0] == 404


def test_wrong_method_is_an_error_in_the_spec_format(client, cats):
    r = client.post(f"{BASE}/services.json", {})
    assert r.status_code == 405 and error_of(r)[0] == 405


# --- api keys -----------------------------------------------------------------------------------

def test_key_commands_create_list_revoke(db):
    out = StringIO()
    call_command("open311", "key", "create", "城市服务App", stdout=out)
    key = out.getvalue().strip()
    assert key.startswith("o311_") and len(key) > 30
    rec = Open311Key.objects.get()
    assert rec.digest == public.digest_of(key) and key not in (rec.prefix, rec.digest, rec.name)
    assert public.key_for(key) == rec
    out = StringIO()
    call_command("open311", "key", "list", stdout=out)
    assert "城市服务App" in out.getvalue() and "active" in out.getvalue() and key not in out.getvalue()
    call_command("open311", "key", "revoke", rec.prefix, stdout=StringIO())
    assert public.key_for(key) is None
    out = StringIO()
    call_command("open311", "key", "list", stdout=out)
    assert "revoked" in out.getvalue()
    assert AuditEntry.objects.filter(action__in=["loop.open311_key.create", "loop.open311_key.revoke"]).count() == 2
