"""Walk every URL the project serves: a user of another subtree gets 404 and no data.

New endpoints are picked up automatically. A URL parameter the walker does not know makes the
test fail, so whoever adds an endpoint must say here which out-of-scope object to aim it at.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

# Pages that hold no scoped data (or are the way in).
PUBLIC_OR_DATALESS = {
    "healthz", "set_language", "web:login", "web:logout", "web:password_change",
    "api:openapi-json", "api:openapi-view",
}
# Names that appear only in 兖州区's subtree in the fixture tree.
FOREIGN_NAMES = ["兖州区", "龙桥街道", "薛庙社区", "yanzhou_admin"]


def _iter_patterns(resolver, prefix="", ns=""):
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            sub_ns = f"{ns}{p.namespace}:" if p.namespace else ns
            yield from _iter_patterns(p, prefix + str(p.pattern), sub_ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), f"{ns}{p.name}" if p.name else None


def all_routes():
    routes = []
    for route, name in _iter_patterns(get_resolver()):
        if route.startswith(("static/", "^static")) or name in PUBLIC_OR_DATALESS:
            continue
        routes.append((route, name))
    return routes


PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<name>\w+)>")


def out_of_scope_values(tree, users, extra):
    """Which object each URL parameter points at: always something in 兖州区's subtree."""
    values = {
        "unit_id": tree.xuemiao.pk,
        "user_id": users.yanzhou_admin.pk,
        "binding_id": users.yanzhou_admin.bindings.first().pk,
    }
    values.update(extra)
    return values


@pytest.fixture
def foreign_objects(tree, users):
    """Objects of later apps, created in 兖州区 when those apps exist."""
    from bihuan.core import audit
    from bihuan.core.context import acting_as

    extra = {}
    with acting_as(users.yanzhou_admin):
        entry = audit.record("test.foreign", object_type="test", object_id=1, unit=tree.xuemiao)
    extra["entry_id"] = entry.pk
    try:
        from tests.scope_walk_objects import make_foreign_objects
    except ImportError:
        make_foreign_objects = None
    if make_foreign_objects:
        extra.update(make_foreign_objects(tree, users))
    return extra


# A bare ``pk`` means the object of the route's section.
PK_BY_PREFIX = {
    "orgs/": "unit_id",
    "users/": "user_id",
    "audit/": "entry_id",
    "people/households/": "household_id",
    "people/": "person_id",
    "loop/": "matter_id",
    "matters/": "matter_id",
}


def body_of(r) -> str:
    """The response as text; XLSX downloads are unzipped so their cells can be searched."""
    raw = b"".join(r.streaming_content) if getattr(r, "streaming", False) else r.content
    if raw[:2] == b"PK":
        import io

        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True)
        return "\n".join(str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row)
    return raw.decode(errors="replace")


def _fill(route, values):
    missing = []

    def sub(m):
        name = m.group("name")
        if name == "pk":
            for prefix in sorted(PK_BY_PREFIX, key=len, reverse=True):
                if route.startswith(prefix):
                    name = PK_BY_PREFIX[prefix]
                    break
        if name not in values:
            missing.append(name)
            return "0"
        return str(values[name])

    url = "/" + PARAM.sub(sub, route).lstrip("^").rstrip("$")
    return url, missing


def test_every_parametrised_url_answers_404_to_another_subtree(client, tree, users, foreign_objects):
    client.force_login(users.rencheng_admin)
    values = out_of_scope_values(tree, users, foreign_objects)
    unknown, leaks, checked = [], [], 0
    for route, name in all_routes():
        if "<" not in route:
            continue
        url, missing = _fill(route, values)
        if missing:
            unknown.append(f"{name or route}: {missing}")
            continue
        r = client.get(url)
        if r.status_code == 405:
            r = client.post(url, {}, content_type="application/json") if url.startswith("/api/") else client.post(url)
        checked += 1
        body = body_of(r)
        if r.status_code != 404 or any(n in body for n in FOREIGN_NAMES[1:]):
            leaks.append(f"{url} ({name}) -> {r.status_code}")
    assert not unknown, "URL parameters the scope walker does not know (add them to out_of_scope_values): " + "; ".join(unknown)
    assert not leaks, "out-of-scope objects reachable: " + "; ".join(leaks)
    assert checked >= 2


def test_every_list_url_shows_nothing_of_another_subtree(client, tree, users, foreign_objects):
    client.force_login(users.rencheng_admin)
    leaks = []
    for route, name in all_routes():
        if "<" in route:
            continue
        url = "/" + route.lstrip("^").rstrip("$")
        r = client.get(url)
        if r.status_code in (301, 302, 405):
            continue
        body = body_of(r)
        found = [n for n in FOREIGN_NAMES if n in body]
        if found:
            leaks.append(f"{url} ({name}) shows {found}")
    assert not leaks, "; ".join(leaks)


def test_api_with_token_of_another_subtree(client, tree, users, foreign_objects, token_for):
    auth = token_for(users.rencheng_admin)
    values = out_of_scope_values(tree, users, foreign_objects)
    leaks = []
    for route, _name in all_routes():
        if not route.startswith("api/v1/") or "<" not in route:
            continue
        url, missing = _fill(route, values)
        if missing:
            continue  # reported by the session test above
        r = client.get(url, **auth)
        if r.status_code == 405:
            r = client.post(url, {}, content_type="application/json", **auth)
        if r.status_code not in (404, 422):
            leaks.append(f"{url} -> {r.status_code}")
    assert not leaks, "; ".join(leaks)


def test_user_without_binding_sees_nothing_anywhere(client, tree, users, foreign_objects):
    client.force_login(users.nobody)
    leaks = []
    for route, name in all_routes():
        url, _ = _fill(route, out_of_scope_values(tree, users, foreign_objects) | {"unit_id": tree.lumiao.pk})
        r = client.get(url)
        body = body_of(r)
        if r.status_code == 200 and any(n in body for n in ["芦庙村", "李营街道", "兖州区", "任城区"]):
            leaks.append(f"{url} ({name})")
    assert not leaks, "; ".join(leaks)
