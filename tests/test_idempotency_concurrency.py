"""Idempotency-Key under concurrency (issue 11 §8), against a live server on PostgreSQL.

Twenty clients, each on its own connection, POST at once. With one key and one body: exactly one
matter, and all twenty answers are the same status and the same bytes, the nineteen replays
marked ``Idempotent-Replayed: true``. With one key and twenty different bodies: exactly one 201,
and every other answer is either a 422 refusal or — only for the winner's own body — a replay.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request

import pytest

from bihuan.loop.models import IdempotencyKey, Matter

from .loop_helpers import make_categories

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="needs PostgreSQL (concurrent transactions on the unique index)"),
    pytest.mark.django_db(transaction=True),
]


def _race(url: str, token: str, bodies: list[dict], key: str) -> list[tuple[int, bytes, str | None]]:
    barrier = threading.Barrier(len(bodies))
    out: list = [None] * len(bodies)

    def client(i: int):
        req = urllib.request.Request(url, data=json.dumps(bodies[i], ensure_ascii=False).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key,
                                              "Content-Type": "application/json"})
        barrier.wait()
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                out[i] = (r.status, r.read(), r.headers.get("Idempotent-Replayed"))
        except urllib.error.HTTPError as e:
            out[i] = (e.code, e.read(), e.headers.get("Idempotent-Replayed"))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _token(user) -> str:
    from bihuan.accounts import services as account_services

    return account_services.create_token(user, name="race")[1]


def test_twenty_concurrent_first_requests_give_one_matter_and_identical_bytes(live_server, tree, users):
    make_categories()
    body = {"category": "road", "location_unit": tree.lumiao_g1.pk, "title": "井盖缺失", "description": "路口井盖丢了"}
    answers = _race(f"{live_server.url}/api/v1/matters", _token(users.lumiao_grid), [body] * 20, "race-same")
    assert Matter.objects.count() == 1
    assert {a[0] for a in answers} == {201}, [a[:2] for a in answers if a[0] != 201]
    assert len({a[1] for a in answers}) == 1  # the very same bytes, timestamps included
    assert sorted(a[2] or "" for a in answers) == [""] + ["true"] * 19
    rec = IdempotencyKey.objects.get(key="race-same")
    assert rec.matter_id == json.loads(answers[0][1])["id"]


def test_one_key_with_twenty_different_bodies_only_the_first_body_wins(live_server, tree, users):
    make_categories()
    bodies = [{"category": "road", "location_unit": tree.lumiao_g1.pk, "title": f"井盖缺失 {i}",
               "description": "路口井盖丢了"} for i in range(20)]
    answers = _race(f"{live_server.url}/api/v1/matters", _token(users.lumiao_grid), bodies, "race-diff")
    assert Matter.objects.count() == 1
    created = [i for i, a in enumerate(answers) if a[0] == 201 and a[2] is None]
    assert len(created) == 1
    winner = Matter.objects.get()
    assert winner.title == bodies[created[0]]["title"]
    for i, (status, raw, replayed) in enumerate(answers):
        if i == created[0]:
            continue
        assert status == 422 and replayed is None, (i, status, raw)
        assert json.loads(raw)["type"].endswith("idempotency_mismatch")
