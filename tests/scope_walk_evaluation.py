"""An indicator set of 兖州区 with a run over 薛庙社区, a manual score, and credit points of a
household of 薛庙社区, for the scope walker."""

from __future__ import annotations


def make(tree, users) -> dict:
    from bihuan.evaluation import services
    from bihuan.evaluation.models import Result
    from bihuan.people import services as people_services

    s = services.create_set(None, unit=tree.yanzhou, name="兖州区村级考核（外区）", period_kind="half",
                            target_kind="village", indicators=[
                                {"name": "响应率", "source": "loop.response_rate", "weight": 50, "floor": 50,
                                 "target": 100},
                                {"name": "党建工作", "kind": "manual", "weight": 50},
                                {"name": "安全事故", "kind": "deduct", "penalty": 5}])
    manual = s.indicators.get(kind="manual")
    score = services.enter_score(None, indicator=manual, unit=tree.xuemiao, period="2026H1", value=80)
    incident = services.record_incident(None, indicator=s.indicators.get(kind="deduct"), unit=tree.xuemiao,
                                        occurred_on="2026-03-01", description="外区事故", evidence="通报")
    run = services.compute_run(None, s, "2026H1")
    result = Result.objects.get(run=run, unit=tree.xuemiao)
    rule = services.create_rule(None, unit=tree.longqiao, code="LJFL", name="垃圾分类", points=5)
    h = people_services.create_household(None, unit=tree.xuemiao, address="薛庙社区8号", code="H-WALK-EVAL")
    entry = services.award(None, household=h, rule=rule)
    # points2: a replaced balance link reveals nothing (the current one is public by design).
    stale = services.rotate_link(None, h).token
    services.rotate_link(None, h)
    rnd = services.create_round(None, unit=tree.yanzhou, kind="vanguard", name="兖州区先锋（外区）", quota=10,
                                nominate_until="2099-12-31")
    nomination = services.nominate(None, rnd, unit=tree.xuemiao, nominee="外区党员", deeds="外区事迹")
    return {"round_id": rnd.pk, "nomination_id": nomination.pk,
            "set_id": s.pk, "run_id": run.pk, "result_id": result.pk, "score_id": score.pk, "entry_id": entry.pk,
            "household_id": h.pk, "incident_id": incident.pk,
            "points_token": stale}
