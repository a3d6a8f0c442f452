"""Protected personal data: encryption at rest, blind index, masking.

ID numbers and phone numbers are stored as authenticated ciphertext (SM4-GCM where the
installed ``cryptography`` offers it, AES-256-GCM otherwise) and are masked in every
output. A keyed blind index (HMAC) allows exact lookup and uniqueness without decrypting.

Ciphertext format: ``<scheme>:<key-id>:<base64(nonce || ciphertext+tag)>``. The key id is a
short fingerprint of the data key, so rotation can tell old ciphertexts from new ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings


class DecryptionError(Exception):
    pass


def _raw_key(key: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(key.encode() + b"==")
    except Exception:  # noqa: BLE001 - any malformed key is the same error
        raw = b""
    if len(raw) < 16:
        # Accept a passphrase too, stretched to 32 bytes.
        raw = hashlib.sha256(key.encode()).digest()
    return raw


# Derived keys, key ids and cipher objects are cached by the key string: deriving them costs
# more than encrypting an ID number, and a bulk import encrypts millions. A rotated or
# overridden key is a different string, so it gets its own entries.
@lru_cache(maxsize=32)
def key_id(key: str) -> str:
    return hashlib.sha256(b"bihuan-key-id" + _raw_key(key)).hexdigest()[:8]


@lru_cache(maxsize=1)
def sm4_gcm_available() -> bool:
    try:
        enc = Cipher(algorithms.SM4(b"\0" * 16), modes.GCM(b"\0" * 12)).encryptor()
        enc.update(b"x")
        enc.finalize()
        return True
    except Exception:  # noqa: BLE001 - unsupported algorithm or mode
        return False


@lru_cache(maxsize=64)
def _derive(key: str, purpose: bytes, n: int) -> bytes:
    return hmac.new(_raw_key(key), purpose, hashlib.sha256).digest()[:n]


@lru_cache(maxsize=32)
def _sm4(key: str):
    return algorithms.SM4(_derive(key, b"sm4", 16))


@lru_cache(maxsize=32)
def _aes(key: str) -> AESGCM:
    return AESGCM(_derive(key, b"aes", 32))


def encrypt(plaintext: str, key: str | None = None) -> str:
    key = key or settings.BIHUAN_DATA_KEY
    nonce = os.urandom(12)  # fresh for every value: GCM must never reuse a nonce under one key
    data = plaintext.encode()
    if sm4_gcm_available():
        # The GCM mode object holds the nonce, so only the SM4 key object can be reused.
        enc = Cipher(_sm4(key), modes.GCM(nonce)).encryptor()
        body = enc.update(data) + enc.finalize() + enc.tag
        scheme = "sm4gcm"
    else:
        body = _aes(key).encrypt(nonce, data, None)
        scheme = "aesgcm"
    return f"{scheme}:{key_id(key)}:{base64.b64encode(nonce + body).decode()}"


def _keyring() -> dict[str, str]:
    keys = [settings.BIHUAN_DATA_KEY, *getattr(settings, "BIHUAN_OLD_DATA_KEYS", [])]
    return {key_id(k): k for k in keys}


def decrypt(token: str) -> str:
    try:
        scheme, kid, payload = token.split(":", 2)
        blob = base64.b64decode(payload)
    except ValueError as exc:
        raise DecryptionError("malformed ciphertext") from exc
    key = _keyring().get(kid)
    if key is None:
        raise DecryptionError(f"no data key with id {kid}")
    nonce, body = blob[:12], blob[12:]
    try:
        if scheme == "sm4gcm":
            dec = Cipher(_sm4(key), modes.GCM(nonce, body[-16:])).decryptor()
            return (dec.update(body[:-16]) + dec.finalize()).decode()
        if scheme == "aesgcm":
            return _aes(key).decrypt(nonce, body, None).decode()
    except Exception as exc:  # noqa: BLE001 - InvalidTag and friends
        raise DecryptionError("ciphertext failed authentication") from exc
    raise DecryptionError(f"unknown scheme {scheme}")


def blind_index(value: str, purpose: str = "default") -> str:
    """Keyed, deterministic digest for exact lookup without decrypting."""
    h = _blind_hmac(settings.BIHUAN_DATA_KEY, purpose).copy()  # copying the keyed state skips re-keying
    h.update(value.strip().upper().encode())
    return h.hexdigest()


@lru_cache(maxsize=32)
def _blind_hmac(key: str, purpose: str):
    return hmac.new(_derive(key, b"blind-" + purpose.encode(), 32), digestmod=hashlib.sha256)


# --- masking -------------------------------------------------------------------------

def mask_id_number(value: str | None) -> str:
    """``370811199001011234`` → ``370811********1234``."""
    if not value:
        return ""
    v = value.strip()
    if len(v) <= 10:
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def mask_phone(value: str | None) -> str:
    """``13812341234`` → ``138****1234``; landlines keep area code and last 4."""
    if not value:
        return ""
    v = value.strip()
    if len(v) <= 7:
        return v[:1] + "*" * (len(v) - 1)
    return v[:3] + "*" * (len(v) - 7) + v[-4:]


# Numbers inside free text (titles, descriptions, comments, notifications, log lines). One pass of
# one pattern; separators (space, dash) inside a number are kept and only digits are starred.
_B, _E = r"(?<![0-9A-Za-z*])", r"(?![0-9A-Za-z])"
_SEP = r"[ \-]?"
_TEXT_NUMBERS = re.compile(
    # an 18-character ID written in groups (6-8-4 or 6-4-4-4); kept only if its check digit is valid
    rf"{_B}(?P<idsp>\d{{6}}[ \-](?:\d{{8}}|\d{{4}}[ \-]\d{{4}})[ \-]\d{{3}}[0-9Xx]){_E}"
    # an ID of 18 (or the old 15) characters in one run: always masked (safer to over-mask)
    rf"|{_B}(?P<id>\d{{17}}[0-9Xx]|\d{{15}}){_E}"
    # a mainland mobile, optionally +86, written whole or as 3-4-4
    rf"|{_B}(?P<mobile>(?:\+?86{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}){_E}"
    # a landline: area code 0xx/0xxx (optionally in brackets), 7 or 8 digits (an extension stays)
    rf"|{_B}(?P<land>(?:\(0\d{{2,3}}\)|0\d{{2,3}}){_SEP}\d{{3,4}}{_SEP}\d{{4}}){_E}"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_check_ok(number: str) -> bool:
    """Whether an 18-character ID number's last character is its ISO 7064 MOD 11-2 check."""
    n = number.upper()
    if len(n) != 18 or not n[:17].isdigit():
        return False
    return "10X98765432"[sum(int(c) * w for c, w in zip(n[:17], _ID_WEIGHTS, strict=True)) % 11] == n[17]


def _star(text: str, head: int, tail: int = 4) -> str:
    """``text`` with every digit but the first ``head`` and last ``tail`` starred (separators kept)."""
    total = sum(c.isdigit() or c in "Xx" for c in text)
    out, i = [], 0
    for c in text:
        if c.isdigit() or c in "Xx":
            out.append(c if i < head or i >= total - tail else "*")
            i += 1
        else:
            out.append(c)
    return "".join(out)


def _mask_number(m: re.Match) -> str:
    text = m.group(0)
    if m.group("idsp") is not None:
        return _star(text, 6) if id_check_ok(re.sub(r"[ \-]", "", text)) else text
    if m.group("id") is not None:
        return _star(text, 6)
    if m.group("mobile") is not None:
        country = 2 if re.match(r"\+?86", text) and len(re.sub(r"\D", "", text)) == 13 else 0
        return _star(text, country + 3)
    area = re.match(r"\(?(0\d{2,3})", text)
    return _star(text, len(area.group(1)) if area else 3)


def mask_text(text: str) -> str:
    """Free text with every phone and ID number in it masked — the one function for every output
    (pages, API, notifications, exports, the public page, Open311, logs): mainland mobiles
    (``138 1234 5678``, ``+86-138-1234-5678``), landlines (``0537-1234567``, ``(0537)12345678``),
    18-character ID numbers (whole, or grouped with a valid check digit) and old 15-digit ones."""
    if not text or not any(c.isdigit() for c in text):
        return text
    return _TEXT_NUMBERS.sub(_mask_number, text)


SENSITIVE_KEYS = {"id_number", "phone", "mobile", "landline", "password", "token", "api_key", "secret"}


def mask_payload(value):
    """Mask a JSON-like value for the audit log: sensitive keys and look-alike strings."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            lk = str(k).lower()
            if lk in {"password", "token", "api_key", "secret"} or lk.endswith("_hash"):
                out[k] = "******" if v else v
            elif lk in {"id_number"}:
                out[k] = mask_id_number(str(v)) if v else v
            elif lk in {"phone", "mobile", "landline"}:
                out[k] = mask_phone(str(v)) if v else v
            else:
                out[k] = mask_payload(v)
        return out
    if isinstance(value, list | tuple):
        return [mask_payload(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


# Loggers whose lines carry a request line ("GET /path?query HTTP/1.1"): the query is dropped.
ACCESS_LOGGERS = ("django.server", "gunicorn.access", "django.request")
_QUERY = re.compile(r"\?[^\s\"']*")


class MaskingLogFilter(logging.Filter):
    """Masks ID numbers and phones in every log line, whatever logged them; access lines lose
    their query strings altogether (searches are POSTed, but a client may still send a GET)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is not ours to fix
            return True
        masked = message
        if record.name.startswith(ACCESS_LOGGERS) and "?" in masked:
            masked = _QUERY.sub("?…", masked)
        masked = mask_text(masked)
        if masked != message:
            record.msg, record.args = masked, None
        return True
