"""The registry of kinds: each app's ``<app>/tabular.py`` registers its kinds; ``core`` never
imports the apps (``autodiscover_modules``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _

from .base import TabularError
from .spec import Spec

if TYPE_CHECKING:
    from .importer import ImportHandler


@dataclass(frozen=True)
class Kind:
    """A register that can be imported and exported (``bihuan import <name> FILE``).

    ``export_rows(user, unit=None)`` returns an iterable of row objects in scope (stream
    it: a queryset's ``.iterator()``) and raises NotFound for a unit out of scope.
    ``permission_prefix`` + ``.import`` / ``.export`` are the permissions and audit actions.
    """

    name: str
    label: str
    spec: Spec
    handler: type[ImportHandler]
    export_rows: Callable[..., Iterable]
    permission_prefix: str
    export_count: Callable[..., int] | None = None
    find_unit: Callable[[Any, str], Any] | None = None  # CLI --unit CODE → unit (or NotFound)


_KINDS: dict[str, Kind] = {}
_discovered = False


def register(kind: Kind) -> Kind:
    _KINDS[kind.name] = kind
    return kind


def _discover() -> None:
    global _discovered
    if not _discovered:
        autodiscover_modules("tabular")  # each app's tabular.py registers its kinds
        _discovered = True


def kinds() -> dict[str, Kind]:
    _discover()
    return dict(sorted(_KINDS.items()))


def get_kind(name: str) -> Kind:
    _discover()
    try:
        return _KINDS[name]
    except KeyError:
        raise TabularError(_("Unknown kind %(name)s. Known: %(known)s.")
                           % {"name": name, "known": ", ".join(sorted(_KINDS))}, code="unknown_kind")


def cli_user(username: str | None):
    """``--user USERNAME`` of the CLI: that active user, or None for the system (full scope)."""
    if not username:
        return None
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise TabularError(_("No active user is named %(u)s.") % {"u": username}, code="unknown_user")
    return user


def can(user, kind: Kind, verb: str) -> bool:
    """Whether ``user`` holds ``<kind>.<verb>`` anywhere (None = the system)."""
    if user is None:
        return True
    get_scope = getattr(user, "get_scope", None)
    return bool(get_scope) and not get_scope(f"{kind.permission_prefix}.{verb}").empty
