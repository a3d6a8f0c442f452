"""The demo seed fills the seven built-in registers in the demo county and runs a round."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from bihuan.core.context import acting_as
from bihuan.ledgers import seed
from bihuan.ledgers.models import Entry, OfficeProposal, Register, RoundEscalation, Submission
from bihuan.orgs import seed as org_seed

pytestmark = pytest.mark.django_db


def test_demo_registers_are_filled_and_late_villages_get_a_matter():
    with acting_as(None, username="seed"):
        org_seed.seed_tree("demo", progress=False)
        counts = seed.seed_step("demo", 2022, progress=False, reuse=False)
    assert Register.objects.count() == 7
    assert all(Entry.objects.filter(register__code=c).exists() for c in Register.objects.values_list("code", flat=True))
    assert counts["cooperatives"] == Entry.objects.filter(register__code="cooperatives").count() > 10
    talent = Entry.objects.filter(register__code="reserve_talents").first()
    assert "*" in talent.data["id_number"] and talent.protected["id_number"]
    late = Submission.objects.filter(on_time=False).count()
    assert Submission.objects.count() > late > 0
    assert RoundEscalation.objects.count() == counts["matters_opened"] > 0
    assert OfficeProposal.objects.count() == counts["proposals"] > 0
    assert "reused" in seed.seed_step("demo", 2022, progress=False, reuse=True)


def test_registers_command_loads_dumps_and_reloads(tmp_path, tree, capsys):
    call_command("registers", "load-builtin")
    assert Register.objects.count() == 7
    out = tmp_path / "defs.json"
    call_command("registers", "dump", "cooperatives", stdout=out.open("w"))
    call_command("registers", "load", str(out))
    assert Register.objects.get(code="cooperatives").version == 1  # unchanged
