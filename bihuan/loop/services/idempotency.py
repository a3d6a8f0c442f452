"""Idempotency-Key: a client's retry gets the first answer, byte for byte.

* **Claim first, in the same transaction as the work.** The record (user, scope, key) is inserted
  before the matter is created, inside one transaction, under the unique constraint
  ``idempotency_key_unique``. A concurrent first request with the same key blocks on that index
  entry until the first transaction ends (PostgreSQL; on SQLite the IMMEDIATE transaction queues
  at BEGIN), then finds the finished record: there is never a second matter, and never a record
  without its matter or a matter without its record.
* **The stored answer is the bytes sent.** The status and the exact response body are stored;
  every replay sends those bytes with ``Idempotent-Replayed: true`` (re-serialising a stored JSON
  value once changed how timestamps looked).
* **Same key, other body: refused.** The SHA-256 of the raw request body is stored; a request
  whose body differs is refused with 422 whether it comes before or after the first one commits.
* A refused first request (a ``ServiceError`` inside the work) rolls the claim back with it, so
  the key stays free for a corrected retry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from bihuan.core.errors import Conflict, ServiceError, Unprocessable
from bihuan.core.text import clean

from ..models import IdempotencyKey, Matter

MAX_KEY = 100  # the column's length; a longer key is refused rather than cut (cutting merges keys)


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    replayed: bool


def valid_key(raw: str | None) -> str:
    """The client's key, stripped; "" when none was sent. Refuses keys the column cannot hold."""
    key = (raw or "").strip()
    if len(key) > MAX_KEY or clean(key) != key:
        raise ServiceError(_("The Idempotency-Key must be at most %(n)d printable characters.") % {"n": MAX_KEY},
                           {"Idempotency-Key": _("At most %(n)d printable characters.") % {"n": MAX_KEY}},
                           code="invalid_idempotency_key")
    return key


def body_hash(raw: bytes) -> str:
    return hashlib.sha256(raw or b"").hexdigest()


def once(*, user_id: int, scope: str, key: str, request_body: bytes,
         work: Callable[[], tuple[int, str, Matter | None]]) -> Answer:
    """Run ``work`` once per (user, scope, key); later calls get the stored answer.

    ``work`` returns (status, body text, matter) and runs inside this transaction; its answer is
    stored in the same transaction as whatever it created."""
    digest = body_hash(request_body)
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a lost race leaves the outer transaction usable
                rec = IdempotencyKey.objects.create(user_id=user_id, scope=scope, key=key, request_hash=digest,
                                                    status=0, response={}, body="")
        except IntegrityError:
            rec = None
        if rec is None:
            return _replay(user_id, scope, key, digest)
        status, body, matter = work()
        rec.status, rec.body, rec.matter = status, body, matter
        rec.save(update_fields=["status", "body", "matter"])
    return Answer(status, body, replayed=False)


def _replay(user_id: int, scope: str, key: str, digest: str) -> Answer:
    prior = IdempotencyKey.objects.filter(user_id=user_id, scope=scope, key=key).first()
    if prior is None or prior.status == 0:  # not reachable with the claim above; never guess
        raise Conflict(_("A request with this Idempotency-Key is still being processed; retry shortly."))
    if prior.request_hash != digest:
        raise Unprocessable(_("This Idempotency-Key was used with a different request."),
                            {"Idempotency-Key": _("Reused with a different body.")}, code="idempotency_mismatch")
    body = prior.body or json.dumps(prior.response, ensure_ascii=False)  # records from before bodies were kept
    return Answer(prior.status, body, replayed=True)
