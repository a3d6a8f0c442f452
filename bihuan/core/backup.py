"""Backups you can restore: ``bihuan backup`` and ``bihuan restore`` (docs/operations.md).

A backup is one tar file (mode 0600) holding:

* ``database.pgdump`` (PostgreSQL, ``pg_dump -Fc``) or ``database.sqlite3`` (SQLite, copied with
  SQLite's online backup API, so it is consistent while the web and the worker keep writing);
* ``manifest.json``: time, Bihuan version, database vendor, migration heads, row counts per table
  (counted in the same snapshot as the dump), the dump's sha256, and key-check values;
* ``keys.env`` only with ``--include-keys``.

Keys are handled explicitly. The data key (personal numbers) and the audit key (MAC of the audit
log) are kept apart from the dumps, so a stolen backup is unreadable and unforgeable: a backup
holds them only when asked, with a warning. Instead the manifest holds a *key-check value* per
key (a known text encrypted with the data key; a MAC of a known text with the audit key), and
restore refuses to start when the keys configured on the target cannot read them.

Restore goes into a **new, empty** database only (never over live data), checks the dump's
sha256 first and the row counts afterwards, and records ``core.backup.restore`` in the restored
audit log; ``bihuan backup`` records ``core.backup.create`` in the live one.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dj_database_url
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from bihuan import __version__

from . import audit, protect
from .errors import ServiceError

FORMAT = 1
MANIFEST = "manifest.json"
KEYS_FILE = "keys.env"
DUMP_NAMES = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
KEY_CHECK_TEXT = "bihuan-backup-key-check"


class BackupError(ServiceError):
    """A backup or restore that cannot go on; the message says what to do."""


# --- key-check values ----------------------------------------------------------------

def _data_keys() -> list[str]:
    return [settings.BIHUAN_DATA_KEY, *getattr(settings, "BIHUAN_OLD_DATA_KEYS", [])]


def _audit_keys() -> list[str]:
    return [settings.BIHUAN_AUDIT_KEY, *getattr(settings, "BIHUAN_AUDIT_RETIRED_KEYS", [])]


def _audit_check(key: str) -> str:
    return hmac.new(key.encode(), KEY_CHECK_TEXT.encode(), hashlib.sha256).hexdigest()


def key_checks() -> dict:
    """Values that prove a key is present without containing it (stored in the manifest)."""
    return {
        "data": [{"key_id": protect.key_id(k), "check": protect.encrypt(KEY_CHECK_TEXT, key=k),
                  "current": i == 0} for i, k in enumerate(_data_keys())],
        "audit": [{"key_id": audit.key_id(k), "check": _audit_check(k), "current": i == 0}
                  for i, k in enumerate(_audit_keys())],
    }


def missing_keys(checks: dict) -> list[str]:
    """The keys of a backup that this installation does not hold, as sentences (empty: all present)."""
    missing = []
    for item in checks.get("data", []):
        try:
            ok = protect.decrypt(item["check"]) == KEY_CHECK_TEXT
        except protect.DecryptionError:
            ok = False
        if not ok:
            which = "BIHUAN_DATA_KEY" if item.get("current") else "BIHUAN_OLD_DATA_KEYS"
            missing.append(f"data key {item['key_id']} ({which}): ID and phone numbers encrypted with it "
                           f"cannot be read")
    ring = audit.keyring()
    for item in checks.get("audit", []):
        key = ring.get(item["key_id"])
        if key is None or not hmac.compare_digest(_audit_check(key), item["check"]):
            which = "BIHUAN_AUDIT_KEY" if item.get("current") else "BIHUAN_AUDIT_RETIRED_KEYS"
            missing.append(f"audit key {item['key_id']} ({which}): audit entries made with it cannot be verified")
    return missing


def _keys_env() -> str:
    lines = ["# Bihuan keys, written by `bihuan backup --include-keys`. Keep this file secret.",
             f"BIHUAN_DATA_KEY={settings.BIHUAN_DATA_KEY}",
             f"BIHUAN_AUDIT_KEY={settings.BIHUAN_AUDIT_KEY}"]
    if old := getattr(settings, "BIHUAN_OLD_DATA_KEYS", []):
        lines.append("BIHUAN_OLD_DATA_KEYS=" + ",".join(old))
    if retired := getattr(settings, "BIHUAN_AUDIT_RETIRED_KEYS", []):
        lines.append("BIHUAN_AUDIT_RETIRED_KEYS=" + ",".join(retired))
    return "\n".join(lines) + "\n"


# --- helpers -------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _count_rows(cursor, tables: list[str], quote) -> dict[str, int]:
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608 - names from introspection
        counts[table] = int(cursor.fetchone()[0])
    return counts


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
    return [r[0] for r in rows]


def _sqlite_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_env(db: dict) -> dict[str, str]:
    """libpq environment for pg_dump/pg_restore: the password never appears on a command line."""
    env = {**os.environ}
    for var, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER"), ("PGPASSWORD", "PASSWORD"),
                     ("PGDATABASE", "NAME")):
        if db.get(key):
            env[var] = str(db[key])
    return env


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BackupError(f"{tool} is not installed; install the PostgreSQL client (apt-get install "
                          f"postgresql-client) in the same major version as the server")
    return path


def _migration_heads() -> dict[str, str]:
    heads: dict[str, str] = {}
    for app, name in MigrationRecorder(connection).migration_qs.order_by("id").values_list("app", "name"):
        heads[app] = max(heads.get(app, ""), name)
    return heads


def default_output(now: datetime) -> Path:
    return Path(settings.VAR_DIR) / "backups" / f"bihuan-backup-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.tar"


@dataclass
class BackupResult:
    path: Path
    manifest: dict


# --- backup --------------------------------------------------------------------------

def _dump_postgresql(dest: Path) -> dict[str, int]:
    """pg_dump in the snapshot in which the rows are counted, so the counts match the dump exactly."""
    pg_dump = _need("pg_dump")
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute("SELECT pg_export_snapshot()")
        snapshot = cur.fetchone()[0]
        tables = connection.introspection.table_names(cur)
        counts = _count_rows(cur, tables, connection.ops.quote_name)
        run = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            [pg_dump, "-Fc", "--no-owner", "--no-privileges", f"--snapshot={snapshot}", "-f", str(dest)],
            env=_pg_env(connection.settings_dict), capture_output=True, text=True)
        if run.returncode != 0:
            raise BackupError(f"pg_dump failed: {run.stderr.strip()}")
    return counts


def _dump_sqlite(dest: Path) -> dict[str, int]:
    """SQLite's online backup API: a consistent copy even while others write (WAL)."""
    src = sqlite3.connect(settings.DATABASES["default"]["NAME"], timeout=30)
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file inside the archive
        return _count_rows(dst.cursor(), _sqlite_tables(dst), _sqlite_quote)
    finally:
        dst.close()
        src.close()


def create_backup(output: Path | None = None, *, include_keys: bool = False, now: datetime | None = None,
                  progress=None) -> BackupResult:
    """Write a backup archive of the default database; record ``core.backup.create``."""
    now = now or timezone.now()
    vendor = connection.vendor
    if vendor not in DUMP_NAMES:
        raise BackupError(f"backups of {vendor} databases are not supported")
    output = Path(output) if output else default_output(now)
    if output.exists():
        raise BackupError(f"{output} exists; choose another --output")
    output.parent.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda msg: None)
    with tempfile.TemporaryDirectory(prefix="bihuan-backup-", dir=output.parent) as tmp:
        dump = Path(tmp) / DUMP_NAMES[vendor]
        heads = _migration_heads()
        # Seal the committed tail first, so the chain in the backup covers every entry in it.
        audit.seal_all()
        say(f"dumping the {vendor} database")
        counts = _dump_postgresql(dump) if vendor == "postgresql" else _dump_sqlite(dump)
        manifest = {
            "format": FORMAT,
            "created_at": now.astimezone(UTC).isoformat(timespec="seconds"),
            "bihuan_version": __version__,
            "vendor": vendor,
            "migrations": heads,
            "dump": {"name": dump.name, "bytes": dump.stat().st_size, "sha256": _sha256(dump)},
            "row_counts": counts,
            "key_checks": key_checks(),
            "includes_keys": include_keys,
        }
        partial = Path(tmp) / "archive.tar"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # personal data: owner only
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode())
            tar.add(dump, arcname=dump.name)
            if include_keys:
                _add_bytes(tar, KEYS_FILE, _keys_env().encode())
        os.replace(partial, output)  # the archive appears whole or not at all
    audit.record("core.backup.create", object_type="core.backup", object_id=manifest["dump"]["sha256"][:16],
                 now=now, extra={"file": output.name, "vendor": vendor, "sha256": manifest["dump"]["sha256"],
                                 "tables": len(counts), "rows": sum(counts.values()),
                                 "includes_keys": include_keys})
    return BackupResult(output, manifest)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


# --- restore -------------------------------------------------------------------------

def read_manifest(path: Path) -> dict:
    try:
        with tarfile.open(path, "r:") as tar:
            member = tar.getmember(MANIFEST)
            return json.loads(tar.extractfile(member).read())
    except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
        raise BackupError(f"{path} is not a Bihuan backup ({exc})") from exc


@contextmanager
def using_database(url: str | None):
    """Point Django's default connection at ``url`` for the block (restore targets another database)."""
    if not url:
        yield
        return
    old = connections.settings["default"]
    connections.close_all()
    new = dj_database_url.parse(url)
    connections.settings["default"] = connections.configure_settings({"default": new})["default"]
    _forget_default()
    try:
        yield
    finally:
        connections.close_all()
        connections.settings["default"] = old
        _forget_default()


def _forget_default() -> None:
    try:
        del connections["default"]
    except AttributeError:
        pass


@dataclass
class RestoreResult:
    manifest: dict
    target: str
    count_mismatches: dict = field(default_factory=dict)
    includes_keys: bool = False


def _target_is_empty() -> bool:
    with connection.cursor() as cur:
        return not connection.introspection.table_names(cur)


def describe_target() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite {db['NAME']}"
    return f"{connection.vendor} {db.get('NAME')} on {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"


def restore_backup(path: Path, *, allow_missing_keys: bool = False, now: datetime | None = None,
                   progress=None) -> RestoreResult:
    """Restore ``path`` into the default database (which must be empty). Call inside ``using_database``."""
    now = now or timezone.now()
    say = progress or (lambda msg: None)
    path = Path(path)
    manifest = read_manifest(path)
    if manifest.get("format") != FORMAT:
        raise BackupError(f"backup format {manifest.get('format')} is not supported by this version")
    vendor = manifest["vendor"]
    if connection.vendor != vendor:
        raise BackupError(f"this is a {vendor} backup, but the target database is {connection.vendor}; "
                          f"restore it into a {vendor} database")
    missing = missing_keys(manifest.get("key_checks", {}))
    if missing and not allow_missing_keys:
        hint = (" The backup carries its keys in keys.env (`tar -xOf BACKUP keys.env`)."
                if manifest.get("includes_keys") else " Keys are never in a backup unless made with --include-keys.")
        raise BackupError("the keys of this backup are not configured here:\n  - " + "\n  - ".join(missing)
                          + "\nSet them (environment or var/) and run restore again, or pass --allow-missing-keys."
                          + hint)
    if not _target_is_empty():
        raise BackupError(f"the target database ({describe_target()}) is not empty; restore into a new "
                          f"database (createdb, or a new SQLite file) and switch DATABASE_URL to it")
    with tempfile.TemporaryDirectory(prefix="bihuan-restore-") as tmp:
        dump = Path(tmp) / manifest["dump"]["name"]
        with tarfile.open(path, "r:") as tar:
            member = tar.getmember(manifest["dump"]["name"])
            with tar.extractfile(member) as src, open(dump, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        say("checking the dump's sha256")
        if _sha256(dump) != manifest["dump"]["sha256"]:
            raise BackupError("the dump does not match the sha256 in its manifest: the backup is damaged")
        say(f"restoring into {describe_target()}")
        if vendor == "postgresql":
            _restore_postgresql(dump)
        else:
            _restore_sqlite(dump)
    with connection.cursor() as cur:
        tables = connection.introspection.table_names(cur)
        counts = _count_rows(cur, tables, connection.ops.quote_name)
    expected = manifest["row_counts"]
    mismatches = {t: {"backup": expected.get(t), "restored": counts.get(t)}
                  for t in sorted(set(expected) | set(counts)) if expected.get(t) != counts.get(t)}
    audit.record("core.backup.restore", object_type="core.backup", object_id=manifest["dump"]["sha256"][:16],
                 now=now, extra={"file": path.name, "vendor": vendor, "sha256": manifest["dump"]["sha256"],
                                 "backup_created_at": manifest["created_at"],
                                 "rows": sum(counts.values()), "count_mismatches": len(mismatches),
                                 "missing_keys": len(missing)})
    audit.seal_all()
    return RestoreResult(manifest, describe_target(), mismatches, bool(manifest.get("includes_keys")))


def _restore_postgresql(dump: Path) -> None:
    pg_restore = _need("pg_restore")
    db = connection.settings_dict
    connection.close()
    run = subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
         "-d", db["NAME"], str(dump)],
        env=_pg_env(db), capture_output=True, text=True)
    if run.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing was restored): {run.stderr.strip()}")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")  # fresh planner statistics; pg_restore does not gather them


def _restore_sqlite(dump: Path) -> None:
    target = connection.settings_dict["NAME"]
    connection.close()
    src = sqlite3.connect(dump)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # page by page into the target file, in one step for the reader
    finally:
        dst.close()
        src.close()
