"""Bulk writes for the seed and the importer: ``COPY`` on PostgreSQL, ``bulk_create`` elsewhere.

Ids are taken up front (``take_ids``), so households and their members can point at each
other in the same batch; the foreign keys are deferred to the end of the transaction.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Max
from django.utils import timezone


def take_ids(model, n: int) -> list[int]:
    """``n`` fresh primary keys for ``model`` (call inside the writing transaction)."""
    if n <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, n])
            return [r[0] for r in cur.fetchall()]
    # SQLite: the IMMEDIATE transaction holds the write lock, so max+1… is ours.
    start = (model.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    return list(range(start, start + n))


def _columns(model):
    return [f for f in model._meta.concrete_fields]


def insert(model, objs: list) -> None:
    """Insert ``objs`` (with their ids set) as fast as the database allows."""
    if not objs:
        return
    now = timezone.now()
    fields = _columns(model)
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            for o in objs:
                if getattr(o, f.attname) is None:
                    setattr(o, f.attname, now)
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=500)
        return
    cols = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    names = [f.attname for f in fields]
    # wrap_database_errors: a unique violation surfaces as Django's IntegrityError, as with bulk_create.
    with connection.cursor() as cur, connection.wrap_database_errors:
        raw = cur.cursor  # psycopg 3
        with raw.copy(f"COPY {connection.ops.quote_name(model._meta.db_table)} ({cols}) FROM STDIN") as cp:
            for o in objs:
                cp.write_row([getattr(o, n) for n in names])
