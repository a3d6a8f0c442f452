"""The loop's web pages through the Django test client: each page as the right user, refusals
that change nothing, the stale-version message, the public demand form, status page, rating and
throttling."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bihuan.loop import services
from bihuan.loop.models import Category, Kind, Matter, MatterEvent, Notification, Rating, Source, State
from bihuan.orgs import services as org_services
from bihuan.orgs.models import Level

from .loop_helpers import PNG, make_categories

pytestmark = pytest.mark.django_db

PHONE = "13812345678"


@pytest.fixture
def cats(db):
    road, water = make_categories()
    water.open311_code = "water"
    water.save()
    return road, water


def _new(user, cat, unit, title="路面破损", **kw):
    return services.create_matter(user, category=cat, location_unit=unit, title=title,
                                  description="村东头路面有坑，雨天积水。", reporter_name="张三",
                                  reporter_phone=PHONE, **kw)


def _act(client, m, action, **data):
    data.setdefault("version", Matter.objects.get(pk=m.pk).version)
    return client.post(reverse("loop:act", args=[m.pk, action]), data)


def _state(m):
    return Matter.objects.get(pk=m.pk)


# --- inbox --------------------------------------------------------------------------------------

def test_inbox_tabs_counts_and_light_as_text(login, users, tree, cats):
    road, _ = cats
    m = _new(users.lumiao_grid, road, tree.lumiao_g1)
    c = login(users.liying_staff)
    r = c.get(reverse("loop:inbox"))
    assert r.status_code == 200
    body = r.content.decode()
    for label in ("待交办", "待签收", "办理中", "即将超期", "已超期", "待评估", "已办结"):
        assert label in body
    assert r.context["tab"] == "to_dispatch"
    assert [x.pk for x in r.context["page"].object_list] == [m.pk]
    assert dict((t, n) for t, _, n in r.context["tabs"])["to_dispatch"] == 1
    assert 'data-light="green"' in body and "按时" in body  # the light has a word, not only a colour
    for tab in ("to_accept", "in_progress", "due_soon", "overdue", "to_evaluate", "closed"):
        r = c.get(reverse("loop:inbox"), {"tab": tab})
        assert r.status_code == 200 and m.title not in r.content.decode().split('data-testid="matter-table"')[1]
    assert c.get(reverse("loop:inbox"), {"tab": "nonsense"}).status_code == 404


def test_inbox_closed_count_is_capped_and_says_so(login, users, tree, cats, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from bihuan.loop import selectors

    from .loop_helpers import closed_matter

    road, _ = cats
    done = [closed_matter(tree, users, road, timezone.now() - timedelta(days=3)) for _ in range(3)]
    c = login(users.liying_staff)
    r = c.get(reverse("loop:inbox"), {"tab": "closed"})  # under the cap: the exact count, no note
    assert dict((t, n) for t, _, n in r.context["tabs"])["closed"] == 3
    assert 'data-testid="closed-capped"' not in r.content.decode()
    monkeypatch.setattr(selectors, "CLOSED_COUNT_CAP", 2)
    r = c.get(reverse("loop:inbox"), {"tab": "closed"})
    body = r.content.decode()
    assert dict((t, n) for t, _, n in r.context["tabs"])["closed"] == "2+"
    assert 'data-testid="count-closed" title="最多计数到 2">2+</span>' in body
    assert 'data-testid="closed-capped"' in body and "已办结事项超过 2 件" in body
    # The two most recently closed are listed, on one page.
    assert [m.pk for m in r.context["page"].object_list] == [m.pk for m in done[::-1][:2]]
    assert r.context["page"].paginator.num_pages == 1
    # A filter narrows the list, and the note goes when it is under the cap.
    r = c.get(reverse("loop:inbox"), {"tab": "closed", "q": "不存在"})
    assert not r.context["page"].object_list and 'data-testid="closed-capped"' not in r.content.decode()
    assert dict((t, n) for t, _, n in r.context["tabs"])["closed"] == "2+"


def test_inbox_refused_without_permission_and_empty_for_other_subtree(login, users, tree, cats):
    road, _ = cats
    _new(users.lumiao_grid, road, tree.lumiao_g1)
    assert login(users.nobody).get(reverse("loop:inbox")).status_code == 403
    r = login(users.yanzhou_admin).get(reverse("loop:inbox"))
    assert r.status_code == 200 and not r.context["page"].object_list
    assert "路面破损" not in r.content.decode()


# --- report -------------------------------------------------------------------------------------

def test_grid_worker_reports_with_a_photo_and_the_township_sees_it(login, users, tree, cats):
    road, _ = cats
    c = login(users.lumiao_grid)
    r = c.get(reverse("loop:report"))
    assert r.status_code == 200
    assert r.context["form"].initial["location"] == tree.lumiao_g1.pk
    assert list(r.context["form"].fields["location"].queryset) == [tree.lumiao_g1]
    photo = SimpleUploadedFile("坑.png", PNG, content_type="image/png")
    r = c.post(reverse("loop:report"), {"category": road.pk, "location": tree.lumiao_g1.pk,
                                        "description": "桥头路面塌陷，约一米宽。", "photos": photo})
    assert r.status_code == 302
    m = Matter.objects.get()
    assert r["Location"] == reverse("loop:detail", args=[m.pk])
    assert m.title.startswith("道路破损：桥头路面塌陷") and m.created_by == users.lumiao_grid
    assert m.location_unit == tree.lumiao_g1 and m.dispatch_unit == tree.liying and m.state == State.NEW
    att = m.attachments.get()
    assert att.name == "坑.png"
    # The photo downloads for the reporter, and not for another subtree.
    r = c.get(reverse("loop:attachment", args=[m.pk, att.pk]))
    assert r.status_code == 200 and b"".join(r.streaming_content) == PNG
    assert login(users.yanzhou_admin).get(reverse("loop:attachment", args=[m.pk, att.pk])).status_code == 404
    r = login(users.liying_staff).get(reverse("loop:inbox"))
    assert [x.pk for x in r.context["page"].object_list] == [m.pk]


def test_report_refused_for_bad_input_and_nothing_is_created(login, users, tree, cats):
    road, _ = cats
    c = login(users.lumiao_grid)
    bad = SimpleUploadedFile("x.exe", b"MZ\x90\x00", content_type="application/octet-stream")
    r = c.post(reverse("loop:report"), {"category": road.pk, "location": tree.lumiao_g1.pk,
                                        "description": "有问题", "photos": bad})
    assert r.status_code == 400 and "JPEG" in r.content.decode()
    r = c.post(reverse("loop:report"), {"category": road.pk, "location": tree.lumiao_g1.pk, "description": ""})
    assert r.status_code == 400 and r.context["form"].errors["description"]
    # A place outside the worker's grid is not even offered.
    r = c.post(reverse("loop:report"), {"category": road.pk, "location": tree.xuemiao.pk, "description": "x"})
    assert r.status_code == 400 and r.context["form"].errors["location"]
    r = c.post(reverse("loop:report"), {"category": road.pk, "location": tree.lumiao_g1.pk,
                                        "description": "长" * 5001})
    assert r.status_code == 400
    assert Matter.objects.count() == 0
    assert login(users.nobody).get(reverse("loop:report")).status_code == 403


# --- detail and actions -------------------------------------------------------------------------

def test_detail_shows_timeline_suggestion_similar_and_the_right_actions(login, users, tree, cats):
    road, _ = cats
    old = _new(users.lumiao_grid, road, tree.lumiao_g1, title="去年路面")
    m = _new(users.lumiao_grid, road, tree.lumiao_g1)
    r = login(users.liying_staff).get(reverse("loop:detail", args=[m.pk]))
    assert r.status_code == 200
    body = r.content.decode()
    assert [a for a, *_ in r.context["forms"]] == ["dispatch", "flag", "merge"]
    assert r.context["suggestion"] == tree.liying
    assert [s.pk for s in r.context["similar"]] == [old.pk]
    assert 'data-testid="event"' in body and "138****5678" in body and PHONE not in body
    assert f'name="version" value="{m.version}"' in body
    # The grid worker sees the matter but may do nothing with it.
    r = login(users.lumiao_grid).get(reverse("loop:detail", args=[m.pk]))
    assert r.status_code == 200 and r.context["forms"] == []
    assert login(users.yanzhou_admin).get(reverse("loop:detail", args=[m.pk])).status_code == 404


def test_the_whole_loop_through_the_pages(login, users, tree, cats):
    road, _ = cats
    m = _new(users.lumiao_grid, road, tree.lumiao_g1)
    c = login(users.liying_staff)
    r = _act(c, m, "dispatch", handling_unit=tree.lumiao.pk, comment="请尽快处理")
    assert r.status_code == 302, r.content.decode()[:2000]
    assert _state(m).state == State.DISPATCHED and _state(m).handling_unit == tree.lumiao
    c = login(users.lumiao_secretary)
    r = c.get(reverse("loop:inbox"), {"tab": "to_accept"})
    assert [x.pk for x in r.context["page"].object_list] == [m.pk]
    assert _act(c, m, "accept").status_code == 302
    evidence = SimpleUploadedFile("修复后.png", PNG, content_type="image/png")
    assert _act(c, m, "report_done", comment="已修复", photos=evidence).status_code == 302
    assert _state(m).state == State.REPORTED
    assert MatterEvent.objects.get(matter=m, action="report_done").attachments.count() == 1
    c = login(users.liying_staff)
    r = c.get(reverse("loop:inbox"), {"tab": "to_evaluate"})
    assert [x.pk for x in r.context["page"].object_list] == [m.pk]
    assert _act(c, m, "evaluate", passed="pass").status_code == 302
    assert _state(m).state == State.CLOSED
    assert _act(c, m, "rate", satisfaction="satisfied", resolved="yes").status_code == 302
    assert Rating.objects.get(matter=m).satisfaction == "satisfied"
    r = c.get(reverse("loop:detail", args=[m.pk]))
    assert "rate" not in [a for a, *_ in r.context["forms"]]  # rated once per round
    assert [e.seq for e in MatterEvent.objects.filter(matter=m)] == list(range(1, _state(m).version + 1))


def test_refusals_change_nothing(login, users, tree, cats):
    road, _ = cats
    m = _new(users.lumiao_grid, road, tree.lumiao_g1)
    before = _state(m).version
    # The grid worker may not dispatch: refused with a message, nothing changes.
    r = _act(login(users.lumiao_grid), m, "dispatch", handling_unit=tree.lumiao.pk)
    assert r.status_code == 403 and r.context["refused"]
    # Out of order: accepting a matter nobody dispatched.
    r = _act(login(users.lumiao_secretary), m, "accept")
    assert r.status_code == 400 and 'data-testid="refused"' in r.content.decode()
    assert "待交办" in r.context["refused"] and _state(m).version == before
    # A send-back without its reason fails validation.
    c = login(users.liying_staff)
    _act(c, m, "dispatch", handling_unit=tree.lumiao.pk)
    v = _state(m).version
    r = _act(login(users.lumiao_secretary), m, "send_back", reason="")
    assert r.status_code == 400 and r.context["open_action"] == "send_back"
    assert _state(m).version == v
    # Another subtree gets 404 for the matter and for its actions.
    assert _act(login(users.yanzhou_admin), m, "accept", version=v).status_code == 404
    assert login(users.liying_staff).get(reverse("loop:act", args=[m.pk, "accept"])).status_code == 405
    assert _state(m).version == v and v == before + 1


def test_stale_version_says_someone_else_changed_it(login, users, tree, cats):
    road, _ = cats
    m = _new(users.lumiao_grid, road, tree.lumiao_g1)
    c = login(users.liying_staff)
    seen = m.version
    services.flag(users.liying_staff, m.pk, version=seen, comment="先督办")  # someone else, meanwhile
    r = _act(c, m, "dispatch", version=seen, handling_unit=tree.lumiao.pk)
    assert r.status_code == 409
    assert 'data-testid="stale-version"' in r.content.decode()
    fresh = _state(m)
    assert fresh.state == State.NEW and fresh.handling_unit is None and fresh.version == seen + 1
    assert f'name="version" value="{fresh.version}"' in r.content.decode()


def test_merge_duplicates_and_similar_sweep(login, users, tree, cats):
    road, _ = cats
    other = org_services.create_unit(None, parent=tree.liying, level=Level.VILLAGE, code="370811008202",
                                     name="前营村")
    a = _new(users.lumiao_grid, road, tree.lumiao_g1)
    b = _new(users.lumiao_grid, road, tree.lumiao_g1, title="同一个坑")
    c = login(users.liying_staff)
    r = _act(c, b, "merge", into=a.pk)
    assert r.status_code == 302 and _state(b).state == State.MERGED and _state(b).merged_into_id == a.pk
    assert _act(c, a, "merge", into=a.pk).status_code == 400  # not into itself
    for action, data in [("dispatch", {"handling_unit": tree.lumiao.pk})]:
        _act(c, a, action, **data)
    s = login(users.lumiao_secretary)
    _act(s, a, "accept")
    _act(s, a, "report_done", comment="修好了")
    _act(login(users.liying_staff), a, "evaluate", passed="pass")
    assert _state(b).state == State.CLOSED  # duplicates close together
    r = _act(login(users.liying_staff), a, "similar_sweep")
    assert r.status_code == 302
    tasks = Matter.objects.filter(origin=a)
    assert [t.location_unit for t in tasks] == [other]
    assert tasks.get().kind == Kind.TASK and tasks.get().state == State.DISPATCHED
    # The grid worker may not start one.
    assert "similar_sweep" not in [x for x, *_ in login(users.lumiao_grid).get(
        reverse("loop:detail", args=[a.pk])).context["forms"]]


# --- supervision --------------------------------------------------------------------------------

def _overdue(users, tree, cat):
    from datetime import timedelta

    from django.utils import timezone

    past = timezone.now() - timedelta(days=60)
    m = services.create_matter(users.lumiao_grid, category=cat, location_unit=tree.lumiao_g1, title="老问题",
                               description="拖了很久", now=past)
    services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao, now=past)
    return m


def test_board_by_child_unit_with_drill_down(login, users, tree, cats):
    road, _ = cats
    m = _overdue(users, tree, road)
    services.flag(users.liying_staff, m.pk, version=_state(m).version)
    c = login(users.rencheng_admin)
    r = c.get(reverse("loop:board"))
    assert r.status_code == 200 and r.context["unit"] == tree.rencheng
    rows = {row["unit_name"]: row for row in r.context["rows"]}
    assert rows["李营街道"]["red"] == 1 and rows["李营街道"]["flagged"] == 1 and rows["仙营街道"]["open"] == 0
    assert [x.pk for x in r.context["page"].object_list] == [m.pk]
    r = c.get(reverse("loop:board_unit", args=[tree.liying.pk]))
    assert r.status_code == 200
    assert {row["unit_name"]: row["red"] for row in r.context["rows"]}["芦庙村"] == 1
    assert [u.name for u in r.context["crumbs"]] == ["任城区"]
    assert c.get(reverse("loop:board_unit", args=[tree.xuemiao.pk])).status_code == 404
    assert login(users.nobody).get(reverse("loop:board")).status_code == 403


def test_backlog_reaches_zero_when_all_is_done(login, users, tree, cats):
    road, _ = cats
    m = _overdue(users, tree, road)
    c = login(users.liying_staff)
    r = c.get(reverse("loop:backlog"))
    assert r.status_code == 200 and r.context["total"] == 1 and r.context["by_light"]["red"] == 1
    assert dict((a, cells) for a, cells, _ in r.context["grid"])["31-90"]["red"] == 1
    assert 'id="backlog-data"' in r.content.decode() and "<script>" not in r.content.decode()
    m = services.accept(users.lumiao_secretary, m.pk, version=_state(m).version)
    m = services.report_done(users.lumiao_secretary, m.pk, version=m.version, comment="完成")
    services.evaluate(users.liying_staff, m.pk, version=m.version, passed=True)
    r = c.get(reverse("loop:backlog"))
    assert r.context["total"] == 0 and 'data-testid="cleared"' in r.content.decode()
    assert c.get(reverse("loop:backlog_unit", args=[tree.xuemiao.pk])).status_code == 404


def test_hotspots_and_one_click_proactive_matter(login, users, tree, cats):
    road, _ = cats
    for i in range(3):
        _new(users.lumiao_grid, road, tree.lumiao_g1, title=f"路面{i}")
    c = login(users.liying_staff)
    r = c.get(reverse("loop:hotspots"))
    assert r.status_code == 200
    (row,) = r.context["rows"]
    assert (row["unit_name"], row["count"], row["proactive_id"]) == ("芦庙村第一网格", 3, None)
    # The grid worker sees hotspots of their grid but may not open a proactive matter.
    r = login(users.lumiao_grid).post(reverse("loop:proactive"), {"category": road.pk, "unit": tree.lumiao_g1.pk})
    assert r.status_code == 403
    r = login(users.yanzhou_admin).post(reverse("loop:proactive"), {"category": road.pk, "unit": tree.lumiao_g1.pk})
    assert r.status_code in (403, 404)
    assert not Matter.objects.filter(source=Source.PROACTIVE).exists()
    r = login(users.liying_staff).post(reverse("loop:proactive"), {"category": road.pk, "unit": tree.lumiao_g1.pk})
    p = Matter.objects.get(source=Source.PROACTIVE)
    assert r.status_code == 302 and r["Location"] == reverse("loop:detail", args=[p.pk])
    assert p.location_unit == tree.lumiao_g1 and p.state == State.NEW
    r = c.get(reverse("loop:hotspots"))
    assert r.context["rows"][0]["proactive_id"] == p.pk


def test_nav_shows_loop_entries_by_permission(login, users, tree):
    body = login(users.lumiao_grid).get(reverse("web:home")).content.decode()
    assert 'data-testid="nav-matters"' in body and 'data-testid="nav-report"' in body
    assert 'data-testid="nav-board"' not in body
    body = login(users.liying_staff).get(reverse("web:home")).content.decode()
    assert 'data-testid="nav-board"' in body
    body = login(users.nobody).get(reverse("web:home")).content.decode()
    assert 'data-testid="nav-matters"' not in body


# --- public demand form, status, rating -----------------------------------------------------

def _submit(client, cat, place="芦庙村", **extra):
    data = {"category": cat.pk, "place": place, "description": "我家门口自来水停了三天，联系电话13900001111。",
            "name": "王小明", "phone": "13900001111", **extra}
    return client.post(reverse("loop:demand_form"), data)


def test_public_demand_without_an_account(client, users, tree, cats):
    _, water = cats
    r = client.get(reverse("loop:demand_form"))
    assert r.status_code == 200
    assert list(r.context["form"].fields["category"].queryset) == [water]  # only published categories
    r = _submit(client, water)
    m = Matter.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("loop:demand_status", args=[m.public_token])
    assert (m.kind, m.source, m.location_unit, m.dispatch_unit) == (Kind.DEMAND, Source.PUBLIC, tree.lumiao,
                                                                    tree.liying)
    assert m.reporter_phone_masked == "139****1111" and m.created_by is None
    assert Notification.objects.filter(unit=tree.liying, matter=m).exists()
    r = client.get(r["Location"])
    body = r.content.decode()
    assert r.status_code == 200 and r["Referrer-Policy"] == "same-origin"
    assert "13900001111" not in body and "139****1111" in body and "王小明" not in body and "王**" in body
    assert m.public_token in r.context["request"].build_absolute_uri()
    assert r.context["public_state"] == "open" and not r.context["can_rate"]
    # The township sees it in its inbox.
    from django.test import Client

    staff = Client()
    staff.force_login(users.liying_staff)
    r = staff.get(reverse("loop:inbox"))
    assert [x.pk for x in r.context["page"].object_list] == [m.pk]


def test_public_status_shows_nothing_of_others_and_no_staff_matter(client, users, tree, cats):
    road, water = cats
    staff_matter = _new(users.lumiao_grid, road, tree.lumiao_g1)
    assert client.get(reverse("loop:demand_status", args=[staff_matter.public_token])).status_code == 404
    assert client.get(reverse("loop:demand_status", args=["no-such-token"])).status_code == 404
    _submit(client, water)
    m = Matter.objects.get(source=Source.PUBLIC)
    services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao,
                      comment="请联系张三13812345678")
    r = client.get(reverse("loop:demand_status", args=[m.public_token]))
    body = r.content.decode()
    assert "芦庙村" in body and "liying_staff" not in body and "13812345678" not in body and "张三" not in body
    assert [s.label for s in r.context["steps"]][:2] == ["已受理", "已转交办理单位"]


def test_place_that_is_ambiguous_is_chosen_from_a_list(client, users, tree, cats):
    _, water = cats
    twin = org_services.create_unit(None, parent=tree.longqiao, level=Level.VILLAGE, code="370812002009",
                                    name="芦庙村")
    r = _submit(client, water)
    assert r.status_code == 400 and not Matter.objects.exists()
    choices = dict(r.context["form"].fields["place_choice"].choices)
    assert str(twin.pk) in choices and str(tree.lumiao.pk) in choices
    r = _submit(client, water, place_choice=str(twin.pk))
    assert r.status_code == 302 and Matter.objects.get().location_unit == twin
    r = _submit(client, water, place="不存在的地方")
    assert r.status_code == 400 and r.context["form"].errors["place"]


def test_rating_after_closure_only_and_dissatisfied_reaches_the_township(client, users, tree, cats):
    _, water = cats
    _submit(client, water)
    m = Matter.objects.get()
    url = reverse("loop:demand_rate", args=[m.public_token])
    r = client.post(url, {"satisfaction": "satisfied", "resolved": "yes"})
    assert r.status_code == 400 and not Rating.objects.exists()  # not closed yet
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao)
    m = services.accept(users.lumiao_secretary, m.pk, version=m.version)
    m = services.report_done(users.lumiao_secretary, m.pk, version=m.version, comment="已恢复供水")
    services.evaluate(users.liying_staff, m.pk, version=m.version, passed=True)
    r = client.get(reverse("loop:demand_status", args=[m.public_token]))
    assert r.context["can_rate"] and r.context["public_state"] == "closed"
    r = client.post(url, {"satisfaction": "dissatisfied", "resolved": "no", "comment": "水压还是很低"})
    assert r.status_code == 302
    rating = Rating.objects.get()
    assert (rating.satisfaction, rating.resolved, rating.by_resident) == ("dissatisfied", False, True)
    assert Notification.objects.filter(matter=m, kind="dissatisfied", unit=tree.liying).exists()
    r = client.post(url, {"satisfaction": "satisfied", "resolved": "yes"})
    assert r.status_code in (302, 400) and Rating.objects.count() == 1  # once per round
    # The township reopens it from the matter page.
    staff = login_client(users.liying_staff)
    r = staff.get(reverse("loop:detail", args=[m.pk]))
    assert "reopen" in [a for a, *_ in r.context["forms"]]
    r = _act(staff, m, "reopen", reason="居民不满意，重新办理")
    assert r.status_code == 302 and _state(m).state == State.IN_PROGRESS


def login_client(user):
    from django.test import Client

    c = Client()
    c.force_login(user)
    return c


def test_public_submissions_are_throttled_per_address(client, users, tree, cats, settings):
    _, water = cats
    settings.BIHUAN_PUBLIC_SUBMITS_PER_HOUR = 2
    assert _submit(client, water).status_code == 302
    assert _submit(client, water).status_code == 302
    r = _submit(client, water)
    assert r.status_code == 429 and 'data-testid="throttled"' in r.content.decode()
    assert Matter.objects.count() == 2
    # Another address is not affected.
    r = client.post(reverse("loop:demand_form"), {"category": water.pk, "place": "芦庙村", "description": "路灯不亮"},
                    REMOTE_ADDR="10.9.8.7")
    assert r.status_code == 302 and Matter.objects.count() == 3


def test_public_form_refuses_bad_input(client, tree, cats):
    _, water = cats
    r = _submit(client, water, phone="abc")
    assert r.status_code == 400 and r.context["form"].errors.get("phone")
    r = _submit(client, water, description="")
    assert r.status_code == 400
    inactive = Category.objects.create(code="hidden", name="内部类别", kind="problem")
    r = _submit(client, inactive)
    assert r.status_code == 400 and r.context["form"].errors["category"]
    assert not Matter.objects.exists()
