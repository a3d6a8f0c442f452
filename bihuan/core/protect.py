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


_ID18_RE = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
_ID15_RE = re.compile(r"(?<![0-9A-Za-z])\d{15}(?![0-9A-Za-z])")
_MOBILE_RE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")


def mask_text(text: str) -> str:
    """Mask anything that looks like an ID number or a mobile phone inside free text."""
    text = _ID18_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _ID15_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    return _MOBILE_RE.sub(lambda m: mask_phone(m.group(0)), text)


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


class MaskingLogFilter(logging.Filter):
    """Masks ID numbers and phones in every log line, whatever logged them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is not ours to fix
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
