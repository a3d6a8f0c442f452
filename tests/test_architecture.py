"""The house rules that a reviewer would otherwise have to remember, checked on the code itself.

* **One scope gate.** Only ``core/scope.py`` (and ``accounts/models.py``, which builds a user's
  ``Scope`` from their bindings) reads a scope's parts or derives "is this unit inside" from
  paths. Everyone else asks ``core.scope`` (``restrict``, ``covers``, ``units_q``, ``require``,
  ``scope_for``). The tree itself (``orgs``) may compare paths: it owns them.
* **Writes only in services.** Views, API modules and URL modules never call ``.save()``,
  ``.delete()`` or a manager/queryset write (``create``, ``update``, ``bulk_create`` …).
* **The same rooms in every app** (docs/architecture.md): no ``views_*.py`` / ``forms_*.py``
  siblings; a large room becomes a package.

A new violation fails here with the file and line, so it is fixed before it is copied.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import bihuan

ROOT = Path(bihuan.__file__).parent
BENCH = ROOT.parent / "bench"

SCOPE_OWNERS = {"core/scope.py", "accounts/models.py"}
SCOPE_TOKENS = re.compile(r"\.get_scope\(|\bsubtree_paths\b|\.unit_ids\b|\bcovers_path\(")
PATH_COMPARE = re.compile(r"(?<!request)\.path\.startswith\(")
PATH_OWNERS = ("orgs/", "core/")

WRITE_METHODS = {"create", "update", "delete", "bulk_create", "bulk_update", "get_or_create",
                 "update_or_create", "save"}


def _sources(*roots: Path):
    for root in roots:
        for p in sorted(root.rglob("*.py")):
            if "migrations" in p.parts or "static" in p.parts:
                continue
            yield p


def _rel(p: Path) -> str:
    try:
        return p.relative_to(ROOT).as_posix()
    except ValueError:
        return p.relative_to(ROOT.parent).as_posix()


def test_scope_is_derived_only_in_the_gate():
    found = []
    for p in _sources(ROOT, BENCH):
        rel = _rel(p)
        if rel in SCOPE_OWNERS:
            continue
        for n, line in enumerate(p.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if SCOPE_TOKENS.search(code):
                found.append(f"{rel}:{n}: {line.strip()}")
            if PATH_COMPARE.search(code) and not rel.startswith(PATH_OWNERS):
                found.append(f"{rel}:{n}: {line.strip()}")
    assert not found, ("Scope re-derived outside core/scope.py; use core.scope (covers, units_q, "
                       "require, scope_for) or OrgUnit.is_ancestor_of:\n" + "\n".join(found))


GET_THEN_REQUIRE = re.compile(r"DoesNotExist, ValueError, TypeError\):\n\s+raise NotFound\(\)\n\s+require\(")


def test_one_object_in_scope_is_fetched_one_way():
    """"Get one object, then require" is ``core.scope.get_required``, not a try/get in each service."""
    found = [_rel(p) for p in _sources(ROOT) if _rel(p) != "core/scope.py" and GET_THEN_REQUIRE.search(p.read_text())]
    assert not found, "Use core.scope.get_required instead of try/get/require in: " + ", ".join(found)


def _is_view_or_api(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return (name in {"views.py", "api.py", "urls.py"} or name.startswith("views_")
            or "views" in parts[:-1] or (parts[0] == "api"))


def _chain_has_manager(node: ast.AST) -> bool:
    """True for ``X.objects…`` / ``x.<related>_set…`` chains and querysets built from them."""
    while isinstance(node, ast.Call | ast.Attribute):
        if isinstance(node, ast.Attribute) and (node.attr == "objects" or node.attr.endswith("_set")):
            return True
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def test_views_and_api_do_not_write():
    found = []
    for p in _sources(ROOT):
        rel = _rel(p)
        if not _is_view_or_api(rel):
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            attr = node.func.attr
            if attr not in WRITE_METHODS:
                continue
            target = node.func.value
            # dict.update / ctx.update are not writes; model writes are save()/delete() on an
            # instance or a write method on a manager or queryset.
            if attr in {"save", "delete"} and not node.args and not _is_dict_like(target):
                found.append(f"{rel}:{node.lineno}: .{attr}()")
            elif attr not in {"save", "delete"} and _chain_has_manager(target):
                found.append(f"{rel}:{node.lineno}: .{attr}(…)")
            elif attr == "delete" and _chain_has_manager(target):
                found.append(f"{rel}:{node.lineno}: .delete()")
    assert not found, "Writes outside services (call the app's service instead):\n" + "\n".join(found)


def _is_dict_like(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id in {"ctx", "context", "data", "params", "session"}


def test_every_app_has_the_same_rooms():
    """No ``views_x.py``/``forms_x.py`` siblings: one module per room, or a package."""
    found = [_rel(p) for p in _sources(ROOT) if re.match(r"(views|forms|services|selectors|api)_\w+\.py$", p.name)]
    assert not found, "Split rooms; make a package instead (docs/architecture.md):\n" + "\n".join(found)


def test_the_guard_catches_what_it_is_meant_to(tmp_path):
    """The checks above are not vacuous: each flags a small example of what it forbids."""
    sample = ("def v(request, m):\n    Matter.objects.filter(pk=1).update(state='x')\n    m.save()\n"
              "    ctx.update(a=1)\n")
    calls = [n for n in ast.walk(ast.parse(sample)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    flagged = [n.func.attr for n in calls if n.func.attr in WRITE_METHODS
               and (_chain_has_manager(n.func.value) or (n.func.attr == "save" and not _is_dict_like(n.func.value)))]
    assert flagged == ["update", "save"]
    assert SCOPE_TOKENS.search("ok = user.get_scope('x').covers_path(p)")
    assert PATH_COMPARE.search("if unit.path.startswith(base):")


def test_api_schema_names_are_unique_across_apps():
    """Ninja names an OpenAPI component after its class: two apps' ``PlanIn`` would make one
    endpoint document (and the fuzzers send) the other's body. Every Schema class name in the
    ``<app>/api.py`` modules is unique."""
    import importlib
    import inspect

    from django.apps import apps as django_apps
    from ninja import Schema

    seen: dict[str, str] = {}
    clashes = []
    for app in django_apps.get_app_configs():
        if not app.name.startswith("bihuan."):
            continue
        try:
            mod = importlib.import_module(f"{app.name}.api")
        except ModuleNotFoundError:
            continue
        for name, obj in vars(mod).items():
            if inspect.isclass(obj) and issubclass(obj, Schema) and obj.__module__ == mod.__name__:
                if name in seen and seen[name] != mod.__name__:
                    clashes.append(f"{name}: {seen[name]} and {mod.__name__}")
                seen.setdefault(name, mod.__name__)
    assert not clashes, clashes


def test_openapi_document_has_no_duplicate_keys(client):
    """An operation's extra OpenAPI (a file response) keyed "200" beside ninja's 200 gave the JSON
    two "200" keys; Swagger UI then refused the whole document (blank /api/v1/docs)."""
    import json

    def unique(pairs):
        keys = [k for k, _v in pairs]
        assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
        return dict(pairs)

    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    json.loads(resp.content, object_pairs_hook=unique)
