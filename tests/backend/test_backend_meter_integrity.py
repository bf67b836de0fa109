"""Issue 19 §3, meter readings: implausible values, concurrent submissions and the correction path, tried as an
attacker (or a clumsy user) would. Each test fails on the code before the fix: 10^12 was accepted without a word
and then blocked every normal value for good; two concurrent submissions were both checked against the same last
reading and stamped before their checks, so the history came out of order; there was no correction."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from backend.core.security import hash_password
from backend.models import Account, Asset, AssetContact, Meter, MeterReading, Role, User
from backend.services import meters as meter_service

PASSWORD = "Sec-meter-pass-1"
_HASH = hash_password(PASSWORD)
LAST = 20_000  # the private meter's last reading, 30 days old


def _asset(db, client, login):
    """A device of a private account (other tests count the seeded accounts' devices) with one meter 112 at LAST,
    30 days ago; returns its number and the headers of the account's admin and of a user who is its contact."""
    tag = uuid.uuid4().hex[:8]
    account = Account(name=f"SEC {tag}")
    admin = User(email=f"admin-{tag}@sec.example", full_name="Sec Admin", role=Role.admin, password_hash=_HASH,
                 account=account)
    user = User(email=f"user-{tag}@sec.example", full_name="Sec User", role=Role.user, password_hash=_HASH,
                account=account)
    number = str(90_000_000 + uuid.uuid4().int % 9_999_999)
    asset = Asset(account=account, asset_number=number, serial=f"SEC{tag}", model="Canon iR-ADV C5030i")
    asset.contacts.append(AssetContact(user=user))
    meter = Meter(code="112", name_fr="112 N&B Grand", name_en="112 B&W Large", integration_id=f"sec-{tag}-112")
    meter.readings.append(MeterReading(value=LAST, read_at=datetime.now(UTC) - timedelta(days=30),
                                       source="e-Maintenance (UGW)"))
    asset.meters.append(meter)
    db.add_all([account, admin, user, asset])
    db.commit()
    return number, login(client, admin.email, PASSWORD), login(client, user.email, PASSWORD)


def _submit(client, headers, ref, value, **line):
    return client.post(f"/assets/{ref}/meter-readings", headers=headers,
                       json={"readings": [{"code": "112", "value": value, **line}]})


def _history(client, headers, ref):
    return client.get(f"/assets/{ref}/meters/112/history", headers=headers).json()


def test_an_absurd_value_is_refused_even_confirmed(client, db, login):
    ref, admin_headers, user_headers = _asset(db, client, login)
    unconfirmed = _submit(client, user_headers, ref, 10**12)
    assert unconfirmed.status_code == 422
    confirmed = _submit(client, user_headers, ref, 10**12, confirmed=True)
    assert confirmed.status_code == 422
    assert confirmed.json()["code"] == "impossible_reading"
    assert confirmed.json()["last_reading"] == LAST
    assert _submit(client, user_headers, ref, LAST + 500).status_code == 201  # normal values still go in


def test_a_large_jump_needs_an_explicit_confirmation(client, db, login):
    ref, admin_headers, user_headers = _asset(db, client, login)
    jump = LAST * 12  # 240,000 pages in 30 days: possible, unusual
    refused = _submit(client, user_headers, ref, jump)
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "reading_needs_confirmation"
    assert body["meter"] == "112"
    assert "confirm" in body["message"]
    english = client.post(f"/assets/{ref}/meter-readings", headers={**user_headers, "Accept-Language": "en",
                                                                     "X-Display-Language": "en"},
                          json={"readings": [{"code": "112", "value": jump}]})
    assert english.json()["message"].startswith("Reading 240000 for meter 112 B&W Large is far above")
    assert _submit(client, user_headers, ref, jump, confirmed=True).status_code == 201
    assert _submit(client, user_headers, ref, jump + 10).status_code == 201  # the next normal one is not asked


def test_a_normal_rise_needs_no_confirmation(client, db, login):
    ref, admin_headers, user_headers = _asset(db, client, login)
    assert _submit(client, user_headers, ref, LAST + 9_000).status_code == 201


def test_concurrent_submissions_are_checked_one_after_the_other(client, db, login, monkeypatch):
    """Both submissions reach the check at the same moment on the old code (a barrier makes sure of it); with the
    meter row held, the second waits for the first and is then checked against its value."""
    ref, admin_headers, user_headers = _asset(db, client, login)
    barrier = threading.Barrier(2, timeout=1.5)
    real_last = meter_service._last

    def last_at_the_same_time(session, meter):
        if meter.integration_id.startswith("sec-"):
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass  # the other submission is held back by the lock: nothing to wait for
        return real_last(session, meter)

    monkeypatch.setattr(meter_service, "_last", last_at_the_same_time)
    answers = {}

    def send(value):
        answers[value] = _submit(client, user_headers, ref, value).status_code

    first = threading.Thread(target=send, args=(LAST + 5_000,))
    second = threading.Thread(target=send, args=(LAST + 4_000,))
    first.start()
    time.sleep(0.3)
    second.start()
    first.join(30)
    second.join(30)
    values = [r["value"] for r in _history(client, user_headers, ref)]  # newest first
    assert values == sorted(values, reverse=True), values
    assert sorted(answers.values()) == [201, 422]


def test_an_administrator_corrects_a_wrong_reading_with_an_audit_trail(client, db, login):
    ref, admin_headers, user_headers = _asset(db, client, login)
    typo = LAST * 15  # "300000" typed for "30000", confirmed by mistake
    assert _submit(client, user_headers, ref, typo, confirmed=True).status_code == 201
    assert _submit(client, user_headers, ref, LAST + 1_000).status_code == 422  # stuck: lower than the typo
    wrong = _history(client, user_headers, ref)[0]
    assert wrong["value"] == typo
    body = {"reading_id": wrong["id"], "value": 30_000, "reason": "Typo: 300000 for 30000"}
    # a user may not correct; an admin of another account does not even see the device
    assert client.post(f"/assets/{ref}/meters/112/corrections", headers=user_headers, json=body).status_code == 403
    corrected = client.post(f"/assets/{ref}/meters/112/corrections", headers=admin_headers, json=body)
    assert corrected.status_code == 201, corrected.text
    audit = corrected.json()
    assert (audit["old_value"], audit["new_value"], audit["reason"]) == (typo, 30_000, "Typo: 300000 for 30000")
    assert audit["corrected_by"] == "Sec Admin"
    assert [r["value"] for r in _history(client, user_headers, ref)][:2] == [30_000, LAST]
    assert _submit(client, user_headers, ref, 30_500).status_code == 201  # unstuck
    listed = client.get(f"/assets/{ref}/meters/112/corrections", headers=admin_headers).json()
    assert [c["id"] for c in listed] == [audit["id"]]
    assert client.get(f"/assets/{ref}/meters/112/corrections", headers=user_headers).status_code == 403


def _correct_after_one_more(client, db, login, position: int, reason: str):
    """One more reading by the admin, then a correction of the reading at `position` of the history (0: newest)."""
    ref, admin_headers, _ = _asset(db, client, login)
    assert _submit(client, admin_headers, ref, LAST + 100).status_code == 201
    reading = _history(client, admin_headers, ref)[position]
    answer = client.post(f"/assets/{ref}/meters/112/corrections", headers=admin_headers,
                         json={"reading_id": reading["id"], "reason": reason})
    return answer, client.get(f"/assets/{ref}/meters", headers=admin_headers).json()[0]


def test_only_the_last_reading_can_be_corrected(client, db, login):
    answer, meter = _correct_after_one_more(client, db, login, 1, "wrong one")
    assert answer.status_code == 409
    assert answer.json()["code"] == "not_last_reading"
    assert meter["last_reading"] == LAST + 100


def test_a_correction_without_a_value_voids_the_reading(client, db, login):
    answer, meter = _correct_after_one_more(client, db, login, 0, "sent twice")
    assert answer.status_code == 201
    assert meter["last_reading"] == LAST
