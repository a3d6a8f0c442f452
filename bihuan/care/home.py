"""The care app's home-page card (``core.registry.register_home_card``): today's care visits.

* a helper (``care.visit.checkin``) sees their own round of today: the first visits still to do,
  and how many are done;
* a village or grid user with ``care.visit.view`` sees today's care board of their unit (done,
  due, missed), as ``/care/`` shows it.
"""

from __future__ import annotations

from bihuan.core.registry import HomeCard, register_home_card

ROUND_SHOWN = 5


def today_card(request, now):
    from django.db.models import Count, Q

    from bihuan.orgs.models import Level

    from . import selectors
    from . import status as st

    user = request.user
    day = selectors.today(now)
    ctx = {"day": day}
    if user.has_perm_anywhere("care.visit.checkin"):
        mine = selectors.my_round(user, day)
        counts = mine.aggregate(total=Count("id"), done=Count("id", filter=~Q(outcome="")),
                                missed=Count("id", filter=st.missed_q(now)))
        if counts["total"]:
            todo = list(mine.filter(outcome="")[:ROUND_SHOWN])
            for v in todo:
                v.status = st.status_of(v, now)
            ctx["round"] = {**counts, "todo": todo}
    if user.has_perm_anywhere("care.visit.view"):
        unit = user.scope_units("care.visit.view").order_by("depth", "path").first()
        if unit is not None and unit.level > Level.TOWNSHIP:
            ctx["board"] = {"unit": unit, **selectors.board(user, unit, day, now)}
    return ctx if ("round" in ctx or "board" in ctx) else None


def register() -> None:
    register_home_card(HomeCard("care.today", "care/_home_today.html", today_card, order=30))
