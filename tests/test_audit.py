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


# --- a sealer that trusts nothing: quarantine, malformed rows, checkpoints --------------------------------

def _forge(template: AuditEntry, **changes) -> AuditEntry:
    """A row inserted behind the application's back: a copy of a genuine one, changed."""
    import uuid

    forged = AuditEntry.objects.get(pk=template.pk)
    forged.pk, forged.uid, forged.seq, forged.chain_hash, forged.sealed_at = None, uuid.uuid4(), None, "", None
    for k, v in changes.items():
        setattr(forged, k, v)
    forged.save()
    return forged


def test_a_forged_row_is_quarantined_and_genuine_rows_after_it_are_sealed(users, tree):
    rows = _sealed(users)
    forged = _forge(rows[0], actor_name="intruder")
    org_services.update_unit(None, tree.lumiao, name="芦庙村二")  # a genuine entry after the forged one
    genuine = AuditEntry.objects.get(action="orgs.unit.update", seq__isnull=True)
    assert audit.seal_all() == 1  # the genuine one only
    forged.refresh_from_db()
    genuine.refresh_from_db()
    assert forged.seq is None and forged.chain_hash == audit.QUARANTINED
    assert genuine.seq == rows[-1].seq + 1
    assert audit.seal_all() == 0  # the quarantined row is not looked at again
    code, rep = verify_json()
    assert code == 1 and rep["broken"] == [] and rep["unsealed"] == 0
    assert rep["quarantined"] == [{"id": forged.pk, "reason": "entry content altered (MAC mismatch)",
                                   "acknowledged": False}]
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("audit", "verify", stdout=out)
    assert f"quarantined (never chained, NOT ACKNOWLEDGED): id={forged.pk}" in out.getvalue()


def test_acknowledging_a_quarantined_entry_is_audited_and_verify_passes_again(users):
    rows = _sealed(users)
    forged = _forge(rows[0], action="accounts.user.delete")
    audit.seal_all()
    with pytest.raises(CommandError):
        call_command("audit", "acknowledge", "--reason", "  ", stdout=StringIO())
    out = StringIO()
    call_command("audit", "acknowledge", "--reason", "incident 2026-07: forged row, kept as evidence", stdout=out)
    assert f"acknowledged 1 quarantined entries: {forged.pk}" in out.getvalue()
    ack = AuditEntry.objects.get(action=audit.ACK_ACTION)
    assert ack.seq is not None and ack.extra == {"reason": "incident 2026-07: forged row, kept as evidence",
                                                 "entries": [forged.pk]}
    code, rep = verify_json()
    assert code == 0 and rep["quarantined"] == [{"id": forged.pk, "reason": "entry content altered (MAC mismatch)",
                                                 "acknowledged": True}]
    # A later forged row is not covered by the earlier acknowledgement.
    second = _forge(rows[1], actor_name="intruder")
    audit.seal_all()
    code, rep = verify_json()
    assert code == 1 and [q["id"] for q in rep["quarantined"] if not q["acknowledged"]] == [second.pk]


def test_an_acknowledgement_forged_into_the_table_does_not_count(users):
    rows = _sealed(users)
    forged = _forge(rows[0], actor_name="intruder")
    audit.seal_all()
    _forge(rows[0], action=audit.ACK_ACTION, extra={"reason": "nothing to see", "entries": [forged.pk]})
    audit.seal_all()
    code, rep = verify_json()
    assert code == 1 and len(rep["quarantined"]) == 2 and not any(q["acknowledged"] for q in rep["quarantined"])


@pytest.mark.parametrize("column, value, reason", [
    ("algo", "md4-evil", "unknown hash algorithm 'md4-evil'"),
    ("algo", "", "unknown hash algorithm ''"),
    ("mac", "short", "MAC is not a 64-digit hex string"),
    ("ts", "not a time", "malformed entry"),
    ("uid", "not-a-uuid", "cannot be read"),
])
def test_malformed_rows_are_reported_never_crash_and_never_stop_sealing(users, tree, column, value, reason):
    rows = _sealed(users)
    bad = _forge(rows[0])
    with connection.cursor() as cur:
        if column in ("ts", "uid") and connection.vendor == "postgresql":
            pytest.skip("PostgreSQL's column types refuse such a value")
        cur.execute(f"UPDATE core_auditentry SET {column} = %s WHERE id = %s", [value, bad.pk])
    # Verify before sealing: an unsealed malformed row.
    code, rep = verify_json()
    assert code == 1 and any(b["id"] == bad.pk and reason in b["reason"] for b in rep["broken"])
    org_services.update_unit(None, tree.lumiao, name="芦庙村二")
    assert audit.seal_all() == 1
    assert AuditEntry.objects.filter(pk=bad.pk, seq__isnull=True, chain_hash=audit.QUARANTINED).exists()
    code, rep = verify_json()
    assert code == 1 and rep["broken"] == [] and reason in rep["quarantined"][0]["reason"]
    # The human report too: exit status 1 through CommandError, no traceback.
    out = StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("audit", "verify", stdout=out)
    assert exc.value.returncode == 1 and reason in out.getvalue()


def test_a_malformed_row_inside_the_chain_is_reported_as_the_broken_link(users):
    rows = _sealed(users)
    victim = rows[2]
    AuditEntry.objects.filter(pk=victim.pk).update(algo="whirlpool-x")
    code, rep = verify_json()
    assert code == 1 and rep["broken"][0]["seq"] == victim.seq and "unknown hash algorithm" in rep["broken"][0]["reason"]


@pytest.fixture
def checkpoints(settings, tmp_path):
    settings.BIHUAN_AUDIT_CHECKPOINT_FILE = tmp_path / "ship" / "audit_checkpoints.log"
    settings.BIHUAN_AUDIT_CHECKPOINT_SECONDS = 60
    return settings.BIHUAN_AUDIT_CHECKPOINT_FILE


def test_the_seal_job_appends_signed_checkpoints_when_the_head_moves(users, tree, checkpoints, caplog):
    from datetime import timedelta

    from django.utils import timezone

    from bihuan.core import jobs

    now = timezone.now()
    with caplog.at_level("INFO", logger="bihuan.audit.checkpoint"):
        jobs.run_job("audit.seal", now)
    [line] = checkpoints.read_text().splitlines()
    cp = json.loads(line)
    head = ChainHead.objects.get(pk=1)
    assert (cp["seq"], cp["head"]) == (head.seq, head.chain_hash) and len(cp["sig"]) == 64
    assert any(line in r.getMessage() for r in caplog.records)  # the same line in the log, to ship
    jobs.run_job("audit.seal", now + timedelta(minutes=5))  # head unchanged: nothing new
    org_services.update_unit(None, tree.lumiao, name="芦庙村二")
    jobs.run_job("audit.seal", now + timedelta(seconds=30 + 300))
    assert len(checkpoints.read_text().splitlines()) == 2
    org_services.update_unit(None, tree.lumiao, name="芦庙村三")
    jobs.run_job("audit.seal", now + timedelta(seconds=40 + 300))  # within the interval: not yet
    assert len(checkpoints.read_text().splitlines()) == 2
    code, rep = verify_json_with("--checkpoint", str(checkpoints))
    assert code == 0 and rep["checkpoints"] == 2


def verify_json_with(*args):
    out = StringIO()
    try:
        call_command("audit", "verify", "--json", *args, stdout=out)
        code = 0
    except CommandError:
        code = 1
    return code, json.loads(out.getvalue())


def test_truncation_with_a_rewritten_head_is_caught_by_the_checkpoint(users, tree, checkpoints):
    rows = _sealed(users)
    call_command("audit", "checkpoint", stdout=StringIO())
    # The attacker deletes the last three entries and rewrites the chain head to match: the
    # database alone looks consistent...
    keep = rows[-4]
    with connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditentry WHERE seq > %s", [keep.seq])
    ChainHead.objects.filter(pk=1).update(seq=keep.seq, chain_hash=keep.chain_hash)
    assert verify_json()[0] == 0
    # ...but not against the checkpoint shipped elsewhere.
    code, rep = verify_json_with("--checkpoint", str(checkpoints))
    assert code == 1
    assert rep["broken"][0]["reason"].startswith("truncated: checkpoint line 1")
    assert f"entry #{rows[-1].seq} was sealed; the database's chain ends at #{keep.seq}" in rep["broken"][0]["reason"]
    # Without a file argument the configured file is used.
    assert verify_json_with("--checkpoint")[0] == 1


def test_a_forged_or_damaged_checkpoint_line_is_reported(users, checkpoints, settings):
    audit.seal_all()
    call_command("audit", "checkpoint", stdout=StringIO())
    cp = json.loads(checkpoints.read_text())
    with open(checkpoints, "a") as fh:
        fh.write(json.dumps({**cp, "seq": cp["seq"] + 5}) + "\n")  # a bigger claim, without the key
        fh.write("{not json\n")
    code, rep = verify_json_with("--checkpoint", str(checkpoints))
    reasons = [b["reason"] for b in rep["broken"]]
    assert code == 1 and rep["checkpoints"] == 1
    assert reasons == ["checkpoint line 2: signature mismatch", "checkpoint line 3: malformed"]
    code, rep = verify_json_with("--checkpoint", str(checkpoints.parent / "missing.log"))
    assert code == 1 and "cannot be read" in rep["broken"][0]["reason"]


def test_the_audit_page_shows_quarantined_entries_until_acknowledged(users, tree, login):
    from django.urls import reverse

    rows = _sealed(users)
    forged = _forge(rows[0], actor_name="intruder", unit_id=tree.lumiao.pk, unit_path=tree.lumiao.path)
    audit.seal_all()
    c = login(users.city_admin)
    html = c.get(reverse("web:audit")).content.decode()
    assert 'data-testid="audit-quarantine"' in html and f'data-id="{forged.pk}"' in html
    assert "隔离的审计条目" in html and "未确认" in html and "entry content altered (MAC mismatch)" in html
    assert "已隔离" in c.get(reverse("web:audit_entry", args=[forged.pk])).content.decode()
    # Outside the reader's scope it is not shown, like any entry.
    assert f'data-id="{forged.pk}"' not in login(users.yanzhou_admin).get(reverse("web:audit")).content.decode()
    audit.acknowledge("checked by the security administrator")
    html = login(users.city_admin).get(reverse("web:audit")).content.decode()
    assert f'data-id="{forged.pk}"' in html and "已确认" in html and "未确认" not in html
