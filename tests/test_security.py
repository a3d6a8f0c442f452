"""MLPS level 3 (docs/security.md): separation of duties (三员分立) and an audit log no user can shorten."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from bihuan.accounts import roles
from bihuan.accounts.models import Role
from bihuan.accounts.permissions import PERMISSIONS
from bihuan.core import audit, jobs
from bihuan.core.models import AuditEntry
from bihuan.people import services as people_services
from bihuan.people.validators import build_id_number
from tests.conftest import make_user

ADMINS = ("system_admin", "security_admin", "audit_admin")
# Business and personal data: what none of the three administrators may touch.
BUSINESS = [p for p in PERMISSIONS if p.startswith(("people.", "loop.matter."))]
REVEAL = [p for p in PERMISSIONS if p.endswith((".reveal", ".export_unmasked"))]


def perms(code: str) -> set[str]:
    return set(next(r for r in roles.BUILTIN_ROLES if r["code"] == code)["permissions"])


def test_three_administrator_roles_hold_disjoint_duties_and_no_business_data():
    duties = {code: set(duty) for code, duty in roles.SEPARATED_ROLES.items()}
    assert set(duties) == set(ADMINS)
    for code in ADMINS:
        held = perms(code)
        assert duties[code] <= held, code  # each can do its own work
        for other in ADMINS:
            if other != code:
                assert not held & duties[other], f"{code} holds {other}'s duty: {held & duties[other]}"
        assert not held & set(BUSINESS), code
        assert not held & set(REVEAL), code
        # Nothing beyond its duty, except finding users (system and security administrators).
        assert held - duties[code] <= set(roles.SHARED_ADMIN_READ), code
    assert perms("audit_admin") == {"core.audit.view"}
    assert "core.audit.view" not in perms("system_admin") | perms("security_admin")


@pytest.mark.django_db
def test_the_roles_exist_after_migration():
    stored = {r.code: set(r.permissions) for r in Role.objects.filter(code__in=ADMINS)}
    assert stored == {code: perms(code) for code in ADMINS}


@pytest.fixture
def admins(tree):
    return {code: make_user(code.replace("_admin", "_adm"), tree.city, code) for code in ADMINS}


@pytest.fixture
def person(tree):
    return people_services.create_person(None, unit=tree.lumiao_g1, name="张晓明", id_number=build_id_number("370811", date(1950, 3, 7), 131),
                                         phone="13812341234")


def test_pages_and_api_refuse_cross_duty_actions(client, admins, tree, person, users):
    entry = audit.record("test.entry", object_type="test")
    reveal = {"field": "id_number", "reason": "核对身份"}
    cases = [
        # (method, url, data, who may): the others are refused with 403, or 404 where scope hides it
        ("get", "/audit/", None, {"audit_admin"}),
        ("get", f"/audit/{entry.pk}/", None, {"audit_admin"}),
        ("get", "/users/", None, {"system_admin", "security_admin"}),
        ("get", "/users/new/", None, {"system_admin"}),
        ("get", "/orgs/", None, {"system_admin", "security_admin"}),  # reading the tree: to name a unit
        ("get", f"/orgs/{tree.lumiao.pk}/edit/", None, {"system_admin"}),
        ("get", "/loop/config/categories/", None, {"system_admin"}),
        ("get", "/people/", None, set()),
        ("get", f"/people/{person.pk}/", None, set()),
        ("post", f"/people/{person.pk}/reveal/", reveal, set()),
        ("get", "/loop/", None, set()),
        ("get", "/api/v1/people", None, set()),
        ("post", f"/api/v1/people/{person.pk}/reveal", reveal, set()),
        ("get", "/api/v1/matters", None, set()),
    ]
    for method, url, data, allowed in cases:
        for code, user in admins.items():
            client.force_login(user)
            if method == "post" and url.startswith("/api/"):
                resp = client.post(url, data, content_type="application/json")
            else:
                resp = getattr(client, method)(url, data or {})
            status = resp.status_code
            if code in allowed:
                assert status == 200, f"{code} {method} {url}: {status}"
            elif method == "get" and url.startswith("/api/") and status == 200:
                # API lists answer with what is in the caller's scope for the permission: nothing.
                assert resp.json()["items"] == [], f"{code} sees {url}"
            else:
                assert status in (403, 404), f"{code} may not {method} {url}, got {status}"
    assert not AuditEntry.objects.filter(action="people.person.reveal").exists()


def test_system_administrator_cannot_grant_audit_or_security_duties(client, admins, tree, users):
    sysadm = admins["system_admin"]
    client.force_login(sysadm)
    target = users.nobody
    for code in ("audit_admin", "security_admin"):
        role = Role.objects.get(code=code)
        resp = client.post(f"/users/{target.pk}/bind/", {"unit_code": tree.city.code, "role": role.pk})
        assert resp.status_code in (400, 403)
    assert not target.bindings.exists()
    # Its own duty works: it creates a user.
    resp = client.post("/users/new/", {"username": "new_clerk", "password": "Xy7-strong-pass",
                                       "unit_code": tree.liying.code, "role": Role.objects.get(code="system_admin").pk})
    assert resp.status_code == 302
    assert target.__class__.objects.get(username="new_clerk").bindings.get().role.code == "system_admin"


def test_security_administrator_grants_roles_but_not_to_itself_and_creates_no_users(client, admins, tree, users):
    """三员分立: bindings are the security administrator's duty. It grants any role (it holds no
    business permission itself), never to itself, and cannot create users or reset passwords."""
    secadm = admins["security_admin"]
    client.force_login(secadm)
    target = users.nobody
    county = Role.objects.get(code="county_admin")
    resp = client.post(f"/users/{target.pk}/bind/", {"unit_code": tree.rencheng.code, "role": county.pk})
    assert resp.status_code == 302, resp.content.decode()[:500]
    binding = target.bindings.get()
    assert (binding.unit, binding.role.code) == (tree.rencheng, "county_admin")
    assert AuditEntry.objects.filter(action="accounts.binding.create", actor_id=secadm.pk).count() == 1
    # Not to itself: it would hand itself the business data it must not see.
    resp = client.post(f"/users/{secadm.pk}/bind/", {"unit_code": tree.city.code, "role": county.pk})
    assert resp.status_code in (400, 403)
    assert not secadm.bindings.filter(role=county).exists()
    # One person, one of the three duties.
    resp = client.post(f"/users/{admins['audit_admin'].pk}/bind/",
                       {"unit_code": tree.city.code, "role": Role.objects.get(code="system_admin").pk})
    assert resp.status_code == 400
    assert not admins["audit_admin"].bindings.filter(role__code="system_admin").exists()
    # It removes what it granted.
    resp = client.post(f"/users/{target.pk}/bindings/{binding.pk}/delete/")
    assert resp.status_code == 302 and not target.bindings.exists()
    # Users and passwords stay the system administrator's.
    assert client.post("/users/new/", {"username": "x1", "password": "Xy7-strong-pass"}).status_code == 403
    assert client.post(f"/users/{target.pk}/password/", {"password": "Xy7-strong-pass"}).status_code == 403


# --- the audit log cannot be shortened by any application user -------------------------------

def test_no_permission_or_role_can_change_or_delete_audit_entries():
    audit_perms = {p for p in PERMISSIONS if p.startswith("core.audit.")}
    assert audit_perms == {"core.audit.view"}  # reading is the only verb on the audit log
    for role in roles.BUILTIN_ROLES:
        assert not {p for p in role["permissions"] if p.startswith("core.audit.")} - {"core.audit.view"}


def _routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def test_no_url_deletes_or_changes_audit_entries(client, users):
    """Every route that names the audit log, with every unsafe method, as the city administrator and
    as the audit administrator: the entries stay exactly as they were (the pages only read)."""
    entry = audit.record("test.entry", object_type="test", extra={"k": "v"})
    audit.seal_all()
    routes = [r for r, _ in _routes() if "audit" in r]
    assert routes, "the audit pages should be found"
    auditor = make_user("auditor", users.city_admin.bindings.first().unit, "audit_admin")
    before = list(AuditEntry.objects.order_by("id").values())
    for actor in (users.city_admin, auditor):
        client.force_login(actor)
        for route in routes:
            url = "/" + route.replace("<int:pk>", str(entry.pk)).lstrip("^").rstrip("$")
            for method in ("post", "put", "patch", "delete"):
                resp = getattr(client, method)(url, {"action": "delete", "confirm": "1"})
                assert resp.status_code < 500, f"{method} {url}: {resp.status_code}"
    after = list(AuditEntry.objects.order_by("id").values())
    # Logging in may add entries; none existing changed or went.
    assert after[:len(before)] == before
    assert audit.verify().ok
    # The API has no audit operation at all.
    spec = client.get("/api/v1/openapi.json").json()
    assert not [p for p in spec["paths"] if "audit" in p]


def test_no_periodic_job_removes_audit_entries_even_years_later(db):
    """Retention ≥ 6 months: nothing in the product removes entries, so they stay as long as the database."""
    old = audit.record("test.old", object_type="test", now=timezone.now() - timedelta(days=400))
    audit.seal_all()
    count = AuditEntry.objects.count()
    assert {"audit.seal", "sessions.clear", "imports.cleanup", "loop.sweep"} <= set(jobs.REGISTRY)
    for name in list(jobs.REGISTRY):
        jobs.run_job(name, now=timezone.now() + timedelta(days=3 * 365))
    assert AuditEntry.objects.filter(pk=old.pk).exists()
    assert AuditEntry.objects.count() >= count
    assert audit.verify().ok
