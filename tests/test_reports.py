"""Reports: drafting a bulletin from the registered sections, numbering and issuing it, freezing,
scope, read receipts, the schedule, and the three downloads carrying the same numbers."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.cache import cache
from openpyxl import load_workbook
from PIL import Image

from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry
from bihuan.loop.models import Notification
from bihuan.reports import charts, render, selectors, services
from bihuan.reports.models import Bulletin, BulletinRead
from tests.loop_helpers import at, closed_matter
from tests.reports_helpers import NOW, WEEK, make_week

pytestmark = pytest.mark.django_db


@pytest.fixture
def week(tree, users):
    return make_week(tree, users)


def _draft(users, tree, **kw):
    kw = {"template": "weekly_loop", "unit": tree.rencheng, "period": WEEK, "now": NOW, **kw}
    return services.draft(users.rencheng_admin, **kw)


def _section(b):
    return b.snapshot["sections"][0]


def test_draft_ranks_the_children_and_names_ahead_and_behind(tree, users, week):
    b = _draft(users, tree, paragraphs=["各街道对照黑榜逐项整改。", "下周五前报送整改情况。"])
    sec = _section(b)
    assert sec["name"] == "loop.metrics" and sec["rank_by"] == "on_time_rate"
    rows = {r["unit_name"]: r for r in sec["rows"]}
    assert rows["李营街道"]["values"]["on_time_rate"] == 100.0 and rows["李营街道"]["rank"] == 1
    assert rows["仙营街道"]["values"]["on_time_rate"] == 0.0 and rows["仙营街道"]["rank"] == 2
    assert [u["name"] for u in sec["ahead"]] == ["李营街道"]
    assert [u["name"] for u in sec["behind"]] == ["仙营街道"]
    assert b.paragraphs == ["各街道对照黑榜逐项整改。", "下周五前报送整改情况。"]
    assert b.number is None and b.state == "draft"
    assert "2026年第45周" in b.title and b.title.startswith("任城区")
    assert AuditEntry.objects.filter(action="reports.bulletin.draft", object_id=str(b.pk)).count() == 1


def test_issue_numbers_per_template_unit_and_year_and_twice_is_refused(tree, users, week):
    a = _draft(users, tree)
    b = _draft(users, tree, period="2026-W44")
    services.issue(users.rencheng_admin, b, now=NOW)
    services.issue(users.rencheng_admin, a, now=NOW)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (b.number, a.number) == (1, 2)
    with pytest.raises(Conflict):
        services.issue(users.rencheng_admin, a, now=NOW)
    a.refresh_from_db()
    assert a.number == 2
    # another template and another unit count from 1
    c = services.draft(users.rencheng_admin, template="campaign_daily", unit=tree.rencheng, period="2026-11-02",
                       now=NOW)
    d = services.draft(users.city_admin, template="weekly_loop", unit=tree.city, period=WEEK, now=NOW)
    assert services.issue(users.rencheng_admin, c, now=NOW).number == 1
    assert services.issue(users.city_admin, d, now=NOW).number == 1
    nxt = _draft(users, tree)
    assert services.next_number("weekly_loop", tree.rencheng, 2026) == 3
    assert services.issue(users.rencheng_admin, nxt, now=NOW).number == 3
    assert AuditEntry.objects.filter(action="reports.bulletin.issue").count() == 5


def test_an_issued_bulletin_is_frozen_and_renders_the_same_figures_later(tree, users, week):
    b = services.issue(users.rencheng_admin, _draft(users, tree, paragraphs=["原文"]), now=NOW)
    before = render.xlsx(b)
    with pytest.raises(Conflict):
        services.update_text(users.rencheng_admin, b, paragraphs=["改过"], now=NOW)
    # the data moves on: another matter in 李营街道 in the same week
    road = week
    closed_matter(tree, users, road, at("2026-11-03 09:00"))
    b = Bulletin.objects.get(pk=b.pk)
    assert b.paragraphs == ["原文"]
    assert _cells(render.xlsx(b)) == _cells(before)
    fresh = _draft(users, tree)
    assert {r["unit_name"]: r["values"]["volume"] for r in _section(fresh)["rows"]}["李营街道"] == 2
    # a correction is a new bulletin that references the old
    corr = _draft(users, tree, corrects=b)
    assert corr.corrects_id == b.pk and corr.number is None


def _cells(data: bytes) -> list:
    wb = load_workbook(io.BytesIO(data))
    return [[c.value for c in row] for ws in wb.worksheets for row in ws.iter_rows()]


def test_change_since_the_last_issued_bulletin(tree, users, week):
    services.issue(users.rencheng_admin, _draft(users, tree, period="2026-W44"), now=NOW)
    b = _draft(users, tree)
    rows = {r["unit_name"]: r for r in _section(b)["rows"]}
    assert _section(b)["previous"] is True
    assert rows["李营街道"]["change"] is None  # no matters the week before: no basis


def test_refusals_scope_permission_period_template_and_text(tree, users, week):
    with pytest.raises(NotFound):  # another county's unit: as absent
        services.draft(users.rencheng_admin, template="weekly_loop", unit=tree.yanzhou, period=WEEK, now=NOW)
    with pytest.raises(PermissionDenied):  # a township reads bulletins but does not draft them
        services.draft(users.liying_staff, template="weekly_loop", unit=tree.liying, period=WEEK, now=NOW)
    with pytest.raises(ServiceError) as e:
        _draft(users, tree, period="2026-W50")
    assert "period" in e.value.field_errors and ("future" in str(e.value.message) or "尚未开始" in str(e.value.message))
    for bad in ("2026-11", "2026-W99", "x" * 500, "2026-W45\x00"):
        with pytest.raises(ServiceError) as e:
            _draft(users, tree, period=bad)
        assert "period" in e.value.field_errors
    with pytest.raises(ServiceError) as e:
        _draft(users, tree, template="nope")
    assert "template" in e.value.field_errors
    with pytest.raises(ServiceError):
        _draft(users, tree, paragraphs=["长" * 2001])
    assert not Bulletin.objects.exists()
    b = _draft(users, tree, paragraphs=["a\x07b"])
    assert b.paragraphs == ["ab"]
    with pytest.raises(Conflict):
        services.update_text(users.rencheng_admin, b, paragraphs=["x"], version=b.version + 5, now=NOW)
    b = services.update_text(users.rencheng_admin, b, paragraphs=["新的要求"], version=b.version, now=NOW)
    assert Bulletin.objects.get(pk=b.pk).paragraphs == ["新的要求"]
    with pytest.raises(NotFound):
        services.issue(users.yanzhou_admin, b, now=NOW)


def test_issued_bulletins_are_read_below_drafts_are_not_and_receipts_count_once(tree, users, week):
    b = _draft(users, tree)
    assert not selectors.bulletins(users.liying_staff).exists()
    with pytest.raises(NotFound):
        selectors.get_bulletin(users.liying_staff, b.pk)
    services.issue(users.rencheng_admin, b, now=NOW)
    assert list(selectors.bulletins(users.liying_staff)) == [b]
    assert list(selectors.bulletins(users.lumiao_secretary)) == [b]
    assert not selectors.bulletins(users.yanzhou_admin).exists()
    assert not selectors.bulletins(users.lumiao_grid).exists()  # no reports permission
    services.mark_read(users.lumiao_secretary, b, now=NOW)  # reads for 李营街道
    services.mark_read(users.liying_staff, b, now=NOW)
    reads = {r["unit"].name: r["read"] for r in selectors.reads(b)}
    assert reads["李营街道"].user == users.lumiao_secretary and reads["仙营街道"] is None
    assert BulletinRead.objects.count() == 1


def test_units_named_behind_are_notified(tree, users, week):
    b = services.issue(users.rencheng_admin, _draft(users, tree), now=NOW)
    n = Notification.objects.get(kind="bulletin_behind")
    assert n.unit == tree.xianying and str(b.number) in n.title


def test_the_schedule_drafts_once_per_slot(tree, users, week):
    services.set_schedule(users.rencheng_admin, template="weekly_loop", unit=tree.rencheng, weekday=0, hour=8,
                          minute=0, now=NOW)
    assert services.produce_due(at("2026-11-09 07:59")) == 0  # Monday 2 November's slot is a week old
    assert services.produce_due(at("2026-11-09 08:01")) == 1  # Monday 9 November 08:00
    assert services.produce_due(at("2026-11-09 08:06")) == 0  # a retried or overlapping run
    b = Bulletin.objects.order_by("-slot").first()
    assert b.period_key == "2026-W45" and b.state == "draft" and b.created_by is None
    assert services.produce_due(at("2026-11-11 08:00")) == 0  # more than a day after the slot
    with pytest.raises(ServiceError):
        services.set_schedule(users.rencheng_admin, template="weekly_loop", unit=tree.rencheng, weekday=9, hour=8)
    with pytest.raises(NotFound):
        services.set_schedule(users.rencheng_admin, template="weekly_loop", unit=tree.yanzhou, weekday=0, hour=8)


def test_pdf_docx_xlsx_carry_the_same_numbers_and_chinese(tree, users, week):
    b = services.issue(users.rencheng_admin, _draft(users, tree, paragraphs=["要求一"]), now=NOW)
    pdf = render.pdf(b, compress=False)
    assert pdf.startswith(b"%PDF") and b"/FontFile" in pdf and b"NotoS" in pdf
    # the Chinese is text, not boxes: the embedded fonts map glyphs back to these characters
    for ch in "红榜李营街道仙营第期":
        assert f"<{ord(ch):04x}>".encode() in pdf.lower() or f"{ord(ch):04x}".encode() in pdf.lower(), ch
    from docx import Document

    doc = Document(io.BytesIO(render.docx(b)))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "第1期" in text and "红榜：李营街道" in text and "黑榜（后进）：仙营街道" in text and "要求一" in text
    cells = [c.text for row in doc.tables[0].rows for c in row.cells]
    assert "李营街道" in cells and "100%" in cells
    assert len(doc.inline_shapes) == 1
    with zipfile.ZipFile(io.BytesIO(render.docx(b))) as z:
        assert z.testzip() is None and any(n.startswith("word/media/") for n in z.namelist())
    wb = load_workbook(io.BytesIO(render.xlsx(b)))
    ws = wb.worksheets[1]
    head = [c.value for c in ws[1]]
    assert head[:2] == ["名次", "单位"] and "按期办结率（%）" in head
    row = {r[1]: r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] not in (None, "红榜", "黑榜")}
    assert row["李营街道"][head.index("按期办结率（%）")] == "100%"
    assert wb.worksheets[0]["B3"].value == "第1期"


def test_chart_is_a_png_with_bounded_bars_and_a_missing_font_is_reported(tree, users, week):
    png = charts.bar_chart("按期办结率", [f"村{i}" for i in range(200)], list(range(200)), "%")
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.height <= charts.TOP + charts.ROW * charts.MAX_BARS + 30
    assert charts.bar_chart("t", ["a"], [1.5]) == charts.bar_chart("t", ["a"], [1.5])
    b = services.issue(users.rencheng_admin, _draft(users, tree), now=NOW)
    with pytest.raises(charts.ChartError, match="font"):
        charts.section_chart(_section(b), font_path="/nonexistent/font.ttc")
    b.refresh_from_db()
    assert b.number == 1


def test_dashboard_figures_headline_children_and_trend(tree, users, week):
    cache.clear()
    d = selectors.dashboard(tree.rencheng, NOW)
    names = [c["unit_name"] for c in d["children"]]
    assert names == ["李营街道", "仙营街道"] or set(names) == {"李营街道", "仙营街道"}
    lights = {c["unit_name"]: c["light"] for c in d["children"]}
    assert lights["仙营街道"] == "red" and lights["李营街道"] == "green"
    assert any(h["section"] == "loop.metrics" for h in d["headline"])
    assert len(d["trend"]["weeks"]) == 12
    with pytest.raises(NotFound):
        selectors.unit_for(users.rencheng_admin, tree.yanzhou.pk)
    assert selectors.unit_for(users.rencheng_admin, None) == tree.rencheng


def test_cli_drafts_and_renders(tree, users, week, tmp_path):
    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command("bulletin", "draft", "weekly_loop", "--unit", tree.rencheng.code, "--period", WEEK,
                 "--now", "2026-11-12T09:00:00+08:00", stdout=out)
    bid = int(out.getvalue().split("\t")[0])
    target = tmp_path / "b.xlsx"
    call_command("bulletin", "render", str(bid), "--format", "xlsx", "--out", str(target), stdout=io.StringIO())
    assert load_workbook(target).worksheets[0]["B1"].value == "任城区"
    with pytest.raises(CommandError, match="future|尚未开始"):
        call_command("bulletin", "draft", "weekly_loop", "--unit", str(tree.rencheng.pk), "--period", "2026-W50",
                     "--now", "2026-11-12T09:00:00+08:00")
