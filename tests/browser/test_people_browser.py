"""A grid worker on a phone sees the households of their grid and who looks after each."""

from __future__ import annotations

from datetime import date

import pytest

from bihuan.people import services
from bihuan.people.validators import build_id_number

pytestmark = pytest.mark.browser


@pytest.fixture
def grid_households(transactional_db, users, tree):
    carer = services.create_person(None, unit=tree.lumiao_g1, name="李建国", party_status="formal",
                                   id_number=build_id_number("370811", date(1968, 5, 1), 51))
    for i in range(3):
        head = services.create_person(None, unit=tree.lumiao_g1, name=f"王{'一二三'[i]}爷",
                                      id_number=build_id_number("370811", date(1944, 1, 1 + i), 11),
                                      phone=f"1391234567{i}")
        services.create_household(None, unit=tree.lumiao_g1, address=f"芦庙村{i + 1}号", head=head,
                                  carer=carer if i < 2 else None)
    # Another grid's household must not show.
    other = services.create_person(None, unit=tree.lumiao_g2, name="赵外格",
                                   id_number=build_id_number("370811", date(1950, 1, 1), 11))
    services.create_household(None, unit=tree.lumiao_g2, address="芦庙村99号", head=other)
    return users, tree


def test_grid_worker_sees_their_grid_on_a_phone(log_in, grid_households, live_server):
    users, tree = grid_households
    page = log_in("lumiao_grid")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/people/grids/")
    links = page.locator('[data-testid="grid-link"]')
    assert links.count() == 1 and "芦庙村第一网格" in links.inner_text()
    links.first.click()
    page.wait_for_load_state()
    assert page.locator('[data-testid="grid-title"]').inner_text() == "芦庙村第一网格"
    rows = page.locator('[data-testid="household-row"]')
    assert rows.count() == 3
    text = page.locator('[data-testid="household-table"]').inner_text()
    assert "芦庙村1号" in text and "李建国" in text and "芦庙村99号" not in text
    assert page.locator('[data-testid="carer-list"]').inner_text().count("李建国") == 1
    overflow = page.evaluate("() => document.body.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"grid page overflows by {overflow}px"
    # The household page shows members masked; no full phone anywhere.
    rows.first.locator("a").click()
    page.wait_for_load_state()
    assert "13912345670" not in page.content()
    assert "370811********" in page.locator('[data-testid="member-table"]').inner_text()


def test_export_edit_import_of_people_updates_the_one_changed_person(log_in, grid_households, live_server,
                                                                     settings, tmp_path):
    """Issue 10, item 3: the file the person list exports comes back in through the import page."""
    from openpyxl import load_workbook

    from bihuan.people.models import Person

    settings.MEDIA_ROOT = tmp_path / "media"
    before = {p.pk: (p.address, p.phone_masked, p.id_number_masked) for p in Person.objects.all()}
    page = log_in("liying_staff")
    page.goto(f"{live_server.url}/people/")
    with page.expect_download() as download:
        page.get_by_role("link", name="导出 XLSX").click()
    path = tmp_path / "人员.xlsx"
    download.value.save_as(path)

    wb = load_workbook(path)
    ws = wb.active
    headers = [c.value for c in ws[1]]
    assert "记录标识" in headers
    for r in ws.iter_rows(min_row=2):
        if r[headers.index("姓名")].value == "王二爷":
            assert "*" in r[headers.index("身份证号")].value  # the export is masked
            r[headers.index("住址")].value = "芦庙村新居2号"
    wb.save(path)

    page.goto(f"{live_server.url}/people/")
    page.get_by_role("link", name="导入 XLSX").click()
    page.wait_for_load_state()
    # The page describes this register's file, not the organisation tree's.
    notes = page.locator('[data-testid="import-intro"]').inner_text() + page.locator(
        '[data-testid="import-notes"]').inner_text()
    assert "记录标识" in notes and "脱敏" in notes and "上级代码" not in notes
    page.set_input_files("#id_file", str(path))
    page.click('[data-testid="import-form"] button[type=submit]')
    page.locator('[data-testid="import-counts"]').wait_for()
    assert page.locator('[data-testid="count-invalid"]').inner_text() == "0"
    assert page.locator('[data-testid="count-updated"]').inner_text() == "1"
    assert page.locator('[data-testid="count-created"]').inner_text() == "0"
    page.click('[data-testid="apply"]')
    page.wait_for_load_state()
    page.locator('[data-testid="import-counts"]').wait_for()
    assert "已导入" in page.locator('[data-testid="import-status"]').inner_text()

    after = {p.pk: (p.address, p.phone_masked, p.id_number_masked) for p in Person.objects.all()}
    changed = {pk for pk in before if before[pk] != after[pk]}
    assert [after[pk][0] for pk in changed] == ["芦庙村新居2号"] and len(after) == len(before)
