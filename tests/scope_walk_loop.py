"""A matter in 兖州区 (薛庙社区) for the scope walker, with an attachment; and the names of the
loop's other URL parameters, aimed at that matter (or at what is not public)."""

from __future__ import annotations


def make(tree, users) -> dict:
    from bihuan.loop import services
    from bihuan.loop.models import Category

    cat = Category.objects.create(code="walk", name="兖州测试类别", kind="problem")
    from tests.loop_helpers import PNG as png
    m = services.create_matter(None, category=cat, location_unit=tree.xuemiao, title="薛庙社区路面",
                               description="薛庙社区的事项",
                               uploads=[services.Upload("薛庙社区.png", "image/png", png)])
    services.dispatch(None, m.pk, version=m.version, handling_unit=tree.xuemiao)
    from datetime import date

    from bihuan.core import calendar
    from bihuan.loop import config
    from bihuan.loop.models import Notification

    rule = config.create_rule(None, category=cat, location=tree.xuemiao, handling_unit=tree.longqiao,
                              note="薛庙社区路由")
    override = calendar.set_override(None, date(2027, 1, 4), False, "薛庙社区假日")
    return {
        # Configuration pages: a county admin holds neither loop.category.manage nor core.calendar.manage.
        "category_id": cat.pk, "rule_id": rule.pk, "override_id": override.pk,
        # A notification to 薛庙社区 (the dispatch above); the centre shows only one's own.
        "notification_id": Notification.objects.filter(unit=tree.xuemiao).first().pk,
        "matter_id": m.pk, "action": "accept",
        "attachment_id": m.attachments.first().pk, "size": "thumb",
        # Public pages and Open311: a staff-registered matter is never public, by token or by id.
        "token": m.public_token, "request_id": m.pk,
        # Open311 services are the categories the city published; this one is not.
        "service_code": cat.code,
    }
