"""A person and a household in 兖州区 (薛庙社区), for the scope walker."""

from __future__ import annotations

from datetime import date


def make(tree, users) -> dict:
    from bihuan.people import services
    from bihuan.people.validators import build_id_number

    person = services.create_person(None, unit=tree.xuemiao, name="薛庙社区居民",
                                    id_number=build_id_number("370812", date(1960, 5, 5), 21), phone="13700001111")
    household = services.create_household(None, unit=tree.xuemiao, address="薛庙社区1号楼", head=person)
    return {"person_id": person.pk, "household_id": household.pk}
