"""Every list filter and every create/update endpoint, fed the hostile classes (issue 11 §1).

Generated from the served OpenAPI document, not hand-picked: each query and path parameter, and
each property of each JSON request body (one level into arrays of objects), gets every hostile
value that applies to its declared type — NUL, a lone surrogate, a string one past its
``maxLength``, integers beyond 64 bits, crafted cursors, impossible dates and offsets, coordinates
of 999, 1e308 and Infinity, a negative limit. Each must be refused with a 4xx problem+json answer
(never a 5xx, never accepted). A body endpoint's base request is first shown to be accepted, so
the refusal is the hostile value's doing. A new endpoint or field is covered without editing this.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from bihuan.people import services as people_services

from .loop_helpers import at, make_categories, new_matter

HUGE = [2**64, -(2**70), 10**40]
SURROGATE_JSON = '"\\ud800x"'  # JSON text: a lone high surrogate
BAD_CURSORS = [
    "!!!", "a" * 5, base64.urlsafe_b64encode(b"not json").decode(),
    *(base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("=") for v in (
        ["x", "y"], [{"a": 1}, 1], [10**30, 10**30], ["2026-02-30 00:00:00+00:00", 1],
        ["\u0000", 1], [None, None], [1, 2, 3], "abc", [True, False])),
]
BAD_DATES = ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00+25:00",
             "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-01-01T24:61:00Z", "0.5",
             "1700000000"]


def _resolve(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _types(spec, node) -> list[dict]:
    """The non-null alternatives of a (possibly nullable) schema."""
    node = _resolve(spec, node)
    alts = node.get("anyOf") or [node]
    return [_resolve(spec, a) for a in alts if a.get("type") != "null"]


def _hostile_query(name: str, alts: list[dict]) -> list[str]:
    """Hostile values for a query or path parameter, as raw (already %-encoded) text."""
    out = ["a%00b", "%ED%A0%80"]  # NUL, and a lone surrogate as UTF-8 would spell it
    for a in alts:
        t = a.get("type")
        if t == "integer":
            out += [str(v) for v in HUGE] + ["1" * 40, "1.5", "abc"]
            if a.get("minimum") is not None:
                out.append(str(int(a["minimum"]) - 1))
        elif t == "string":
            if a.get("maxLength") is not None:
                out.append("x" * (a["maxLength"] + 1))
            if a.get("format") == "date-time":
                out += [quote(d) for d in BAD_DATES]
        elif t == "boolean":
            out.append("maybe")
    if name == "cursor":
        out += [quote(c) for c in BAD_CURSORS]
    return out


def _hostile_json(spec, prop: dict) -> list[str]:
    """Hostile values for a body property, as JSON text."""
    out = ['"a\\u0000b"', SURROGATE_JSON]
    for a in _types(spec, prop):
        t = a.get("type")
        if t == "integer":
            out += [str(v) for v in HUGE] + ["1e400"]
        elif t == "number":
            out += ["999", "-999", "1e308", "-1e308", "Infinity", "NaN", "1e400"]
        elif t == "string" and a.get("maxLength") is not None:
            out.append(json.dumps("长" * (a["maxLength"] + 1)))
    return out


def _refused(r, what):
    assert 400 <= r.status_code < 500, (what, r.status_code, r.content[:300])
    assert r["Content-Type"].startswith(("application/problem+json", "application/json")), (what, r["Content-Type"])


@pytest.fixture
def world(tree, users, token_for):
    road, _ = make_categories()
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, at("2026-11-02 09:00"))
    person = people_services.create_person(None, unit=tree.lumiao, name="王五")
    household = people_services.create_household(None, unit=tree.lumiao, address="芦庙村 1 号")
    ids = {"matter_id": m.pk, "person_id": person.pk, "household_id": household.pk, "unit_id": tree.lumiao.pk,
           "notification_id": 1, "action": "remind", "unit": tree.lumiao.pk}
    # A valid value for each required body property, by name (ids of real objects in scope).
    valid = {"category": "road", "location_unit": tree.lumiao_g1.pk, "unit": tree.lumiao.code,
             "starts_on": "2027-01-01", "ends_on": "2027-12-31",
             "title": "井盖缺失", "description": "路口井盖丢了", "name": "赵六", "address": "芦庙村 2 号",
             "content_type": "image/png", "data_base64": "", "reason": "核实", "field": "phone"}
    # Lectures (activities): a lecturer of 任城区's team, a session at 芦庙村 today, an order for later.
    from datetime import timedelta

    from django.utils import timezone

    from bihuan.activities import services as lecture_services

    team = lecture_services.create_team(None, unit=tree.rencheng, name="青年宣讲团", kind="youth")
    lecturer = lecture_services.add_lecturer(None, team, person=person)
    today = timezone.localdate()
    valid.update({"lecturer_id": lecturer.pk, "place": tree.lumiao.code, "held_on": today.isoformat(),
                  "audience": "villagers", "topic": "乡村振兴", "attendance": 20,
                  "wanted_from": (today + timedelta(days=10)).isoformat(),
                  "wanted_to": (today + timedelta(days=20)).isoformat(),
                  # Care: a needs survey of the person above (living alone), today.
                  "person": person.pk, "surveyed_on": today.isoformat(), "living": "alone",
                  # Care: a volunteer team led by the township's staff member.
                  "lead": users.liying_staff.pk})
    # Plans and campaigns are issued by the city or a county: those bodies are sent as the city administrator.
    city = {"auth": token_for(users.city_admin), "valid": {**valid, "unit": tree.city.code}}
    # Registers are defined by a unit's administrator: a minimal valid definition.
    registers = {"auth": city["auth"], "valid": {**valid, "code": "probe_register", "level": 4, "unit": tree.city.code,
                                                 "fields": [{"key": "name", "label": "名称", "type": "text"}]}}
    # Bulletins are drafted by a county (or the city) for a past period.
    county = {"auth": token_for(users.rencheng_admin),
              "valid": {**valid, "unit": tree.rencheng.code, "template": "weekly_loop", "period": "2026-W45"}}
    # A volunteer team is made at a unit given by id, by the township.
    from bihuan.care import services as care_services

    vteam = care_services.create_team(None, unit=tree.lumiao, name="探针志愿队", lead=users.liying_staff)
    member = care_services.add_member(None, vteam, person)
    team = {"auth": token_for(users.liying_staff), "valid": {
        **valid, "unit": tree.lumiao.pk, "team": vteam.pk, "member": member.pk, "day": today.isoformat(),
        "hours": 2, "description": "打扫卫生"}}
    # Party meetings and applicants (activities): 芦庙村's branch with a member, as its secretary.
    from bihuan.orgs import services as org_services

    branch = org_services.create_party_org(None, unit=tree.lumiao, kind="branch", name="探针党支部")
    party_member = people_services.create_person(None, unit=tree.lumiao, name="探针党员", party_branch=branch,
                                                 party_status="formal")
    party = {"auth": token_for(users.lumiao_secretary), "valid": {
        **valid, "org_id": branch.pk, "kind": "committee", "attendee_ids": [party_member.pk],
        "person_id": person.pk, "applied_on": today.isoformat()}}
    issuers = {"/api/v1/party/meetings": party, "/api/v1/party/applicants": party,
               "/api/v1/plans": city, "/api/v1/campaigns": city, "/api/v1/registers": registers,
               "/api/v1/bulletins": county, "/api/v1/volunteers/teams": team,
               "/api/v1/volunteers/records": team, "/api/v1/care/canteens": team, **_evaluation_world(tree, users, token_for, valid, city)}
    # Party life (activities, issue 15 items 7–9): 芦庙村's branch; terms and contact points by the county.
    from bihuan.orgs.models import PartyOrg

    branch = PartyOrg.objects.create(unit=tree.lumiao, kind="branch", name="芦庙村党支部")
    party = {"auth": token_for(users.rencheng_admin), "valid": {
        **valid, "party_org_id": branch.pk, "member_id": users.liying_staff.pk, "since": today.isoformat()}}
    issuers.update({"/api/v1/party/elections": party, "/api/v1/party/contact-points": party})
    return {"spec": None, "ids": ids, "valid": valid,
            "auth": token_for(users.liying_staff), "as_issuer": issuers}


def _evaluation_world(tree, users, token_for, valid, city) -> dict:
    """Evaluation's creations: a city set (as the city), a run, a manual score and an objection of
    李营街道 on 芦庙村's published result, points for a household of 芦庙村 and a stocked store."""
    from bihuan.evaluation import services as ev

    from .evaluation_helpers import points_setup, score_all, village_set

    s = village_set(tree, users.city_admin, name="探针指标体系")
    other = village_set(tree, users.city_admin, name="探针指标体系二")
    score_all(s, tree, users)
    run = ev.publish(None, ev.compute_run(None, s, "2026H1"))
    result = run.results.get(unit=tree.lumiao)
    p = points_setup(tree, None)
    ev.award(None, household=p.h1, rule=p.volunteer, quantity=50)
    indicators = [{"name": "响应率", "source": "loop.response_rate", "weight": 60, "floor": 50, "target": 100},
                  {"name": "党建", "kind": "manual", "weight": 40}]
    penalties = ev.create_set(None, unit=tree.city, name="探针扣分", period_kind="half", target_kind="village",
                              indicators=[{"name": "党建", "kind": "manual", "weight": 100},
                                          {"name": "安全事故", "kind": "deduct", "penalty": 5}])
    from django.utils import timezone

    incident = {"auth": token_for(users.liying_staff), "valid": {
        **valid, "indicator": penalties.indicators.get(kind="deduct").pk, "unit": tree.lumiao.code,
        "occurred_on": timezone.localdate().isoformat(), "evidence": "现场照片"}}
    selection = {"auth": city["auth"], "valid": {**city["valid"], "kind": "vanguard", "name": "探针先锋",
                                                 "nominate_until": "2099-12-31"}}
    town = {**valid, "indicator": other.indicators.get(kind="manual").pk, "unit": tree.lumiao.code,
            "period": "2026H1", "value": 80, "result": result.pk, "household": p.h1.pk, "rule": p.sort.pk,
            "item": p.soap.pk}
    liying = {"auth": token_for(users.liying_staff), "valid": town}
    return {"/api/v1/evaluation/sets": {"auth": city["auth"], "valid": {
                **city["valid"], "period_kind": "half", "target_kind": "village", "indicators": indicators}},
            "/api/v1/evaluation/runs": {"auth": city["auth"], "valid": {**city["valid"], "set": other.pk,
                                                                        "period": "2026H1"}},
            "/api/v1/evaluation/scores": liying, "/api/v1/evaluation/objections": liying,
            "/api/v1/evaluation/incidents": incident, "/api/v1/evaluation/selections": selection,
            "/api/v1/points/entries": liying, "/api/v1/points/redemptions": liying}


def _as(world, path: str) -> tuple[dict, dict]:
    """The token and valid values the probe uses for ``path``."""
    who = world["as_issuer"].get(path, world)
    return who["auth"], who["valid"]


def _operations(client):
    spec = client.get("/api/v1/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            yield spec, path, method.upper(), op


def _url(path: str, ids: dict, override: tuple[str, str] | None = None) -> str:
    for name, value in ids.items():
        if override and override[0] == name:
            value = override[1]
        path = path.replace("{" + name + "}", str(value))
    return path


def test_every_parameter_refuses_every_hostile_value(client, world):
    n = 0
    for spec, path, method, op in _operations(client):
        params = op.get("parameters", [])
        required = {p["name"]: world["ids"].get(p["name"], 1) for p in params
                    if p["in"] == "query" and p.get("required")}
        for p in params:
            for value in _hostile_query(p["name"], _types(spec, p.get("schema", {}))):
                if p["in"] == "path":
                    url = _url(path, world["ids"], (p["name"], value))
                    query = "&".join(f"{k}={v}" for k, v in required.items())
                else:
                    url = _url(path, world["ids"])
                    query = "&".join([f"{k}={v}" for k, v in required.items() if k != p["name"]]
                                     + [f"{p['name']}={value}"])
                body = "{}" if method in ("POST", "PATCH") and "requestBody" in op else ""
                r = client.generic(method, f"{url}?{query}", body, content_type="application/json",
                                   **world["auth"])
                what = f"{method} {path} {p['in']} {p['name']}={value[:60]}"
                if p["in"] == "path" and r.status_code == 404:
                    n += 1  # an id that cannot exist is as absent as one that does not
                    continue
                _refused(r, what)
                n += 1
    assert n > 300  # the document really was walked


def _base_body(spec, schema: dict, valid: dict) -> dict:
    schema = _resolve(spec, schema)
    return {k: valid.get(k, "x") for k in schema.get("required", [])}


def test_every_body_property_refuses_every_hostile_value(client, world):
    n = 0
    for spec, path, method, op in _operations(client):
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if not content:
            continue
        schema = _resolve(spec, content["schema"])
        url = _url(path, world["ids"])
        auth, valid = _as(world, path)
        base = _base_body(spec, schema, valid)
        for name, prop in schema.get("properties", {}).items():
            targets = [(name, prop, None)]
            for alt in _types(spec, prop):  # one level into arrays of objects (attachments)
                item = _resolve(spec, alt.get("items", {})) if alt.get("type") == "array" else {}
                for sub, subprop in item.get("properties", {}).items():
                    targets.append((sub, subprop, (name, _base_body(spec, item, valid))))
            for field, fprop, parent in targets:
                for raw in _hostile_json(spec, fprop):
                    if parent is None:
                        text = json.dumps({**base, field: "__H__"}, ensure_ascii=False)
                    else:
                        text = json.dumps({**base, parent[0]: [{**parent[1], field: "__H__"}]}, ensure_ascii=False)
                    text = text.replace('"__H__"', raw)
                    r = client.generic(method, url, text.encode(), content_type="application/json", **auth)
                    _refused(r, f"{method} {path} {'.'.join(filter(None, [parent and parent[0], field]))}={raw[:40]}")
                    n += 1
    assert n > 200


def test_create_bodies_are_accepted_as_the_base_of_the_probe(client, world):
    """The probe's base bodies are valid, so a refusal above is the hostile value's, not the base's."""
    for spec, path, method, op in _operations(client):
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if method != "POST" or "{" in path or not content or "201" not in op["responses"]:
            continue  # creations only (a search answers 200)
        auth, valid = _as(world, path)
        body = _base_body(spec, content["schema"], valid)
        r = client.post(path, json.dumps(body), content_type="application/json", **auth)
        assert r.status_code == 201, (path, body, r.content[:300])
