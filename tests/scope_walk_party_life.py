"""Party life (issue 15 items 7–9) in 兖州区 for the scope walker: 薛庙社区's branch with a term,
``yanzhou_admin`` as its contact point with a visit, and a review of 兖州区 visiting 薛庙社区."""

from __future__ import annotations

from datetime import date


def make(tree, users) -> dict:
    from bihuan.activities import services
    from bihuan.orgs.models import PartyOrg

    po = PartyOrg.objects.create(unit=tree.xuemiao, kind="branch", name="中共薛庙社区支部委员会")
    services.record_election(None, po, held_on=date(2020, 1, 10))
    c = services.link_contact(None, member=users.yanzhou_admin, party_org=po, since=date(2024, 1, 1))
    v = services.record_visit(None, c, visited_on=date(2024, 3, 1), topic="薛庙社区走访", problems="薛庙社区路灯坏了")
    r = services.create_review(None, unit=tree.yanzhou, year=2024, quarter=2, theme="兖州区观摩",
                               held_on=date(2024, 5, 1), units=[tree.xuemiao])
    return {"party_org_id": po.pk, "contact_id": c.pk, "visit_id": v.pk, "review_id": r.pk}
