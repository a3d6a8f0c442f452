"""``bihuan rekey_people --old-key=KEY``: re-encrypt ID/phone numbers and needs notes under the current data key.

Run after setting a new ``BIHUAN_DATA_KEY``. Old ciphertexts are read with the old key(s);
each row is re-encrypted with the current key and its blind indexes recomputed (they are
keyed too). Works in batches, one transaction each, so an interrupted run can be repeated:
rows already under the current key are skipped. Per-row work is inherent here (decrypt and
re-encrypt cannot happen in SQL), hence the keyset walk.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from bihuan.core import audit, protect
from bihuan.core.context import acting_as
from bihuan.people.models import Person, Vulnerability


def _stale(token: str, kid: str) -> bool:
    return bool(token) and token.split(":", 2)[1:2] != [kid]


def rekey(*, batch: int = 2000, progress=None) -> dict:
    kid = protect.key_id(settings.BIHUAN_DATA_KEY)
    counts = {"persons": 0, "needs": 0}
    last = 0
    while True:
        with transaction.atomic():
            rows = list(Person.objects.filter(id__gt=last).order_by("id")
                        .only("id", "id_number_enc", "phone_enc")[:batch])
            if not rows:
                break
            changed = []
            for p in rows:
                if not (_stale(p.id_number_enc, kid) or _stale(p.phone_enc, kid)):
                    continue
                if p.id_number_enc:
                    number = protect.decrypt(p.id_number_enc)
                    p.id_number_enc = protect.encrypt(number)
                    p.id_number_bidx = protect.blind_index(number, "id_number")
                if p.phone_enc:
                    phone = protect.decrypt(p.phone_enc)
                    p.phone_enc = protect.encrypt(phone)
                    p.phone_bidx = protect.blind_index(phone, "phone")
                changed.append(p)
            if changed:
                # Blind indexes are unique: clear the batch's first so a swap cannot collide mid-update.
                Person.objects.filter(pk__in=[p.pk for p in changed]).update(id_number_bidx=None)
                Person.objects.bulk_update(changed, ["id_number_enc", "id_number_bidx", "phone_enc", "phone_bidx"],
                                           batch_size=500)
            counts["persons"] += len(changed)
            last = rows[-1].id
            if progress:
                progress(len(rows))
    for v in Vulnerability.objects.exclude(needs_enc="").iterator(chunk_size=2000):
        if _stale(v.needs_enc, kid):
            Vulnerability.objects.filter(pk=v.pk).update(needs_enc=protect.encrypt(protect.decrypt(v.needs_enc)))
            counts["needs"] += 1
    return counts


class Command(BaseCommand):
    help = "Re-encrypt protected people data under the current BIHUAN_DATA_KEY (key rotation)."

    def add_arguments(self, parser):
        parser.add_argument("--old-key", action="append", default=[], metavar="KEY",
                            help="a previous data key (repeat for several); also BIHUAN_OLD_DATA_KEYS, comma-separated")
        parser.add_argument("--batch", type=int, default=2000)

    def handle(self, *args, old_key, batch, **opts):
        import os

        old = [*old_key, *[k for k in os.environ.get("BIHUAN_OLD_DATA_KEYS", "").split(",") if k]]
        settings.BIHUAN_OLD_DATA_KEYS = [*getattr(settings, "BIHUAN_OLD_DATA_KEYS", []), *old]
        with acting_as(None, username="rekey"), tqdm(total=Person.objects.count(), desc="rekey", unit="row",
                                                       file=self.stderr, disable=opts["verbosity"] == 0) as bar:
            try:
                counts = rekey(batch=batch, progress=bar.update)
            except protect.DecryptionError as exc:
                raise CommandError(f"{exc}: pass the previous key with --old-key")
            audit.record("people.rekey", object_type="people.person",
                         extra={"key_id": protect.key_id(settings.BIHUAN_DATA_KEY), **counts})
        self.stdout.write(f"re-encrypted {counts['persons']} persons and {counts['needs']} needs notes")
