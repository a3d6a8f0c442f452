"""The notification centre: what each user receives, per-person read state, the unread badge,
and the same over /api/v1/notifications."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bihuan.core.models import AuditEntry
from bihuan.loop import notify, services
from bihuan.loop.models import Notification, NotificationRead

from .conftest import make_user
from .loop_helpers import at, make_categories, new_matter

pytestmark = pytest.mark.django_db


@pytest.fixture
def road(db):
    return make_categories()[0]


@pytest.fixture
def flow(users, tree, road):
    """A matter registered in 芦庙村 (李营街道 is told to dispatch it), then dispatched to 芦庙村."""
    now = at("2026-11-02 09:00")
    m = new_matter(users.lumiao_grid, road, tree.lumiao_g1, now, title="村东头路灯不亮")
    m = services.dispatch(users.liying_staff, m.pk, version=m.version, handling_unit=tree.lumiao,
                          now=at("2026-11-02 10:00"))
    return m


def _badge(client) -> str | None:
    body = client.get(reverse("web:home")).content.decode()
    marker = 'data-testid="unread-count">'
    if marker not in body:
        return None
    return body.split(marker, 1)[1].split("<", 1)[0]


def _titles(r) -> list[str]:
    return [n.title for n in r.context["page"].object_list]


def test_each_user_sees_the_notifications_of_their_own_units(login, users, tree, flow):
    c = login(users.liying_staff)
    r = c.get(reverse("loop:notifications"))
    assert r.status_code == 200
    assert _titles(r) == ["新事项待交办：村东头路灯不亮"]
    c = login(users.lumiao_secretary)
    r = c.get(reverse("loop:notifications"))
    assert len(_titles(r)) == 1 and "村东头路灯不亮" in _titles(r)[0]
    assert r.context["page"].object_list[0].kind == "dispatched"
    body = r.content.decode()
    assert 'data-read="0"' in body and "未读" in body  # unread is highlighted and said in words
    # Above and beside: nothing (a county admin is not bound to the township; nobody has no unit).
    for other in (users.rencheng_admin, users.yanzhou_admin, users.nobody):
        assert _titles(login(other).get(reverse("loop:notifications"))) == []


def test_a_notification_to_one_user_is_theirs_alone(login, users, tree, flow):
    notify.notify(user=users.lumiao_grid, matter=flow, kind="returned", title="请补充照片", now=at("2026-11-03 09:00"))
    assert "请补充照片" in _titles(login(users.lumiao_grid).get(reverse("loop:notifications")))
    assert "请补充照片" not in _titles(login(users.lumiao_secretary).get(reverse("loop:notifications")))


def test_mark_read_is_per_person_and_the_badge_drops(login, users, tree, flow):
    colleague = make_user("liying_staff2", tree.liying, "township_staff")
    c = login(users.liying_staff)
    assert _badge(c) == "1"
    n = Notification.objects.get(unit=tree.liying)
    r = c.post(reverse("loop:notification_read", args=[n.pk]))
    assert r.status_code == 302
    assert _badge(c) is None
    r = c.get(reverse("loop:notifications"))
    assert 'data-read="1"' in r.content.decode() and r.context["unread"] == 0
    assert AuditEntry.objects.filter(action="loop.notification.read", object_id=str(n.pk)).count() == 1
    # Marking again writes nothing more.
    c.post(reverse("loop:notification_read", args=[n.pk]))
    assert NotificationRead.objects.count() == 1
    assert AuditEntry.objects.filter(action="loop.notification.read").count() == 1
    # The colleague at the same township has not read it.
    assert _badge(login(colleague)) == "1"


def test_open_marks_read_and_goes_to_the_matter(login, users, tree, flow):
    c = login(users.lumiao_secretary)
    n = Notification.objects.get(unit=tree.lumiao)
    r = c.post(reverse("loop:notification_read", args=[n.pk]), {"open": "1"})
    assert r.status_code == 302 and r["Location"] == reverse("loop:detail", args=[flow.pk])
    assert notify.unread_count(users.lumiao_secretary) == 0


def test_unread_filter_mark_all_and_new_arrivals(login, users, tree, flow):
    for i in range(3):
        services.remind(users.liying_staff, flow.pk, version=flow.version + i, comment=f"第{i + 1}次催办",
                        now=at(f"2026-11-0{3 + i} 09:00"))
    c = login(users.lumiao_secretary)
    assert _badge(c) == "4"
    first = Notification.objects.filter(unit=tree.lumiao).order_by("id").first()
    c.post(reverse("loop:notification_read", args=[first.pk]))
    r = c.get(reverse("loop:notifications"), {"show": "unread"})
    assert len(_titles(r)) == 3 and first.title not in _titles(r)
    assert [n.kind for n in r.context["page"].object_list] == ["remind"] * 3
    # Newest first.
    times = [n.created_at for n in r.context["page"].object_list]
    assert times == sorted(times, reverse=True)
    r = c.post(reverse("loop:notifications_read_all"), follow=True)
    assert "3 条通知已标为已读" in r.content.decode()
    assert _badge(c) is None
    assert _titles(c.get(reverse("loop:notifications"), {"show": "unread"})) == []
    assert len(_titles(c.get(reverse("loop:notifications")))) == 4  # still listed, as read
    assert NotificationRead.objects.filter(user=users.lumiao_secretary).count() == 0  # one mark, not a row each
    # Something new after "mark all read" is unread again.
    m = services.get_matter(None, flow.pk)
    services.remind(users.liying_staff, m.pk, version=m.version, comment="再催", now=at("2026-11-09 09:00"))
    assert _badge(c) == "1"


def test_someone_elses_notification_cannot_be_marked(login, users, tree, flow):
    n = Notification.objects.get(unit=tree.lumiao)
    c = login(users.liying_staff)
    assert c.post(reverse("loop:notification_read", args=[n.pk])).status_code == 404
    assert c.post(reverse("loop:notification_read", args=[999999])).status_code == 404
    assert not NotificationRead.objects.exists()
    assert notify.unread_count(users.lumiao_secretary) == 1


def test_the_centre_is_paginated(login, users, tree, flow):
    for i in range(30):
        notify.notify(unit=tree.lumiao, matter=flow, kind="remind", title=f"催办 {i:02d}", now=at("2026-11-03 09:00"))
    c = login(users.lumiao_secretary)
    r = c.get(reverse("loop:notifications"))
    assert len(_titles(r)) == 20 and r.context["page"].paginator.num_pages == 2
    assert _titles(r)[0] == "催办 29"
    r2 = c.get(reverse("loop:notifications"), {"page": 2})
    assert len(_titles(r2)) == 11
    assert _badge(c) == "31"


def test_notifications_api(client, users, tree, flow, token_for):
    auth = token_for(users.lumiao_secretary)
    for i in range(3):
        notify.notify(unit=tree.lumiao, matter=flow, kind="remind", title=f"催办 {i}", now=at("2026-11-03 09:00"))
    r = client.get("/api/v1/notifications?limit=2", **auth)
    assert r.status_code == 200
    data = r.json()
    assert data["unread"] == 4 and len(data["items"]) == 2 and data["next_cursor"]
    assert data["items"][0]["title"] == "催办 2" and data["items"][0]["read"] is False
    r2 = client.get(f"/api/v1/notifications?limit=2&cursor={data['next_cursor']}", **auth).json()
    assert [i["title"] for i in r2["items"]] == ["催办 0", "交办给您的事项：村东头路灯不亮"]
    assert r2["next_cursor"] is None and r2["items"][1]["matter_id"] == flow.pk
    nid = data["items"][0]["id"]
    r = client.post(f"/api/v1/notifications/{nid}/read", **auth)
    assert r.status_code == 200 and r.json()["read"] is True
    assert client.get("/api/v1/notifications?unread=true", **auth).json()["unread"] == 3
    r = client.post("/api/v1/notifications/read-all", **auth)
    assert r.json() == {"marked": 3, "unread": 0}
    # Another user's notification is not found.
    other = Notification.objects.get(unit=tree.liying)
    assert client.post(f"/api/v1/notifications/{other.pk}/read", **auth).status_code == 404
