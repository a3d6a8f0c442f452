"""An issued bulletin of 兖州区 (naming 龙桥街道), for the scope walker."""

from __future__ import annotations


def make(tree, users) -> dict:
    from bihuan.reports import services

    b = services.draft(None, template="weekly_loop", unit=tree.yanzhou, period="2026-W45",
                       paragraphs=["龙桥街道要抓紧整改。"])
    services.issue(None, b)
    return {"bulletin_id": b.pk}
