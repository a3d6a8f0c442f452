"""The one path to the audit log.

``record()`` appends an entry; it is the only writer. ``seal()`` chains committed
entries in order; ``verify()`` checks every MAC and the chain.

The sealer trusts nothing it reads: it checks each entry's MAC before chaining it. An entry
that fails (forged, altered, unknown algorithm, unreadable) is *quarantined* — marked, never
chained, reported by ``verify`` and the audit page — and the genuine entries around it are
sealed as usual. ``verify`` reports malformed rows and never raises on them. The chain head is
anchored outside the database by signed checkpoints (``write_checkpoint``) appended to a file
that operators ship elsewhere; ``verify(checkpoint=FILE)`` detects truncation with it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .context import current_actor
from .models import AuditEntry, ChainHead
from .protect import mask_payload

log = logging.getLogger("bihuan.audit")

GENESIS = "0" * 64
# Hash algorithms an entry may name. Anything else is refused before it reaches hashlib/hmac.
ALGOS = ("sm3", "sha256")
# ``chain_hash`` of a quarantined entry (``seq`` stays NULL, ``sealed_at`` says when it was found).
QUARANTINED = "quarantined"
ACK_ACTION = "audit.quarantine.acknowledge"
checkpoint_log = logging.getLogger("bihuan.audit.checkpoint")


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
    """None when the entry's MAC checks out with its key; otherwise why not. Never raises: a
    malformed row (unknown algorithm, bad fields) is a problem like any other."""
    try:
        return _check_mac(entry, ring)
    except Exception as exc:  # noqa: BLE001 - whatever is in the row, verify reports it and goes on
        return f"malformed entry ({type(exc).__name__}: {exc})"


def _unknown_key(problem: str | None) -> bool:
    return bool(problem) and problem.startswith("made with audit key")


def _check_mac(entry: AuditEntry, ring: dict[str, str]) -> str | None:
    if entry.algo not in ALGOS or entry.algo not in hashlib.algorithms_available:
        return f"malformed entry (unknown hash algorithm {str(entry.algo)[:16]!r})"
    if not isinstance(entry.mac, str) or len(entry.mac) != 64:
        return "malformed entry (MAC is not a 64-digit hex string)"
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


def _load(ids: list[int]) -> list[tuple[int, AuditEntry | None, str | None]]:
    """The rows with these ids, in order, each as (id, row, None), or (id, None, why) when the row
    cannot even be read (a value the model cannot parse): the caller reports it, never crashes."""
    try:
        rows = AuditEntry.objects.in_bulk(ids)
        return [(i, rows.get(i), None if i in rows else "entry vanished while being read") for i in ids]
    except Exception:  # noqa: BLE001 - find the bad row(s) one by one
        out = []
        for i in ids:
            try:
                out.append((i, AuditEntry.objects.get(pk=i), None))
            except Exception as exc:  # noqa: BLE001
                out.append((i, None, f"malformed entry, cannot be read ({type(exc).__name__}: {exc})"))
        return out


@dataclass
class SealResult:
    chained: int = 0
    quarantined: int = 0
    deferred: int = 0
    scanned: int = 0
    last_id: int = 0


def _seal_batch(batch: int, *, blocking: bool, after_id: int = 0) -> SealResult:
    res = SealResult(last_id=after_id)
    with transaction.atomic():
        if not blocking and not _try_lock():
            return res
        head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
        ids = list(AuditEntry.objects.filter(seq__isnull=True, sealed_at__isnull=True, id__gt=after_id)
                   .order_by("id").values_list("id", flat=True)[:batch])
        if not ids:
            return res
        res.scanned, res.last_id = len(ids), ids[-1]
        ring = keyring()
        now = timezone.now()
        prev, seq = head.chain_hash or GENESIS, head.seq
        chained, bad = [], []
        for pk, row, unreadable in _load(ids):
            problem = unreadable or _mac_problem(row, ring)
            if _unknown_key(problem):
                # Made with a key this process does not know yet (a rotation this worker has not
                # seen): leave it for a sealer that knows the key; verify reports it meanwhile.
                res.deferred += 1
                log.warning("audit entry id=%s not sealed: %s", pk, problem)
                continue
            if problem:
                bad.append(pk)
                log.error("audit entry id=%s quarantined, not chained: %s", pk, problem)
                continue
            seq += 1
            row.seq, row.chain_hash, row.sealed_at = seq, _link(prev, row, seq), now
            prev = row.chain_hash
            chained.append(row)
        if bad:
            # A queryset update: the bad row may not even load as a model instance.
            AuditEntry.objects.filter(pk__in=bad).update(sealed_at=now, chain_hash=QUARANTINED)
            res.quarantined = len(bad)
        if chained:
            AuditEntry.objects.bulk_update(chained, ["seq", "chain_hash", "sealed_at"], batch_size=1000)
            head.seq, head.chain_hash, head.algo, head.updated_at = seq, prev, chained[-1].algo, now
            head.save()
            res.chained = len(chained)
        return res


def seal(batch: int = 5000, *, blocking: bool = True) -> int:
    """Chain up to ``batch`` committed, unsealed entries in id order. Returns how many were chained.

    Each entry's MAC is checked first: one that fails is quarantined instead (never chained, see
    ``quarantined()``), and sealing goes on with the next."""
    return _seal_batch(batch, blocking=blocking).chained


def seal_all() -> int:
    total, after = 0, 0
    while (res := _seal_batch(5000, blocking=True, after_id=after)).scanned:
        total, after = total + res.chained, res.last_id
    return total


def _acknowledged_ids() -> set[int]:
    """Quarantined entry ids named by sealed acknowledgement entries whose MAC checks out."""
    ring, ids = keyring(), set()
    for row in AuditEntry.objects.filter(action=ACK_ACTION, seq__isnull=False).only(
            *[f.attname for f in AuditEntry._meta.concrete_fields]):
        if _mac_problem(row, ring) is None and isinstance(row.extra, dict):
            ids.update(i for i in row.extra.get("entries", []) if isinstance(i, int))
    return ids


def quarantined(queryset=None, limit: int | None = None) -> list[dict]:
    """Quarantined entries (newest first) with why each failed and whether it was acknowledged.
    ``queryset`` narrows them (the audit page passes the reader's scoped queryset)."""
    qs = (AuditEntry.objects.all() if queryset is None else queryset).filter(
        seq__isnull=True, chain_hash=QUARANTINED).order_by("-id")
    ids = list(qs.values_list("id", flat=True)[:limit] if limit else qs.values_list("id", flat=True))
    if not ids:
        return []
    ring, acked = keyring(), _acknowledged_ids()
    out = []
    for pk, row, unreadable in _load(ids):
        problem = unreadable or _mac_problem(row, ring)
        out.append({"id": pk, "action": getattr(row, "action", ""), "ts": getattr(row, "ts", None),
                    "found_at": getattr(row, "sealed_at", None),
                    "reason": problem or "entry marked quarantined although its MAC checks out",
                    "genuine": problem is None, "acknowledged": pk in acked})
    return out


def acknowledge(reason: str, *, now: datetime | None = None) -> list[int]:
    """Record that the quarantined entries not yet acknowledged were examined (``bihuan audit
    acknowledge --reason``): one audit entry naming them and the reason, sealed at once. From then
    on ``verify`` lists them as acknowledged instead of failing on them. Returns their ids."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a reason is required")
    seal_all()
    pending = [q["id"] for q in quarantined() if not q["acknowledged"] and not q["genuine"]]
    if pending:
        record(ACK_ACTION, object_type="audit.entry", extra={"reason": reason[:2000], "entries": pending}, now=now)
        seal_all()
    return pending


# --- checkpoints: the chain head anchored outside the database -----------------------------------------

def checkpoint_path() -> Path:
    return Path(settings.BIHUAN_AUDIT_CHECKPOINT_FILE)


def _checkpoint_payload(cp: dict) -> bytes:
    fields = {k: cp.get(k) for k in ("v", "seq", "head", "algo", "time", "key_id")}
    return b"bihuan-audit-checkpoint|" + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def _checkpoint_sig(cp: dict, key: str) -> str:
    return hmac.new(key.encode(), _checkpoint_payload(cp), "sha256").hexdigest()


def _last_line(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 4096))
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return None
    return lines[-1].decode(errors="replace") if lines else None


def write_checkpoint(now: datetime, *, force: bool = False) -> dict | None:
    """Append a signed checkpoint (sequence, head hash, time) of the chain head to the checkpoint
    file and the ``bihuan.audit.checkpoint`` log, when the head moved since the last one and
    ``BIHUAN_AUDIT_CHECKPOINT_SECONDS`` have passed (``force``: now). Returns it, or None."""
    head = ChainHead.objects.filter(pk=1).first()
    if head is None or not head.seq:
        return None
    path = checkpoint_path()
    if not force and (last := _last_line(path)):
        try:
            prev = json.loads(last)
            moved = (prev.get("seq"), prev.get("head")) != (head.seq, head.chain_hash)
            age = (now - datetime.fromisoformat(prev["time"])).total_seconds()
            if not moved or age < settings.BIHUAN_AUDIT_CHECKPOINT_SECONDS:
                return None
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # an unreadable last line: write a fresh checkpoint (verify reports the bad line)
    key = settings.BIHUAN_AUDIT_KEY
    cp = {"v": 1, "seq": head.seq, "head": head.chain_hash, "algo": head.algo,
          "time": now.astimezone(UTC).isoformat(timespec="seconds"), "key_id": key_id(key)}
    cp["sig"] = _checkpoint_sig(cp, key)
    line = json.dumps(cp, sort_keys=True, separators=(",", ":"))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Append-only, one write per line; the operator ships the file (or the log line) elsewhere.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    checkpoint_log.info("audit checkpoint %s", line)
    return cp


def verify_checkpoints(path, ring: dict[str, str] | None = None) -> tuple[int, list[dict]]:
    """Check a checkpoint file against the database: each line's signature, and that the entry
    at each checkpoint's sequence still exists with the same chain hash (a truncated or rewritten
    chain fails). Returns (checkpoints checked, problems)."""
    ring = ring or keyring()
    problems: list[dict] = []
    wanted: dict[int, tuple[int, dict]] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        return 0, [{"seq": None, "id": None, "reason": f"checkpoint file {path} cannot be read ({exc.strerror})"}]
    checked = 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            cp = json.loads(line)
            key = ring.get(cp.get("key_id"))
            if key is None:
                problems.append({"seq": None, "id": None, "reason": f"checkpoint line {n}: signed with an audit "
                                 f"key that is not configured ({str(cp.get('key_id'))[:16]})"})
                continue
            if not hmac.compare_digest(_checkpoint_sig(cp, key), str(cp.get("sig"))):
                problems.append({"seq": None, "id": None, "reason": f"checkpoint line {n}: signature mismatch"})
                continue
            seq = cp["seq"]
            if not isinstance(seq, int) or seq < 1:
                raise ValueError("bad sequence")
        except (ValueError, TypeError, KeyError, AttributeError):
            problems.append({"seq": None, "id": None, "reason": f"checkpoint line {n}: malformed"})
            continue
        checked += 1
        wanted[seq] = (n, cp)
    seqs = sorted(wanted)
    found: dict[int, str] = {}
    for i in range(0, len(seqs), 1000):
        found.update(AuditEntry.objects.filter(seq__in=seqs[i:i + 1000]).values_list("seq", "chain_hash"))
    db_head = AuditEntry.objects.filter(seq__isnull=False).order_by("-seq").values_list("seq", flat=True).first() or 0
    for seq in seqs:
        n, cp = wanted[seq]
        if seq not in found:
            problems.append({"seq": seq, "id": None, "reason": (
                f"truncated: checkpoint line {n} ({cp.get('time')}) says entry #{seq} was sealed; "
                f"the database's chain ends at #{db_head}")})
        elif found[seq] != cp.get("head"):
            problems.append({"seq": seq, "id": None, "reason": (
                f"chain rewritten: entry #{seq} differs from checkpoint line {n} ({cp.get('time')})")})
    return checked, problems


@dataclass
class VerifyReport:
    checked: int = 0
    sealed_head: int = 0
    unsealed: int = 0
    broken: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)
    checkpoints: int | None = None  # lines checked, when a checkpoint file was given

    @property
    def ok(self) -> bool:
        return not self.broken and all(q["acknowledged"] for q in self.quarantined)


def _keyset(qs, key: str, chunk: int = 2000):
    """(key, id) of ``qs`` in ``key`` order, a chunk at a time (constant memory, no open cursor)."""
    last = None
    while True:
        page = qs if last is None else qs.filter(**{f"{key}__gt": last})
        rows = list(page.order_by(key).values_list(key, "id")[:chunk])
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def verify(progress=None, *, checkpoint=None) -> VerifyReport:
    """Recompute every MAC and the chain. Reports the first broken link, bad unsealed rows,
    malformed rows and quarantined entries; never raises on what it finds in a row. With
    ``checkpoint`` (a file of ``write_checkpoint`` lines) also checks the chain against it."""
    report = VerifyReport()
    ring = keyring()
    head = ChainHead.objects.filter(pk=1).first()
    prev, expected = GENESIS, 1

    def chunks(pairs):
        batch = []
        for pair in pairs:
            batch.append(pair)
            if len(batch) == 2000:
                yield batch
                batch = []
        if batch:
            yield batch

    for batch in chunks(_keyset(AuditEntry.objects.filter(seq__isnull=False), "seq")):
        for (seq, _pk), (pk, row, unreadable) in zip(batch, _load([pk for _, pk in batch]), strict=True):
            report.checked += 1
            if progress:
                progress(1)
            if report.broken:
                continue
            if seq != expected:
                report.broken.append({"seq": expected, "id": None,
                                      "reason": f"entry #{expected} missing (next found is #{seq})"})
                continue
            if problem := unreadable or _mac_problem(row, ring):
                report.broken.append({"seq": seq, "id": pk, "reason": problem})
                continue
            if _link(prev, row, seq) != row.chain_hash:
                report.broken.append({"seq": seq, "id": pk, "reason": "chain link broken"})
                continue
            prev, expected = row.chain_hash, expected + 1
    report.sealed_head = expected - 1
    if not report.broken and head and (head.seq != report.sealed_head or (head.seq and head.chain_hash != prev)):
        report.broken.append({"seq": report.sealed_head + 1, "id": None,
                              "reason": f"sealed entries after #{report.sealed_head} removed (head says #{head.seq})"})
    unsealed = AuditEntry.objects.filter(seq__isnull=True).exclude(chain_hash=QUARANTINED)
    for batch in chunks(_keyset(unsealed, "id")):
        for pk, row, unreadable in _load([pk for pk, _ in batch]):
            report.unsealed += 1
            if progress:
                progress(1)
            if problem := unreadable or _mac_problem(row, ring):
                if "altered" in problem:
                    problem = "unsealed entry not written by Bihuan (MAC mismatch)"
                report.broken.append({"seq": None, "id": pk, "reason": problem})
    for q in quarantined():
        if q["genuine"]:
            report.broken.append({"seq": None, "id": q["id"], "reason": q["reason"]})
        else:
            report.quarantined.append({"id": q["id"], "reason": q["reason"], "acknowledged": q["acknowledged"]})
    if checkpoint is not None:
        report.checkpoints, problems = verify_checkpoints(checkpoint, ring)
        report.broken.extend(problems)
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
