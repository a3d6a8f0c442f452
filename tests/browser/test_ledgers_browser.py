"""On a phone: a village secretary opens the cooperatives register, adds an entry (a bad value is
refused on the form first), sees it in the list and the summary, and edits it; the history shows who."""

from __future__ import annotations

import pytest

from bihuan.ledgers.models import Entry

from ..ledgers_helpers import load

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture
def regs(transactional_db, tree, users):
    return load()


def test_secretary_fills_a_register_on_a_phone(browser, log_in, live_server, tree, users, regs):
    page = log_in("lumiao_secretary")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/ledgers/")
    assert _overflow(page) <= 0, "the register list is wider than the phone"
    page.get_by_role("link", name="党组织领办合作社").click()
    page.wait_for_load_state()
    assert _overflow(page) <= 0, "the register page is wider than the phone"
    page.locator('[data-testid="entry-create"]').click()
    page.wait_for_load_state()
    form = page.locator('[data-testid="entry-form"]')
    form.locator('input[name="name"]').fill("芦庙果蔬专业合作社")
    form.locator('select[name="kind"]').select_option("种植")
    form.locator('input[name="members"]').fill("-3")
    form.locator('[data-testid="entry-save"]').click()
    page.wait_for_load_state()
    assert page.locator('[data-testid="field-error-members"]').is_visible()
    assert not Entry.objects.exists()
    page.locator('input[name="members"]').fill("128")
    page.locator('input[name="revenue"]').fill("356000")
    page.locator('[data-testid="entry-save"]').click()
    page.wait_for_load_state()
    assert "芦庙果蔬专业合作社" in page.locator('[data-testid="entry-table"]').inner_text()
    assert page.locator('[data-testid="summary-total"]').inner_text().strip() == "1"
    page.wait_for_selector('#ledger-chart[data-ready="1"]')
    assert _overflow(page) <= 0

    page.locator('[data-testid="entry-row"]').first.get_by_role("link").click()
    page.wait_for_load_state()
    page.locator('input[name="members"]').fill("130")
    page.locator('[data-testid="entry-save"]').click()
    page.wait_for_load_state()
    history = page.locator('[data-testid="entry-history"]').inner_text()
    assert "128 → 130" in history and "lumiao_secretary" in history
    assert Entry.objects.get().data["members"] == 130
    assert _overflow(page) <= 0


def test_admin_adds_a_field_on_a_phone_and_it_is_in_the_entry_form(browser, log_in, live_server, tree, users, regs,
                                                                      tmp_path):
    page = log_in("city_admin")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/ledgers/r/cooperatives/")
    page.locator('[data-testid="register-fields"]').click()
    page.wait_for_load_state()
    assert _overflow(page) <= 0, "the field builder is wider than the phone"
    form = page.locator('[data-testid="field-form"]')
    form.locator('input[name="key"]').fill("charter")
    form.locator('input[name="label"]').fill("合作社章程")
    form.locator('select[name="type"]').select_option("file")
    form.locator('[data-testid="field-add"]').click()
    page.wait_for_load_state()
    assert "合作社章程" in page.locator('[data-testid="builder-fields"]').inner_text()
    form = page.locator('[data-testid="field-form"]')
    form.locator('input[name="key"]').fill("grade")
    form.locator('input[name="label"]').fill("星级")
    form.locator('select[name="type"]').select_option("choice")
    form.locator('textarea[name="choices"]').fill("一星\n二星")
    form.locator('[data-testid="field-add"]').click()
    page.wait_for_load_state()
    assert "星级" in page.locator('[data-testid="builder-fields"]').inner_text()
    assert _overflow(page) <= 0

    page.goto(f"{live_server.url}/ledgers/r/cooperatives/new/")
    form = page.locator('[data-testid="entry-form"]')
    assert form.locator('select[name="grade"]').is_visible()
    form.locator('select[name="unit"]').select_option(str(tree.lumiao.pk))
    form.locator('input[name="name"]').fill("芦庙果蔬专业合作社")
    form.locator('select[name="kind"]').select_option("种植")
    form.locator('input[name="members"]').fill("12")
    form.locator('select[name="grade"]').select_option("二星")
    pdf = tmp_path / "章程.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    form.locator('input[name="charter"]').set_input_files(str(pdf))
    form.locator('[data-testid="entry-save"]').click()
    page.wait_for_load_state()
    e = Entry.objects.get()
    assert e.data["grade"] == "二星" and e.data["charter"] == "章程.pdf"
    page.goto(f"{live_server.url}/ledgers/entries/{e.pk}/")
    assert "章程.pdf" in page.locator('[data-testid="entry-files"]').inner_text()
    assert _overflow(page) <= 0


def test_reserve_talent_age_structure_on_a_phone(browser, log_in, live_server, tree, users, regs):
    from bihuan.ledgers import services

    for i, age in enumerate([25, 33, 38, 44, 52]):
        services.create_entry(None, regs["reserve_talents"], unit=tree.lumiao, values={"name": f"人才{i}", "age": age})
    page = log_in("rencheng_admin")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/ledgers/r/reserve_talents/")
    page.locator('[data-testid="talent-ages"]').click()
    page.wait_for_selector('#talent-chart[data-ready="1"]')
    assert page.locator('[data-testid="ages-total"]').inner_text().strip() == "5"
    assert _overflow(page) <= 0, "the age-structure page is wider than the phone"
    page.locator('[data-testid="ages-level-3"]').click()
    page.wait_for_selector('#talent-chart[data-ready="1"]')
    assert "李营街道" in page.locator('[data-testid="ages-table"]').inner_text()
    assert _overflow(page) <= 0
