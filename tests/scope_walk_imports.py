"""An import job of yanzhou_admin's (a preview of a file about 兖州区), for the scope walker:
a job is its owner's alone, so every other user gets 404 for its page, status and report."""

from __future__ import annotations


def make(tree, users) -> dict:
    from django.utils import timezone

    from bihuan.core import imports
    from bihuan.core import tabular as tb

    csv = "编码,名称,层级,上级编码,生效日期,失效日期\n370812002009,薛庙社区新村,村社区,370812002000,,\n370812002009,薛庙社区新村,村社区,370812002000,,\n"
    source = tb.store_upload([csv.encode("utf-8-sig")], "兖州区.csv", imports.imports_dir())
    job = imports.start(users.yanzhou_admin, "orgs", f"{source.sha256}.csv", "兖州区.csv", now=timezone.now(),
                        dry_run=True)
    assert job.result and job.result["has_report"]  # the report exists: only the owner may fetch it
    return {"job_id": job.pk}
