from __future__ import annotations

from ninja import Router, Schema

from bihuan.core.scope import scope_for

router = Router(tags=["accounts"])


class BindingOut(Schema):
    unit_id: int
    unit_code: str
    unit_name: str
    role: str
    role_name: str
    scope: str


class ScopeUnitOut(Schema):
    id: int
    code: str
    name: str
    level: int


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    permissions: list[str]
    bindings: list[BindingOut]
    scope_all: bool
    scope_units: list[ScopeUnitOut]


@router.get("/me", response=MeOut, summary="The calling user, their bindings and scope units")
def me(request):
    user = request.user
    bindings = user._active_bindings()
    perms = sorted({p for b in bindings for p in b.role.permissions})
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "permissions": perms,
        "bindings": [
            {"unit_id": b.unit_id, "unit_code": b.unit.code, "unit_name": b.unit.name, "role": b.role.code,
             "role_name": b.role.name, "scope": b.scope}
            for b in bindings
        ],
        "scope_all": scope_for(user, "orgs.unit.view").all,
        "scope_units": list(user.scope_units()[:200]),
    }
