"""Open311's XML always parses (issue 11 §3): whatever text a resident sends or a category holds,
every XML endpoint is well-formed, and control characters sent by a client are not stored."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bihuan.core.text import clean, xml_safe
from bihuan.loop import public, services
from bihuan.loop.models import Category, Kind, Matter, Source

BASE = "/open311/v2"
# Arbitrary Unicode, controls included; not lone surrogates (no UTF-8 client can send them and no
# database can store them) nor NUL when stored straight (PostgreSQL refuses it; clean() removes it).
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200)


@pytest.fixture
def setup(db, tree):
    cat = Category.objects.create(code="water", name="供水", kind="demand", open311_code="water")
    _, key = public.create_key("probe")
    return cat, key


def _parse_all(client, cat):
    for path in ("services.xml", "requests.xml", f"requests/{Matter.objects.latest('pk').pk}.xml"):
        r = client.get(f"{BASE}/{path}")
        assert r.status_code == 200, (path, r.content[:300])
        ET.fromstring(r.content)  # raises on anything not well-formed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(description=ANY_TEXT, name=ANY_TEXT)
def test_every_xml_endpoint_parses_whatever_text_is_stored(client, setup, tree, description, name):
    cat, _key = setup
    stored = description.replace("\x00", "")
    Category.objects.filter(pk=cat.pk).update(name=name.replace("\x00", "")[:60], description=stored)
    m = services.create_matter(None, category=cat, location_unit=tree.lumiao, title="t", description="x",
                               kind=Kind.DEMAND, source=Source.OPEN311, reporter_name="", reporter_phone="")
    # Stored as is, past the service (which now cleans): text from before cleaning, or put in by hand.
    Matter.objects.filter(pk=m.pk).update(description=stored or "x")
    _parse_all(client, cat)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(description=ANY_TEXT)
def test_a_posted_description_is_cleaned_and_comes_back_parseable(client, setup, tree, description):
    cat, key = setup
    r = client.post(f"{BASE}/requests.xml", {"api_key": key, "service_code": "water", "address_id": tree.lumiao.code,
                                             "description": description})
    if not clean(description).strip():
        assert r.status_code == 400  # nothing left to report
        return
    assert r.status_code == 201, r.content[:300]
    m = Matter.objects.get(pk=int(ET.fromstring(r.content).findtext("request/service_request_id")))
    assert m.description == clean(description).strip() and clean(m.description) == m.description
    _parse_all(client, cat)


def test_a_control_character_no_longer_breaks_requests_xml(client, setup, tree):
    cat, key = setup
    services.create_matter(None, category=cat, location_unit=tree.lumiao, title="t", description="停水\x01\x0b三天",
                           kind=Kind.DEMAND, source=Source.OPEN311, reporter_name="", reporter_phone="")
    body = ET.fromstring(client.get(f"{BASE}/requests.xml").content)
    assert body.findtext("request/description") == "停水三天"


def test_clean_and_xml_safe():
    assert clean("a\x00b\tc\r\nd\re\x1bf\x7f\x85g\ufffe") == "ab\tc\nd\nefg"
    assert clean(None) == "" and clean("普通文本 ok") == "普通文本 ok"
    assert xml_safe("a\x01b\x0cc\ufffed\U0001f600\t\n") == "abcd\U0001f600\t\n"
