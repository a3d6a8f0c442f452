"""A lecture team of 兖州区 with a lecturer, a session at 薛庙社区 with a photo (its feedback link
closed: the session was long ago) and an order of 薛庙社区, for the scope walker."""

from __future__ import annotations

from datetime import date


def make(tree, users) -> dict:
    from bihuan.activities import services
    from bihuan.loop.services import Upload
    from bihuan.people import services as people_services
    from tests.loop_helpers import PNG

    team = services.create_team(None, unit=tree.yanzhou, name="兖州区外区宣讲团", kind="teacher", topics="薛庙社区专题")
    p = people_services.create_person(None, unit=tree.xuemiao, name="薛庙宣讲员")
    lec = services.add_lecturer(None, team, person=p, topics="薛庙社区专题")
    s = services.record_session(None, lecturer=lec, place=tree.xuemiao, held_on=date(2025, 3, 1), audience="villagers",
                                topic="薛庙社区专题", attendance=20, uploads=[Upload("薛庙社区.png", "image/png", PNG)])
    o = services.create_order(None, unit=tree.xuemiao, topic="薛庙社区专题", audience="villagers",
                              wanted_from=date(2099, 1, 1), wanted_to=date(2099, 1, 31))
    return {"team_id": team.pk, "session_id": s.pk, "photo_id": s.photos.get().pk, "order_id": o.pk,
            "feedback_token": s.feedback_token}
