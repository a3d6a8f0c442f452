"""Lectures (issue 15): teams, lecturers, sessions, feedback, coverage, orders (services and selectors)."""

from __future__ import annotations

from datetime import date

import pytest

from bihuan.activities import selectors, services
from bihuan.activities.models import Feedback, LectureOrder, OrderState, Session, SessionPhoto
from bihuan.core import registry
from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry
from bihuan.loop.models import Matter
from bihuan.loop.services import Upload
from tests.activities_helpers import at, make_lectures, person
from tests.conftest import make_user
from tests.loop_helpers import PNG

pytestmark = pytest.mark.django_db


def test_team_and_lecturer_need_scope_and_valid_kind(tree, users):
    with pytest.raises(NotFound):  # 兖州区 is not 任城区's
        services.create_team(users.rencheng_admin, unit=tree.yanzhou, name="外区宣讲团", kind="youth")
    with pytest.raises(PermissionDenied):  # a village secretary may not form teams
        services.create_team(users.lumiao_secretary, unit=tree.lumiao, name="村宣讲团", kind="youth")
    with pytest.raises(ServiceError) as e:
        services.create_team(users.rencheng_admin, unit=tree.rencheng, name="宣讲团", kind="unknown")
    assert "kind" in e.value.field_errors
    team = services.create_team(users.rencheng_admin, unit=tree.rencheng, name="老干部宣讲团", kind="veteran",
                                topics="党史, 家风，乡村振兴")
    assert team.topic_list == ["党史", "家风", "乡村振兴"]
    with pytest.raises(ServiceError):
        services.create_team(users.rencheng_admin, unit=tree.rencheng, name="老干部宣讲团", kind="veteran")
    p = person(tree.lumiao, "孙老师")
    with pytest.raises(ServiceError) as e:
        services.add_lecturer(users.rencheng_admin, team, person=p, audiences=["martians"])
    assert "audiences" in e.value.field_errors
    lec = services.add_lecturer(users.rencheng_admin, team, person=p, audiences=["villagers", "elderly"])
    p.refresh_from_db()
    assert p.is_lecturer and lec.audiences == "villagers,elderly"
    assert AuditEntry.objects.filter(action="activities.lecturer.create").count() == 1
    outsider = person(tree.xuemiao, "外区人")
    with pytest.raises(ServiceError):  # a person the county cannot see
        services.add_lecturer(users.rencheng_admin, team, person=outsider)


def test_session_rules_and_nothing_half_written(tree, users):
    x = make_lectures(tree)
    before = Session.objects.count()
    # A place outside the lecturer's team (任城区's team at 兖州区's community).
    with pytest.raises(ServiceError) as e:
        services.record_session(None, lecturer=x.wang, place=tree.xuemiao, held_on=date(2025, 3, 1),
                                audience="villagers", topic="乡村振兴", attendance=10, now=at(2025, 3, 2))
    assert e.value.code == "place_outside_scope"
    # 李营街道's team cannot lecture in 仙营街道.
    with pytest.raises(ServiceError):
        services.record_session(None, lecturer=x.zhao, place=tree.xianying_v, held_on=date(2025, 3, 1),
                                audience="elderly", topic="家风家教", attendance=10, now=at(2025, 3, 2))
    bad = [dict(held_on=date(2025, 4, 1)), dict(attendance=0), dict(attendance="many"), dict(audience="aliens"),
           dict(topic=""), dict(topic="x\x07y")]
    for change in bad:
        kw = dict(lecturer=x.wang, place=tree.lumiao, held_on=date(2025, 3, 1), audience="villagers",
                  topic="乡村振兴", attendance=10, now=at(2025, 3, 2)) | change
        with pytest.raises(ServiceError):
            services.record_session(None, **kw)
    # A photo that is not an image: refused by the loop's check, and the session is not kept.
    with pytest.raises(ServiceError):
        services.record_session(None, lecturer=x.wang, place=tree.lumiao, held_on=date(2025, 3, 1),
                                audience="villagers", topic="乡村振兴", attendance=10, now=at(2025, 3, 2),
                                uploads=[Upload("a.png", "image/png", b"\x89PNG\r\n\x1a\nnot really")])
    assert Session.objects.count() == before
    s = services.record_session(users.liying_staff, lecturer=x.wang, place=tree.lumiao, held_on=date(2025, 3, 1),
                                audience="villagers", topic="乡村振兴", attendance=10, now=at(2025, 3, 2),
                                uploads=[Upload("课堂.png", "image/png", PNG)])
    assert s.covered_unit == tree.lumiao and SessionPhoto.objects.filter(session=s).count() == 1
    assert x.session.covered_unit == tree.lumiao  # a grid counts for its village
    with pytest.raises(NotFound):  # staff record only at places in their scope
        services.record_session(users.liying_staff, lecturer=x.li, place=tree.xianying_v, held_on=date(2025, 3, 1),
                                audience="youth", topic="党的二十大精神", attendance=10, now=at(2025, 3, 2))


def test_lecturer_records_own_sessions_only(tree, users):
    login = make_user("wang_lecturer", tree.rencheng, "lecturer")
    x = make_lectures(tree, lecturer_login=login)
    s = services.record_session(login, lecturer=x.wang, place=tree.xianying_v, held_on=date(2025, 3, 5),
                                audience="members", topic="乡村振兴", attendance=30, now=at(2025, 3, 5, 20))
    assert s.created_by == login
    with pytest.raises(NotFound):  # someone else's profile: the lecturer's scope is their own records
        services.record_session(login, lecturer=x.li, place=tree.xianying_v, held_on=date(2025, 3, 5),
                                audience="youth", topic="党的二十大精神", attendance=30, now=at(2025, 3, 5, 20))
    with pytest.raises(ServiceError):  # outside the team's district
        services.record_session(login, lecturer=x.wang, place=tree.xuemiao, held_on=date(2025, 3, 5),
                                audience="members", topic="乡村振兴", attendance=30, now=at(2025, 3, 5, 20))
    # The lecturer sees their own sessions and nobody else's.
    mine = set(selectors.sessions(login).values_list("pk", flat=True))
    assert s.pk in mine and x.session.pk in mine
    other = services.record_session(None, lecturer=x.li, place=tree.xianying_v, held_on=date(2025, 3, 6),
                                    audience="youth", topic="党的二十大精神", attendance=5, now=at(2025, 3, 6, 20))
    assert other.pk not in set(selectors.sessions(login).values_list("pk", flat=True))


def test_feedback_once_per_device_and_link_expires(tree, users):
    x = make_lectures(tree)
    tok = x.session.feedback_token
    services.give_feedback(tok, device="dev-a", rating=5, comment="讲得好", now=at(2025, 3, 11))
    services.give_feedback(tok, device="dev-b", rating=3, now=at(2025, 3, 11))
    with pytest.raises(Conflict):
        services.give_feedback(tok, device="dev-a", rating=1, now=at(2025, 3, 12))
    with pytest.raises(ServiceError):
        services.give_feedback(tok, device="dev-c", rating=6, now=at(2025, 3, 12))
    with pytest.raises(NotFound):  # 30 days after the session the link takes no more ratings
        services.give_feedback(tok, device="dev-d", rating=4, now=at(2025, 4, 20))
    with pytest.raises(NotFound):
        services.give_feedback("no-such-token", device="dev-d", rating=4, now=at(2025, 3, 12))
    x.session.refresh_from_db()
    assert x.session.feedback_count == 2 and x.session.rating == 4.0
    assert Feedback.objects.count() == 2
    assert "dev-a" not in set(Feedback.objects.values_list("device", flat=True))  # hashed


def test_coverage_lists_gaps_first_and_is_scoped(tree, users):
    x = make_lectures(tree)
    rows = list(selectors.coverage(users.rencheng_admin, tree.rencheng, start=date(2025, 1, 1),
                                   end=date(2025, 12, 31)))
    assert [(r.name, r.sessions) for r in rows] == [("仙营社区", 0), ("芦庙村", 1)]
    assert rows[1].attendance == 42
    summary = selectors.coverage_summary(users.rencheng_admin, tree.rencheng, start=date(2025, 1, 1),
                                         end=date(2025, 12, 31))
    assert summary["units"] == 2 and summary["covered"] == 1 and summary["rate"] == 50.0
    # Outside the period the session does not count.
    rows = list(selectors.coverage(users.rencheng_admin, tree.rencheng, start=date(2025, 4, 1),
                                   end=date(2025, 12, 31)))
    assert all(r.sessions == 0 for r in rows)
    with pytest.raises(NotFound):
        list(selectors.coverage(users.rencheng_admin, tree.yanzhou, start=date(2025, 1, 1), end=date(2025, 12, 31)))
    services.record_session(None, lecturer=x.li, place=tree.xianying_v, held_on=date(2025, 5, 1),
                            audience="youth", topic="党的二十大精神", attendance=8, now=at(2025, 5, 2))
    values = registry.compute("activities.lecture_coverage", [tree.liying, tree.xianying, tree.yanzhou],
                              start=date(2025, 1, 1), end=date(2026, 1, 1), now=at(2025, 6, 1))
    assert values == {tree.liying.pk: 100.0, tree.xianying.pk: 100.0, tree.yanzhou.pk: 100.0 * 0 / 1}
    att = registry.compute("activities.attendance", [tree.rencheng, tree.city], start=date(2025, 1, 1),
                           end=date(2026, 1, 1), now=at(2025, 6, 1))
    assert att == {tree.rencheng.pk: 50, tree.city.pk: 50}
    rows = registry.SECTIONS["activities.lectures"].figures(tree.city, start=date(2025, 1, 1),
                                                             end=date(2026, 1, 1), now=at(2025, 6, 1))
    by_name = {r["unit_name"]: r for r in rows}
    assert by_name["任城区"]["coverage_rate"] == 100.0 and by_name["兖州区"]["sessions"] == 0


def test_order_match_accept_and_session_closes_it(tree, users):
    login = make_user("wang_lecturer", tree.rencheng, "lecturer")
    x = make_lectures(tree, lecturer_login=login)
    with pytest.raises(ServiceError):  # in the past
        services.create_order(users.lumiao_secretary, unit=tree.lumiao, topic="乡村振兴", audience="villagers",
                              wanted_from=date(2025, 3, 1), wanted_to=date(2025, 3, 30), now=at(2025, 3, 10))
    with pytest.raises(NotFound):
        services.create_order(users.lumiao_secretary, unit=tree.xianying_v, topic="乡村振兴", audience="villagers",
                              wanted_from=date(2025, 4, 1), wanted_to=date(2025, 4, 30), now=at(2025, 3, 10))
    o = services.create_order(users.lumiao_secretary, unit=tree.lumiao, topic="党的二十大精神", audience="members",
                              wanted_from=date(2025, 4, 1), wanted_to=date(2025, 4, 30), now=at(2025, 3, 10))
    assert o.match_by == date(2025, 3, 17)  # five working days
    # Suggested: those with the topic first, then the fewest recent sessions.
    cands = list(selectors.candidates(o, now=at(2025, 3, 11)))
    assert [c.person.name for c in cands][:2] == ["李宣讲", "王宣讲"]
    assert x.zhao.pk in [c.pk for c in cands]  # 李营街道's team serves 芦庙村 too, without the topic
    with pytest.raises(PermissionDenied):
        services.match_order(users.lumiao_secretary, o, lecturer=x.wang, version=o.version)
    with pytest.raises(ServiceError):  # not a candidate: a lecturer of another area
        other = services.create_team(None, unit=tree.yanzhou, name="兖州宣讲团", kind="teacher")
        far = services.add_lecturer(None, other, person=person(tree.xuemiao, "远宣讲"))
        services.match_order(users.rencheng_admin, o, lecturer=far, version=o.version)
    o = services.match_order(users.rencheng_admin, o, lecturer=x.wang, version=o.version, now=at(2025, 3, 11))
    assert o.state == OrderState.MATCHED
    with pytest.raises(PermissionDenied):  # only the matched lecturer accepts
        services.accept_order(users.rencheng_admin, o, version=o.version)
    with pytest.raises(Conflict):
        services.accept_order(login, o, version=o.version - 1)
    o = services.accept_order(login, o, version=o.version, now=at(2025, 3, 12))
    assert o.state == OrderState.ACCEPTED
    services.record_session(login, lecturer=x.wang, place=tree.lumiao, held_on=date(2025, 4, 2), audience="members",
                            topic="党的二十大精神", attendance=25, order=o, now=at(2025, 4, 2, 20))
    o.refresh_from_db()
    assert o.state == OrderState.DONE
    # Nothing left open: the sweep opens nothing for it.
    assert services.open_unmatched_orders(at(2025, 5, 1)) == 0


def test_unmatched_order_opens_one_matter_for_the_district(tree, users):
    make_lectures(tree)
    o = services.create_order(users.lumiao_secretary, unit=tree.lumiao, topic="乡村振兴", audience="villagers",
                              wanted_from=date(2025, 4, 1), wanted_to=date(2025, 4, 30), now=at(2025, 3, 10))
    assert services.open_unmatched_orders(at(2025, 3, 17, 12)) == 0  # the limit day itself is still in time
    assert services.open_unmatched_orders(at(2025, 3, 18, 9)) == 1
    assert services.open_unmatched_orders(at(2025, 3, 18, 10)) == 0
    o.refresh_from_db()
    m = Matter.objects.get(pk=o.matter_id)
    assert m.handling_unit == tree.rencheng and "乡村振兴" in m.title
    assert LectureOrder.objects.filter(matter_id__isnull=False).count() == 1


def test_seed_tells_yanzhous_story_once(tree, users):
    from bihuan.activities.models import Lecturer, LectureTeam
    from bihuan.activities.seed import seed_lectures

    r = seed_lectures("demo", 2022, now=at(2025, 6, 1))
    assert r["teams"] == 4 and r["lecturers"] == 40
    assert LectureTeam.objects.filter(unit=tree.yanzhou).values("kind").distinct().count() == 4
    assert not Lecturer.objects.exclude(person__unit__path__startswith=tree.yanzhou.path).exists()
    assert Session.objects.exclude(place__path__startswith=tree.yanzhou.path).count() == 0
    assert r["lecturer_login"] == "yanzhou_lecturer"
    assert Lecturer.objects.filter(user__username="yanzhou_lecturer").count() == 1
    assert seed_lectures("demo", 2022, now=at(2025, 6, 1))["skipped"]
