"""On a phone (390 px): 芦庙村's secretary records a 支部党员大会 — members ticked, an absentee with
the reason, a photo — sees it in the list, and the compliance page shows the branch."""

from __future__ import annotations

import pytest
from django.utils import timezone

from bihuan.activities.models import MeetingAttendance, PartyMeeting
from tests.loop_helpers import PNG

from ..party_helpers import make_party

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_secretary_records_a_meeting_on_a_phone(log_in, live_server, tree, users, tmp_path):
    p = make_party(tree)
    page = log_in("lumiao_secretary")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/activities/party/meetings/")
    assert _overflow(page) <= 0
    page.locator('[data-testid="record-meeting"]').click()
    page.wait_for_load_state()
    form = page.locator('[data-testid="meeting-form"]')  # one branch in scope: its form straight away
    assert _overflow(page) <= 0, "the meeting form is wider than the phone"
    assert "薛党员" not in form.inner_text()  # another branch's member is not offered
    form.locator("#id_kind").select_option("members")
    form.locator("#id_held_on").fill(timezone.localdate().isoformat())
    form.locator("#id_topic").fill("学习党的二十届四中全会精神")
    form.locator("#id_minutes").fill("传达学习，讨论发言。")
    form.locator(f'[data-testid="present-{p.chen.pk}"]').uncheck()
    form.locator(f'[data-testid="reason-{p.chen.pk}"]').fill("外出务工")
    photo = tmp_path / "会场.png"
    photo.write_bytes(PNG)
    form.locator("#photos").set_input_files(str(photo))
    form.locator('[data-testid="meeting-submit"]').click()
    page.wait_for_load_state()
    m = PartyMeeting.objects.get()
    assert (m.kind, m.attendees, m.absentees) == ("members", 2, 1) and m.photos.count() == 1
    assert MeetingAttendance.objects.get(meeting=m, present=False).reason == "外出务工"
    assert "学习党的二十届四中全会精神" in page.locator('[data-testid="meeting-title"]').inner_text()
    assert "外出务工" in page.locator('[data-testid="meeting-attendance"]').inner_text()
    assert _overflow(page) <= 0
    page.goto(f"{live_server.url}/activities/party/compliance/")
    assert "芦庙村党支部" in page.locator('[data-testid="compliance-table"]').inner_text()
    assert _overflow(page) <= 0
