"""People: GB 11643 validation, protection at rest, masking, reveal, search, scope isolation."""

from __future__ import annotations

import logging
import os
from datetime import UTC, date, datetime

import pytest
from django.db import connection

from bihuan.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from bihuan.core.models import AuditEntry
from bihuan.people import selectors, services
from bihuan.people.models import Household, Person
from bihuan.people.validators import (
    InvalidValue,
    build_id_number,
    check_char,
    normalise_phone,
    parse_id_number,
)

from .conftest import make_user

NOW = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)
ZXM_ID = build_id_number("370811", date(1950, 3, 7), 131)  # odd sequence → male
PHONE = "13912345678"


@pytest.fixture
def zxm(tree):
    return services.create_person(None, unit=tree.lumiao_g1, name="张晓明", id_number=ZXM_ID, phone=PHONE,
                                  address="芦庙村1号", now=NOW)


@pytest.fixture
def member(tree):
    return services.create_person(None, unit=tree.lumiao_g1, name="李建国",
                                  id_number=build_id_number("370811", date(1968, 5, 1), 51),
                                  party_status="formal", now=NOW)


# --- validation --------------------------------------------------------------------------------

def test_known_check_characters():
    # GB 11643 worked example: 11010519491231002 → X.
    assert check_char("11010519491231002") == "X"
    assert parse_id_number("11010519491231002x").number == "11010519491231002X"


@pytest.mark.parametrize("raw", [
    ZXM_ID[:-1] + ("0" if ZXM_ID[-1] != "0" else "1"),  # wrong check character
    "37081119500230131X",  # 30 February
    "370811" + "20991231" + "1234",  # future birth
    "990811195003071311",  # unknown province
    "37081119500307",  # too short
    "ABCDEFGHIJKLMNOPQR",
])
def test_bad_id_numbers_are_refused(raw):
    with pytest.raises(InvalidValue):
        parse_id_number(raw, today=date(2024, 6, 1))


def test_fifteen_digit_number_is_upgraded():
    parsed = parse_id_number("370811500307131")
    assert parsed.upgraded and parsed.number == "37081119500307131" + check_char("37081119500307131")
    assert parsed.birth_date == date(1950, 3, 7) and parsed.gender == "M"


def test_birth_date_and_gender_must_agree_with_the_number(tree):
    with pytest.raises(ServiceError) as exc:
        services.create_person(None, unit=tree.lumiao, name="王芳", id_number=ZXM_ID,
                               birth_date=date(1951, 3, 7), gender="F")
    assert set(exc.value.field_errors) == {"birth_date", "gender"}
    p = services.create_person(None, unit=tree.lumiao, name="王芳", id_number=ZXM_ID)
    assert (p.birth_date, p.gender) == (date(1950, 3, 7), "M")  # derived when not entered


@pytest.mark.parametrize("raw, want", [
    ("138 1234 5678", "13812345678"), ("+86 138-1234-5678", "13812345678"),
    ("0537 2345678", "0537-2345678"), ("010-62345678-123", "010-62345678-123"),
])
def test_phone_formats(raw, want):
    assert normalise_phone(raw) == want


@pytest.mark.parametrize("raw", ["12345678901", "1381234567", "0537-123", "phone"])
def test_bad_phones(raw):
    with pytest.raises(InvalidValue):
        normalise_phone(raw)


def test_fifteen_digit_duplicate_of_eighteen_is_caught(zxm, tree):
    with pytest.raises(Conflict):
        services.create_person(None, unit=tree.lumiao, name="张晓明", id_number="370811500307131")


# --- duplicates tell the holder only within scope ---------------------------------------------------

def test_duplicate_names_the_unit_when_in_scope(users, zxm, tree):
    with pytest.raises(Conflict) as exc:
        services.create_person(users.lumiao_secretary, unit=tree.lumiao_g2, name="张晓明", id_number=ZXM_ID)
    assert "芦庙村第一网格" in exc.value.field_errors["id_number"]


def test_duplicate_hides_the_unit_outside_scope(users, zxm, tree):
    from django.utils import translation

    with pytest.raises(Conflict) as exc, translation.override("en"):
        services.create_person(users.yanzhou_admin, unit=tree.xuemiao, name="某人", id_number=ZXM_ID)
    msg = exc.value.field_errors["id_number"]
    assert "芦庙" not in msg and "张晓明" not in msg and "outside your scope" in msg
    assert Person.objects.count() == 1


# --- protection -------------------------------------------------------------------------------

def test_numbers_are_encrypted_at_rest(zxm):
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM people_person WHERE id = %s", [zxm.pk])
        row = " ".join(str(v) for v in cur.fetchone())
    assert ZXM_ID not in row and PHONE not in row and ZXM_ID[6:14] + ZXM_ID[14:] not in row
    assert zxm.id_number_enc.split(":")[0] in {"sm4gcm", "aesgcm"}
    assert zxm.id_number_masked == ZXM_ID[:6] + "********" + ZXM_ID[-4:]
    assert zxm.phone_masked == "139****5678"


def test_audit_entries_hold_only_masked_numbers(zxm, users):
    services.update_person(None, zxm, phone="13800001111")
    services.reveal(users.city_admin, zxm, "id_number", "核实身份信息")
    blob = " ".join(str((e.before, e.after, e.extra)) for e in AuditEntry.objects.all())
    assert ZXM_ID not in blob and PHONE not in blob and "13800001111" not in blob
    assert "139****5678" in blob


def test_log_lines_are_masked(caplog):
    from bihuan.core.protect import MaskingLogFilter

    logger = logging.getLogger("bihuan.test.people")
    logger.addFilter(MaskingLogFilter())
    with caplog.at_level(logging.INFO, logger="bihuan.test.people"):
        logger.info("registered %s phone %s", ZXM_ID, PHONE)
    assert ZXM_ID not in caplog.text and PHONE not in caplog.text
    assert ZXM_ID[:6] + "********" in caplog.text


def test_reveal_needs_permission_reason_and_is_audited(users, zxm):
    with pytest.raises(PermissionDenied):  # grid worker may view, not reveal
        services.reveal(users.lumiao_grid, zxm, "phone", "需要联系本人")
    with pytest.raises(NotFound):  # another county: not even there
        services.reveal(users.yanzhou_admin, zxm, "phone", "需要联系本人")
    with pytest.raises(ServiceError) as exc:
        services.reveal(users.lumiao_secretary, zxm, "phone", " ")
    assert "reason" in exc.value.field_errors
    from bihuan.core.context import acting_as

    before = AuditEntry.objects.filter(action="people.person.reveal").count()
    with acting_as(users.lumiao_secretary):
        assert services.reveal(users.lumiao_secretary, zxm, "phone", "送餐前电话联系") == PHONE
    entry = AuditEntry.objects.filter(action="people.person.reveal").latest("id")
    assert AuditEntry.objects.filter(action="people.person.reveal").count() == before + 1
    assert entry.extra == {"field": "phone", "reason": "送餐前电话联系"} and entry.actor_name == "lumiao_secretary"


def test_needs_notes_need_their_own_permission(users, zxm):
    services.set_vulnerability(users.lumiao_secretary, zxm, flags={"living_alone": True, "chronic_illness": True},
                               needs="糖尿病，每日送餐")
    assert services.read_needs(users.lumiao_secretary, zxm) == "糖尿病，每日送餐"
    with pytest.raises(PermissionDenied):
        services.read_needs(users.lumiao_grid, zxm)
    with connection.cursor() as cur:
        cur.execute("SELECT needs_enc FROM people_vulnerability")
        assert "糖尿病" not in cur.fetchone()[0]
    assert "糖尿病" not in str(list(AuditEntry.objects.values_list("extra", "after")))


# --- search -----------------------------------------------------------------------------------

def test_pinyin_initials_find_the_person(users, zxm, tree):
    services.create_person(None, unit=tree.lumiao_g1, name="赵小兰", id_number=build_id_number(
        "370811", date(1980, 1, 1), 2))
    found = selectors.persons(users.lumiao_secretary, selectors.PersonFilter(q="zxm"))
    assert [p.name for p in found] == ["张晓明"]
    assert {p.name for p in selectors.persons(users.lumiao_secretary, selectors.PersonFilter(q="zx"))} == {
        "张晓明", "赵小兰"}
    assert [p.name for p in selectors.persons(users.lumiao_secretary, selectors.PersonFilter(q="张晓"))] == ["张晓明"]


def test_exact_id_and_phone_search_use_the_blind_index(users, zxm):
    assert list(selectors.persons(users.lumiao_secretary, selectors.PersonFilter(q=ZXM_ID))) == [zxm]
    assert list(selectors.persons(users.lumiao_secretary, selectors.PersonFilter(q="370811500307131"))) == [zxm]
    assert list(selectors.persons(users.lumiao_secretary, selectors.PersonFilter(q="139 1234 5678"))) == [zxm]
    assert not selectors.persons(users.lumiao_secretary, selectors.PersonFilter(q="13912345679")).exists()
    sql = str(selectors.persons(None if False else users.lumiao_secretary,
                                selectors.PersonFilter(q=PHONE)).query)
    assert "phone_bidx" in sql and PHONE not in sql


def test_filter_by_role_flag_and_unit(users, zxm, member, tree):
    services.set_vulnerability(None, zxm, flags={"elderly": True})
    f = selectors.PersonFilter
    u = users.liying_staff
    assert list(selectors.persons(u, f(role="party_member"))) == [member]
    assert list(selectors.persons(u, f(flag="elderly"))) == [zxm]
    assert selectors.persons(u, f(unit=tree.lumiao_g2)).count() == 0
    assert selectors.persons(u, f(unit=tree.lumiao)).count() == 2


def test_reserve_pool_age_bands_follow_now(tree, users):
    services.create_person(None, unit=tree.lumiao, name="周后备", is_reserve=True, education="bachelor",
                           id_number=build_id_number("370811", date(1994, 6, 2), 11))
    pool = selectors.reserve_pool(users.liying_staff, None, today=date(2024, 6, 1))
    assert pool["by_band"] == {"u30": 1}
    pool = selectors.reserve_pool(users.liying_staff, None, today=date(2024, 6, 2))
    assert pool["by_band"] == {"30_34": 1}


# --- households and the micro-grid -----------------------------------------------------------------

def test_household_with_members_and_linked_party_member(users, zxm, member, tree):
    sec = users.lumiao_secretary
    h = services.create_household(sec, unit=tree.lumiao_g1, address="芦庙村1号", head=zxm)
    spouse = services.create_person(sec, unit=tree.lumiao_g1, name="王秀英",
                                    id_number=build_id_number("370811", date(1952, 2, 2), 20))
    services.add_member(sec, h, spouse, "spouse")
    services.set_vulnerability(sec, zxm, flags={"elderly": True, "living_alone": False, "chronic_illness": True})
    with pytest.raises(ServiceError) as exc:
        services.link_carer(sec, h, spouse)  # not a party member
    assert "carer" in exc.value.field_errors
    services.link_carer(sec, h, member)
    h.refresh_from_db()
    assert (h.head, h.carer) == (zxm, member)
    overview = selectors.grid_overview(users.lumiao_grid, tree.lumiao_g1)
    assert [x.carer.name for x in overview["households"]] == ["李建国"]
    assert [(c.name, c.n) for c in overview["carers"]] == [("李建国", 1)]


def test_stale_version_is_a_conflict(zxm):
    services.update_person(None, zxm, version=1, address="新地址")
    with pytest.raises(Conflict):
        services.update_person(None, zxm, version=1, address="另一个地址")


# --- scope isolation ----------------------------------------------------------------------------

def test_scope_isolation_in_services(users, zxm, tree):
    other = users.yanzhou_admin
    assert selectors.persons(other).count() == 0
    with pytest.raises(NotFound):
        services.update_person(other, zxm, address="x")
    with pytest.raises(NotFound):
        services.create_person(other, unit=tree.lumiao, name="越权",
                               id_number=build_id_number("370811", date(1990, 1, 1), 1))
    with pytest.raises(PermissionDenied):  # grid worker sees but cannot change
        services.update_person(users.lumiao_grid, zxm, address="x")
    nobody = make_user("nobody2")
    assert selectors.persons(nobody).count() == 0 and Household.objects.restrict(nobody).count() == 0


@pytest.fixture
def household(tree, zxm, member):
    return services.create_household(None, unit=tree.lumiao_g1, address="芦庙村1号", head=zxm, carer=member)


def _urls(zxm, household, tree):
    return [f"/people/{zxm.pk}/", f"/people/{zxm.pk}/edit/", f"/people/{zxm.pk}/vulnerability/",
            f"/people/households/{household.pk}/", f"/people/grids/{tree.lumiao_g1.pk}/"]


def test_pages_of_another_subtree_are_404_without_data(users, zxm, household, tree, login):
    c = login(users.yanzhou_admin)
    for url in _urls(zxm, household, tree):
        r = c.get(url)
        assert r.status_code == 404, url
        assert "张晓明" not in r.content.decode()
    for url in ("/people/?q=zxm", "/people/households/", "/people/grids/", "/people/reserve/"):
        r = c.get(url)
        assert r.status_code == 200 and "张晓明" not in r.content.decode() and "芦庙村1号" not in r.content.decode()
    r = c.post(f"/people/{zxm.pk}/reveal/", {"field": "phone", "reason": "看看号码"})
    assert r.status_code == 404
    r = c.post(f"/people/households/{household.pk}/carer/", {"carer": ""})
    assert r.status_code == 404


def test_pages_mask_numbers_and_reveal_shows_one(users, zxm, household, tree, login):
    c = login(users.lumiao_secretary)
    for url in [*_urls(zxm, household, tree), "/people/", "/people/households/"]:
        body = c.get(url).content.decode()
        assert ZXM_ID not in body and PHONE not in body, url
    # Searching by the full number finds the person; the result row still shows it masked.
    body = c.get("/people/?q=" + ZXM_ID).content.decode()
    assert 'data-testid="person-row"' in body and ZXM_ID[:6] + "********" in body
    assert "139****5678" in c.get("/people/?q=zxm").content.decode()
    r = c.post(f"/people/{zxm.pk}/reveal/", {"field": "phone", "reason": "送餐前电话联系"})
    assert PHONE in r.content.decode() and ZXM_ID not in r.content.decode()
    assert r["Cache-Control"] == "no-store"


def test_search_by_number_keeps_the_number_out_of_the_url(users, zxm, tree, login):
    c = login(users.lumiao_secretary)
    r = c.post("/people/", {"q": ZXM_ID, "role": "", "flag": ""})
    assert r.status_code == 302 and "qt=" in r["Location"]
    assert ZXM_ID not in r["Location"] and ZXM_ID[-4:] not in r["Location"]
    body = c.get(r["Location"]).content.decode()
    assert 'data-testid="person-row"' in body and "张晓明" in body
    # The next-page links carry the token, not the number.
    assert ZXM_ID not in body.split('data-testid="person-table"')[1]
    # The token means nothing in another session.
    other = login(users.liying_staff)
    body = other.get(r["Location"]).content.decode()
    assert 'data-testid="search-expired"' in body and "张晓明" not in body
    # A name search is a plain, shareable URL.
    r = c.post("/people/", {"q": "zxm", "role": "", "flag": ""})
    assert r["Location"] == "/people/?q=zxm"
    assert "张晓明" in c.get(r["Location"]).content.decode()
    r = c.post("/people/", {"q": "139 0000 5678"})
    assert "qt=" in r["Location"] and "5678" not in r["Location"]


def test_secretary_registers_a_person_through_the_page(users, tree, login):
    c = login(users.lumiao_secretary)
    r = c.post("/people/new/", {"unit": tree.lumiao_g2.code, "name": "刘新民",
                                "id_number": build_id_number("370811", date(1960, 1, 1), 11)[:-1] + "0"})
    assert r.status_code in (200, 400)  # wrong check character is shown on the form
    good = build_id_number("370811", date(1960, 1, 1), 11)
    if good.endswith("0"):
        good = build_id_number("370811", date(1960, 1, 1), 13)
    r = c.post("/people/new/", {"unit": tree.lumiao_g2.code, "name": "刘新民", "id_number": good,
                                "phone": "0537-2345678"})
    assert r.status_code == 302
    p = Person.objects.get(name="刘新民")
    assert p.phone_masked == "053*****5678" and p.unit == tree.lumiao_g2


def test_key_rotation_re_encrypts_and_rebuilds_blind_indexes(settings, users, zxm):
    from django.core.management import call_command

    services.set_vulnerability(None, zxm, flags={"elderly": True}, needs="送餐")
    old = settings.BIHUAN_DATA_KEY
    settings.BIHUAN_DATA_KEY = "a-brand-new-data-key-for-the-test-0123456789"
    assert not selectors.persons(users.lumiao_secretary, selectors.PersonFilter(q=ZXM_ID)).exists()
    call_command("rekey_people", f"--old-key={old}", verbosity=0)  # keys may begin with "-"
    settings.BIHUAN_OLD_DATA_KEYS = []
    zxm.refresh_from_db()
    assert services.reveal(None, zxm, "id_number", "核对轮换结果") == ZXM_ID
    assert services.read_needs(None, zxm) == "送餐"
    assert list(selectors.persons(users.lumiao_secretary, selectors.PersonFilter(q=PHONE))) == [zxm]


def test_initials_are_the_same_without_pypinyins_phrase_dictionary():
    """people.pinyin skips pypinyin's 44 MB phrase dictionary (per web worker): initials are read a
    character at a time, so every CJK character must give the same initial with and without it."""
    import subprocess
    import sys

    code = ("from pypinyin import Style, lazy_pinyin\n"
            "print(''.join((lazy_pinyin(chr(c), style=Style.FIRST_LETTER, errors='ignore') or ['?'])[0][:1] or '?'"
            " for c in range(0x4E00, 0x9FA6)))")
    with_phrases, without = (subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                            env={**os.environ, **env}).stdout
                             for env in ({"PYPINYIN_NO_PHRASES": ""}, {"PYPINYIN_NO_PHRASES": "1"}))
    assert len(with_phrases) > 20_000 and with_phrases == without


def test_pypinyin_is_loaded_only_when_a_name_is_read():
    import subprocess
    import sys

    code = ("import sys, bihuan.people.pinyin as p\n"
            "assert 'pypinyin' not in sys.modules\n"
            "print(p.initials('张晓明'), 'pypinyin' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["zxm", "True"]
