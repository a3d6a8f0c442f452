"""A plan of 兖州区 assigned to 薛庙社区, with a check-in and its evidence; a campaign with a target for
龙桥街道; a key project and a key enterprise of 龙桥街道 — for the scope walker."""

from __future__ import annotations

from datetime import date


def make(tree, users) -> dict:
    from bihuan.loop.services import Upload
    from bihuan.orgs.models import Level
    from bihuan.plans import services
    from bihuan.plans.models import Assignment

    plan = services.create_plan(None, unit=tree.yanzhou, title="县级重点任务（外区）", starts_on=date(2025, 1, 1),
                                ends_on=date(2025, 12, 31))
    system = services.add_system(None, plan, name="体系一")
    action = services.add_action(None, plan, system=system, name="行动一")
    task = services.add_task(None, plan, action=action, title="建设议事厅", lead_level=Level.VILLAGE)
    services.publish(None, plan, version=plan.version)
    a = Assignment.objects.get(plan=plan)
    c = services.check_in(None, a, note="已开工", uploads=[Upload("photo.pdf", "application/pdf", b"%PDF-1.4 x")])
    from bihuan.plans.services import campaigns, registers

    camp = campaigns.create_campaign(None, unit=tree.yanzhou, title="外区攻坚", starts_on=date(2025, 11, 1),
                                     ends_on=date(2025, 12, 20), target_unit="个", targets=[(tree.longqiao, 10)])
    project, _ = registers.save_project(None, unit=tree.longqiao, year=2025, name="外区重点项目",
                                        plan={1: 100, 2: 100})
    enterprise, _ = registers.save_enterprise(None, unit=tree.longqiao, group="十强产业", name="外区企业",
                                              credit_code="91370812MA3C00001X")
    return {"plan_id": plan.pk, "task_id": task.pk, "assignment_id": a.pk, "evidence_id": c.evidence.get().pk,
            "campaign_id": camp.pk, "target_id": camp.targets.get().pk, "project_id": project.pk,
            "enterprise_id": enterprise.pk}
