"""Reports pages and API: draft → review and edit → issue → download, on the phone-sized pages
and over /api/v1, with the same refusals as the services."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.urls import reverse
from openpyxl import load_workbook

from bihuan.reports import services
from bihuan.reports.models import Bulletin, BulletinRead
from tests.reports_helpers import NOW, WEEK, make_week

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(tree, users):
    return make_week(tree, users)


def _issued(users, tree, **kw):
    b = services.draft(users.rencheng_admin, template="weekly_loop", unit=tree.rencheng, period=WEEK, now=NOW,
                       paragraphs=["请仙营街道本周内清零超期事项。"], **kw)
    return services.issue(users.rencheng_admin, b, now=NOW)


def test_draft_edit_and_issue_through_the_pages(client, tree, users, week):
    client.force_login(users.rencheng_admin)
    r = client.get(reverse("reports:bulletin_list"))
    assert r.status_code == 200 and 'data-testid="draft-form"' in r.text
    r = client.post(reverse("reports:bulletin_draft"), {"template": "weekly_loop", "unit": tree.rencheng.pk,
                                                        "period": WEEK})
    b = Bulletin.objects.get()
    assert r.status_code == 302 and r["Location"] == reverse("reports:bulletin_detail", args=[b.pk])
    r = client.get(r["Location"])
    assert "李营街道" in r.text and "仙营街道" in r.text and 'data-testid="issue"' in r.text
    r = client.post(reverse("reports:bulletin_text", args=[b.pk]), {"text": "第一段。\n\n第二段。", "version": b.version})
    assert r.status_code == 302
    b.refresh_from_db()
    assert b.paragraphs == ["第一段。", "第二段。"]
    r = client.post(reverse("reports:bulletin_issue", args=[b.pk]), {"version": b.version})
    assert r.status_code == 302
    b.refresh_from_db()
    assert b.number == 1
    detail = reverse("reports:bulletin_detail", args=[b.pk])
    r = client.post(reverse("reports:bulletin_issue", args=[b.pk]), {"version": b.version, "next": detail},
                    follow=True)
    assert "already been issued" in r.text or "已签发" in r.text
    b.refresh_from_db()
    assert b.number == 1
    r = client.get(reverse("reports:bulletin_chart", args=[b.pk]) + "?s=0")
    assert r["Content-Type"] == "image/png" and r.content.startswith(b"\x89PNG")
    assert client.get(reverse("reports:bulletin_chart", args=[b.pk]) + "?s=7").status_code == 404


def test_bad_draft_input_is_refused_with_a_message_and_nothing_written(client, tree, users, week):
    client.force_login(users.rencheng_admin)
    for data in ({"template": "weekly_loop", "unit": tree.rencheng.pk, "period": "2099-W01"},
                 {"template": "weekly_loop", "unit": tree.rencheng.pk, "period": "2026-W45\x01"},
                 {"template": "weekly_loop", "unit": tree.yanzhou.pk, "period": WEEK},
                 {"template": "nope", "unit": tree.rencheng.pk, "period": WEEK},
                 {"template": "weekly_loop", "unit": "9" * 30, "period": WEEK}):
        r = client.post(reverse("reports:bulletin_draft"), data)
        assert r.status_code == 400, data
    assert not Bulletin.objects.exists()


def test_downloads_and_the_township_reads_the_issued_bulletin(client, tree, users, week):
    b = _issued(users, tree)
    client.force_login(users.liying_staff)
    r = client.get(reverse("reports:bulletin_detail", args=[b.pk]))
    assert r.status_code == 200 and "请仙营街道本周内清零超期事项。" in r.text and 'data-testid="issue"' not in r.text
    assert BulletinRead.objects.filter(bulletin=b, unit=tree.liying).exists()
    r = client.get(reverse("reports:bulletin_xlsx", args=[b.pk]))
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.worksheets[0]["B3"].value == "第1期"
    r = client.get(reverse("reports:bulletin_docx", args=[b.pk]))
    assert r.content[:2] == b"PK"
    r = client.get(reverse("reports:bulletin_pdf", args=[b.pk]))
    assert r.content.startswith(b"%PDF")
    client.force_login(users.yanzhou_admin)
    assert client.get(reverse("reports:bulletin_detail", args=[b.pk])).status_code == 404
    assert client.get(reverse("reports:bulletin_pdf", args=[b.pk])).status_code == 404
    client.force_login(users.lumiao_grid)
    assert client.get(reverse("reports:bulletin_detail", args=[b.pk])).status_code == 403


def test_dashboard_page_json_and_home_card(client, tree, users, week):
    cache.clear()
    client.force_login(users.rencheng_admin)
    r = client.get(reverse("reports:dashboard"))
    assert r.status_code == 200 and "任城区" in r.text and 'data-testid="dashboard-children"' in r.text
    assert "李营街道" in r.text and "仙营街道" in r.text
    r = client.get(reverse("reports:dashboard_data") + f"?unit={tree.liying.pk}")
    assert r.json()["unit"]["name"] == "李营街道"
    assert client.get(reverse("reports:dashboard_data") + f"?unit={tree.yanzhou.pk}").status_code == 404
    assert client.get(reverse("reports:dashboard_data") + "?unit=abc").status_code == 404
    r = client.get(reverse("reports:dashboard") + "?part=1", HTTP_HX_REQUEST="true")
    assert "<html" not in r.text and "dashboard-data" in r.text
    r = client.get(reverse("web:home"))
    assert 'data-testid="home-dashboard"' in r.text
    client.force_login(users.lumiao_grid)
    r = client.get(reverse("web:home"))
    assert 'data-testid="home-report"' in r.text and 'data-testid="home-dashboard"' not in r.text


def test_figures_of_any_section_as_chart_and_xlsx(client, tree, users, week):
    client.force_login(users.rencheng_admin)
    url = reverse("reports:figures") + f"?section=loop.metrics&unit={tree.rencheng.pk}&rule=week&period={WEEK}"
    r = client.get(url)
    assert r.status_code == 200 and 'data-testid="figures-table"' in r.text and "仙营街道" in r.text
    r = client.get(url + "&format=xlsx")
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws["A2"].value == "名次" and {ws.cell(row=i, column=2).value for i in (3, 4)} == {"李营街道", "仙营街道"}
    assert client.get(url + "&format=png").content.startswith(b"\x89PNG")
    assert client.get(url.replace(str(tree.rencheng.pk), str(tree.yanzhou.pk))).status_code == 404
    assert client.get(url.replace(WEEK, "2099-W01")).status_code == 400
    assert client.get(url.replace("loop.metrics", "nope.x")).status_code == 400


def test_schedule_page(client, tree, users):
    client.force_login(users.rencheng_admin)
    r = client.post(reverse("reports:schedule_list"), {"template": "weekly_loop", "unit": tree.rencheng.pk,
                                                       "weekday": "0", "hour": 8, "minute": 0, "active": "on"})
    assert r.status_code == 302
    r = client.get(reverse("reports:schedule_list"))
    assert "任城区" in r.text
    r = client.post(reverse("reports:schedule_list"), {"template": "weekly_loop", "unit": tree.rencheng.pk,
                                                       "weekday": "0", "hour": 30, "minute": 0})
    assert r.status_code == 400


def test_api_draft_issue_download_and_dashboard(client, tree, users, week, token_for):
    auth = token_for(users.rencheng_admin)
    r = client.post("/api/v1/bulletins", {"template": "weekly_loop", "unit": tree.rencheng.code, "period": WEEK,
                                          "paragraphs": ["抓紧整改。"]}, content_type="application/json", **auth)
    assert r.status_code == 201, r.content
    bid = r.json()["id"]
    assert r.json()["number"] is None and r.json()["snapshot"]["sections"][0]["name"] == "loop.metrics"
    r = client.post(f"/api/v1/bulletins/{bid}/issue", {}, content_type="application/json", **auth)
    assert r.status_code == 200 and r.json()["number"] == 1
    r = client.post(f"/api/v1/bulletins/{bid}/issue", {}, content_type="application/json", **auth)
    assert r.status_code == 409 and r["Content-Type"].startswith("application/problem+json")
    for ext, magic in (("pdf", b"%PDF"), ("docx", b"PK"), ("xlsx", b"PK")):
        r = client.get(f"/api/v1/bulletins/{bid}.{ext}", **auth)
        assert r.status_code == 200 and r.content.startswith(magic), ext
    r = client.get("/api/v1/bulletins", **auth)
    assert [b["id"] for b in r.json()["items"]] == [bid]
    r = client.get(f"/api/v1/dashboard?unit={tree.rencheng.pk}", **auth)
    assert r.status_code == 200 and {c["unit_name"] for c in r.json()["children"]} == {"李营街道", "仙营街道"}
    bad = [({"template": "weekly_loop", "unit": str(tree.yanzhou.pk), "period": WEEK}, 404),
           ({"template": "weekly_loop", "unit": tree.rencheng.code, "period": "2099-W01"}, 400),
           ({"template": "weekly_loop", "unit": "9" * 30, "period": WEEK}, 422),
           ({"template": "weekly_loop\u0007", "unit": tree.rencheng.code, "period": WEEK}, 422),
           ({"template": "weekly_loop", "unit": tree.rencheng.code, "period": "x" * 100}, 422)]
    for body, status in bad:
        r = client.post("/api/v1/bulletins", body, content_type="application/json", **auth)
        assert r.status_code == status, (body, r.content)
    other = token_for(users.yanzhou_admin)
    assert client.get(f"/api/v1/bulletins/{bid}", **other).status_code == 404
    assert client.get(f"/api/v1/bulletins/{bid}.pdf", **other).status_code == 404
    assert client.get(f"/api/v1/dashboard?unit={tree.rencheng.pk}", **other).status_code == 404
