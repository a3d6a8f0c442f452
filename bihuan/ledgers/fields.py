"""The one rule for a register's fields: what a definition may say, and the one validator of an
entry built from it. The form, the API and the import all call ``validate``; nothing else
decides whether a value fits a field.

A field is a dict::

    {"key": "members", "label": "成员数", "type": "number", "required": true, "listed": true,
     "unit": "人", "min": 0, "max": 100000, "unique": "", "personal": false}

Types: ``text`` (``max_length``, ``pattern``), ``number`` (``unit``, ``min``, ``max``, ``places``),
``money`` (yuan, two places), ``date``, ``choice`` and ``multi`` (``choices``: the dictionary,
字典), ``person`` (a person of the people registry, by id), ``unit`` (an org unit, by id or
division code), ``bool`` (是/否), ``file`` (PDF, JPEG, PNG, XLSX or DOCX, checked by content in
``ledgers.files``; ``data`` holds its name, the bytes are an ``EntryFile``). ``unique``: ``""``, ``"unit"`` (within the filling unit) or
``"city"``. ``personal`` (text only): encrypted at rest and masked in every output
(``core.protect``). ``removed``: kept for history, no longer filled.
"""

from __future__ import annotations

import re
import re._parser as sre_parse
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from bihuan.core import protect
from bihuan.core.errors import ServiceError
from bihuan.core.text import has_control

TYPES = ("text", "number", "money", "date", "choice", "multi", "person", "unit", "bool", "file")
TYPE_LABELS = {"text": "文本", "number": "数值", "money": "金额", "date": "日期", "choice": "单选(字典)",
               "multi": "多选", "person": "人员", "unit": "单位", "bool": "是/否", "file": "文件"}
NUMERIC = ("number", "money")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
MAX_FIELDS = 60
MAX_CHOICES = 200
MAX_TEXT = 2000
DEFAULT_TEXT = 200
MAX_PATTERN = 100
MAX_ABS = Decimal("1000000000000")  # 10^12
TRUE = {"是", "true", "yes", "1", "y", "对", "有"}
FALSE = {"否", "false", "no", "0", "n", "无"}
SPLIT = re.compile(r"[、,，;；\n]+")


# --- the definition ----------------------------------------------------------------------------

def _fail(path: str, message: str):
    raise ServiceError(f"{path}: {message}", {path: message})


def _bounded(node_list, in_repeat=False) -> None:
    """Refuse patterns that can backtrack without bound: a repeat inside a repeat, backrefs,
    look-arounds. Values are short (at most ``MAX_TEXT``), so the rest is linear enough."""
    for op, av in node_list:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, hi, sub = av
            if in_repeat and (hi is sre_parse.MAXREPEAT or hi > 1):
                raise ValueError("nested repeat")
            if hi is not sre_parse.MAXREPEAT and hi > 1000:
                raise ValueError("repeat too large")
            _bounded(sub, in_repeat or hi is sre_parse.MAXREPEAT or hi > 1)
        elif name == "SUBPATTERN":
            _bounded(av[-1], in_repeat)
        elif name == "BRANCH":
            for b in av[1]:
                _bounded(b, in_repeat)
        elif name in ("GROUPREF", "GROUPREF_EXISTS", "ASSERT", "ASSERT_NOT"):
            raise ValueError("backreferences and look-arounds are not allowed")


def check_pattern(pattern: str) -> str:
    if len(pattern) > MAX_PATTERN:
        raise ValueError(_("At most %(n)d characters.") % {"n": MAX_PATTERN})
    try:
        parsed = sre_parse.parse(pattern)
        _bounded(list(parsed))
        re.compile(pattern)
    except (re.error, ValueError, OverflowError, RecursionError) as exc:
        raise ValueError(_("Not a safe pattern (no nested repeats, back-references or look-arounds): %(e)s")
                         % {"e": exc}) from None
    return pattern


def _num(v, path: str) -> Decimal | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        _fail(path, _("Enter a number."))
    try:
        d = Decimal(str(v).strip())
    except (InvalidOperation, ValueError):
        _fail(path, _("Enter a number."))
    if not d.is_finite() or abs(d) > MAX_ABS:
        _fail(path, _("Enter a smaller number."))
    return d


def _label(v, path: str, limit: int, required: bool = True) -> str:
    v = "" if v is None else str(v).strip()
    if required and not v:
        _fail(path, _("This field is required."))
    if len(v) > limit:
        _fail(path, _("At most %(max)d characters.") % {"max": limit})
    if has_control(v):
        _fail(path, _("Control characters are not allowed."))
    return v


def clean_field(raw, path: str) -> dict:
    if not isinstance(raw, dict):
        _fail(path, _("A field is an object with key, label and type."))
    key = str(raw.get("key") or "").strip()
    if not KEY.match(key):
        _fail(f"{path}.key", _("A key is a lower-case letter, then letters, digits or _ (at most 30)."))
    ftype = raw.get("type")
    if ftype not in TYPES:
        _fail(f"{path}.type", _("Unknown type; use one of %(t)s.") % {"t": ", ".join(TYPES)})
    f = {"key": key, "label": _label(raw.get("label"), f"{path}.label", 40), "type": ftype,
         "required": bool(raw.get("required")), "listed": bool(raw.get("listed")),
         "unique": raw.get("unique") or "", "personal": bool(raw.get("personal")),
         "removed": bool(raw.get("removed"))}
    if f["unique"] not in ("", "unit", "city"):
        _fail(f"{path}.unique", _("Unique is empty, unit or city."))
    if f["personal"] and ftype != "text":
        _fail(f"{path}.personal", _("Only text fields can hold personal data."))
    if ftype == "file" and f["unique"]:
        _fail(f"{path}.unique", _("A file field cannot be unique."))
    if ftype == "text":
        n = raw.get("max_length", DEFAULT_TEXT)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_TEXT:
            _fail(f"{path}.max_length", _("Between 1 and %(n)d.") % {"n": MAX_TEXT})
        f["max_length"] = n
        if raw.get("pattern"):
            try:
                f["pattern"] = check_pattern(str(raw["pattern"]))
            except ValueError as exc:
                _fail(f"{path}.pattern", str(exc))
    if ftype in NUMERIC:
        lo, hi = _num(raw.get("min"), f"{path}.min"), _num(raw.get("max"), f"{path}.max")
        if lo is not None and hi is not None and lo > hi:
            _fail(f"{path}.max", _("The maximum is below the minimum."))
        f["min"] = None if lo is None else _json_number(lo)
        f["max"] = None if hi is None else _json_number(hi)
        f["unit"] = _label(raw.get("unit") or ("元" if ftype == "money" else ""), f"{path}.unit", 10, False)
        places = 2 if ftype == "money" else raw.get("places", 0)
        if not isinstance(places, int) or isinstance(places, bool) or not 0 <= places <= 4:
            _fail(f"{path}.places", _("Between 0 and 4."))
        f["places"] = places
    if ftype in ("choice", "multi") and raw.get("dictionary"):
        # a shared dictionary (字典, h-ledgers2): its choices, copied into the definition's version
        from .models import Dictionary

        code = str(raw["dictionary"])[:41]
        d = Dictionary.objects.filter(code=code).first()
        if d is None:
            _fail(f"{path}.dictionary", _("Unknown dictionary %(c)s.") % {"c": code[:40]})
        f["dictionary"] = d.code
        raw = {**raw, "choices": list(d.choices)}
    if ftype in ("choice", "multi"):
        choices = raw.get("choices")
        if not isinstance(choices, list) or not choices or len(choices) > MAX_CHOICES:
            _fail(f"{path}.choices", _("Give 1 to %(n)d choices.") % {"n": MAX_CHOICES})
        cleaned = [_label(c, f"{path}.choices", 40) for c in choices]
        if len(set(cleaned)) != len(cleaned):
            _fail(f"{path}.choices", _("A choice appears twice."))
        f["choices"] = cleaned
    if raw.get("default") not in (None, "") and ftype != "file":
        f["default"] = raw["default"]
    return f


def clean_fields(raw_fields, old_fields: list[dict] | None = None) -> list[dict]:
    """A definition's fields, checked; against ``old_fields``, a change that keeps old entries
    valid: no key changes type, a removed field is kept (``removed: true``) for its history."""
    if not isinstance(raw_fields, list) or not raw_fields:
        _fail("fields", _("A register has at least one field."))
    if len(raw_fields) > MAX_FIELDS:
        _fail("fields", _("At most %(n)d fields.") % {"n": MAX_FIELDS})
    out = [clean_field(r, f"fields.{i}") for i, r in enumerate(raw_fields, start=1)]
    keys = [f["key"] for f in out]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup:
        _fail("fields", _("The key %(k)s appears twice.") % {"k": dup})
    for f in out:
        if "default" in f:
            f["default"] = validate_value(f, f["default"], f"fields.{f['key']}.default", user=None)
    if old_fields:
        new = {f["key"]: f for f in out}
        for old in old_fields:
            cur = new.get(old["key"])
            if cur is None:  # left out: kept, removed, so its history stays readable
                out.append({**old, "removed": True, "listed": False, "required": False})
            elif cur["type"] != old["type"]:
                _fail(f"fields.{old['key']}.type",
                      _("A field's type cannot change (%(a)s → %(b)s); add a new field instead.")
                      % {"a": old["type"], "b": cur["type"]})
            elif cur.get("personal") != old.get("personal"):
                _fail(f"fields.{old['key']}.personal", _("Whether a field is personal data cannot change."))
    if not any(not f["removed"] for f in out):
        _fail("fields", _("A register has at least one field."))
    return out


def _json_number(d: Decimal):
    return int(d) if d == d.to_integral_value() else float(d)


# --- an entry ----------------------------------------------------------------------------------

def _text_of(v) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, datetime):
        v = v.date()
    if isinstance(v, date):
        return v.isoformat()
    return str(v).strip()


def _empty(v) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, list) and not v)


def validate_value(f: dict, v, path: str, *, user):
    """One value for field ``f``, as stored (JSON), or ``ServiceError`` naming ``path``."""
    t = f["type"]
    if t == "text":
        s = _text_of(v)
        if len(s) > f.get("max_length", DEFAULT_TEXT):
            _fail(path, _("At most %(max)d characters.") % {"max": f.get("max_length", DEFAULT_TEXT)})
        if has_control(s):
            _fail(path, _("Control characters are not allowed."))
        if f.get("pattern") and not re.fullmatch(f["pattern"], s):
            _fail(path, _("Wrong format."))
        return s
    if t in NUMERIC:
        if isinstance(v, str):
            v = v.replace(",", "").replace("，", "").strip()
        d = _num(v, path)
        places = f.get("places", 0)
        if d != d.quantize(Decimal(1).scaleb(-places)):
            _fail(path, _("At most %(n)d decimal places.") % {"n": places} if places else _("Enter a whole number."))
        if f.get("min") is not None and d < Decimal(str(f["min"])):
            _fail(path, _("At least %(v)s.") % {"v": f["min"]})
        if f.get("max") is not None and d > Decimal(str(f["max"])):
            _fail(path, _("At most %(v)s.") % {"v": f["max"]})
        return _json_number(d)
    if t == "date":
        if isinstance(v, datetime):
            v = v.date()
        if isinstance(v, date):
            d = v
        else:
            try:
                d = date.fromisoformat(_text_of(v).replace("/", "-")[:10])
            except ValueError:
                _fail(path, _("Enter a date (YYYY-MM-DD)."))
        if not 1900 <= d.year <= 2999:
            _fail(path, _("Enter a date (YYYY-MM-DD)."))
        return d.isoformat()
    if t == "choice":
        s = _text_of(v)
        if s not in f["choices"]:
            _fail(path, _("Unknown choice %(v)s; use one of %(c)s.") % {"v": s[:40], "c": "、".join(f["choices"][:20])})
        return s
    if t == "multi":
        items = v if isinstance(v, list) else [p for p in SPLIT.split(_text_of(v)) if p.strip()]
        out = []
        for item in items:
            s = _text_of(item)
            if s not in f["choices"]:
                _fail(path, _("Unknown choice %(v)s; use one of %(c)s.") % {"v": s[:40],
                                                                          "c": "、".join(f["choices"][:20])})
            if s not in out:
                out.append(s)
        return out
    if t == "bool":
        if isinstance(v, bool):
            return v
        s = _text_of(v).lower()
        if s in TRUE:
            return True
        if s in FALSE:
            return False
        _fail(path, _("Enter 是 or 否."))
    if t == "unit":
        from bihuan.orgs.models import OrgUnit

        s = _text_of(v)
        if isinstance(v, bool) or not s.isdigit() or len(s) > 18:
            _fail(path, _("Name a unit by its division code."))
        unit = (OrgUnit.objects.filter(valid_to__isnull=True, code=s).only("id").first()
                or (OrgUnit.objects.filter(pk=int(s)).only("id").first() if len(s) <= 9 else None))
        if unit is None:
            _fail(path, _("No current unit with code %(c)s.") % {"c": s})
        return unit.pk
    if t == "file":
        _fail(path, _("A file is uploaded on the entry's page or through the API; it cannot be typed or imported."))
    if t == "person":
        from bihuan.people.models import Person

        s = _text_of(v)
        if isinstance(v, bool) or not s.isdigit() or len(s) > 12:
            _fail(path, _("Name a person by their id in the people registry."))
        qs = Person.objects.all() if user is None else Person.objects.restrict(user, "view")
        if not qs.filter(pk=int(s)).exists():
            _fail(path, _("No person %(p)s in your scope.") % {"p": s})
        return int(s)
    raise AssertionError(t)


def mask(value: str) -> str:
    """A personal value as shown everywhere: ID numbers and phones as the people app masks them,
    anything else to its first character."""
    s = (value or "").strip()
    if not s:
        return ""
    if len(s) in (15, 18) and s[:15].isdigit():
        return protect.mask_id_number(s)
    if s.isdigit() and 7 <= len(s) <= 12:
        return protect.mask_phone(s)
    return s[:1] + "*" * min(len(s) - 1, 8)


def validate(register, raw: dict, *, user, current=None) -> dict:
    """The one validator: ``raw`` (field key → value, as typed or as JSON) checked against the
    live fields of ``register``. Returns ``{"data", "protected", "blind"}`` ready to store; raises
    one ``ServiceError`` with every field's message. Keys not in the definition are refused.
    ``current`` (an entry being edited) keeps the personal values that were not sent again, and
    the files that were not uploaded again. A file field's value is a ``files.Upload`` (checked
    here by content; ``uploads`` maps the key to (upload, content type) for the services to store)."""
    from . import files
    if not isinstance(raw, dict):
        raise ServiceError(_("The values are an object of field → value."), {"data": _("Not an object.")})
    live = {f["key"]: f for f in register.live_fields()}
    errors: dict[str, str] = {}
    known = {f["key"] for f in register.fields}  # a removed field's value is ignored, not refused
    unknown = [str(k)[:30] for k in raw if k not in known]
    if unknown:
        errors["data"] = _("Unknown fields: %(k)s.") % {"k": "、".join(unknown[:10])}
    data, protected, blind, uploads = {}, {}, {}, {}
    for key, f in live.items():
        v = raw.get(key)
        if f["type"] == "file":
            kept = current.data.get(key) if current is not None else None
            if isinstance(v, files.Upload):
                try:
                    uploads[key] = (v, files.check(key, v))
                except ServiceError as exc:
                    errors[key] = exc.field_errors.get(key, str(exc.message))
                    continue
                data[key] = files.clean_name(v.name)
                continue
            if kept and (_empty(v) or v == kept):
                data[key] = kept
                continue
            if _empty(v):
                if f["required"]:
                    errors[key] = _("This field is required.")
                continue
        if f["personal"] and current is not None and (_empty(v) or v == current.data.get(key)):
            # not sent again (or sent back masked, as shown): keep what is stored
            if key in current.protected:
                data[key] = current.data.get(key)
                protected[key] = current.protected[key]
                if key in current.blind:
                    blind[key] = current.blind[key]
                continue
        if _empty(v) and "default" in f:
            v = f["default"]
        if _empty(v):
            if f["required"]:
                errors[key] = _("This field is required.")
            continue
        try:
            value = validate_value(f, v, key, user=user)
        except ServiceError as exc:
            errors[key] = next(iter(exc.field_errors.values()), str(exc.message))
            continue
        if f["personal"]:
            data[key] = mask(value)
            protected[key] = protect.encrypt(value)
            blind[key] = protect.blind_index(value, f"ledgers.{register.code}.{key}")
        else:
            data[key] = value
    if errors:
        first = next(iter(errors))
        label = live[first]["label"] if first in live else first
        raise ServiceError(_("%(field)s: %(msg)s") % {"field": label, "msg": errors[first]}
                           if len(errors) == 1 else
                           _("%(n)d fields are not valid (first: %(field)s: %(msg)s).")
                           % {"n": len(errors), "field": label, "msg": errors[first]}, errors)
    return {"data": data, "protected": protected, "blind": blind, "uploads": uploads}


def search_text(register, data: dict) -> str:
    """What search looks in: the text and choice values (personal values only masked)."""
    parts = []
    for f in register.live_fields():
        v = data.get(f["key"])
        if v is None or f["personal"] or f["type"] in ("person", "unit", "bool"):
            continue
        parts.append("、".join(v) if isinstance(v, list) else str(v))
    return " ".join(parts)[:4000].lower()


def json_schema(register) -> dict:
    """The JSON Schema of an entry's ``data`` (for the API document)."""
    props = {}
    for f in register.live_fields():
        t = f["type"]
        s: dict = {"title": f["label"]}
        if t == "text":
            s.update(type="string", maxLength=f.get("max_length", DEFAULT_TEXT))
            if f.get("pattern"):
                s["pattern"] = f["pattern"]
        elif t in NUMERIC:
            s["type"] = "number"
            if f.get("min") is not None:
                s["minimum"] = f["min"]
            if f.get("max") is not None:
                s["maximum"] = f["max"]
            if f.get("unit"):
                s["x-unit"] = f["unit"]
        elif t == "date":
            s.update(type="string", format="date")
        elif t == "choice":
            s.update(type="string", enum=f["choices"])
        elif t == "multi":
            s.update(type="array", items={"type": "string", "enum": f["choices"]}, uniqueItems=True)
        elif t == "bool":
            s["type"] = "boolean"
        elif t == "unit":
            s.update(type="string", description="division code")
        elif t == "person":
            s.update(type="integer", description="person id (people registry)")
        elif t == "file":
            s.update(type="string", readOnly=True, description="file name; upload with POST "
                     f"/api/v1/registers/{register.code}/entries/{{id}}/files/{f['key']} (multipart)")
            s["x-file"] = True
        if f["personal"]:
            s["x-personal"] = True
        if f.get("unique"):
            s["x-unique"] = f["unique"]
        props[f["key"]] = s
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": register.name, "type": "object",
            "properties": props, "required": [f["key"] for f in register.live_fields() if f["required"]],
            "additionalProperties": False}
