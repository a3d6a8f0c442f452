"""Format checks for personal data: GB 11643 citizen ID numbers, mobile and landline phones.

Pure functions, no database: used by the services, the forms, the API and the importer,
so a number is judged the same way everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext as _

from .choices import Gender

# ISO 7064 MOD 11-2 as GB 11643-1999 applies it: weights 2^(17-i) mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID18 = re.compile(r"\d{17}[0-9X]")
_ID15 = re.compile(r"\d{15}")
# The first two digits are a province-level code (11 Beijing … 65 Xinjiang, 71 Taiwan, 81/82 HK/MO).
_PROVINCES = {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
              50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}
EARLIEST_BIRTH = date(1900, 1, 1)


class InvalidValue(ValueError):
    """The message is for the person who typed the value."""


@dataclass(frozen=True)
class IdNumber:
    number: str  # 18 characters, upper-case X
    birth_date: date
    gender: str  # Gender value
    upgraded: bool = False  # given as a 15-digit legacy number


def check_char(first17: str) -> str:
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def _birth(digits: str, today: date) -> date:
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise InvalidValue(_("The birth date %(d)s in the ID number is not a real date.") % {"d": digits})
    if born < EARLIEST_BIRTH or born > today:
        raise InvalidValue(_("The birth date in the ID number is out of range."))
    return born


def parse_id_number(raw: str, *, today: date | None = None) -> IdNumber:
    """Check a citizen ID number (GB 11643) and return it as 18 characters.

    15-digit legacy numbers (born 19xx) are upgraded: ``19`` is inserted before the year and
    the check character is computed.
    """
    today = today or date.today()
    s = re.sub(r"[\s-]", "", str(raw or "")).upper()
    upgraded = False
    if _ID15.fullmatch(s):
        s = s[:6] + "19" + s[6:]
        s += check_char(s)
        upgraded = True
    elif not _ID18.fullmatch(s):
        raise InvalidValue(_("An ID number has 18 characters (digits, the last may be X), or 15 digits."))
    if int(s[:2]) not in _PROVINCES:
        raise InvalidValue(_("The ID number starts with an unknown region code."))
    born = _birth(s[6:14], today)
    if not upgraded and check_char(s[:17]) != s[17]:
        raise InvalidValue(_("The ID number's check character is wrong (a typing error?)."))
    return IdNumber(s, born, sex_of(s), upgraded)


def sex_of(number: str) -> str:
    """The gender an 18-character number encodes (its 17th digit: odd male, even female)."""
    return Gender.MALE if int(number[16]) % 2 else Gender.FEMALE


def disagreements(born: date, sex: str, *, birth_date: date | None = None, gender: str | None = None) -> dict:
    """Where an entered birth date or gender disagrees with what the ID number says (field → message).

    The one rule for forms, the API and the importer: the number wins, an entered value that
    differs is refused, a missing one is taken from the number."""
    errors = {}
    if birth_date and birth_date != born:
        errors["birth_date"] = _("The ID number says the birth date is %(d)s.") % {"d": born.isoformat()}
    if gender and gender != sex:
        errors["gender"] = _("The ID number says the gender is %(g)s.") % {"g": Gender(sex).label}
    return errors


_MOBILE = re.compile(r"1[3-9]\d{9}")
# Area code (010, 02x, 0xxx) and a 7–8 digit number, optional extension.
_LANDLINE = re.compile(r"(0(?:10|2\d|[3-9]\d{2}))-?([2-9]\d{6,7})(?:-(\d{1,6}))?")


def normalise_phone(raw: str) -> str:
    """``138 1234 5678`` / ``+86 13812345678`` → ``13812345678``; ``0537 2345678`` → ``0537-2345678``."""
    s = str(raw or "").strip()
    if isinstance(raw, float) and raw.is_integer():
        s = str(int(raw))
    digits = re.sub(r"\D", "", s)
    if s.startswith(("+86", "86")) and len(digits) == 13:
        s = digits[2:]  # country code in front of a mobile number
    compact = re.sub(r"[\s()（）]", "", s)
    if _MOBILE.fullmatch(re.sub(r"-", "", compact)):
        return re.sub(r"-", "", compact)
    m = _LANDLINE.fullmatch(compact)
    if m:
        area, number, ext = m.groups()
        return f"{area}-{number}" + (f"-{ext}" if ext else "")
    raise InvalidValue(_("Not a phone number: give an 11-digit mobile (13x–19x) or a landline such as "
                         "0537-2345678."))


def is_mobile(phone: str) -> bool:
    return bool(_MOBILE.fullmatch(phone))


def looks_like_id_number(q: str) -> bool:
    s = re.sub(r"\s", "", q).upper()
    return bool(_ID18.fullmatch(s) or _ID15.fullmatch(s))


def looks_like_phone(q: str) -> bool:
    try:
        normalise_phone(q)
        return True
    except InvalidValue:
        return False


def build_id_number(region: str, born: date, seq: int) -> str:
    """A well-formed number (for synthetic data): region code, birth date, 3-digit sequence, check."""
    first17 = f"{region[:6]}{born:%Y%m%d}{seq % 1000:03d}"
    return first17 + check_char(first17)
