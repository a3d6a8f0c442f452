"""The one path to the audit log.

``record()`` appends an entry; it is the only writer. ``seal()`` chains committed
entries in order; ``verify()`` checks every MAC and the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .context import current_actor
from .models import AuditEntry, ChainHead
from .protect import mask_payload

log = logging.getLogger("bihuan.audit")

GENESIS = "0" * 64


def hash_algo() -> str:
    """SM3 where OpenSSL offers it, SHA-256 otherwise (named in each entry)."""
    return "sm3" if "sm3" in hashlib.algorithms_available else "sha256"


def _canonical(entry: AuditEntry) -> bytes:
    payload = {
        "uid": str(entry.uid),
        "ts": entry.ts.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "ip": entry.ip,
        "request_id": entry.request_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "unit_id": entry.unit_id,
        "unit_path": entry.unit_path,
        "before": entry.before,
        "after": entry.after,
        "extra": entry.extra,
        "algo": entry.algo,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def key_id(key: str) -> str:
    """A short, non-secret name for an audit key (stored with each entry)."""
    return hashlib.sha256(b"bihuan-audit-key|" + key.encode()).hexdigest()[:12]


def keyring() -> dict[str, str]:
    """Every audit key this process knows, by key id: the current one and the retired ones."""
    keys = [settings.BIHUAN_AUDIT_KEY, *getattr(settings, "BIHUAN_AUDIT_RETIRED_KEYS", [])]
    return {key_id(k): k for k in keys}


def _mac(entry: AuditEntry, key: str | None = None) -> str:
    key = key or settings.BIHUAN_AUDIT_KEY
    return hmac.new(key.encode(), _canonical(entry), entry.algo).hexdigest()


def _mac_problem(entry: AuditEntry, ring: dict[str, str]) -> str | None:
    """None when the entry's MAC checks out with its key; otherwise why not."""
    if entry.key_id:
        key = ring.get(entry.key_id)
        if key is None:
            return f"made with audit key {entry.key_id}, which is not configured (BIHUAN_AUDIT_RETIRED_KEYS)"
        return None if hmac.compare_digest(_mac(entry, key), entry.mac) else "entry content altered (MAC mismatch)"
    # Written before key ids: any known key will do.
    if any(hmac.compare_digest(_mac(entry, k), entry.mac) for k in ring.values()):
        return None
    return "entry content altered (MAC mismatch)"


def _link(prev: str, entry: AuditEntry, seq: int) -> str:
    h = hashlib.new(entry.algo)
    h.update(f"{prev}|{seq}|{entry.mac}".encode())
    return h.hexdigest()


def _jsonable(value):
    # Round-trip through JSON so the MAC is computed over exactly what the DB stores.
    return json.loads(json.dumps(value, default=str, ensure_ascii=False)) if value is not None else None


def record(action: str, obj=None, *, object_type: str = "", object_id=None, unit=None,
           before=None, after=None, extra=None, now: datetime | None = None, actor=None) -> AuditEntry:
    """Append one audit entry. Personal data in before/after/extra is masked here."""
    who = actor or current_actor()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk if object_id is None else object_id
        if unit is None:
            unit = getattr(obj, "audit_unit", None)
    entry = AuditEntry(
        ts=now or timezone.now(),
        actor_id=who.user_id,
        actor_name=who.username[:150],
        ip=who.ip[:64],
        request_id=who.request_id[:32],
        action=action,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        unit_id=getattr(unit, "pk", None),
        unit_path=getattr(unit, "path", "") or "",
        before=_jsonable(mask_payload(before)),
        after=_jsonable(mask_payload(after)),
        extra=_jsonable(mask_payload(extra)),
        algo=hash_algo(),
    )
    entry.key_id = key_id(settings.BIHUAN_AUDIT_KEY)
    entry.mac = _mac(entry)
    entry.save(force_insert=True)
    _nudge_sealer()
    return entry


# Monotonic time of the last sealing task enqueued by this process, and whether a trailing
# one is armed (see _enqueue_seal).
_last_enqueue = -math.inf
_trailing_armed = False
_trailing_lock = threading.Lock()


def _nudge_sealer() -> None:
    """Ask the worker to seal once this entry's transaction commits (the every-minute job is
    only the fallback)."""
    if getattr(settings, "BIHUAN_AUDIT_SEAL_ON_COMMIT", False):
        transaction.on_commit(_enqueue_seal, robust=True)  # robust: a failed nudge never fails the write


def _enqueue_seal() -> None:
    """At most one sealing task per ``BIHUAN_AUDIT_SEAL_DEBOUNCE_SECONDS`` per process. A commit
    inside the window arms one trailing task at the window's end, so every committed entry is
    sealed within about two windows (plus the worker's poll), not at the next minute."""
    global _last_enqueue, _trailing_armed
    window = settings.BIHUAN_AUDIT_SEAL_DEBOUNCE_SECONDS
    elapsed = time.monotonic() - _last_enqueue
    if elapsed >= window:
        _last_enqueue = time.monotonic()
        _enqueue_now()
        return
    with _trailing_lock:
        if _trailing_armed:
            return  # several commits in one window: one trailing task seals them all
        _trailing_armed = True
    _arm_trailing(window - elapsed)


def _enqueue_now() -> None:
    from . import jobs

    jobs.enqueue(jobs.RUN_JOB, "audit.seal", name="audit.seal")


def _trailing_timer(delay: float) -> threading.Timer:
    timer = threading.Timer(delay, _trailing_seal)
    timer.daemon = True  # a stopping server does not wait for it; the minute job catches up
    return timer


def _arm_trailing(delay: float) -> None:
    _trailing_timer(delay).start()


def _trailing_seal() -> None:
    """Runs in a timer thread: its own database connection, closed afterwards."""
    global _last_enqueue, _trailing_armed
    from django.db import connections

    with _trailing_lock:
        _trailing_armed = False
    _last_enqueue = time.monotonic()
    try:
        _enqueue_now()
    except Exception:  # noqa: BLE001 - the every-minute job is the fallback
        log.exception("could not queue the trailing audit seal")
    finally:
        if threading.current_thread() is not threading.main_thread():
            connections.close_all()  # the timer thread's own connections only


def _try_lock() -> bool:
    """Non-blocking exclusive right to seal (PostgreSQL advisory lock)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_xact_lock(74201)")
            return bool(cur.fetchone()[0])
    return True  # SQLite: the IMMEDIATE transaction already serialises writers.


def seal(batch: int = 5000, *, blocking: bool = True) -> int:
    """Chain up to ``batch`` committed, unsealed entries in id order. Returns how many."""
    with transaction.atomic():
        if not blocking and not _try_lock():
            return 0
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
        rows = list(AuditEntry.objects.filter(seq__isnull=True).order_by("id")[:batch])
        if not rows:
            return 0
        now = timezone.now()
        prev, seq = head.chain_hash or GENESIS, head.seq
        for row in rows:
            seq += 1
            row.seq, row.chain_hash, row.sealed_at = seq, _link(prev, row, seq), now
            prev = row.chain_hash
        AuditEntry.objects.bulk_update(rows, ["seq", "chain_hash", "sealed_at"], batch_size=1000)
        head.seq, head.chain_hash, head.algo, head.updated_at = seq, prev, rows[-1].algo, now
        head.save()
        return len(rows)


def seal_all() -> int:
    total = 0
    while n := seal():
        total += n
    return total


@dataclass
class VerifyReport:
    checked: int = 0
    sealed_head: int = 0
    unsealed: int = 0
    broken: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken


def verify(progress=None) -> VerifyReport:
    """Recompute every MAC and the chain. Reports the first broken link, and bad unsealed rows."""
    report = VerifyReport()
    ring = keyring()
    head = ChainHead.objects.filter(pk=1).first()
    prev, expected = GENESIS, 1
    qs = AuditEntry.objects.filter(seq__isnull=False).order_by("seq")
    for row in qs.iterator(chunk_size=2000):
        report.checked += 1
        if progress:
            progress(1)
        if report.broken:
            continue
        if row.seq != expected:
            report.broken.append({"seq": expected, "id": None, "reason": f"entry #{expected} missing (next found is #{row.seq})"})
            continue
        if problem := _mac_problem(row, ring):
            report.broken.append({"seq": row.seq, "id": row.id, "reason": problem})
            continue
        if _link(prev, row, row.seq) != row.chain_hash:
            report.broken.append({"seq": row.seq, "id": row.id, "reason": "chain link broken"})
            continue
        prev, expected = row.chain_hash, expected + 1
    report.sealed_head = expected - 1
    if not report.broken and head and (head.seq != report.sealed_head or (head.seq and head.chain_hash != prev)):
        report.broken.append({"seq": report.sealed_head + 1, "id": None,
                              "reason": f"sealed entries after #{report.sealed_head} removed (head says #{head.seq})"})
    for row in AuditEntry.objects.filter(seq__isnull=True).order_by("id").iterator(chunk_size=2000):
        report.unsealed += 1
        if problem := _mac_problem(row, ring):
            reason = "unsealed entry not written by Bihuan (MAC mismatch)" if "altered" in problem else problem
            report.broken.append({"seq": None, "id": row.id, "reason": reason})
    return report


def rotate_key(var_dir, *, new_key: str | None = None) -> tuple[str, str]:
    """Switch this installation's audit key kept in ``var/`` (``bihuan audit rotate-key``).

    Seals what is committed, appends the current key to ``var/audit_keys.retired``, writes a new
    ``var/audit_key`` (both 0600, the key file replaced atomically), switches this process to it
    and records the rotation (key ids only). Entries keep verifying: each names its key. Other
    running processes keep the old key (which is now retired, so still verifiable) until they
    restart. Returns (old key id, new key id).
    """
    import base64
    import os
    import secrets
    from pathlib import Path

    var_dir = Path(var_dir)
    old = settings.BIHUAN_AUDIT_KEY
    new = new_key or base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().lstrip("-") or "k"
    seal_all()
    retired = var_dir / "audit_keys.retired"
    fd = os.open(retired, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write(old + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    tmp = var_dir / "audit_key.new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, var_dir / "audit_key")
    settings.BIHUAN_AUDIT_RETIRED_KEYS = [*getattr(settings, "BIHUAN_AUDIT_RETIRED_KEYS", []), old]
    settings.BIHUAN_AUDIT_KEY = new
    record("audit.key.rotate", object_type="audit.key",
           extra={"old_key_id": key_id(old), "new_key_id": key_id(new)})
    seal_all()
    return key_id(old), key_id(new)
