"""The audit log: every write makes an entry; tampering is found by `bihuan audit verify`."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from bihuan.accounts import services as account_services
from bihuan.accounts.models import Role
from bihuan.core import audit
from bihuan.core.models import AuditEntry, ChainHead
from bihuan.orgs import services as org_services
from bihuan.orgs.models import Level


def verify_json():
    out = StringIO()
    try:
        call_command("audit", "verify", "--json", stdout=out)
        code = 0
    except CommandError:
        code = 1
    return code, json.loads(out.getvalue())


def count(action):
    return AuditEntry.objects.filter(action=action).count()


def test_every_service_write_makes_one_entry(users, tree):
    role = Role.objects.get(code="township_staff")
    cases = [
        ("orgs.unit.create", lambda: org_services.create_unit(users.city_admin, parent=tree.lumiao, level=Level.GRID,
                                                              code="370811008201003", name="第三网格")),
        ("orgs.unit.update", lambda: org_services.update_unit(users.city_admin, tree.lumiao, name="芦庙村(新)")),
        ("orgs.unit.move", lambda: org_services.move_subtree(users.city_admin, tree.lumiao, tree.xianying,
                                                             new_code="370811003202")),
        ("orgs.partyorg.create", lambda: org_services.create_party_org(users.city_admin, unit=tree.lumiao,
                                                                       kind="branch", name="党支部")),
        ("accounts.user.create", lambda: account_services.create_user(users.city_admin, username="new1",
                                                                      password="Strong-Pass-2026")),
        ("accounts.binding.create", lambda: account_services.bind(users.city_admin, users.nobody, tree.liying, role)),
        ("accounts.user.update", lambda: account_services.set_active(users.city_admin, users.lumiao_grid, False)),
        ("accounts.user.password", lambda: account_services.set_password(users.city_admin, users.lumiao_grid,
                                                                         "Another-Pass-2026")),
        ("accounts.token.create", lambda: account_services.create_token(users.lumiao_grid)),
    ]
    for action, do in cases:
        before = count(action)
        do()
        assert count(action) == before + 1, action


def test_entry_records_actor_unit_and_masks_personal_data(tree):
    from bihuan.core.context import acting_as

    with acting_as(None, username="tester", ip="10.0.0.8", request_id="req123456"):
        e = audit.record("people.person.update", object_type="people.person", object_id=7, unit=tree.lumiao,
                         before={"phone": "13812345678", "id_number": "370811199001011234", "name": "张三"},
                         after={"note": "电话 13812345678 身份证 370811199001011234"})
    e.refresh_from_db()
    assert (e.actor_name, e.ip, e.request_id, e.unit_id) == ("tester", "10.0.0.8", "req123456", tree.lumiao.pk)
    dump = json.dumps([e.before, e.after], ensure_ascii=False)
    assert "13812345678" not in dump and "370811199001011234" not in dump
    assert e.before["phone"] == "138****5678"
    assert e.before["id_number"] == "370811********1234"


def test_fresh_log_verifies_with_unsealed_tail_reported(users):
    code, rep = verify_json()
    assert code == 0 and rep["ok"]
    assert rep["unsealed"] == AuditEntry.objects.count() > 0
    audit.seal_all()
    code, rep = verify_json()
    assert code == 0 and rep["unsealed"] == 0 and rep["checked"] == AuditEntry.objects.count()


def _sealed(users):
    audit.seal_all()
    return list(AuditEntry.objects.order_by("seq"))


def test_altered_entry_is_detected(users):
    rows = _sealed(users)
    victim = rows[3]
    AuditEntry.objects.filter(pk=victim.pk).update(actor_name="someone_else")
    code, rep = verify_json()
    assert code == 1
    assert rep["broken"][0]["seq"] == victim.seq
    assert "altered" in rep["broken"][0]["reason"]


def test_altered_json_detected_via_raw_sql(users):
    rows = _sealed(users)
    victim = rows[1]
    with connection.cursor() as cur:
        cur.execute("UPDATE core_auditentry SET after = %s WHERE id = %s", ['{"forged": true}', victim.pk])
    code, rep = verify_json()
    assert code == 1 and rep["broken"][0]["seq"] == victim.seq


def test_removed_entry_is_detected(users):
    rows = _sealed(users)
    victim = rows[2]
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditentry WHERE id = %s", [victim.pk])
    code, rep = verify_json()
    assert code == 1
    assert rep["broken"][0]["seq"] == victim.seq
    assert "missing" in rep["broken"][0]["reason"]


def test_removed_last_entry_is_detected(users):
    rows = _sealed(users)
    AuditEntry.objects.filter(pk=rows[-1].pk).delete()
    code, rep = verify_json()
    assert code == 1 and "removed" in rep["broken"][0]["reason"]


def test_inserted_entry_is_detected_sealed_or_not(users):
    rows = _sealed(users)
    template = rows[0]
    # A copy with a new uid and a forged seq in the middle of the chain.
    forged = AuditEntry.objects.get(pk=template.pk)
    forged.pk = None
    import uuid

    forged.uid = uuid.uuid4()
    forged.seq = None
    forged.save()
    code, rep = verify_json()
    assert code == 1
    assert any(b["id"] == forged.pk and "not written by Bihuan" in b["reason"] for b in rep["broken"])


def test_reordered_chain_is_detected(users):
    rows = _sealed(users)
    a, b = rows[1], rows[2]
    AuditEntry.objects.filter(pk=a.pk).update(seq=-1)
    AuditEntry.objects.filter(pk=b.pk).update(seq=a.seq)
    AuditEntry.objects.filter(pk=a.pk).update(seq=b.seq)
    code, rep = verify_json()
    assert code == 1 and rep["broken"][0]["seq"] == a.seq


def test_seal_is_incremental_and_chain_continues(users, tree):
    first = audit.seal_all()
    org_services.update_unit(None, tree.lumiao, name="芦庙村二")
    assert audit.seal_all() == 1
    head = ChainHead.objects.get(pk=1)
    assert head.seq == first + 1
    assert verify_json()[0] == 0


def test_entries_name_their_hash_algorithm(users):
    e = AuditEntry.objects.first()
    assert e.algo in {"sm3", "sha256"}


def test_cli_verify_human_output(users):
    out = StringIO()
    call_command("audit", "verify", "--seal-first", stdout=out)
    assert "OK" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_nonblocking_seal_skips_when_busy(users):
    # The sealer never makes writers wait; a second non-blocking sealer just gives way.
    assert audit.seal(blocking=False) >= 0


# --- rotating the audit key --------------------------------------------------------------------------

@pytest.fixture
def key_in_var(settings, tmp_path, monkeypatch):
    """An installation whose audit key lives in var/ (as `make demo` creates it)."""
    monkeypatch.delenv("BIHUAN_AUDIT_KEY", raising=False)
    settings.VAR_DIR = tmp_path
    settings.BIHUAN_AUDIT_KEY = "the-first-audit-key-0123456789abcdef"
    settings.BIHUAN_AUDIT_RETIRED_KEYS = []
    (tmp_path / "audit_key").write_text(settings.BIHUAN_AUDIT_KEY)
    return tmp_path


def test_rotate_key_keeps_the_log_verifiable(db, settings, key_in_var):
    first = audit.record("test.before_rotation")
    old_id = audit.key_id(settings.BIHUAN_AUDIT_KEY)
    out = StringIO()
    call_command("audit", "rotate-key", stdout=out)
    new_key = (key_in_var / "audit_key").read_text()
    assert new_key != "the-first-audit-key-0123456789abcdef"
    assert (key_in_var / "audit_keys.retired").read_text().split() == ["the-first-audit-key-0123456789abcdef"]
    assert oct((key_in_var / "audit_key").stat().st_mode & 0o777) == "0o600"
    assert f"{old_id} -> {audit.key_id(new_key)}" in out.getvalue() and new_key not in out.getvalue()
    rotation = AuditEntry.objects.get(action="audit.key.rotate")
    assert rotation.extra == {"old_key_id": old_id, "new_key_id": audit.key_id(new_key)}
    assert rotation.key_id == audit.key_id(new_key) and AuditEntry.objects.get(pk=first.pk).key_id == old_id
    later = audit.record("test.after_rotation")
    audit.seal_all()
    code, rep = verify_json()
    assert code == 0 and rep["ok"] and later.key_id == audit.key_id(new_key)
    # Without the retired key the old entries cannot be vouched for: verification says why.
    settings.BIHUAN_AUDIT_RETIRED_KEYS = []
    code, rep = verify_json()
    assert code == 1 and f"made with audit key {old_id}, which is not configured" in rep["broken"][0]["reason"]


def test_an_entry_altered_before_a_rotation_is_still_caught(db, settings, key_in_var):
    e = audit.record("test.old")
    audit.seal_all()
    call_command("audit", "rotate-key", stdout=StringIO())
    AuditEntry.objects.filter(pk=e.pk).update(object_id="forged")
    code, rep = verify_json()
    assert code == 1 and rep["broken"][0]["id"] == e.pk and "altered" in rep["broken"][0]["reason"]


def test_entries_from_before_key_ids_verify_with_any_known_key(db, settings, key_in_var):
    e = audit.record("test.legacy")
    AuditEntry.objects.filter(pk=e.pk).update(key_id="")  # as written before this column existed
    call_command("audit", "rotate-key", stdout=StringIO())
    code, rep = verify_json()
    assert code == 0 and rep["ok"]


def test_rotate_key_refuses_when_the_key_comes_from_the_environment(db, settings, key_in_var, monkeypatch):
    monkeypatch.setenv("BIHUAN_AUDIT_KEY", settings.BIHUAN_AUDIT_KEY)
    with pytest.raises(CommandError, match="BIHUAN_AUDIT_RETIRED_KEYS"):
        call_command("audit", "rotate-key", stdout=StringIO())
    assert not (key_in_var / "audit_keys.retired").exists()
    assert not AuditEntry.objects.filter(action="audit.key.rotate").exists()
