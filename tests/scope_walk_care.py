"""Care in 薛庙社区 (兖州区) — a survey, a plan, a helper's visit with a photo — for the scope walker."""

from __future__ import annotations

from datetime import timedelta


def make(tree, users) -> dict:
    import io

    from django.utils import timezone
    from PIL import Image

    from bihuan.care import services
    from bihuan.care.models import Visit
    from bihuan.loop.services import Upload
    from bihuan.people import services as people

    now = timezone.now()
    resident = people.create_person(None, unit=tree.xuemiao, name="薛庙独居老人", phone="13905379999",
                                    address="薛庙社区1号")
    helper_person = people.create_person(None, unit=tree.xuemiao, name="薛庙志愿者")
    helper, _u = services.register_helper(None, helper_person, password="Bihuan-Test-2026")
    survey = services.record_survey(None, resident, surveyed_on=timezone.localdate(), living="alone",
                                    health_notes="外区健康记录", contact_name="家属", contact_phone="13905378888")
    plan = services.create_plan(None, resident, starts_on=timezone.localdate() - timedelta(days=1), services=[
        {"kind": "meal", "rrule": "FREQ=DAILY", "window_start": "00:00", "window_end": "23:59", "helper": helper}])
    services.generate(timezone.localdate(), now=now)
    visit = Visit.objects.get(service__plan=plan, day=timezone.localdate())
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    Visit.objects.filter(pk=visit.pk).update(starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1))
    services.check_in(None, visit, outcome="done", photo=Upload("p.png", "image/png", buf.getvalue()), now=now)
    return {"visit_id": visit.pk, "survey_id": survey.pk, "plan_id": plan.pk, "person_id": resident.pk,
            **make_team(tree, users, helper_person), **make_canteen(tree, users, visit, now)}


def make_team(tree, users, helper_person) -> dict:
    from bihuan.care import services

    team = services.create_team(None, unit=tree.xuemiao, name="薛庙外区服务队", lead=users.yanzhou_admin)
    member = services.add_member(None, team, helper_person)
    record = services.record_service(None, team, member=member, day="2026-01-05", hours=2, description="外区服务记录")
    return {"team_id": team.pk, "member_id": member.pk, "record_id": record.pk}


def make_canteen(tree, users, visit, now) -> dict:
    from bihuan.care import services

    canteen = services.create_canteen(None, unit=tree.xuemiao, name="薛庙社区幸福食堂", address="薛庙社区2号")
    meal, _created = services.serve_meal(None, canteen, visit, now=now)
    services.set_other_diners(None, canteen, visit.day, 5, now=now)
    return {"canteen_id": canteen.pk, "meal_id": meal.pk}
