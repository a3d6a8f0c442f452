"""A web import on a phone: the file waits for the worker, the page polls, the result appears."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.queued_jobs
def test_import_page_waits_for_the_worker_then_shows_the_result(transactional_db, users, tree, log_in, live_server,
                                                                settings, tmp_path):
    from bihuan.core import imports
    from bihuan.core.models import ImportJob

    settings.MEDIA_ROOT = tmp_path / "media"
    csv = tmp_path / "新村.csv"
    csv.write_text("编码,名称,层级,上级编码,生效日期,失效日期\n"
                   "370811008210,新村一,村社区,370811008000,,\n"
                   "370811008211,新村二,村社区,370811008000,,\n", encoding="utf-8-sig")
    page = log_in("rencheng_admin")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/orgs/import/")
    page.set_input_files("#id_file", str(csv))
    page.click('[data-testid="import-form"] button[type=submit]')
    page.wait_for_load_state()
    # No worker in this test yet: the page says the check is queued, and keeps asking.
    queued = page.locator('[data-testid="import-queued"]')
    assert queued.is_visible() and "后台" in queued.inner_text()
    assert page.locator('[data-testid="import-progress"]').is_visible()
    overflow = page.evaluate("() => document.body.scrollWidth - window.innerWidth")
    assert overflow <= 0
    # The worker runs the job (what `bihuan worker` does); within a poll or two the result is there.
    job = ImportJob.objects.get()
    imports.run(job.pk)
    page.locator('[data-testid="import-counts"]').wait_for(timeout=10000)
    assert page.locator('[data-testid="import-status"]').inner_text().startswith("仅为预览")
    assert page.locator('[data-testid="count-created"]').inner_text() == "2"
    # Apply: again queued, then done; the page never reloads by itself.
    page.click('[data-testid="apply"]')
    page.wait_for_load_state()
    assert page.locator('[data-testid="import-queued"]').is_visible()
    imports.run(ImportJob.objects.filter(dry_run=False).get().pk)
    page.locator('[data-testid="import-counts"]').wait_for(timeout=10000)
    assert "已导入" in page.locator('[data-testid="import-status"]').inner_text()
