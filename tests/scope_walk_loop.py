"""A matter in 兖州区 (薛庙社区) for the scope walker."""

from __future__ import annotations


def make(tree, users) -> dict:
    from bihuan.loop import services
    from bihuan.loop.models import Category

    cat = Category.objects.create(code="walk", name="兖州测试类别", kind="problem")
    m = services.create_matter(None, category=cat, location_unit=tree.xuemiao, title="薛庙社区路面",
                               description="薛庙社区的事项")
    services.dispatch(None, m.pk, version=m.version, handling_unit=tree.xuemiao)
    return {"matter_id": m.pk, "action": "accept"}
