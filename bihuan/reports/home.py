"""The reports app's cards on the home page (``core.registry.register_home_card``): the command
dashboard's headline for township, county and city users, and the bulletins waiting to be read."""

from __future__ import annotations

from bihuan.core.registry import HomeCard, register_home_card
from bihuan.core.scope import has_anywhere

HOME_BULLETINS = 5


def _dashboard(request, now):
    from bihuan.orgs.models import Level

    from . import selectors

    user = request.user
    if not has_anywhere(user, selectors.DASHBOARD):
        return None
    unit = user.scope_units(selectors.DASHBOARD).order_by("depth", "path").first()
    if unit is None or unit.level > Level.TOWNSHIP:
        return None
    return {"unit": unit, "dash": selectors.dashboard(unit, now)}


def _bulletins(request, now):
    from . import selectors
    from .models import BulletinState

    if not has_anywhere(request.user, selectors.VIEW):
        return None
    items = list(selectors.bulletins(request.user, state=BulletinState.ISSUED).order_by("-issued_at", "-id")
                 [:HOME_BULLETINS])
    return {"items": items} if items else None


def register_defaults() -> None:
    register_home_card(HomeCard("reports.dashboard", "reports/_home_dashboard.html", _dashboard, order=10))
    register_home_card(HomeCard("reports.bulletins", "reports/_home_bulletins.html", _bulletins, order=50))
