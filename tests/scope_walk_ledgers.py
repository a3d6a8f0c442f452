"""A register of 兖州区 with an entry of 薛庙社区, and a collection round with a submission, for the
scope walker: another county sees neither the register nor the round (404)."""

from __future__ import annotations

from datetime import date


def make(tree, users) -> dict:
    from bihuan.ledgers import files, services

    r = services.create_register(None, code="yz_canteens", name="兖州区幸福食堂台账", level=4, unit=tree.yanzhou,
                                 fields=[{"key": "name", "label": "名称", "type": "text", "listed": True},
                                         {"key": "seats", "label": "座位", "type": "number", "listed": True},
                                         {"key": "licence", "label": "许可证", "type": "file"}])
    e = services.create_entry(None, r, unit=tree.xuemiao, values={
        "name": "薛庙社区食堂", "seats": 40, "licence": files.Upload("许可证.pdf", b"%PDF-1.4\n%%EOF\n")})
    rd = services.open_round(None, r, within=tree.yanzhou, title="兖州区食堂填报", due_on=date(2999, 1, 1))
    services.submit(None, rd, unit=tree.xuemiao)
    d = services.create_dictionary(None, code="yz_walk_dict", name="字典", choices=["甲", "乙"])  # the city's only
    return {"code": r.code, "ledger_entry_id": e.pk, "round_id": rd.pk, "key": "licence", "dict_code": d.code}
