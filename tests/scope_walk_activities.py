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
            "feedback_token": s.feedback_token, **make_party(tree, users)}


def make_party(tree, users) -> dict:
    """薛庙社区党支部 with a meeting (and its photo) and an applicant, for the party routes."""
    from bihuan.activities import services
    from bihuan.loop.services import Upload
    from bihuan.orgs import services as org_services
    from bihuan.people import services as people_services
    from tests.loop_helpers import PNG

    branch = org_services.create_party_org(None, unit=tree.xuemiao, kind="branch", name="薛庙社区外区党支部")
    member = people_services.create_person(None, unit=tree.xuemiao, name="薛庙党员", party_branch=branch,
                                           party_status="formal")
    m = services.record_meeting(None, org=branch, kind="committee", held_on=date(2025, 3, 1), topic="薛庙社区支委会",
                                attendees=[member], uploads=[Upload("薛庙社区.png", "image/png", PNG)])
    young = people_services.create_person(None, unit=tree.xuemiao, name="薛庙申请人")
    a = services.register_applicant(None, person=young, org=branch, applied_on=date(2025, 3, 1))
    return {"meeting_id": m.pk, "meeting_photo_id": m.photos.get().pk, "applicant_id": a.pk, "org_id": branch.pk}
