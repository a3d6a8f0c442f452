import logging

import pytest

from bihuan.core import protect


def test_encrypt_roundtrip_and_authenticated(settings):
    token = protect.encrypt("370811199001011234")
    assert "370811199001011234" not in token
    assert token.split(":")[0] in {"sm4gcm", "aesgcm"}
    assert protect.decrypt(token) == "370811199001011234"
    # Flip one byte of the ciphertext: authentication fails.
    scheme, kid, body = token.split(":", 2)
    import base64

    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(protect.DecryptionError):
        protect.decrypt(f"{scheme}:{kid}:{base64.b64encode(bytes(raw)).decode()}")


def test_ciphertexts_differ_but_blind_index_is_stable():
    a, b = protect.encrypt("13812345678"), protect.encrypt("13812345678")
    assert a != b
    assert protect.blind_index("13812345678") == protect.blind_index(" 13812345678 ")


def test_old_key_still_decrypts_after_rotation(settings):
    old = settings.BIHUAN_DATA_KEY
    token = protect.encrypt("secret", key=old)
    settings.BIHUAN_DATA_KEY = "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleSE="
    settings.BIHUAN_OLD_DATA_KEYS = [old]
    assert protect.decrypt(token) == "secret"


def test_masks():
    assert protect.mask_id_number("370811199001011234") == "370811********1234"
    assert protect.mask_phone("13812341234") == "138****1234"
    assert protect.mask_text("身份证370811199001011234,手机13812341234") == "身份证370811********1234,手机138****1234"


def test_log_lines_are_masked(caplog):
    logger = logging.getLogger("bihuan.test")
    handler_filter = protect.MaskingLogFilter()
    caplog.handler.addFilter(handler_filter)
    logger.warning("lookup %s failed", "13812345678")
    assert "13812345678" not in caplog.text
    assert "138****5678" in caplog.text
